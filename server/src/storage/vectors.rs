//! Dense vectors of chunks, kept so a restart does not pay for embedding again.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Result, StorageError, Store};

/// One chunk's vector as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVector {
    pub chunk_id: String,
    pub path: String,
    pub vector: Vec<f32>,
}

impl Store {
    /// Inserts or replaces the vectors of some chunks of a project.
    pub async fn upsert_vectors(
        &self,
        project_id: &str,
        model: &str,
        vectors: &[StoredVector],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for v in vectors {
            sqlx::query("DELETE FROM chunk_vectors WHERE project_id = $1 AND chunk_id = $2")
                .bind(project_id)
                .bind(&v.chunk_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO chunk_vectors (project_id, chunk_id, path, model, vector) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(project_id)
            .bind(&v.chunk_id)
            .bind(&v.path)
            .bind(model)
            .bind(encode(&v.vector))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every vector of a project made by `model`; vectors of another model are useless
    /// for this one's queries.
    pub async fn vectors(&self, project_id: &str, model: &str) -> Result<Vec<StoredVector>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT chunk_id, path, vector FROM chunk_vectors WHERE project_id = $1 AND model = $2",
        )
        .bind(project_id)
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(chunk_id, path, vector)| {
                Ok(StoredVector {
                    chunk_id,
                    path,
                    vector: decode(&vector)?,
                })
            })
            .collect()
    }

    /// Drops the vectors of one file of a project, or of all of it when `path` is None.
    pub async fn delete_vectors(&self, project_id: &str, path: Option<&str>) -> Result<()> {
        match path {
            Some(path) => {
                sqlx::query("DELETE FROM chunk_vectors WHERE project_id = $1 AND path = $2")
                    .bind(project_id)
                    .bind(path)
                    .execute(&self.writer)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM chunk_vectors WHERE project_id = $1")
                    .bind(project_id)
                    .execute(&self.writer)
                    .await?
            }
        };
        Ok(())
    }
}

fn encode(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

fn decode(text: &str) -> Result<Vec<f32>> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| StorageError::Corrupt(format!("chunk vector: {e}")))?;
    if bytes.len() % 4 != 0 {
        return Err(StorageError::Corrupt("chunk vector length".into()));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn vectors_survive_encoding() {
        let v = vec![0.0, -1.5, f32::MIN_POSITIVE, 3.25];
        assert_eq!(super::decode(&super::encode(&v)).ok(), Some(v));
        assert!(super::decode("AAA").is_err());
    }
}
