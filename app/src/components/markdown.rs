//! Markdown from models, rendered safely and incrementally.
//!
//! Safety: raw HTML in the source is shown as text, link targets other than http(s),
//! mailto and relative ones are dropped, images become links (no request leaves the page
//! because a model wrote an image), and code is always escaped. The only markup that
//! reaches the DOM is what pulldown-cmark and this file write.
//!
//! Speed: an answer is cut into blocks at blank lines outside code fences. While it
//! streams, every block before the last such cut is finished: it is rendered once and kept
//! (keyed by its position), and each token cuts and renders only the growing tail
//! ([`Split`]), so the last token of a long answer costs what the first did. The tail
//! is hidden from assistive technology until it is finished, so the surrounding live
//! region announces each block once instead of the whole answer at every token.
//!
//! Code highlighting, mermaid diagrams and copy buttons are added by `public/enhance.js`,
//! which loads its libraries only when a finished block contains code or a diagram.

use std::fmt::Write;

use leptos::prelude::*;
use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd, html};

/// A finished block: where it starts in the answer and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub start: usize,
    pub src: String,
}

/// An answer cut into finished blocks and the unfinished tail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    pub blocks: Vec<Block>,
    pub tail: String,
}

/// Cuts `text` into blocks at once. With `streaming`, text after the last confirmed cut is
/// the tail; otherwise everything is finished. The component cuts with [`Split`]; this is
/// the whole cut it is tested against, and the `long_chat` benchmark's baseline.
pub fn split(text: &str, streaming: bool) -> Parts {
    let cuts = cuts(text);
    let mut blocks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in &cuts {
        push_block(&mut blocks, text, start, cut);
        start = cut;
    }
    let tail = if streaming {
        text[start..].to_owned()
    } else {
        push_block(&mut blocks, text, start, text.len());
        String::new()
    };
    Parts { blocks, tail }
}

/// A streaming answer's cut, carried from one version of its text to the next: only the
/// text after the last finished block is cut again, and the finished blocks are shared,
/// not copied, so a token costs the same at the end of a long answer as at its start.
#[derive(Debug, Clone, Default)]
pub struct Split {
    pub finished: Finished,
    /// The unfinished rest, re-rendered at each token.
    pub tail: String,
    /// Where the tail starts.
    done: usize,
    /// The length of the text last cut.
    seen: usize,
}

/// The finished blocks of a [`Split`]: within one generation they are only appended to,
/// so two lists of a generation are equal when their lengths are.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// Bumped when the text was replaced rather than extended (a snapshot, another
    /// version): blocks are keyed by it and their position.
    pub generation: u64,
    pub blocks: std::sync::Arc<Vec<std::sync::Arc<Block>>>,
}

impl PartialEq for Finished {
    fn eq(&self, other: &Self) -> bool {
        self.generation == other.generation && self.blocks.len() == other.blocks.len()
    }
}

impl PartialEq for Split {
    fn eq(&self, other: &Self) -> bool {
        self.finished == other.finished && self.done == other.done && self.tail == other.tail
    }
}

impl Split {
    /// The cut of `text`, continuing from `previous` when `text` extends the text it cut.
    /// Without `streaming` everything is finished.
    pub fn next(previous: Option<&Split>, text: &str, streaming: bool) -> Split {
        let mut next = match previous {
            Some(p) if p.is_extended_by(text) => Split {
                finished: p.finished.clone(),
                tail: String::new(),
                done: p.done,
                seen: p.seen,
            },
            Some(p) => Split {
                finished: Finished {
                    generation: p.finished.generation + 1,
                    blocks: Default::default(),
                },
                ..Split::default()
            },
            None => Split::default(),
        };
        let mut fresh = Vec::new();
        // A cut is always outside any code fence, so cutting can resume from it.
        let mut start = next.done;
        for cut in cuts(&text[next.done..]) {
            let end = next.done + cut;
            push_block(&mut fresh, text, start, end);
            start = end;
        }
        if streaming {
            next.tail = text[start..].to_owned();
        } else {
            push_block(&mut fresh, text, start, text.len());
            start = text.len();
        }
        if !fresh.is_empty() {
            let mut blocks = Vec::clone(&next.finished.blocks);
            blocks.extend(fresh.into_iter().map(std::sync::Arc::new));
            next.finished.blocks = std::sync::Arc::new(blocks);
        }
        next.done = start;
        next.seen = text.len();
        next
    }

    fn is_extended_by(&self, text: &str) -> bool {
        text.len() >= self.seen
            && text.is_char_boundary(self.done)
            && self
                .finished
                .blocks
                .last()
                .is_none_or(|b| text.get(b.start..b.start + b.src.len()) == Some(b.src.as_str()))
    }
}

/// The cut the [`Markdown`] component renders, as memos: the finished blocks (changed only
/// when one is added) and the tail. Public so the `long_chat` benchmark runs this very code.
pub fn stream_parts(
    content: Signal<String>,
    streaming: Signal<bool>,
) -> (Memo<Finished>, Memo<String>) {
    let parts = Memo::new(move |previous: Option<&Split>| {
        content.with(|text| Split::next(previous, text, streaming.get()))
    });
    let finished = Memo::new(move |_| parts.with(|p| p.finished.clone()));
    let tail = Memo::new(move |_| parts.with(|p| p.tail.clone()));
    (finished, tail)
}

fn push_block(blocks: &mut Vec<Block>, text: &str, start: usize, end: usize) {
    let src = &text[start..end];
    if !src.trim().is_empty() {
        blocks.push(Block {
            start,
            src: src.to_owned(),
        });
    }
}

/// Byte offsets after blank lines that end a block: outside code fences, and followed by
/// a line that starts at the margin (an indented line continues a list item or block).
fn cuts(text: &str) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut fence: Option<(u8, usize)> = None;
    let mut candidate: Option<usize> = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let end = pos + line.len();
        let complete = line.ends_with('\n');
        let body = line.trim_end_matches(['\n', '\r']);
        if body.trim().is_empty() {
            if fence.is_none() && complete && pos > 0 {
                candidate.get_or_insert(end);
            }
        } else {
            if let Some(at) = candidate.take()
                && !body.starts_with([' ', '\t'])
            {
                cuts.push(at);
            }
            let stripped = body.trim_start_matches(' ');
            if body.len() - stripped.len() < 4
                && let Some((ch, len, rest)) = fence_marker(stripped)
            {
                match fence {
                    None => fence = Some((ch, len)),
                    Some((open, open_len))
                        if ch == open && len >= open_len && rest.trim().is_empty() =>
                    {
                        fence = None;
                    }
                    Some(_) => {}
                }
            }
        }
        pos = end;
    }
    cuts
}

/// A code fence opener or closer: its character, its length and what follows it.
fn fence_marker(line: &str) -> Option<(u8, usize, &str)> {
    let ch = *line.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = line.bytes().take_while(|&b| b == ch).count();
    (len >= 3).then(|| (ch, len, &line[len..]))
}

/// Markdown to safe HTML; `[n]` in text becomes a citation link to source n.
pub fn to_html(src: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut events: Vec<Event> = Vec::new();
    let mut text = String::new();
    let mut code: Option<(String, String)> = None;
    for event in Parser::new_ext(src, options) {
        if let Some((lang, body)) = code.as_mut() {
            match event {
                Event::Text(t) => body.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let block = code_block_html(lang, body);
                    events.push(Event::Html(block.into()));
                    code = None;
                }
                _ => {}
            }
            continue;
        }
        match event {
            // Raw HTML is shown as the text it is.
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => {
                text.push_str(&t);
                continue;
            }
            _ => flush_text(&mut text, &mut events),
        }
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_owned()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((lang, String::new()));
            }
            Event::Start(Tag::HtmlBlock) => events.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => events.push(Event::End(TagEnd::Paragraph)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
            | Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => events.push(Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            })),
            Event::End(TagEnd::Image) => events.push(Event::End(TagEnd::Link)),
            other => events.push(other),
        }
    }
    flush_text(&mut text, &mut events);
    let mut out = String::with_capacity(src.len() + src.len() / 2);
    html::push_html(&mut out, events.into_iter());
    out
}

/// Escapes a run of text and turns `[1]`, `[2, 3]` into citation links.
fn flush_text(text: &mut String, events: &mut Vec<Event<'_>>) {
    if text.is_empty() {
        return;
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text.as_str();
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after
            .find(']')
            .map(|close| (close, citation_numbers(&after[..close])))
        {
            Some((close, Some(numbers))) => {
                escape_into(&mut out, &rest[..open]);
                for n in numbers {
                    let _ = write!(
                        out,
                        "<a href=\"#source-{n}\" class=\"cite\" data-cite=\"{n}\">[{n}]</a>"
                    );
                }
                rest = &after[close + 1..];
            }
            _ => {
                escape_into(&mut out, &rest[..=open]);
                rest = after;
            }
        }
    }
    escape_into(&mut out, rest);
    events.push(Event::InlineHtml(CowStr::from(out)));
    text.clear();
}

/// `1` or `1, 2` (at most 12 numbers of up to 3 digits); anything else is not a citation.
fn citation_numbers(inner: &str) -> Option<Vec<u32>> {
    let numbers: Vec<u32> = inner
        .split(',')
        .map(|part| {
            let part = part.trim();
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok().filter(|&n| n > 0)
        })
        .collect::<Option<_>>()?;
    (!numbers.is_empty() && numbers.len() <= 12).then_some(numbers)
}

fn code_block_html(lang: &str, body: &str) -> String {
    let lang: String = lang
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'))
        .take(32)
        .collect::<String>()
        .to_ascii_lowercase();
    let mut out = String::with_capacity(body.len() + 200);
    if lang == "mermaid" {
        // Focusable: a wide diagram scrolls, and keyboard users must be able to scroll it.
        out.push_str(
            "<div class=\"mermaid-block\" data-mermaid tabindex=\"0\"><pre class=\"mermaid-src\">",
        );
        escape_into(&mut out, body);
        out.push_str("</pre></div>");
    } else {
        let lang = if lang.is_empty() {
            "plaintext"
        } else {
            lang.as_str()
        };
        let _ = write!(
            out,
            "<div class=\"code-block\"><div class=\"code-head\"><span>{lang}</span>\
             <button type=\"button\" class=\"copy-code\" data-copy-code>Copy</button></div>\
             <pre tabindex=\"0\"><code class=\"language-{lang}\">"
        );
        escape_into(&mut out, body);
        out.push_str("</code></pre></div>");
    }
    out
}

/// Keeps http(s), mailto, fragment and relative targets; anything else (javascript:,
/// data:, vbscript:…) becomes a dead link.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let trimmed = url.trim();
    let lower = trimmed.to_ascii_lowercase();
    let scheme_end = lower.find(':');
    let before_path = lower.find(['/', '?', '#']).unwrap_or(lower.len());
    let relative = scheme_end.is_none_or(|colon| colon > before_path);
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s));
    // Control characters can hide a scheme from the check above.
    let clean = !trimmed.chars().any(char::is_control);
    if clean && (allowed || relative) {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Renders `content` as Markdown; finished blocks are rendered once and kept.
#[component]
pub fn Markdown(
    #[prop(into)] content: Signal<String>,
    #[prop(into)] streaming: Signal<bool>,
) -> impl IntoView {
    let (finished, tail) = stream_parts(content, streaming);
    let blocks = move || {
        finished.with(|f| {
            let generation = f.generation;
            f.blocks
                .iter()
                .map(|block| (generation, std::sync::Arc::clone(block)))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <div class="md" data-markdown="">
            <For each=blocks key=|(generation, block)| (*generation, block.start) let:block>
                <div class="md-block" inner_html=to_html(&block.1.src)></div>
            </For>
            <Show when=move || tail.with(|t| !t.trim().is_empty())>
                <div
                    class="md-tail"
                    aria-hidden="true"
                    inner_html=move || to_html(&tail.get())
                ></div>
            </Show>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Strategy;

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = to_html(
            "Hi <script>alert(1)</script> and <img src=x onerror=alert(2)>\n\n<div onclick=x>block</div>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div onclick"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn dangerous_links_and_images_are_defused() {
        let html = to_html(
            "[a](javascript:alert(1)) [b](JaVaScRiPt:x) ![i](https://x/y.png) [c](https://ok.example) [d](/rel) [e](data:text/html,x)",
        );
        assert!(!html.to_ascii_lowercase().contains("javascript:"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("href=\"https://ok.example\""), "{html}");
        assert!(html.contains("href=\"/rel\""), "{html}");
    }

    #[test]
    fn citations_become_links_and_other_brackets_stay() {
        let html = to_html("Parsed in `cfg` [1] and [2, 3]; see [note] and [0].");
        assert!(html.contains("data-cite=\"1\""), "{html}");
        assert!(
            html.contains("data-cite=\"2\"") && html.contains("data-cite=\"3\""),
            "{html}"
        );
        assert!(html.contains("[note]") && html.contains("[0]"), "{html}");
    }

    #[test]
    fn code_is_escaped_and_labelled_and_mermaid_is_marked() {
        let html =
            to_html("```rust\nfn a() -> Vec<u8> {}\n```\n\n```mermaid\ngraph TD; A-->B\n```\n");
        assert!(html.contains("class=\"language-rust\""), "{html}");
        assert!(html.contains("Vec&lt;u8&gt;"), "{html}");
        assert!(html.contains("data-mermaid"), "{html}");
        assert!(html.contains("A--&gt;B"), "{html}");
    }

    #[test]
    fn streaming_keeps_finished_blocks_and_a_tail() {
        let parts = split("First para.\n\nSecond\n\nthi", true);
        let srcs: Vec<_> = parts.blocks.iter().map(|b| b.src.as_str()).collect();
        assert_eq!(srcs, vec!["First para.\n\n", "Second\n\n"]);
        assert_eq!(parts.tail, "thi");
        // A blank line is a cut only once the next line shows it does not continue.
        let pending = split("First para.\n\nSecond\n\n", true);
        assert_eq!(pending.blocks.len(), 1);
        assert_eq!(pending.tail, "Second\n\n");
        let done = split("First para.\n\nSecond\n\nthi", false);
        assert_eq!(done.blocks.len(), 3);
        assert!(done.tail.is_empty());
    }

    #[test]
    fn blank_lines_inside_fences_and_before_indented_lines_do_not_cut() {
        let text = "```\na\n\nb\n```\n\n- item\n\n    more\n\nNext\n\nx";
        let parts = split(text, true);
        let srcs: Vec<_> = parts.blocks.iter().map(|b| b.src.as_str()).collect();
        assert_eq!(
            srcs,
            vec!["```\na\n\nb\n```\n\n", "- item\n\n    more\n\n", "Next\n\n"]
        );
        assert_eq!(parts.tail, "x");
    }

    #[test]
    fn cutting_as_the_text_grows_gives_the_blocks_of_a_whole_cut() {
        let answer = "Intro [1].\n\n```rust\nlet x = 1;\n\nlet y = 2;\n```\n\n- a\n\n    b\n\n| a | b |\n|---|---|\n\nEnd.";
        let blocks = |s: &Split| -> Vec<Block> {
            s.finished.blocks.iter().map(|b| Block::clone(b)).collect()
        };
        let mut carried = Split::default();
        for end in 1..=answer.len() {
            carried = Split::next(Some(&carried), &answer[..end], true);
            let whole = split(&answer[..end], true);
            assert_eq!(blocks(&carried), whole.blocks, "at {end}");
            assert_eq!(carried.tail, whole.tail, "at {end}");
            assert_eq!(carried.finished.generation, 0, "only extended at {end}");
        }
        let done = Split::next(Some(&carried), answer, false);
        assert_eq!(blocks(&done), split(answer, false).blocks);
        assert!(done.tail.is_empty());
        assert_eq!(done.finished.generation, 0);
        // Replaced rather than extended: cut again from the start, in a new generation.
        let other = Split::next(Some(&done), "Other.\n\nText", true);
        assert_eq!(blocks(&other), split("Other.\n\nText", true).blocks);
        assert_eq!(other.finished.generation, 1);
    }

    #[test]
    fn finished_blocks_are_shared_until_one_is_added() {
        let first = Split::next(None, "One.\n\nTwo", true);
        let second = Split::next(Some(&first), "One.\n\nTwo more", true);
        assert!(std::sync::Arc::ptr_eq(
            &first.finished.blocks,
            &second.finished.blocks
        ));
        assert_eq!(first.finished, second.finished);
        let third = Split::next(Some(&second), "One.\n\nTwo more.\n\nThree", true);
        assert_ne!(second.finished, third.finished);
        assert!(std::sync::Arc::ptr_eq(
            &second.finished.blocks[0],
            &third.finished.blocks[0]
        ));
    }

    #[test]
    fn a_growing_answer_never_changes_a_finished_block() {
        let answer = "Intro [1].\n\n```rust\nlet x = 1;\n\nlet y = 2;\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nEnd.";
        let mut seen: Vec<Block> = Vec::new();
        for end in 1..=answer.len() {
            if !answer.is_char_boundary(end) {
                continue;
            }
            let parts = split(&answer[..end], true);
            for (i, block) in parts.blocks.iter().enumerate() {
                match seen.get(i) {
                    Some(old) => assert_eq!(old, block, "block {i} changed at {end}"),
                    None => seen.push(block.clone()),
                }
            }
        }
        let done = split(answer, false);
        assert_eq!(done.blocks[..seen.len()], seen[..]);
    }

    /// Pieces that attack a renderer, for inputs far likelier to hurt than random text.
    const HOSTILE: [&str; 24] = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "[a](javascript:alert(1))",
        "[b](JaVaScRiPt:alert(1))",
        "[c](  javascript:alert(1))",
        "[d](java\tscript:alert(1))",
        "[e](&#106;avascript:alert(1))",
        "[f](vbscript:x)",
        "[g](data:text/html;base64,PHNjcmlwdD4=)",
        "![h](javascript:alert(1))",
        "<iframe src=x></iframe>",
        "\" onmouseover=\"alert(1)",
        "' onfocus='alert(1)",
        "```html\n<script>x</script>\n```",
        "`<b onclick=x>`",
        "[1]",
        "<",
        ">",
        "\n\n",
        "**",
        "| a | b |\n|---|---|\n| <x onclick=y> | z |",
        "<style>*{}</style>",
    ];

    /// Every `href="…"` and `src="…"` value of a real tag in the output; the same words
    /// in escaped text (`&lt;a href="…"&gt;` inside code) are text, not attributes.
    fn urls(html: &str) -> Vec<String> {
        let mut found = Vec::new();
        for tag in html.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            for attr in [" href=\"", " src=\""] {
                let mut rest = tag;
                while let Some(at) = rest.find(attr) {
                    let value = &rest[at + attr.len()..];
                    let end = value.find('"').unwrap_or(value.len());
                    found.push(value[..end].to_owned());
                    rest = &value[end..];
                }
            }
        }
        found
    }

    #[test]
    fn escaped_markup_in_code_is_text_and_not_a_link() {
        // Found by the property test: a link written inside a code span.
        let html = to_html("`<a href=\"javascript:alert(1)\">x</a>`");
        assert!(urls(&html).is_empty(), "{html}");
        assert!(html.contains("<code>&lt;a href="), "{html}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever the model writes, the HTML has no script, no element with an event
        /// handler attribute, and no link to a script URL.
        #[test]
        fn no_input_makes_the_html_run_anything(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(HOSTILE.to_vec()).prop_map(str::to_owned),
                    proptest::prelude::any::<String>(),
                    "[a-z <>=\"'`\\[\\]()\n:/&#;*|-]{0,24}",
                ],
                0..8,
            ),
        ) {
            let html = to_html(&pieces.concat());
            let lower = html.to_ascii_lowercase();
            for tag in ["<script", "<iframe", "<svg", "<style", "<img", "<object", "<embed"] {
                proptest::prop_assert!(!lower.contains(tag), "{tag} in {html}");
            }
            // An attribute begins after whitespace inside a tag; text may say "onload".
            let mut inside_tag = false;
            let bytes = lower.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                match b {
                    b'<' => inside_tag = true,
                    b'>' => inside_tag = false,
                    b' ' | b'\t' | b'\n' if inside_tag => {
                        let attr: String = lower[i + 1..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric())
                            .collect();
                        proptest::prop_assert!(!attr.starts_with("on"), "on* attribute in {html}");
                    }
                    _ => {}
                }
            }
            for url in urls(&html) {
                let url: String = url.to_ascii_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
                for scheme in ["javascript:", "vbscript:", "data:"] {
                    proptest::prop_assert!(!url.starts_with(scheme), "{url} in {html}");
                }
            }
        }
    }
}
