//! What a hit's file or text says about it beyond the question's words: a definition of
//! a named identifier is worth more than a use of it, release notes less than the code.

use super::index::Hit;

/// Release notes repeat every feature's words, a line each, yet are seldom where an
/// answer lies: on the retrieval-quality benchmark a changelog was often the first passage
/// for a question about a README section or a function. Their hits keep this much of
/// their score.
const RELEASE_NOTES_WEIGHT: f32 = 0.5;
/// File names (before the first dot, any case) of release notes.
const RELEASE_NOTES: &[&str] = &[
    "changelog",
    "changes",
    "history",
    "news",
    "releases",
    "release-notes",
];
/// Words of a question about versions or changes, when release notes are what it wants.
const HISTORY_WORDS: &[&str] = &[
    "changelog",
    "changed",
    "changes",
    "release",
    "released",
    "releases",
    "version",
    "versions",
];

/// Ranks hits in release notes (`CHANGELOG.md`, `HISTORY`…) lower, unless the question
/// asks about versions or changes.
pub fn demote_release_notes(mut hits: Vec<Hit>, query: &str) -> Vec<Hit> {
    let asks_history = query
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| HISTORY_WORDS.contains(&word.to_lowercase().as_str()));
    if asks_history {
        return hits;
    }
    let mut demoted = false;
    for hit in hits.iter_mut().filter(|hit| is_release_notes(&hit.path)) {
        hit.score *= RELEASE_NOTES_WEIGHT;
        demoted = true;
    }
    if demoted {
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
    hits
}

/// Prose extensions of release notes: `changes.rs` is code, `CHANGES.md` is not.
const RELEASE_NOTES_EXTENSIONS: &[&str] = &["", "md", "markdown", "txt", "rst", "adoc"];

fn is_release_notes(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_lowercase();
    let (stem, extension) = name.split_once('.').unwrap_or((&name, ""));
    RELEASE_NOTES.contains(&stem) && RELEASE_NOTES_EXTENSIONS.contains(&extension)
}

/// Keywords that introduce a definition in the languages the chunker knows.
const DEFINERS: &[&str] = &[
    "fn",
    "struct",
    "enum",
    "trait",
    "impl",
    "type",
    "mod",
    "def",
    "class",
    "function",
    "func",
    "interface",
    "const",
    "let",
    "var",
    "macro_rules!",
];
/// How much a definition of a queried identifier outranks a mere use of it.
const DEFINITION_BOOST: f32 = 1.5;

/// Ranks chunks that define an identifier of the query (`fn parse_config` for
/// "parseConfig") above chunks that only use it: someone who names an identifier
/// usually wants its definition first. Identifiers compare without case or underscores.
pub fn boost_definitions(mut hits: Vec<Hit>, query: &str) -> Vec<Hit> {
    let wanted: Vec<String> = query
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.len() >= 3)
        .map(identifier_key)
        .collect();
    if wanted.is_empty() {
        return hits;
    }
    let mut boosted = false;
    for hit in &mut hits {
        if defines_any(&hit.text, &wanted) {
            hit.score *= DEFINITION_BOOST;
            boosted = true;
        }
    }
    if boosted {
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
    hits
}

fn identifier_key(word: &str) -> String {
    word.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a word of code is part of an identifier or a keyword. Bytes of non-ASCII
/// characters count as such: every definer is ASCII, and a word split only at ASCII bytes
/// stays valid UTF-8.
fn in_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'!' || !byte.is_ascii()
}

/// Scans bytes rather than chars: this runs over every candidate's whole text for every
/// question, and decoding characters was most of its cost.
fn defines_any(text: &str, wanted: &[String]) -> bool {
    let mut previous: &[u8] = b"";
    for word in text.as_bytes().split(|b| !in_word(*b)) {
        if word.is_empty() {
            continue;
        }
        if DEFINERS.iter().any(|d| d.as_bytes() == previous)
            && let Ok(word) = std::str::from_utf8(word)
            && wanted.contains(&identifier_key(word))
        {
            return true;
        }
        previous = word;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::index::test_hit as hit;

    #[test]
    fn definitions_of_a_queried_identifier_come_first() {
        let mut usage = hit("main.rs", 1, 3, 2.0);
        usage.text = "let c = parse_config(x);".into();
        let mut definition = hit("config.rs", 1, 9, 1.5);
        definition.text = "/// Reads it.\npub fn parse_config(input: &str) {}".into();
        let ranked = boost_definitions(vec![usage.clone(), definition.clone()], "parseConfig?");
        assert_eq!(ranked[0].path, "config.rs");
        let unchanged = boost_definitions(vec![usage.clone(), definition], "what is it");
        assert_eq!(unchanged[0].path, "main.rs");
    }

    #[test]
    fn release_notes_rank_lower_unless_the_question_is_about_changes() {
        let notes = hit("CHANGELOG.md", 1, 20, 10.0);
        let code = hit("src/parser.rs", 1, 20, 6.0);
        let hits = vec![notes.clone(), code.clone()];
        let ranked = demote_release_notes(hits.clone(), "how are hosts parsed");
        assert_eq!(ranked[0].path, "src/parser.rs");
        assert_eq!(ranked[1].score, 5.0);
        let asked = demote_release_notes(hits, "what changed in the parser in version 2");
        assert_eq!(asked[0].path, "CHANGELOG.md");
        assert!(is_release_notes("docs/release-notes.md") && is_release_notes("HISTORY"));
        assert!(!is_release_notes("src/changes.rs") && !is_release_notes("news/lib.rs"));
    }
}
