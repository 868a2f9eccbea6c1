//! Deep Research (SPEC §7), run on the server: several iterations of plan → findings,
//! each announced with `research_iteration` and streamed into one answer, then a
//! conclusion that draws on every iteration. Stopping at any point keeps what was
//! produced. Follow-up questions research the new question: the question is always the
//! conversation's newest user message, earlier turns are only context.

use app::protocol::ServerMsg;

use super::ChatService;
use super::context::grounded;
use super::turn::{Ending, Progress, TurnCtx};
use crate::providers::{PromptMessage, PromptRole};

/// The offline provider cannot plan, so its research takes fixed angles, and fewer.
const OFFLINE_ITERATIONS: u32 = 2;
const ANGLES: &[&str] = &[
    "how the parts fit together",
    "edge cases and failure handling",
    "configuration and extension points",
    "tests and how behaviour is verified",
];
const MAX_QUERY_CHARS: usize = 200;

impl ChatService {
    /// Runs the research loop; returns how it ended and how many iterations ran.
    pub(super) async fn research(
        &self,
        ctx: &TurnCtx<'_>,
        prompt: &[PromptMessage],
        progress: &mut Progress,
    ) -> (Ending, u32) {
        let question = prompt
            .iter()
            .rev()
            .find(|m| m.role == PromptRole::User)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let context = &prompt[..prompt.len().saturating_sub(1)];
        let offline = ctx.provider.id() == "offline";
        let total = if offline {
            OFFLINE_ITERATIONS
        } else {
            self.research_iterations.max(1)
        };

        let mut findings: Vec<(String, String)> = Vec::new();
        for n in 1..=total {
            let query = if n == 1 {
                question.clone()
            } else if offline {
                angle_query(&question, n)
            } else {
                let planning = planning_prompt(context, &question, &findings);
                match self.stream_step(ctx, planning, progress, false).await {
                    (Ending::Completed, text) => {
                        first_line(&text).unwrap_or_else(|| angle_query(&question, n))
                    }
                    (ending, _) => return (ending, n - 1),
                }
            };
            self.hub.publish(
                &ctx.room,
                ServerMsg::ResearchIteration {
                    conversation_id: ctx.conversation_id,
                    message_id: ctx.active.message_id,
                    n,
                    total,
                    query: query.clone(),
                },
            );
            let separator = if n == 1 { "" } else { "\n\n" };
            self.emit(
                ctx,
                format!("{separator}### Research step {n} of {total}: {query}\n\n"),
            );
            let before = ctx.active.partial().text.len();
            let grounding = self.ground(ctx, &query).await;
            let step = grounded(
                grounding,
                &iteration_prompt(context, &question, &findings, n, total, &query),
            );
            let (ending, _) = self.stream_step(ctx, step, progress, true).await;
            let found = ctx
                .active
                .partial()
                .text
                .get(before..)
                .unwrap_or_default()
                .to_owned();
            findings.push((query, found));
            if !matches!(ending, Ending::Completed) {
                return (ending, n);
            }
        }

        self.emit(ctx, "\n\n## Conclusion\n\n".to_owned());
        let conclusion = grounded(
            ChatService::recall(ctx),
            &conclusion_prompt(context, &question, &findings),
        );
        let (ending, _) = self.stream_step(ctx, conclusion, progress, true).await;
        (ending, total)
    }
}

fn angle_query(question: &str, n: u32) -> String {
    let angle = ANGLES[(n as usize).saturating_sub(2) % ANGLES.len()];
    format!("{question} — {angle}")
}

/// The model's planned query: its first non-empty line, without list markers or quotes.
fn first_line(text: &str) -> Option<String> {
    let line = text
        .lines()
        .map(|l| {
            l.trim()
                .trim_start_matches(['-', '*', '#', ' '])
                .trim_matches('"')
                .trim()
        })
        .find(|l| !l.is_empty())?;
    Some(line.chars().take(MAX_QUERY_CHARS).collect())
}

fn system(text: String) -> PromptMessage {
    PromptMessage {
        role: PromptRole::System,
        content: text,
    }
}

fn user(text: String) -> PromptMessage {
    PromptMessage {
        role: PromptRole::User,
        content: text,
    }
}

fn findings_text(findings: &[(String, String)]) -> String {
    findings
        .iter()
        .enumerate()
        .map(|(i, (query, text))| format!("Step {} ({query}):\n{}", i + 1, text.trim()))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn with_context(context: &[PromptMessage], mut messages: Vec<PromptMessage>) -> Vec<PromptMessage> {
    let mut all = context.to_vec();
    all.append(&mut messages);
    all
}

fn planning_prompt(
    context: &[PromptMessage],
    question: &str,
    findings: &[(String, String)],
) -> Vec<PromptMessage> {
    with_context(
        context,
        vec![
            system(format!(
                "You are researching a code repository to answer: {question}\n\
                 Findings so far:\n{}\n\n\
                 Reply with ONE short search query (one line, no explanation) for the most \
                 important thing that is still unclear.",
                findings_text(findings)
            )),
            user(format!("Next research query for: {question}")),
        ],
    )
}

fn iteration_prompt(
    context: &[PromptMessage],
    question: &str,
    findings: &[(String, String)],
    n: u32,
    total: u32,
    query: &str,
) -> Vec<PromptMessage> {
    let earlier = if findings.is_empty() {
        String::new()
    } else {
        format!("\nEarlier findings:\n{}\n", findings_text(findings))
    };
    with_context(
        context,
        vec![
            system(format!(
                "Deep research, step {n} of {total}, on the question: {question}\n{earlier}\
                 Investigate only this step's focus, cite sources as [n], do not conclude yet."
            )),
            user(query.to_owned()),
        ],
    )
}

fn conclusion_prompt(
    context: &[PromptMessage],
    question: &str,
    findings: &[(String, String)],
) -> Vec<PromptMessage> {
    with_context(
        context,
        vec![
            system(format!(
                "Deep research is complete. Findings of every step:\n{}\n\n\
                 Write the conclusion: answer the question directly, drawing on every step \
                 and keeping its citations.",
                findings_text(findings)
            )),
            user(question.to_owned()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_queries_are_one_clean_line() {
        assert_eq!(
            first_line("\n  - \"config loading\"\nmore"),
            Some("config loading".into())
        );
        assert_eq!(first_line("   \n"), None);
        assert_eq!(
            first_line(&"x".repeat(500)).map(|q| q.len()),
            Some(MAX_QUERY_CHARS)
        );
    }

    #[test]
    fn offline_angles_name_the_question() {
        assert!(angle_query("How?", 2).starts_with("How? — "));
        assert_ne!(angle_query("How?", 2), angle_query("How?", 3));
    }
}
