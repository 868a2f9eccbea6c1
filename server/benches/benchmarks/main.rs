//! RepoWiki's benchmarks, in one binary so that the server is linked once for all of them.
//! Each prints its figures and writes a JSON report under `target/`; none asserts on a
//! timing (this machine's numbers are for comparison, not a gate).
//!
//! `cargo bench -p server` runs them all; `cargo bench -p server -- realtime chunking`
//! runs the ones named.

mod in_process;
mod scripted_provider;
mod socket_io_client;
mod support;

mod chat_overhead;
mod chunking;
mod cold_start;
mod idle_sockets;
mod indexing;
mod lexical_index;
mod load;
mod long_chat;
mod provider_stream;
mod realtime;
mod retrieval_quality;
mod scale_out;
mod soak;
mod wiki;

const BENCHMARKS: &[(&str, fn(), &str)] = &[
    (
        "realtime",
        realtime::bench,
        "fan-out to a 1,000-client room, 1,000 streams",
    ),
    (
        "idle_sockets",
        idle_sockets::bench,
        "server memory per idle socket at 1,000, 10,000 and 100,000",
    ),
    (
        "scale_out",
        scale_out::bench,
        "two instances on Redis beside one: fan-out, 200 streams",
    ),
    (
        "provider_stream",
        provider_stream::bench,
        "provider client overhead per token",
    ),
    (
        "indexing",
        indexing::bench,
        "10,000-file project: first index, re-index of one change",
    ),
    (
        "cold_start",
        cold_start::bench,
        "never-seen 1,500-file repository: indexing and the first answer",
    ),
    (
        "chunking",
        chunking::bench,
        "chunking throughput per file kind, slowest files",
    ),
    (
        "lexical_index",
        lexical_index::bench,
        "BM25 and whole retrieval over 200,000 chunks",
    ),
    (
        "retrieval_quality",
        retrieval_quality::bench,
        "right file in the context, hit@1/3, MRR, line recall: lexical and hybrid",
    ),
    (
        "load",
        load::bench,
        "server binary alone: overhead and CPU per turn on each path, 1,000 concurrent turns",
    ),
    (
        "long_chat",
        long_chat::bench,
        "500 stored messages, then a 20,000-token answer: time per token, first vs last",
    ),
    (
        "chat_overhead",
        chat_overhead::bench,
        "send_message -> first token, minus the provider",
    ),
    (
        "soak",
        soak::bench,
        "10,000 sockets, 200 streaming, 10 min: RSS and fds each minute",
    ),
    (
        "wiki",
        wiki::bench,
        "wiki job overhead (50 pages), pages/min at concurrency 1/4/16",
    ),
];

fn main() {
    // `cargo bench` adds `--bench` (and passes on any filter after `--`).
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if let Some(unknown) = wanted
        .iter()
        .find(|name| !BENCHMARKS.iter().any(|(known, ..)| known == name))
    {
        eprintln!("no benchmark named {unknown:?}; there are:");
        for (name, _, what) in BENCHMARKS {
            eprintln!("  {name:<16} {what}");
        }
        std::process::exit(2);
    }
    for (name, bench, what) in BENCHMARKS {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            println!("\n== {name}: {what}");
            bench();
        }
    }
}
