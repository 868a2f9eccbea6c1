//! Links inside a wiki page: its `Sources: path:start-end` citations become links to the
//! source view at those lines. The stored page (and its exports) keep the plain text; the
//! links are added where the page is shown.

use crate::client::api;

/// The source view of `path` in a project, at `lines` (`12-30` or `12`) when given.
pub fn source_href(project_id: &str, path: &str, lines: Option<&str>) -> String {
    let mut href = format!(
        "/projects/{}/source?path={}",
        api::encode(project_id),
        api::encode(path)
    );
    if let Some(lines) = lines {
        href.push_str(&format!(
            "&lines={}#L{}",
            api::encode(lines),
            first_line(lines)
        ));
    }
    href
}

fn first_line(lines: &str) -> &str {
    lines.split('-').next().unwrap_or(lines)
}

/// The page's Markdown with every citation after `Sources:` (outside code blocks) made a
/// link to the source view.
pub fn link_citations(markdown: &str, project_id: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + 256);
    let mut fence: Option<&str> = None;
    for line in markdown.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m => fence = None,
            _ => {}
        }
        if fence.is_some() || marker.is_some() {
            out.push_str(line);
            continue;
        }
        match line.find("Sources:") {
            Some(at) => {
                let (before, rest) = line.split_at(at + "Sources:".len());
                out.push_str(before);
                out.push_str(&link_list(rest, project_id));
            }
            None => out.push_str(line),
        }
    }
    out
}

/// `a.rs:1-5, b.rs:9` (each possibly in backticks) with each citation linked; anything
/// that is not a citation is kept as it was.
fn link_list(text: &str, project_id: &str) -> String {
    let ending = &text[text.trim_end().len()..];
    let items: Vec<String> = text
        .trim_end()
        .split(',')
        .map(|item| {
            let lead = &item[..item.len() - item.trim_start().len()];
            match citation(item.trim()) {
                Some((path, lines)) => format!(
                    "{lead}[{path}:{lines}]({})",
                    source_href(project_id, path, Some(lines))
                ),
                None => item.to_owned(),
            }
        })
        .collect();
    items.join(",") + ending
}

/// `path:12-30` or `path:12`, optionally in backticks; paths with Markdown's own link
/// characters are left alone.
fn citation(item: &str) -> Option<(&str, &str)> {
    let item = item.trim_matches('`');
    let (path, lines) = item.rsplit_once(':')?;
    let numbers = lines
        .split_once('-')
        .map_or((lines, lines), |(a, b)| (a, b));
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let plain_path =
        !path.is_empty() && !path.contains(|c: char| c.is_whitespace() || "[]()<>`".contains(c));
    (plain_path && is_number(numbers.0) && is_number(numbers.1)).then_some((path, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_become_links_to_the_source_view() {
        let page = "Text.\n\nSources: src/main.rs:3-9, `lib/a b.rs:4`, docs/x.md:7\n";
        let linked = link_citations(page, "p1");
        assert_eq!(
            linked,
            "Text.\n\nSources: [src/main.rs:3-9](/projects/p1/source?path=src%2Fmain.rs&lines=3-9#L3), \
             `lib/a b.rs:4`, [docs/x.md:7](/projects/p1/source?path=docs%2Fx.md&lines=7#L7)\n"
        );
    }

    #[test]
    fn code_blocks_and_other_text_are_kept() {
        let page = "```text\nSources: a.rs:1-2\n```\nSources: not a citation\nplain a.rs:1-2\n";
        assert_eq!(link_citations(page, "p"), page);
    }

    #[test]
    fn a_citation_at_the_end_of_a_sentence_is_linked() {
        let linked = link_citations("It starts here. Sources: main.rs:1-4", "p");
        assert_eq!(
            linked,
            "It starts here. Sources: [main.rs:1-4](/projects/p/source?path=main.rs&lines=1-4#L1)"
        );
    }
}
