//! Chunks many documents at once on every core, reporting how far it got, since chunking
//! along syntax trees is the costly part of indexing.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::rag::{Chunk, Chunker, Depth};

/// Chunks of each `(path, text)`, in order. `done(n)` is called as files finish, from
/// any worker thread. Files are handed out one at a time (work stealing), so one worker
/// with the large files does not leave the others idle at the end.
pub fn chunk_all(
    items: &[(String, String)],
    depth: Depth,
    done: &(dyn Fn(usize) + Sync),
) -> Vec<Vec<Chunk>> {
    let finished = AtomicUsize::new(0);
    items
        .par_iter()
        .map_init(Chunker::default, |chunker, (path, text)| {
            // A file that trips a bug in a syntax grammar is left without chunks rather than
            // failing the whole run.
            let chunks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                chunk_one(chunker, depth, path, text)
            }))
            .unwrap_or_else(|_| {
                tracing::warn!(path, "chunking panicked; the file is not indexed");
                Vec::new()
            });
            done(finished.fetch_add(1, Ordering::Relaxed) + 1);
            chunks
        })
        .collect()
}

/// A file whose syntax the code splitter cannot handle is still indexed, as plain text.
pub fn chunk_one(chunker: &Chunker, depth: Depth, path: &str, text: &str) -> Vec<Chunk> {
    match chunker.chunk_at(depth, path, text) {
        Ok(chunks) => chunks,
        Err(e) => {
            tracing::debug!(path, error = %e, "chunking as plain text");
            let mut chunks = chunker
                .chunk(&format!("{path}.txt"), text)
                .unwrap_or_default();
            for chunk in &mut chunks {
                chunk.path = path.to_owned();
            }
            chunks
        }
    }
}
