//! Lexical retrieval: code-aware tokenizing, chunking documents along syntax with line
//! ranges for citations, and a tantivy full-text index of those chunks (SPEC §5). It needs
//! no model, so it is always on; dense vectors, when configured, are fused on top of it.

pub mod chunker;
mod counts;
mod fusion;
pub mod index;
mod priors;
mod replica_directory;
mod segments;
mod service;
pub mod tokenizer;
mod vector_set;
mod vectors;

pub use chunker::{Chunk, Chunker, Depth, is_code};
pub use fusion::truncate_to_tokens;
pub use index::{Hit, LexicalIndex};
pub use service::{Passage, Rag, RetrievalRequest};
pub use tokenizer::{CODE_TOKENIZER, CodeTokenizer};

/// What can go wrong while chunking or indexing.
#[derive(Debug, thiserror::Error)]
pub enum RagError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error("code splitter: {0}")]
    CodeSplitter(#[from] text_splitter::CodeSplitterError),
    #[error("index directory {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("a search task failed: {0}")]
    Task(String),
    #[error("the index writer was poisoned by a panic in another thread")]
    WriterPoisoned,
}
