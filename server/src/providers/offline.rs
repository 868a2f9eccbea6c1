//! The built-in provider: no network, no key, no model. It says plainly that it is not a
//! language model and assembles its answer from the question and the retrieved sources,
//! streamed at a steady pace so that a fresh install behaves like a real one.

use std::time::Duration;

use futures::{StreamExt, stream};

use super::grounding::{self, GroundingSource};
use super::{ChatProvider, ChatRequest, EventStream, PromptRole, ProviderEvent};

pub struct OfflineProvider {
    token_interval: Duration,
}

impl OfflineProvider {
    pub const MODEL: &'static str = "extractive";

    pub fn new(tokens_per_sec: f64) -> Self {
        let rate = if tokens_per_sec.is_finite() && tokens_per_sec > 0.0 {
            tokens_per_sec
        } else {
            30.0
        };
        Self {
            token_interval: Duration::from_secs_f64(1.0 / rate),
        }
    }

    /// The whole answer; deterministic for a given request. It quotes the sources the
    /// prompt carries (see [`grounding`]), so it is as good as retrieval is.
    pub fn answer(request: &ChatRequest) -> String {
        let question = request.question().trim();
        let sources: Vec<GroundingSource> = request
            .messages
            .iter()
            .filter(|m| m.role == PromptRole::System)
            .flat_map(|m| grounding::parse(&m.content))
            .collect();
        let mut answer = format!(
            "This is RepoWiki's built-in offline provider: no language model is configured, \
             so this reply is assembled from the retrieved sources, not generated.\n\n\
             You asked: \u{201c}{question}\u{201d}\n\n"
        );
        if sources.is_empty() {
            answer.push_str(
                "No sources were retrieved for this question, so there is nothing to quote. ",
            );
        } else {
            answer.push_str("The passages that match your question best:\n");
            for source in sources.iter().take(QUOTED_SOURCES) {
                answer.push_str(&quote(source));
            }
            if sources.len() > QUOTED_SOURCES {
                answer.push_str(&format!(
                    "\n{} more sources are listed alongside this answer. ",
                    sources.len() - QUOTED_SOURCES
                ));
            } else {
                answer.push('\n');
            }
        }
        answer.push_str(
            "To get real answers, configure a provider (for example OPENAI_API_KEY, \
             GOOGLE_API_KEY or OLLAMA_HOST) and restart the server.",
        );
        answer
    }
}

/// Sources quoted in an offline answer, and lines quoted of each.
const QUOTED_SOURCES: usize = 3;
const QUOTED_LINES: usize = 8;

fn quote(source: &GroundingSource) -> String {
    let lines: Vec<&str> = source.text.lines().collect();
    let shown = lines.len().min(QUOTED_LINES);
    let more = if lines.len() > shown { "\n…" } else { "" };
    let language = std::path::Path::new(&source.path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("text");
    format!(
        "\n**`{}`**, lines {}\u{2013}{} [{}]:\n\n```{language}\n{}{more}\n```\n",
        source.path,
        source.start_line,
        source.end_line,
        source.n,
        lines[..shown].join("\n"),
    )
}

impl ChatProvider for OfflineProvider {
    fn id(&self) -> &'static str {
        "offline"
    }

    fn default_model(&self) -> &str {
        Self::MODEL
    }

    fn stream_chat(&self, request: ChatRequest) -> EventStream {
        let answer = Self::answer(&request);
        let tokens = split_tokens(&answer);
        let usage = ProviderEvent::Usage {
            prompt_tokens: estimate_tokens(
                &request
                    .messages
                    .iter()
                    .map(|m| m.content.as_str())
                    .collect::<String>(),
            ),
            completion_tokens: tokens.len() as u32,
        };
        let mut ticks = tokio::time::interval(self.token_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Each token waits for the next tick; the first tick is immediate.
        stream::unfold(
            (ticks, tokens.into_iter()),
            |(mut ticks, mut rest)| async move {
                let token = rest.next()?;
                ticks.tick().await;
                Some((Ok(ProviderEvent::Token(token)), (ticks, rest)))
            },
        )
        .chain(stream::once(async move { Ok(usage) }))
        .boxed()
    }
}

/// Splits text into word-sized tokens, each keeping the whitespace that follows it, so the
/// tokens concatenate back to the exact text.
pub fn split_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for ch in text.chars() {
        if !ch.is_whitespace() && in_space {
            tokens.push(std::mem::take(&mut current));
            in_space = false;
        }
        in_space |= ch.is_whitespace();
        current.push(ch);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// About four characters a token: the usual rule of thumb when a provider reports no usage.
pub fn estimate_tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::super::{PromptMessage, PromptRole};
    use super::*;

    fn request(q: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![PromptMessage {
                role: PromptRole::User,
                content: q.into(),
            }],
            model: None,
            temperature: None,
        }
    }

    #[test]
    fn tokens_rebuild_the_exact_text() {
        let text = "  Hello,  world!\n\nNext line ";
        assert_eq!(split_tokens(text).concat(), text);
        assert_eq!(split_tokens("a b"), vec!["a ", "b"]);
    }

    #[tokio::test(start_paused = true)]
    async fn streams_the_answer_and_reports_usage() {
        let provider = OfflineProvider::new(1000.0);
        let req = request("What does main do?");
        let events: Vec<_> = provider.stream_chat(req.clone()).collect().await;
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                Ok(ProviderEvent::Token(t)) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, OfflineProvider::answer(&req));
        assert!(text.contains("offline provider"));
        assert!(text.contains("What does main do?"));
        assert!(matches!(
            events.last(),
            Some(Ok(ProviderEvent::Usage { completion_tokens, .. })) if *completion_tokens > 10
        ));
    }
}
