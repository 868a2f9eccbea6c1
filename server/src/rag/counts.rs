//! Chunks per project in the index, so start-up can tell a project whose chunks the
//! index lost (a fresh data folder, a crash between two commits) and rebuild it.

use tantivy::collector::Count;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{ReloadPolicy, Term};

use super::{Rag, RagError};

impl Rag {
    /// Chunks of the project searchable now.
    pub fn project_chunk_count(&self, project_id: &str) -> Result<u64, RagError> {
        let index = self.lexical().tantivy();
        let field = index.schema().get_field("project_id")?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let query = TermQuery::new(
            Term::from_field_text(field, project_id),
            IndexRecordOption::Basic,
        );
        Ok(reader.searcher().search(&query, &Count)? as u64)
    }
}
