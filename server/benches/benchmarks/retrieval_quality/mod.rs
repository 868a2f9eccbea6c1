//! Retrieval quality: does the right code reach the model?
//!
//! Corpus ([`corpus`]): the Rust sources and Markdown documents of six crates pinned by
//! Cargo.lock, doc comments and README headings blanked (lines kept) so a question's words
//! are not found verbatim. Questions of three kinds: a public function's doc comment (the
//! CodeSearchNet way), a README heading (the answer is its section), and hand-written
//! paraphrases that name no identifier. Ground truth: a file and a line range.
//!
//! For each question the whole retrieval a chat turn makes runs (`Rag::retrieve`, eight
//! passages within 3,000 tokens), lexical alone and hybrid (dense vectors from a real small
//! embedding model served on loopback, see [`embedding_server`]), and the benchmark prints
//! per kind: hit rate (the right file among the passages), hit@1, hit@3, MRR of the right
//! file, line recall (share of the answer's lines the passages cover), context tokens per
//! question (four characters a token, as the budget counts them) and retrieval time.
//!
//! `cargo bench -p server -- retrieval_quality`; writes `target/bench-retrieval-quality.json`.
//! `REPOWIKI_BENCH_QUESTIONS=100` takes fewer doc-comment questions (an even sample);
//! `REPOWIKI_BENCH_MISSES=1` lists every question whose file is not the first passage,
//! with the first three passages' files, to see what outranks it.
//! `REPOWIKI_BENCH_DEPTH=lines` chunks code as a large first index does before its
//! syntax chunks are in (`Depth::Lines`): the quality of answers in that first second.

mod corpus;
mod embedding_server;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use server::rag::{Chunker, Depth, Rag, RetrievalRequest};

use crate::support;
use corpus::{Corpus, Kind, Question};
use embedding_server::EmbeddingServer;

const PROJECT: &str = "quality";

pub fn bench() {
    support::block_on(run());
}

async fn run() {
    let mut corpus = match Corpus::load() {
        Ok(corpus) => corpus,
        Err(e) => return eprintln!("{e}"),
    };
    sample_doc_questions(&mut corpus);
    let chunker = Chunker::default();
    let depth = match std::env::var("REPOWIKI_BENCH_DEPTH").as_deref() {
        Ok("lines") => Depth::Lines,
        _ => Depth::Syntax,
    };
    println!("code chunked by {depth:?}");
    let chunks: Vec<_> = corpus
        .files
        .iter()
        .filter_map(|(path, text)| match chunker.chunk_at(depth, path, text) {
            Ok(chunks) => Some(chunks),
            Err(e) => {
                eprintln!("{path}: {e}");
                None
            }
        })
        .collect();
    println!(
        "corpus: {} crates ({}), {} files, {} chunks; questions: {} doc comment, {} README section, {} paraphrase",
        corpus.crates.len(),
        corpus.crates.join(", "),
        chunks.len(),
        chunks.iter().map(Vec::len).sum::<usize>(),
        corpus.count(Kind::DocComment),
        corpus.count(Kind::ReadmeSection),
        corpus.count(Kind::Paraphrase),
    );

    let mut report = serde_json::Map::new();
    let lexical = match indexed(None, &chunks).await {
        Ok((_dir, rag)) => evaluate(&rag, &corpus.questions).await,
        Err(e) => return eprintln!("{e}"),
    };
    print_results("lexical", &lexical);
    report.insert("lexical".into(), lexical.to_json());

    match EmbeddingServer::start() {
        Ok(model) => {
            let started = Instant::now();
            match indexed(Some(Arc::clone(&model.embedder)), &chunks).await {
                Ok((_dir, rag)) => {
                    println!(
                        "hybrid: {} vectors ready in {:.1} s (cached after the first run)",
                        embedding_server::MODEL,
                        started.elapsed().as_secs_f64()
                    );
                    let hybrid = evaluate(&rag, &corpus.questions).await;
                    print_results("hybrid", &hybrid);
                    report.insert("hybrid".into(), hybrid.to_json());
                }
                Err(e) => eprintln!("hybrid: {e}"),
            }
        }
        Err(reason) => println!("hybrid: not measured, no embedding model: {reason}"),
    }
    report.insert("crates".into(), serde_json::json!(corpus.crates));
    support::write_report(
        "bench-retrieval-quality.json",
        &serde_json::Value::Object(report),
    );
}

/// `REPOWIKI_BENCH_QUESTIONS` thins the doc-comment questions (the many) evenly.
fn sample_doc_questions(corpus: &mut Corpus) {
    let total = corpus.count(Kind::DocComment);
    let wanted = support::size("REPOWIKI_BENCH_QUESTIONS", total).max(1);
    let step = total.div_ceil(wanted).max(1);
    let mut seen = 0;
    corpus.questions.retain(|q| {
        if q.kind != Kind::DocComment {
            return true;
        }
        seen += 1;
        (seen - 1) % step == 0
    });
}

/// A retrieval service holding the corpus, its vectors embedded when there is an embedder.
async fn indexed(
    embedder: Option<Arc<dyn server::providers::EmbeddingProvider>>,
    chunks: &[Vec<server::rag::Chunk>],
) -> Result<(tempfile::TempDir, Arc<Rag>), String> {
    let (dir, rag) = support::rag(embedder).await?;
    for file in chunks {
        rag.add_document(PROJECT, file)
            .map_err(|e| format!("indexing failed: {e}"))?;
    }
    rag.commit().map_err(|e| format!("commit failed: {e}"))?;
    rag.vectors_settled().await;
    Ok((dir, rag))
}

async fn evaluate(rag: &Arc<Rag>, questions: &[Question]) -> Results {
    let mut results = Results::default();
    for question in questions {
        let started = Instant::now();
        let passages = match rag
            .retrieve(RetrievalRequest::for_answer(PROJECT, &question.text))
            .await
        {
            Ok(passages) => passages,
            Err(e) => {
                eprintln!("retrieval failed: {e}");
                Vec::new()
            }
        };
        results.durations.push(started.elapsed());
        let rank = passages.iter().position(|p| p.source.path == question.path);
        if rank != Some(0) && std::env::var_os("REPOWIKI_BENCH_MISSES").is_some() {
            let first: Vec<&str> = passages
                .iter()
                .take(3)
                .map(|p| p.source.path.as_str())
                .collect();
            println!(
                "  miss ({}, rank {}): {} -> {} | got {}",
                question.kind.label(),
                rank.map_or("none".into(), |r| (r + 1).to_string()),
                question.text,
                question.path,
                first.join(", ")
            );
        }
        let covered = question
            .lines
            .clone()
            .filter(|line| {
                passages.iter().any(|p| {
                    p.source.path == question.path
                        && u64::from(p.source.start_line) <= *line
                        && *line <= u64::from(p.source.end_line)
                })
            })
            .count();
        let wanted = question.lines.clone().count().max(1);
        let tokens: usize = passages.iter().map(|p| p.text.chars().count() / 4).sum();
        for kind in [Some(question.kind), None] {
            results.by_kind.entry(kind).or_default().add(
                rank,
                covered as f64 / wanted as f64,
                tokens,
            );
        }
    }
    results
}

#[derive(Default)]
struct Results {
    /// Per kind of question; `None` is all of them.
    by_kind: BTreeMap<Option<Kind>, Scores>,
    durations: Vec<Duration>,
}

impl Results {
    fn rows(&self) -> impl Iterator<Item = (&'static str, &Scores)> {
        Kind::ALL
            .into_iter()
            .map(Some)
            .chain([None])
            .filter_map(|kind| {
                let label = kind.map_or("all", Kind::label);
                self.by_kind.get(&kind).map(|scores| (label, scores))
            })
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let mut sorted = self.durations.clone();
        sorted.sort();
        support::percentile_ms(&sorted, p)
    }

    fn to_json(&self) -> serde_json::Value {
        let mut kinds = serde_json::Map::new();
        for (label, scores) in self.rows() {
            kinds.insert(label.into(), scores.to_json());
        }
        serde_json::json!({
            "by_kind": kinds,
            "retrieval_ms_p50": self.percentile_ms(0.5),
            "retrieval_ms_p99": self.percentile_ms(0.99),
        })
    }
}

fn print_results(mode: &str, results: &Results) {
    println!(
        "{mode}: retrieval p50 {:.2} ms, p99 {:.2} ms",
        results.percentile_ms(0.5),
        results.percentile_ms(0.99)
    );
    println!(
        "  {:<15} {:>9} {:>10} {:>6} {:>6} {:>6} {:>6} {:>7}",
        "questions", "n", "right file", "hit@1", "hit@3", "MRR", "lines", "tokens"
    );
    for (label, s) in results.rows() {
        let n = s.questions.max(1) as f64;
        println!(
            "  {label:<15} {:>9} {:>10.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>7.0}",
            s.questions,
            s.hits as f64 / n,
            s.hit1 as f64 / n,
            s.hit3 as f64 / n,
            s.reciprocal_ranks / n,
            s.line_recall / n,
            s.tokens as f64 / n,
        );
    }
}

#[derive(Default)]
struct Scores {
    questions: usize,
    hits: usize,
    hit1: usize,
    hit3: usize,
    reciprocal_ranks: f64,
    line_recall: f64,
    tokens: usize,
}

impl Scores {
    fn add(&mut self, rank: Option<usize>, line_recall: f64, tokens: usize) {
        self.questions += 1;
        if let Some(rank) = rank {
            self.hits += 1;
            self.hit1 += usize::from(rank == 0);
            self.hit3 += usize::from(rank < 3);
            self.reciprocal_ranks += 1.0 / (rank as f64 + 1.0);
        }
        self.line_recall += line_recall;
        self.tokens += tokens;
    }

    fn to_json(&self) -> serde_json::Value {
        let n = self.questions.max(1) as f64;
        serde_json::json!({
            "questions": self.questions,
            "hit_rate": self.hits as f64 / n,
            "hit_at_1": self.hit1 as f64 / n,
            "hit_at_3": self.hit3 as f64 / n,
            "mrr": self.reciprocal_ranks / n,
            "line_recall": self.line_recall / n,
            "context_tokens": self.tokens as f64 / n,
        })
    }
}
