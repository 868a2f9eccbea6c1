//! The tantivy full-text index of chunks, scoped by project: BM25 search over text
//! analyzed with the code tokenizer, so identifiers match in any casing convention.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
    Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

use super::RagError;
use super::chunker::Chunk;
use super::replica_directory::ReplicaDirectory;
use super::tokenizer::{self, CODE_TOKENIZER};

/// Memory the writer may use before flushing a segment.
const WRITER_HEAP_BYTES: usize = 64 * 1024 * 1024;
/// Snippets are a preview for the sources sidebar; the full chunk is fetched by id.
const SNIPPET_CHARS: usize = 300;
/// tantivy sizes its top-k heap by the limit, so a caller's `k` is capped.
const MAX_K: usize = 1_000;

/// One search result, in the shape sources are sent to the client (SPEC §5).
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub chunk_id: String,
    pub path: String,
    pub start_line: u64,
    pub end_line: u64,
    /// The chunk's whole text, for the prompt.
    pub text: String,
    pub snippet: String,
    pub score: f32,
}

/// A hit named by its file and lines, its text saying so, for the tests of what ranks hits.
#[cfg(test)]
pub(crate) fn test_hit(path: &str, start: u64, end: u64, score: f32) -> Hit {
    Hit {
        chunk_id: format!("{path}#L{start}-L{end}"),
        path: path.into(),
        start_line: start,
        end_line: end,
        text: format!("lines {start}-{end} of {path}"),
        snippet: format!("lines {start}-{end}"),
        score,
    }
}

#[derive(Clone, Copy)]
struct Fields {
    chunk_id: Field,
    project_id: Field,
    path: Field,
    start_line: Field,
    end_line: Field,
    text: Field,
    /// The path's words (`src/http/router.rs` → src, http, router, rs), searched beside the
    /// text: a question's nouns often name the file.
    path_words: Field,
}

/// How much a question word found in a chunk's path counts against one in its text.
const PATH_WORD_BOOST: f32 = 0.5;

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text_options = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(CODE_TOKENIZER)
                // Words are OR-ed, never matched as phrases: positions would be a third of
                // the indexing work for nothing. (An index made with them is rebuilt.)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
        .set_stored();
    let fields = Fields {
        chunk_id: builder.add_text_field("chunk_id", STRING | STORED),
        project_id: builder.add_text_field("project_id", STRING),
        path: builder.add_text_field("path", STRING | STORED),
        start_line: builder.add_u64_field("start_line", INDEXED | STORED),
        end_line: builder.add_u64_field("end_line", STORED),
        text: builder.add_text_field("text", text_options),
        path_words: builder.add_text_field(
            "path_words",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(CODE_TOKENIZER)
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        ),
    };
    (builder.build(), fields)
}

/// A chunk index shared by all projects; every operation names its project.
pub struct LexicalIndex {
    index: Index,
    // The writer is single-owner in tantivy; a mutex lets `&self` methods share it.
    writer: Mutex<IndexWriter<TantivyDocument>>,
    reader: IndexReader,
    fields: Fields,
}

impl LexicalIndex {
    /// Opens the index in `dir`, creating it (and the directory) when absent.
    pub fn open_in_dir(dir: &Path) -> Result<Self, RagError> {
        std::fs::create_dir_all(dir).map_err(|source| RagError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let (schema, _) = schema();
        let opened = Index::open_or_create(ReplicaDirectory::open(dir)?, schema.clone())
            .map_err(RagError::from)
            .and_then(Self::with_index);
        match opened {
            // An index of an older layout (say, before path words), or one a crash of the
            // machine left incomplete: it is only a replica of the database, so it starts
            // afresh and start-up rebuilds every project the new one lacks from the stored
            // documents. (A lock held by another process is not such a case.)
            Err(RagError::Index(e)) if unreadable(&e) => {
                tracing::warn!(reason = %e, dir = %dir.display(), "starting the search index afresh");
                std::fs::remove_dir_all(dir)
                    .and_then(|()| std::fs::create_dir_all(dir))
                    .map_err(|source| RagError::Io {
                        path: dir.to_owned(),
                        source,
                    })?;
                Self::with_index(Index::create(
                    ReplicaDirectory::open(dir)?,
                    schema,
                    tantivy::IndexSettings::default(),
                )?)
            }
            other => other,
        }
    }
}

/// Errors of an index whose files are of another layout or incomplete.
fn unreadable(e: &tantivy::TantivyError) -> bool {
    use tantivy::TantivyError as E;
    matches!(
        e,
        E::SchemaError(_)
            | E::DataCorruption(_)
            | E::OpenReadError(_)
            | E::IncompatibleIndex(_)
            | E::FieldNotFound(_)
    )
}

impl LexicalIndex {
    /// An index held in memory only, for tests and throwaway use.
    pub fn in_ram() -> Result<Self, RagError> {
        let (schema, _) = schema();
        Self::with_index(Index::create_in_ram(schema))
    }

    fn with_index(index: Index) -> Result<Self, RagError> {
        let (_, fields) = schema();
        tokenizer::register(index.tokenizers());
        let writer = index.writer(WRITER_HEAP_BYTES)?;
        // Commits by this process reload the reader at once (see `commit`); the policy
        // covers commits made by another handle on the same directory.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        Ok(Self {
            index,
            writer: Mutex::new(writer),
            reader,
            fields,
        })
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter<TantivyDocument>>, RagError> {
        self.writer.lock().map_err(|_| RagError::WriterPoisoned)
    }

    /// Adds chunks to a project; they become searchable after [`commit`](Self::commit).
    pub fn add(&self, project_id: &str, chunks: &[Chunk]) -> Result<(), RagError> {
        let f = self.fields;
        let writer = self.writer()?;
        for chunk in chunks {
            writer.add_document(doc!(
                f.chunk_id => chunk.id(),
                f.project_id => project_id,
                f.path => chunk.path.as_str(),
                f.start_line => chunk.start_line,
                f.end_line => chunk.end_line,
                f.text => chunk.text.as_str(),
                f.path_words => chunk.path.as_str(),
            ))?;
        }
        Ok(())
    }

    /// Removes every chunk of one file of a project, before re-indexing it.
    pub fn delete_path(&self, project_id: &str, path: &str) -> Result<(), RagError> {
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                self.term_query(self.fields.project_id, project_id),
            ),
            (Occur::Must, self.term_query(self.fields.path, path)),
        ]);
        self.writer()?.delete_query(Box::new(query))?;
        Ok(())
    }

    /// Removes every chunk of a project.
    pub fn delete_project(&self, project_id: &str) -> Result<(), RagError> {
        let term = Term::from_field_text(self.fields.project_id, project_id);
        self.writer()?.delete_term(term);
        Ok(())
    }

    /// Makes pending additions and deletions durable and visible to searches.
    pub fn commit(&self) -> Result<(), RagError> {
        self.writer()?.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    fn term_query(&self, field: Field, value: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        ))
    }

    /// The `k` best chunks of a project for `query`, by BM25, one per (path, start line).
    ///
    /// The query is tokenized like the indexed text and its words are OR-ed, rather than
    /// handed to tantivy's query syntax: user text such as `foo(bar)` or an unbalanced
    /// quote is then just words, never an error.
    pub fn search(&self, project_id: &str, query: &str, k: usize) -> Result<Vec<Hit>, RagError> {
        let f = self.fields;
        let mut words = query_words(tokenizer::question_analyzer(), query);
        if words.is_empty() {
            words = query_words(tokenizer::analyzer(), query);
        }
        let should: Vec<(Occur, Box<dyn Query>)> = words
            .into_iter()
            .flat_map(|word| {
                let in_text = Term::from_field_text(f.text, &word);
                let in_path = Term::from_field_text(f.path_words, &word);
                let in_text: Box<dyn Query> =
                    Box::new(TermQuery::new(in_text, IndexRecordOption::WithFreqs));
                let in_path: Box<dyn Query> = Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(in_path, IndexRecordOption::WithFreqs)),
                    PATH_WORD_BOOST,
                ));
                [(Occur::Should, in_text), (Occur::Should, in_path)]
            })
            .collect();
        let k = k.min(MAX_K);
        if should.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        // The project filter must not add to the score, so it is a constant zero.
        let filter = ConstScoreQuery::new(self.term_query(f.project_id, project_id), 0.0);
        let query = BooleanQuery::new(vec![
            (Occur::Must, Box::new(filter) as Box<dyn Query>),
            (Occur::Must, Box::new(BooleanQuery::new(should))),
        ]);
        let searcher = self.reader.searcher();
        // Extra candidates leave room for duplicates dropped below.
        let top = searcher.search(&query, &TopDocs::with_limit(2 * k).order_by_score())?;
        let mut seen = HashSet::new();
        let mut hits = Vec::with_capacity(k);
        for (score, address) in top {
            let hit = self.hit(&searcher.doc(address)?, score);
            if seen.insert((hit.path.clone(), hit.start_line)) {
                hits.push(hit);
                if hits.len() == k {
                    break;
                }
            }
        }
        Ok(hits)
    }

    /// The chunks of a project with these ids, in no particular order; unknown ids are
    /// skipped. Dense retrieval finds ids, this gives them their text and lines.
    pub fn chunks_by_id(&self, project_id: &str, ids: &[&str]) -> Result<Vec<Hit>, RagError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let any_id: Vec<(Occur, Box<dyn Query>)> = ids
            .iter()
            .map(|id| (Occur::Should, self.term_query(f.chunk_id, id)))
            .collect();
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.term_query(f.project_id, project_id)),
            (Occur::Must, Box::new(BooleanQuery::new(any_id))),
        ]);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(ids.len()).order_by_score())?;
        top.into_iter()
            .map(|(_, address)| Ok(self.hit(&searcher.doc(address)?, 0.0)))
            .collect()
    }

    fn hit(&self, doc: &TantivyDocument, score: f32) -> Hit {
        let f = self.fields;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let number = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
        let body = text(f.text);
        Hit {
            chunk_id: text(f.chunk_id),
            path: text(f.path),
            start_line: number(f.start_line),
            end_line: number(f.end_line),
            snippet: body.chars().take(SNIPPET_CHARS).collect(),
            text: body,
            score,
        }
    }

    /// Chunks searchable now, across all projects.
    pub fn num_chunks(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The underlying tantivy index, for maintenance such as merging segments.
    pub fn tantivy(&self) -> &Index {
        &self.index
    }
}

/// The distinct words of `query` as `analyzer` cuts them, in order.
fn query_words(mut analyzer: tantivy::tokenizer::TextAnalyzer, query: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(query);
    let mut seen = HashSet::new();
    let mut words = Vec::new();
    while let Some(token) = stream.next() {
        if seen.insert(token.text.clone()) {
            words.push(token.text.clone());
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::Chunker;

    const LIB_RS: &str = "fn parse_config(input: &str) -> Config {\n    Config::default()\n}\n\nfn render_page() {}\n";
    const APP_JS: &str = "function parseConfig(text) {\n  return JSON.parse(text);\n}\n";

    fn index_with(files: &[(&str, &str, &str)]) -> LexicalIndex {
        let index = LexicalIndex::in_ram().unwrap();
        let chunker = Chunker::default();
        for (project, path, text) in files {
            index
                .add(project, &chunker.chunk(path, text).unwrap())
                .unwrap();
        }
        index.commit().unwrap();
        index
    }

    #[test]
    fn identifiers_match_in_every_casing() {
        let index = index_with(&[("p", "src/lib.rs", LIB_RS), ("p", "web/app.js", APP_JS)]);
        for query in ["parse_config", "parseConfig", "ParseConfig", "parse config"] {
            let hits = index.search("p", query, 5).unwrap();
            let paths: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
            assert!(paths.contains(&"src/lib.rs"), "{query}: {hits:#?}");
            assert!(paths.contains(&"web/app.js"), "{query}: {hits:#?}");
            assert!(hits.iter().all(|h| h.score > 0.0));
        }
        let hits = index.search("p", "parse_config", 1).unwrap();
        assert_eq!(hits[0].path, "src/lib.rs");
        assert_eq!((hits[0].start_line, hits[0].end_line), (1, 5));
        assert_eq!(hits[0].chunk_id, "src/lib.rs#L1-L5");
        assert!(hits[0].snippet.starts_with("fn parse_config"));
    }

    #[test]
    fn projects_are_isolated() {
        let index = index_with(&[("a", "src/lib.rs", LIB_RS), ("b", "web/app.js", APP_JS)]);
        let hits = index.search("b", "parse_config", 10).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].path, "web/app.js");
        assert!(index.search("c", "parse_config", 10).unwrap().is_empty());
    }

    #[test]
    fn delete_path_and_project() {
        let index = index_with(&[
            ("a", "src/lib.rs", LIB_RS),
            ("a", "web/app.js", APP_JS),
            ("b", "src/lib.rs", LIB_RS),
        ]);
        index.delete_path("a", "src/lib.rs").unwrap();
        index.commit().unwrap();
        let hits = index.search("a", "parse_config", 10).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].path, "web/app.js");
        assert_eq!(index.search("b", "parse_config", 10).unwrap().len(), 1);
        index.delete_project("a").unwrap();
        index.commit().unwrap();
        assert!(index.search("a", "parse", 10).unwrap().is_empty());
        assert_eq!(index.search("b", "parse", 10).unwrap().len(), 1);
    }

    #[test]
    fn punctuation_heavy_queries_do_not_error() {
        let index = index_with(&[("p", "src/lib.rs", LIB_RS)]);
        for query in [
            "foo(bar)",
            "\"unbalanced",
            "a AND OR NOT",
            "field:value",
            "[1 TO",
            "+-*/\\^~!{}",
            "",
            "parse_config(\"x\") -> Config::default()",
        ] {
            index.search("p", query, 5).unwrap();
        }
        let hits = index.search("p", "parse_config(\"x\")", 5).unwrap();
        assert_eq!(hits[0].path, "src/lib.rs");
        assert!(index.search("p", "parse", 0).unwrap().is_empty());
    }

    #[test]
    fn questions_are_looked_up_by_their_meaningful_words() {
        let prose = "// What is the thing that does how it is done? Where is it? The end.\n";
        let index = index_with(&[("p", "src/lib.rs", LIB_RS), ("p", "NOTES.md", prose)]);
        let hits = index
            .search("p", "How is the config parsed, and where?", 10)
            .unwrap();
        let paths: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
        assert_eq!(paths, ["src/lib.rs"], "{hits:#?}");
        // A question of nothing but such words is still looked up, with all of them.
        let hits = index.search("p", "What is it?", 10).unwrap();
        assert_eq!(hits.len(), 1, "{hits:#?}");
        assert_eq!(hits[0].path, "NOTES.md");
    }

    #[test]
    fn duplicate_chunks_are_returned_once() {
        let index = index_with(&[("p", "src/lib.rs", LIB_RS), ("p", "src/lib.rs", LIB_RS)]);
        let hits = index.search("p", "parse_config", 10).unwrap();
        assert_eq!(hits.len(), 1);
    }

    fn add_lib_rs(index: &LexicalIndex) {
        let chunks = Chunker::default().chunk("src/lib.rs", LIB_RS).unwrap();
        index.add("p", &chunks).unwrap();
        index.commit().unwrap();
    }

    #[test]
    fn an_index_of_an_older_layout_is_started_afresh() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut older = Schema::builder();
            older.add_text_field("chunk_id", STRING | STORED);
            Index::create_in_dir(dir.path(), older.build()).unwrap();
        }
        let index = LexicalIndex::open_in_dir(dir.path()).expect("rebuilt, not refused");
        add_lib_rs(&index);
        assert_eq!(index.search("p", "parse_config", 5).unwrap().len(), 1);
    }

    #[test]
    fn an_index_left_incomplete_is_started_afresh() {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = LexicalIndex::open_in_dir(dir.path()).unwrap();
            add_lib_rs(&index);
        }
        // What a machine that crashed before writing back its files leaves: the commit's
        // record names segment files whose contents never reached the disk.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "store" || e == "idx") {
                std::fs::write(&path, b"").unwrap();
            }
        }
        let index = LexicalIndex::open_in_dir(dir.path()).expect("started afresh, not refused");
        assert_eq!(index.num_chunks(), 0);
        add_lib_rs(&index);
        assert_eq!(index.search("p", "parse_config", 5).unwrap().len(), 1);
    }

    #[test]
    fn an_index_another_process_holds_is_refused_not_wiped() {
        let dir = tempfile::tempdir().unwrap();
        let holder = LexicalIndex::open_in_dir(dir.path()).unwrap();
        add_lib_rs(&holder);
        assert!(LexicalIndex::open_in_dir(dir.path()).is_err());
        assert_eq!(holder.num_chunks(), 1);
        drop(holder);
        assert_eq!(
            LexicalIndex::open_in_dir(dir.path()).unwrap().num_chunks(),
            1
        );
    }

    #[test]
    fn a_question_naming_the_file_finds_it() {
        let index = index_with(&[
            ("p", "src/router.rs", "pub fn add(path: &str) {}\n"),
            ("p", "src/other.rs", "pub fn add(item: u32) {}\n"),
        ]);
        let hits = index.search("p", "add to the router", 10).unwrap();
        assert_eq!(hits[0].path, "src/router.rs", "{hits:#?}");
    }

    #[test]
    fn on_disk_index_reopens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = LexicalIndex::open_in_dir(dir.path()).unwrap();
            add_lib_rs(&index);
        }
        let index = LexicalIndex::open_in_dir(dir.path()).unwrap();
        assert_eq!(index.num_chunks(), 1);
        assert_eq!(index.search("p", "parseConfig", 3).unwrap().len(), 1);
    }
}
