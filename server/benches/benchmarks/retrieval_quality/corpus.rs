//! The benchmark's corpus and questions, the same on every run and every machine that
//! built RepoWiki: crates pinned by Cargo.lock, as unpacked in the cargo registry.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::support;

/// Crates of different styles: parsers, middleware, algorithms, data structures.
const CRATES: &[&str] = &[
    "globset",
    "governor",
    "text-splitter",
    "url",
    "http",
    "ignore",
];

/// Hand-written questions that name no identifier, with their ground truth.
const PARAPHRASES: &str = include_str!("paraphrase_questions.toml");

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A public function's doc comment (its first sentence); the docs are blanked in the
    /// index, so the words must be found another way.
    DocComment,
    /// A README heading; the heading line is blanked, the section's body is the answer.
    ReadmeSection,
    /// Written by hand without the code's names: only meaning can find the answer.
    Paraphrase,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::DocComment, Kind::ReadmeSection, Kind::Paraphrase];

    pub fn label(self) -> &'static str {
        match self {
            Kind::DocComment => "doc comment",
            Kind::ReadmeSection => "README section",
            Kind::Paraphrase => "paraphrase",
        }
    }
}

pub struct Question {
    pub kind: Kind,
    pub text: String,
    /// The indexed path of the file that answers it (`{crate}/src/…`).
    pub path: String,
    /// The lines that answer it, 1-based and inclusive.
    pub lines: RangeInclusive<u64>,
}

pub struct Corpus {
    pub crates: Vec<String>,
    /// Indexed path and text as indexed (docs or headings blanked, line numbers kept).
    pub files: Vec<(String, String)>,
    pub questions: Vec<Question>,
}

impl Corpus {
    pub fn load() -> Result<Self, String> {
        let roots = crate_roots();
        if roots.is_empty() {
            return Err(format!(
                "none of {CRATES:?} is in the cargo registry; build the workspace first"
            ));
        }
        let mut corpus = Corpus {
            crates: roots.iter().map(|(name, _)| name.clone()).collect(),
            files: Vec::new(),
            questions: Vec::new(),
        };
        for (name, root) in &roots {
            for path in corpus_files(root) {
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let relative = path.strip_prefix(root).unwrap_or(&path);
                let indexed_path = format!("{name}/{}", relative.display());
                let (indexed, found) = if indexed_path.ends_with(".rs") {
                    strip_docs(&text, &indexed_path)
                } else if relative == Path::new("README.md") {
                    strip_headings(&text, &indexed_path, name)
                } else {
                    (text, Vec::new())
                };
                corpus.questions.extend(found);
                corpus.files.push((indexed_path, indexed));
            }
        }
        corpus.questions.extend(paraphrases()?);
        Ok(corpus)
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.questions.iter().filter(|q| q.kind == kind).count()
    }
}

fn paraphrases() -> Result<Vec<Question>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        question: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        text: String,
        path: String,
        lines: [u64; 2],
    }
    let file: File = toml::from_str(PARAPHRASES)
        .map_err(|e| format!("paraphrase_questions.toml is unreadable: {e}"))?;
    Ok(file
        .question
        .into_iter()
        .map(|e| Question {
            kind: Kind::Paraphrase,
            text: e.text,
            path: e.path,
            lines: e.lines[0]..=e.lines[1],
        })
        .collect())
}

/// Each crate's source folder at the version Cargo.lock pins, where it is unpacked.
fn crate_roots() -> Vec<(String, PathBuf)> {
    let lock_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let Ok(lock) = std::fs::read_to_string(&lock_path) else {
        return Vec::new();
    };
    let Ok(lock) = lock.parse::<toml::Table>() else {
        return Vec::new();
    };
    let packages = lock
        .get("package")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    let mut roots = Vec::new();
    for name in CRATES {
        // The newest pinned version when several are.
        let version = packages
            .iter()
            .filter(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))
            .filter_map(|p| p.get("version").and_then(|v| v.as_str()))
            .max_by(|a, b| version_key(a).cmp(&version_key(b)));
        let Some(version) = version else { continue };
        let folder = format!("{name}-{version}");
        if let Some(root) = support::registry_roots()
            .into_iter()
            .map(|r| r.join(&folder))
            .find(|p| p.join("src").is_dir())
        {
            roots.push(((*name).to_owned(), root));
        }
    }
    roots
}

fn version_key(version: &str) -> Vec<u64> {
    version
        .split(['.', '-', '+'])
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// The crate's library sources and its Markdown documents (README, changelog…), in a
/// stable order; tests, examples and benches left out. The prose is there on purpose: in
/// a real repository it competes with the code for a question's words.
fn corpus_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "md"))
                .collect()
        })
        .unwrap_or_default();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The file with its doc comments blanked (lines kept), and a question for each public
/// function whose doc comment has a usable first sentence.
fn strip_docs(text: &str, path: &str) -> (String, Vec<Question>) {
    let mut stripped = String::with_capacity(text.len());
    let mut questions = Vec::new();
    let mut doc: Vec<String> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(comment) = trimmed
            .strip_prefix("///")
            .or_else(|| trimmed.strip_prefix("//!"))
        {
            doc.push(comment.trim().to_owned());
            stripped.push('\n');
            continue;
        }
        if !trimmed.starts_with("#[")
            && !doc.is_empty()
            && let Some(question) = first_sentence(&doc)
            && is_public_fn(trimmed)
        {
            let line = index as u64 + 1;
            questions.push(Question {
                kind: Kind::DocComment,
                text: question,
                path: path.to_owned(),
                lines: line..=line,
            });
        }
        if !trimmed.starts_with("#[") {
            doc.clear();
        }
        stripped.push_str(line);
        stripped.push('\n');
    }
    (stripped, questions)
}

fn is_public_fn(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("pub ") else {
        return false;
    };
    let rest = rest
        .trim_start_matches("const ")
        .trim_start_matches("async ")
        .trim_start_matches("unsafe ");
    rest.starts_with("fn ")
}

/// The doc comment's first sentence, without Markdown, if it says enough to search by.
fn first_sentence(doc: &[String]) -> Option<String> {
    let paragraph: Vec<&str> = doc
        .iter()
        .map(String::as_str)
        .take_while(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("```"))
        .collect();
    let joined = paragraph.join(" ");
    let sentence = match joined.find(". ") {
        Some(end) => &joined[..end],
        None => joined.trim_end_matches('.'),
    };
    let cleaned = plain(sentence);
    (cleaned.split_whitespace().count() >= 4).then_some(cleaned)
}

/// Sections with fewer body lines than this say too little to be asked about.
const MIN_SECTION_LINES: usize = 3;

/// The README with its headings blanked (lines kept), and a question for each section
/// with a body: the heading's words and the crate's name; the answer is the body.
fn strip_headings(text: &str, path: &str, crate_name: &str) -> (String, Vec<Question>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut in_code = false;
    // (line index, level, title) of every heading outside code blocks.
    let mut headings = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if !in_code && level > 0 && line[level..].starts_with(' ') {
            headings.push((index, level, plain(&line[level..])));
        }
    }
    let mut questions = Vec::new();
    for (i, &(start, level, ref title)) in headings.iter().enumerate() {
        let end = headings[i + 1..]
            .iter()
            .find(|(_, other, _)| *other <= level)
            .map_or(lines.len(), |(index, _, _)| *index);
        let body = lines[start + 1..end]
            .iter()
            .filter(|l| !l.trim().is_empty())
            .count();
        if body >= MIN_SECTION_LINES {
            questions.push(Question {
                kind: Kind::ReadmeSection,
                text: format!("{title} ({crate_name})"),
                path: path.to_owned(),
                lines: start as u64 + 2..=end as u64,
            });
        }
    }
    let mut stripped = String::with_capacity(text.len());
    for (index, line) in lines.iter().enumerate() {
        if !headings.iter().any(|(heading, _, _)| *heading == index) {
            stripped.push_str(line);
        }
        stripped.push('\n');
    }
    (stripped, questions)
}

/// Markdown text as words: links keep their text, code marks and emphasis go.
fn plain(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut in_link_target = false;
    let mut previous = ' ';
    for c in markdown.chars() {
        match c {
            '(' if previous == ']' => in_link_target = true,
            ')' if in_link_target => in_link_target = false,
            _ if in_link_target => {}
            '`' | '[' | ']' | '*' => {}
            _ => out.push(c),
        }
        previous = c;
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
