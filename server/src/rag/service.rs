//! The retrieval service every other part uses: indexing writes chunks through it, chat
//! and wiki generation read sources from it. It owns the lexical index (always on) and,
//! when an embedding provider is configured, the dense vectors fused on top of it.

use std::path::Path;

use super::RagError;
use super::chunker::Chunk;
use super::index::LexicalIndex;

pub struct Rag {
    lexical: LexicalIndex,
}

impl Rag {
    /// Opens (or creates) the index kept in `dir`.
    pub fn open(dir: &Path) -> Result<Self, RagError> {
        Ok(Self {
            lexical: LexicalIndex::open_in_dir(dir)?,
        })
    }

    /// Replaces the chunks of one document of a project. Visible after [`commit`](Self::commit).
    pub fn index_document(
        &self,
        project_id: &str,
        path: &str,
        chunks: &[Chunk],
    ) -> Result<(), RagError> {
        self.lexical.delete_path(project_id, path)?;
        self.lexical.add(project_id, chunks)
    }

    /// Drops one document of a project. Visible after [`commit`](Self::commit).
    pub fn remove_document(&self, project_id: &str, path: &str) -> Result<(), RagError> {
        self.lexical.delete_path(project_id, path)
    }

    /// Drops every chunk of a project. Visible after [`commit`](Self::commit).
    pub fn remove_project(&self, project_id: &str) -> Result<(), RagError> {
        self.lexical.delete_project(project_id)
    }

    /// Makes pending changes durable and searchable.
    pub fn commit(&self) -> Result<(), RagError> {
        self.lexical.commit()
    }

    pub fn lexical(&self) -> &LexicalIndex {
        &self.lexical
    }
}
