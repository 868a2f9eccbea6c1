//! Chunks many documents at once on every core, reporting how far it got, since chunking
//! along syntax trees is the costly part of indexing.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::rag::{Chunk, Chunker};

/// Workers at most; the machine's cores are shared with the server's other work.
const MAX_WORKERS: usize = 4;

/// Chunks of each `(path, text)`, in order. `done(n)` is called as files finish, from
/// any worker thread.
pub fn chunk_all(items: &[(String, String)], done: &(dyn Fn(usize) + Sync)) -> Vec<Vec<Chunk>> {
    if items.is_empty() {
        return Vec::new();
    }
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_WORKERS)
        .min(items.len());
    let per_worker = items.len().div_ceil(workers);
    let finished = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per_worker)
            .map(|slice| {
                let finished = &finished;
                let handle = scope.spawn(move || {
                    let chunker = Chunker::default();
                    slice
                        .iter()
                        .map(|(path, text)| {
                            let chunks = chunk_one(&chunker, path, text);
                            done(finished.fetch_add(1, Ordering::Relaxed) + 1);
                            chunks
                        })
                        .collect::<Vec<_>>()
                });
                (slice.len(), handle)
            })
            .collect();
        // A worker that panicked leaves its files without chunks, in their places.
        handles
            .into_iter()
            .flat_map(|(len, h)| h.join().unwrap_or_else(|_| vec![Vec::new(); len]))
            .collect()
    })
}

/// A file whose syntax the code splitter cannot handle is still indexed, as plain text.
pub fn chunk_one(chunker: &Chunker, path: &str, text: &str) -> Vec<Chunk> {
    match chunker.chunk(path, text) {
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
