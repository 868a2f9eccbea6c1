//! Cuts a long document into segments at likely item boundaries before it is chunked.
//!
//! For every chunk it cuts, text-splitter scans again all the syntax nodes (or Markdown
//! events) after its cursor, so its cost grows faster than the document. Splitting
//! segments of a few chunks each on their own took chunking of a 10,000-file Rust tree
//! from 42 s to 29–36 s on one thread (`cargo bench -p server -- chunking`); what
//! remains is almost all tree-sitter parsing. A cut falls where a new item most likely
//! starts — the least indented line, preferably after a blank line — which is where the
//! splitter itself would cut, so chunks come out nearly as they would from the whole
//! document.

use std::ops::Range;

/// Columns a tab counts for when comparing indentation.
const TAB_WIDTH: u32 = 4;

/// Byte ranges that cover `text` in order, each at most `max_bytes` long (at least a
/// few bytes, so that every segment holds a whole character).
pub fn segments(text: &str, max_bytes: usize) -> Vec<Range<usize>> {
    let max_bytes = max_bytes.max(8);
    let mut out = Vec::with_capacity(text.len() / max_bytes + 1);
    let mut start = 0;
    while text.len() - start > max_bytes {
        let cut = best_cut(text, start, max_bytes);
        out.push(start..cut);
        start = cut;
    }
    out.push(start..text.len());
    out
}

/// Where the segment that begins at `start` ends: the line start in the second half of
/// the window that looks most like the beginning of an item (latest among equals), or
/// the window's end when no line starts there.
fn best_cut(text: &str, start: usize, max_bytes: usize) -> usize {
    let end = text.floor_char_boundary(start + max_bytes);
    let from = start + max_bytes / 2;
    let mut best: Option<(u32, usize)> = None;
    let mut line_start = start;
    for (i, _) in text[start..end].match_indices('\n') {
        let line_end = start + i;
        let after_blank = text[line_start..line_end].trim().is_empty();
        let next = line_end + 1;
        if next >= from
            && next < end
            && let Some(rank) = rank_line(&text[next..], after_blank)
            && best.is_none_or(|(r, _)| rank <= r)
        {
            best = Some((rank, next));
        }
        line_start = next;
    }
    best.map_or(end, |(_, position)| position)
}

/// How unlikely it is that an item starts on this line (lower is likelier); none for a
/// blank line, which is better left at the end of the segment before.
fn rank_line(rest: &str, after_blank: bool) -> Option<u32> {
    let line = rest.split('\n').next().unwrap_or_default();
    let mut indent = 0;
    for c in line.chars() {
        match c {
            ' ' => indent += 1,
            '\t' => indent += TAB_WIDTH,
            '\r' => {}
            // A closing bracket ends the item above; cutting before it splits that item.
            '}' | ')' | ']' => return Some(10_000 + indent),
            _ => return Some(2 * indent + u32::from(!after_blank)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_cover(text: &str, parts: &[Range<usize>], max: usize) {
        assert_eq!(parts.first().map(|r| r.start), Some(0));
        assert_eq!(parts.last().map(|r| r.end), Some(text.len()));
        for pair in parts.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        for part in parts {
            assert!(part.len() <= max, "{part:?} longer than {max}");
            assert!(text.is_char_boundary(part.start) && text.is_char_boundary(part.end));
        }
    }

    #[test]
    fn short_text_is_one_segment() {
        assert_eq!(segments("fn a() {}\n", 100), vec![0..10]);
        assert_eq!(segments("", 100), vec![0..0]);
    }

    #[test]
    fn cuts_before_top_level_items_not_inside_them() {
        let item = "fn item() {\n    let a = 1;\n\n    let b = 2;\n}\n\n";
        let text = item.repeat(40);
        let parts = segments(&text, 200);
        assert_cover(&text, &parts, 200);
        assert!(parts.len() > 1);
        for part in &parts[1..] {
            assert!(text[part.start..].starts_with("fn item()"), "{part:?}");
        }
    }

    #[test]
    fn prefers_the_least_indented_line() {
        let method = "    void method() {\n        run();\n    }\n\n";
        let text = format!("class A {{\n{}}}\n", method.repeat(30));
        let parts = segments(&text, 300);
        assert_cover(&text, &parts, 300);
        for part in &parts[1..] {
            assert!(
                text[part.start..].starts_with("    void method()"),
                "{part:?}"
            );
        }
    }

    #[test]
    fn any_text_is_covered_in_order() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let pieces = [
            "\n", "\n\n", "    ", "\t", "}", "fn a() {", "é", "日本", "word ", "\r\n",
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..300 {
            let len = rng.random_range(0..400);
            let text: String = (0..len)
                .map(|_| pieces[rng.random_range(0..pieces.len())])
                .collect();
            let max = rng.random_range(1..120);
            assert_cover(&text, &segments(&text, max), max.max(8));
        }
    }

    #[test]
    fn text_without_newlines_is_cut_on_character_boundaries() {
        let text = "é".repeat(500);
        let parts = segments(&text, 101);
        assert_cover(&text, &parts, 101);
        assert!(parts.len() >= 10);
    }
}
