//! One project's chunk vectors in memory, normalised, with each chunk's position: a query
//! scans them all for the nearest, and scores the lexical candidates by id without a
//! second pass or a hash of every id.

use std::collections::HashMap;

use crate::storage::StoredVector;

#[derive(Default)]
pub(super) struct VectorSet {
    entries: Vec<StoredVector>,
    positions: HashMap<String, usize>,
}

impl VectorSet {
    pub fn new(stored: Vec<StoredVector>) -> Self {
        let mut set = Self::default();
        for vector in stored {
            set.upsert(vector);
        }
        set
    }

    /// Adds a chunk's vector, or replaces the one it had.
    pub fn upsert(&mut self, vector: StoredVector) {
        let vector = StoredVector {
            vector: normalized(vector.vector),
            ..vector
        };
        match self.positions.get(&vector.chunk_id) {
            Some(&i) => self.entries[i] = vector,
            None => {
                self.positions
                    .insert(vector.chunk_id.clone(), self.entries.len());
                self.entries.push(vector);
            }
        }
    }

    pub fn remove_path(&mut self, path: &str) {
        self.entries.retain(|v| v.path != path);
        self.positions = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, v)| (v.chunk_id.clone(), i))
            .collect();
    }

    /// The `k` nearest chunks to a normalised query vector, best first, as (chunk id,
    /// cosine similarity).
    pub fn nearest(&self, query: &[f32], k: usize) -> Vec<(String, f32)> {
        // Ranked by position, so only the k kept ids are cloned, not every chunk's.
        let mut scored: Vec<(usize, f32)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, v)| v.vector.len() == query.len())
            .map(|(i, v)| (i, dot(&v.vector, query)))
            .collect();
        let by_similarity = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1);
        if scored.len() > k && k > 0 {
            scored.select_nth_unstable_by(k - 1, by_similarity);
        }
        scored.truncate(k);
        scored.sort_by(by_similarity);
        scored
            .into_iter()
            .map(|(i, similarity)| (self.entries[i].chunk_id.clone(), similarity))
            .collect()
    }

    /// The cosine similarity of a chunk to a normalised query vector, if it has a vector.
    pub fn similarity(&self, chunk_id: &str, query: &[f32]) -> Option<f32> {
        let vector = &self.entries[*self.positions.get(chunk_id)?].vector;
        (vector.len() == query.len()).then(|| dot(vector, query))
    }
}

pub(super) fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Lanes summed apart: a single running sum is a chain of dependent additions the
/// compiler may not reorder, eight of them become one SIMD multiply-add per step.
const LANES: usize = 8;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += x[lane] * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: &str, path: &str, vector: Vec<f32>) -> StoredVector {
        StoredVector {
            chunk_id: id.into(),
            path: path.into(),
            vector,
        }
    }

    #[test]
    fn dot_matches_the_plain_sum_for_any_length() {
        for len in [0, 1, 7, 8, 9, 384, 1_000] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.5).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-3, "length {len}");
        }
    }

    #[test]
    fn nearest_and_similarity_follow_upserts_and_removals() {
        let mut set = VectorSet::new(vec![
            stored("a#1", "a", vec![1.0, 0.0]),
            stored("b#1", "b", vec![0.0, 1.0]),
        ]);
        let query = [1.0, 0.0];
        assert_eq!(set.nearest(&query, 1), vec![("a#1".to_owned(), 1.0)]);
        set.upsert(stored("a#1", "a", vec![0.0, 3.0]));
        set.upsert(stored("c#1", "c", vec![2.0, 0.0]));
        assert_eq!(set.nearest(&query, 1)[0].0, "c#1");
        assert_eq!(set.similarity("a#1", &query), Some(0.0));
        set.remove_path("c");
        assert_eq!(set.similarity("c#1", &query), None);
        assert_eq!(set.similarity("b#1", &query), Some(0.0));
        assert_eq!(set.nearest(&query, 5).len(), 2);
    }
}
