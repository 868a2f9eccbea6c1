//! Retrieval quality: does the right code reach the model?
//!
//! Corpus: the Rust sources of a fixed set of crates, at the versions Cargo.lock pins (so
//! every machine that built RepoWiki has them in `~/.cargo/registry/src/`), with every
//! doc comment blanked out (its lines kept, so line numbers stay true) — the question's
//! words must not be found verbatim. Questions, made the CodeSearchNet way and the same on
//! every run: the first sentence of each public function's doc comment. Ground truth: the
//! function's file and its `fn` line.
//!
//! For each question the whole retrieval a chat turn makes runs (`Rag::retrieve`, eight
//! passages within 3,000 tokens) and the benchmark prints: hit rate (the right file among
//! the passages), hit@1, hit@3, MRR of the right file, line recall (a passage covers the
//! `fn` line) and context tokens per question (four characters a token, as the budget
//! counts them). Lexical only so far: hybrid needs an embedding model served on loopback.
//!
//! `cargo bench -p server -- retrieval_quality`; writes `target/bench-retrieval-quality.json`.
//! `REPOWIKI_BENCH_QUESTIONS=100` takes fewer questions (an even sample).

use std::path::{Path, PathBuf};

use server::rag::{Chunker, RetrievalRequest};

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

const PROJECT: &str = "quality";

struct Question {
    text: String,
    path: String,
    line: u64,
}

pub fn bench() {
    support::block_on(run());
}

async fn run() {
    let roots = crate_roots();
    if roots.is_empty() {
        return eprintln!("none of {CRATES:?} is in the cargo registry; build the workspace first");
    }
    let (_dir, rag) = match support::lexical_rag().await {
        Ok(opened) => opened,
        Err(e) => return eprintln!("{e}"),
    };

    let chunker = Chunker::default();
    let mut questions = Vec::new();
    let (mut files, mut chunks) = (0, 0);
    for (name, root) in &roots {
        for path in rust_files(root) {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let indexed_path = format!("{name}/{}", relative.display());
            let (stripped, found) = strip_docs(&text, &indexed_path);
            questions.extend(found);
            match chunker.chunk(&indexed_path, &stripped) {
                Ok(file_chunks) => {
                    files += 1;
                    chunks += file_chunks.len();
                    if let Err(e) = rag.lexical().add(PROJECT, &file_chunks) {
                        return eprintln!("indexing failed: {e}");
                    }
                }
                Err(e) => eprintln!("{indexed_path}: {e}"),
            }
        }
    }
    if let Err(e) = rag.lexical().commit() {
        return eprintln!("commit failed: {e}");
    }
    let wanted = support::size("REPOWIKI_BENCH_QUESTIONS", questions.len()).max(1);
    let step = questions.len().div_ceil(wanted).max(1);
    let questions: Vec<&Question> = questions.iter().step_by(step).collect();

    let mut scores = Scores::default();
    for question in &questions {
        let passages = match rag
            .retrieve(RetrievalRequest::for_answer(PROJECT, &question.text))
            .await
        {
            Ok(passages) => passages,
            Err(e) => return eprintln!("retrieval failed: {e}"),
        };
        let rank = passages.iter().position(|p| p.source.path == question.path);
        let covers_line = passages.iter().any(|p| {
            p.source.path == question.path
                && u64::from(p.source.start_line) <= question.line
                && question.line <= u64::from(p.source.end_line)
        });
        let tokens: usize = passages.iter().map(|p| p.text.chars().count() / 4).sum();
        scores.add(rank, covers_line, tokens);
    }

    let n = questions.len().max(1) as f64;
    println!(
        "corpus: {} crates ({}), {files} files, {chunks} chunks; {} questions from doc comments (docs blanked in the index)",
        roots.len(),
        roots
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        questions.len()
    );
    println!(
        "lexical: hit rate {:.2}, hit@1 {:.2}, hit@3 {:.2}, MRR {:.2}, line recall {:.2}, context {:.0} tokens per question",
        scores.hits as f64 / n,
        scores.hit1 as f64 / n,
        scores.hit3 as f64 / n,
        scores.reciprocal_ranks / n,
        scores.lines as f64 / n,
        scores.tokens as f64 / n,
    );
    println!("hybrid: not measured (no embedding model is served on loopback yet)");
    let report = serde_json::json!({
        "crates": roots.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "files": files,
        "chunks": chunks,
        "questions": questions.len(),
        "lexical": {
            "hit_rate": scores.hits as f64 / n,
            "hit_at_1": scores.hit1 as f64 / n,
            "hit_at_3": scores.hit3 as f64 / n,
            "mrr": scores.reciprocal_ranks / n,
            "line_recall": scores.lines as f64 / n,
            "context_tokens": scores.tokens as f64 / n,
        },
    });
    support::write_report("bench-retrieval-quality.json", &report);
}

#[derive(Default)]
struct Scores {
    hits: usize,
    hit1: usize,
    hit3: usize,
    reciprocal_ranks: f64,
    lines: usize,
    tokens: usize,
}

impl Scores {
    fn add(&mut self, rank: Option<usize>, covers_line: bool, tokens: usize) {
        if let Some(rank) = rank {
            self.hits += 1;
            self.hit1 += usize::from(rank == 0);
            self.hit3 += usize::from(rank < 3);
            self.reciprocal_ranks += 1.0 / (rank as f64 + 1.0);
        }
        self.lines += usize::from(covers_line);
        self.tokens += tokens;
    }
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

/// The crate's library sources, in a stable order; tests, examples and benches left out.
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
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
            questions.push(Question {
                text: question,
                path: path.to_owned(),
                line: index as u64 + 1,
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
    let cleaned: String = sentence
        .chars()
        .filter(|c| !matches!(c, '`' | '[' | ']' | '*'))
        .collect();
    (cleaned.split_whitespace().count() >= 4).then(|| cleaned.trim().to_owned())
}
