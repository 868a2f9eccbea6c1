//! Turning ranked hit lists into the passages a prompt gets: fused across retrievers,
//! neighbouring chunks of one file merged, and cut to a token budget.

use std::collections::HashMap;

use super::index::Hit;
use crate::providers::estimate_tokens;

/// How much a chunk's similarity to the question can add to its lexical score (scaled so
/// the best BM25 hit has 1). Lexical evidence leads: rank fusion (`1 / (60 + rank)`) let a
/// chunk both lists hold at rank 20 outrank either list's first, so a weak dense list
/// pushed exact matches out of the context; on the retrieval-quality benchmark that made
/// hybrid worse than lexical alone, while this weight makes it better on every figure.
const DENSE_WEIGHT: f32 = 0.43;
/// Chunks only the vectors found that may join the lexical candidates: what words cannot
/// find (a paraphrase of the code) without crowding out what they did.
const DENSE_ONLY_ADDITIONS: usize = 2;

/// Fuses lexical hits (best first, BM25 scores) with the nearest chunks by vector (best
/// first, cosine similarities). Each lexical candidate scores its BM25 share of the best
/// hit's, plus [`DENSE_WEIGHT`] times its similarity placed between the nearest list's
/// last (0) and first (1). A dense-only chunk scores as if it were the last lexical
/// candidate (it was not among them, so its BM25 score is at most that), plus the same
/// dense share; at most [`DENSE_ONLY_ADDITIONS`] of them join.
pub fn fuse(lexical: Vec<Hit>, dense: Vec<Hit>, similarity: &HashMap<String, f32>) -> Vec<Hit> {
    let (Some(best_lexical), Some(best_dense), Some(last_dense)) =
        (lexical.first(), dense.first(), dense.last())
    else {
        return if lexical.is_empty() { dense } else { lexical };
    };
    let best_lexical = best_lexical.score.max(f32::EPSILON);
    let lexical_share = |score: f32| score / best_lexical;
    let (top, floor) = (best_dense.score, last_dense.score);
    let dense_share =
        |similarity: f32| ((similarity - floor) / (top - floor).max(f32::EPSILON)).clamp(0.0, 1.0);
    let last_lexical = lexical_share(lexical.last().map_or(0.0, |h| h.score));

    let found: std::collections::HashSet<String> =
        lexical.iter().map(|h| h.chunk_id.clone()).collect();
    let mut fused: Vec<Hit> = lexical
        .into_iter()
        .map(|hit| {
            let dense = similarity
                .get(&hit.chunk_id)
                .map_or(0.0, |s| dense_share(*s));
            Hit {
                score: lexical_share(hit.score) + DENSE_WEIGHT * dense,
                ..hit
            }
        })
        .collect();
    fused.extend(
        dense
            .into_iter()
            .filter(|hit| !found.contains(&hit.chunk_id))
            .take(DENSE_ONLY_ADDITIONS)
            .map(|hit| Hit {
                score: last_lexical + DENSE_WEIGHT * dense_share(hit.score),
                ..hit
            }),
    );
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.chunk_id.cmp(&b.chunk_id))
    });
    fused
}

/// Merges hits of the same file whose line ranges touch or overlap into one, at the rank
/// of the better one, so the prompt gets one coherent excerpt instead of fragments.
pub fn merge_adjacent(hits: Vec<Hit>) -> Vec<Hit> {
    let mut merged: Vec<Hit> = Vec::with_capacity(hits.len());
    for hit in hits {
        let neighbour = merged.iter_mut().find(|m| {
            m.path == hit.path
                && hit.start_line <= m.end_line + 1
                && m.start_line <= hit.end_line + 1
        });
        match neighbour {
            Some(m) => absorb(m, hit),
            None => merged.push(hit),
        }
    }
    // One merge can make a hit touch another that was kept apart before.
    if has_touching(&merged) {
        return merge_adjacent(merged);
    }
    merged
}

fn has_touching(hits: &[Hit]) -> bool {
    hits.iter().enumerate().any(|(i, a)| {
        hits[i + 1..].iter().any(|b| {
            a.path == b.path && b.start_line <= a.end_line + 1 && a.start_line <= b.end_line + 1
        })
    })
}

fn absorb(into: &mut Hit, other: Hit) {
    into.score = into.score.max(other.score);
    if other.start_line >= into.start_line && other.end_line <= into.end_line {
        return;
    }
    let other_first = other.start_line < into.start_line;
    into.text = if other_first {
        format!("{}\n{}", other.text, into.text)
    } else {
        format!("{}\n{}", into.text, other.text)
    };
    if other_first {
        into.snippet = other.snippet;
    }
    into.start_line = into.start_line.min(other.start_line);
    into.end_line = into.end_line.max(other.end_line);
    into.chunk_id = format!("{}#L{}-L{}", into.path, into.start_line, into.end_line);
}

/// The best hits whose texts fit in `max_tokens` together. The best hit is always kept,
/// shortened if it alone is over the budget, so a question never goes without context.
pub fn within_budget(hits: Vec<Hit>, max_tokens: u32) -> Vec<Hit> {
    let mut kept = Vec::new();
    let mut used = 0u32;
    for mut hit in hits {
        let cost = estimate_tokens(&hit.text);
        if used + cost <= max_tokens {
            used += cost;
            kept.push(hit);
        } else if kept.is_empty() {
            hit.text = truncate_to_tokens(&hit.text, max_tokens);
            kept.push(hit);
            break;
        }
    }
    kept
}

/// The start of `text` that fits in `max_tokens`, as [`estimate_tokens`] counts them
/// (about four characters a token).
pub fn truncate_to_tokens(text: &str, max_tokens: u32) -> String {
    let keep_chars = (max_tokens as usize).saturating_mul(4);
    text.chars().take(keep_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::index::test_hit as hit;

    fn similarities(pairs: &[(&Hit, f32)]) -> HashMap<String, f32> {
        pairs
            .iter()
            .map(|(h, s)| (h.chunk_id.clone(), *s))
            .collect()
    }

    #[test]
    fn a_strong_exact_match_stays_first_whatever_the_vectors_say() {
        // Rank fusion put `both.rs`, middling in both lists, above the lexical best.
        let exact = hit("exact.rs", 1, 5, 20.0);
        let both = hit("both.rs", 1, 5, 6.0);
        let lexical = vec![exact.clone(), hit("x.rs", 1, 5, 7.0), both.clone()];
        let dense = vec![
            hit("near.rs", 1, 5, 0.8),
            hit("both.rs", 1, 5, 0.6),
            hit("far.rs", 1, 5, 0.4),
        ];
        let similarity = similarities(&[(&exact, 0.3), (&both, 0.6)]);
        let fused = fuse(lexical, dense, &similarity);
        assert_eq!(fused[0].path, "exact.rs");
    }

    #[test]
    fn similarity_reorders_close_lexical_candidates() {
        let a = hit("a.rs", 1, 5, 10.0);
        let b = hit("b.rs", 1, 5, 9.5);
        let dense = vec![hit("b.rs", 1, 5, 0.7), hit("a.rs", 1, 5, 0.2)];
        let similarity = similarities(&[(&a, 0.2), (&b, 0.7)]);
        let fused = fuse(vec![a, b], dense, &similarity);
        let order: Vec<&str> = fused.iter().map(|h| h.path.as_str()).collect();
        assert_eq!(order, ["b.rs", "a.rs"]);
    }

    #[test]
    fn only_a_few_dense_only_chunks_join_and_without_vectors_lexical_stands() {
        let lexical: Vec<Hit> = (1..=4)
            .map(|i| hit("l.rs", i * 10, i * 10 + 5, 10.0 - i as f32))
            .collect();
        let dense: Vec<Hit> = (1..=5)
            .map(|i| hit("d.rs", i * 10, i * 10 + 5, 1.0 - 0.1 * i as f32))
            .collect();
        let fused = fuse(lexical.clone(), dense, &HashMap::new());
        assert_eq!(
            fused.iter().filter(|h| h.path == "d.rs").count(),
            DENSE_ONLY_ADDITIONS
        );
        assert_eq!(fused.len(), lexical.len() + DENSE_ONLY_ADDITIONS);
        assert_eq!(fuse(lexical.clone(), Vec::new(), &HashMap::new()), lexical);
    }

    #[test]
    fn touching_ranges_of_one_file_merge_and_others_do_not() {
        let merged = merge_adjacent(vec![
            hit("a.rs", 10, 20, 3.0),
            hit("b.rs", 21, 30, 2.5),
            hit("a.rs", 21, 30, 2.0),
            hit("a.rs", 40, 50, 1.0),
        ]);
        let ranges: Vec<(&str, u64, u64)> = merged
            .iter()
            .map(|h| (h.path.as_str(), h.start_line, h.end_line))
            .collect();
        assert_eq!(
            ranges,
            [("a.rs", 10, 30), ("b.rs", 21, 30), ("a.rs", 40, 50)]
        );
        assert_eq!(merged[0].score, 3.0);
        assert_eq!(merged[0].chunk_id, "a.rs#L10-L30");
        assert_eq!(merged[0].text, "lines 10-20 of a.rs\nlines 21-30 of a.rs");
    }

    #[test]
    fn a_merge_that_bridges_two_hits_merges_all_three() {
        let merged = merge_adjacent(vec![
            hit("a.rs", 1, 10, 3.0),
            hit("a.rs", 21, 30, 2.0),
            hit("a.rs", 11, 20, 1.0),
        ]);
        assert_eq!(merged.len(), 1);
        assert_eq!((merged[0].start_line, merged[0].end_line), (1, 30));
    }

    #[test]
    fn budget_keeps_the_best_that_fit_and_always_one() {
        let mut big = hit("a.rs", 1, 100, 5.0);
        big.text = "x".repeat(4_000);
        let small = hit("b.rs", 1, 2, 4.0);
        let kept = within_budget(vec![big.clone(), small.clone()], 100);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].text.len(), 400);
        let kept = within_budget(vec![small.clone(), big], 100);
        assert_eq!(kept, vec![small]);
    }
}
