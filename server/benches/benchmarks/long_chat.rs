//! Long chats: the browser's code for a streamed answer, run natively. A conversation
//! of 500 stored messages is loaded, then a 20,000-token answer streams into it; each
//! token goes through the conversation state (`ConversationView::apply`) and the very
//! memos the Markdown component renders from (`stream_parts`: the tail cut again, the
//! finished blocks shared), and the tail's and any newly finished block's HTML. Printed:
//! time per token over the first and the last 1,000 tokens, beside the cut the component
//! made before (the whole answer cut and its blocks cloned at every token), and the time
//! to load the 500 messages.
//!
//! The JS heap is not measured here (no browser); the state held per token is the
//! answer's text once plus the tail's HTML.
//!
//! `cargo bench -p server -- long_chat` writes `target/bench-long_chat.json`.

use crate::support;

use std::time::{Duration, Instant};

use app::client::ConversationView;
use app::components::markdown::{Split, split, stream_parts, to_html};
use app::protocol::{ChatMessage, Role, ServerMsg};
use leptos::prelude::{Owner, Signal, With};
use uuid::Uuid;

const STORED_MESSAGES: usize = 500;
const ANSWER_TOKENS: usize = 20_000;
const WINDOW: usize = 1_000;

/// Token `i` of a long answer that looks like a model's: prose with citations and inline
/// code, a list now and then, and a fenced code block every few paragraphs.
fn token(i: usize) -> String {
    const WORDS: [&str; 12] = [
        "The ",
        "parser ",
        "reads ",
        "`Config` ",
        "from ",
        "disk ",
        "and ",
        "checks ",
        "each ",
        "field ",
        "[1] ",
        "before ",
    ];
    match i % 400 {
        120 => "\n\n- first item\n- second item\n\n".to_owned(),
        250 => {
            "\n\n```rust\nfn parse(text: &str) -> Config {\n    toml::from_str(text)\n}\n```\n\n"
                .to_owned()
        }
        n if n % 60 == 59 => ".\n\n".to_owned(),
        _ => WORDS[i % WORDS.len()].to_owned(),
    }
}

fn stored(conversation_id: Uuid, i: usize) -> ChatMessage {
    let role = if i.is_multiple_of(2) {
        Role::User
    } else {
        Role::Assistant
    };
    let content = match role {
        Role::User => format!("Question {i}: how is the configuration loaded?"),
        Role::Assistant => (0..300).map(token).collect(),
    };
    ChatMessage {
        id: Uuid::new_v4(),
        conversation_id,
        role,
        content,
        sources: Vec::new(),
        metadata: None,
        client_msg_id: None,
        created_at: i as u64,
        versions: Vec::new(),
    }
}

/// Microseconds per token over `window`.
fn per_token_us(window: &[Duration]) -> f64 {
    window.iter().sum::<Duration>().as_secs_f64() * 1e6 / window.len().max(1) as f64
}

pub fn bench() {
    let conversation_id = Uuid::new_v4();
    let history: Vec<ChatMessage> = (0..STORED_MESSAGES)
        .map(|i| stored(conversation_id, i))
        .collect();

    // Loading: the messages into the view, each answer cut (as the component does) and
    // rendered once.
    let started = Instant::now();
    let mut view = ConversationView::new(conversation_id);
    view.seed(&history);
    let mut html_bytes = 0;
    for message in &history {
        for block in Split::next(None, &message.content, false)
            .finished
            .blocks
            .iter()
        {
            html_bytes += to_html(&block.src).len();
        }
    }
    let load = started.elapsed();

    let answer_id = Uuid::new_v4();
    let tokens: Vec<String> = (0..ANSWER_TOKENS).map(token).collect();
    // Signals and memos live in an owner's arena, as they do on a page.
    let owner = Owner::new();
    let now_way = owner.with(|| {
        let mut now_way = Vec::with_capacity(ANSWER_TOKENS);
        let answer = view
            .apply(&ServerMsg::MessageToken {
                conversation_id,
                message_id: answer_id,
                token: String::new(),
            })
            .then(|| view.messages.last().map(|m| m.content.clone()))
            .flatten()
            .expect("the answer is added");
        let (finished, tail) = stream_parts(Signal::from(answer), Signal::stored(true));
        let mut rendered = 0;
        for t in &tokens {
            let one = Instant::now();
            view.apply(&ServerMsg::MessageToken {
                conversation_id,
                message_id: answer_id,
                token: t.clone(),
            });
            finished.with(|f| {
                // Only a newly finished block is rendered, once.
                for block in &f.blocks[rendered.min(f.blocks.len())..] {
                    std::hint::black_box(to_html(&block.src));
                }
                rendered = f.blocks.len();
            });
            tail.with(|tail| std::hint::black_box(to_html(tail)));
            now_way.push(one.elapsed());
        }
        now_way
    });

    // The old way, on the same text: the whole answer cut and its blocks cloned each time.
    let mut old_way = Vec::with_capacity(ANSWER_TOKENS);
    let mut text = String::new();
    for t in &tokens {
        let one = Instant::now();
        text.push_str(t);
        let parts = split(&text, true);
        std::hint::black_box(parts.blocks.clone());
        std::hint::black_box(to_html(&parts.tail));
        old_way.push(one.elapsed());
    }

    let first = per_token_us(&now_way[..WINDOW]);
    let last = per_token_us(&now_way[ANSWER_TOKENS - WINDOW..]);
    let old_first = per_token_us(&old_way[..WINDOW]);
    let old_last = per_token_us(&old_way[ANSWER_TOKENS - WINDOW..]);
    println!(
        "load {STORED_MESSAGES} messages: {:.1} ms ({} KiB of HTML)",
        load.as_secs_f64() * 1e3,
        html_bytes / 1024
    );
    println!(
        "per token, {ANSWER_TOKENS}-token answer ({} KiB): first {WINDOW} {first:.2} µs, last {WINDOW} {last:.2} µs (x{:.2}; target <= x2)",
        text.len() / 1024,
        last / first
    );
    println!(
        "old way (whole answer cut each token): first {old_first:.2} µs, last {old_last:.2} µs (x{:.2})",
        old_last / old_first
    );
    support::write_report(
        "long_chat",
        &serde_json::json!({
            "stored_messages": STORED_MESSAGES,
            "load_ms": load.as_secs_f64() * 1e3,
            "answer_tokens": ANSWER_TOKENS,
            "per_token_us": {"first": first, "last": last, "ratio": last / first},
            "old_per_token_us": {"first": old_first, "last": old_last, "ratio": old_last / old_first},
        }),
    );
}
