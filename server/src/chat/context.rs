//! What a turn puts in front of the model besides the question: the sources retrieved
//! from the conversation's project (numbered, published to the room, kept with the
//! answer) and as much of the conversation as fits the context budget.

use app::protocol::{ServerMsg, Source};

use super::ChatService;
use super::turn::TurnCtx;
use crate::projects::ProjectError;
use crate::providers::grounding::{self, GroundingSource};
use crate::providers::{PromptMessage, PromptRole, estimate_tokens};
use crate::rag::{Passage, RetrievalRequest};

/// Tokens the earlier conversation may take in a prompt; the oldest turns go first.
/// Sized for the smallest context windows still in use (8k) with room for sources.
const HISTORY_TOKEN_BUDGET: u32 = 4_000;

/// A turn's sources, numbered as the answer cites them.
#[derive(Default)]
pub(super) struct TurnSources {
    passages: Vec<Passage>,
}

impl TurnSources {
    /// Adds passages not already listed; returns the numbers (1-based) of all of `found`.
    fn add(&mut self, found: Vec<Passage>) -> Vec<usize> {
        found
            .into_iter()
            .map(|passage| {
                match self
                    .passages
                    .iter()
                    .position(|p| p.source.id == passage.source.id)
                {
                    Some(i) => i + 1,
                    None => {
                        self.passages.push(passage);
                        self.passages.len()
                    }
                }
            })
            .collect()
    }

    pub fn sources(&self) -> Vec<Source> {
        self.passages.iter().map(|p| p.source.clone()).collect()
    }

    fn grounding(&self, numbers: &[usize]) -> Vec<GroundingSource> {
        numbers
            .iter()
            .filter_map(|&n| {
                self.passages.get(n - 1).map(|p| GroundingSource {
                    n,
                    path: p.source.path.clone(),
                    start_line: p.source.start_line,
                    end_line: p.source.end_line,
                    text: p.text.clone(),
                })
            })
            .collect()
    }
}

impl ChatService {
    /// Retrieves sources for `query` from the turn's project, adds them to the turn's
    /// numbered list, publishes the whole list, and returns the system message that
    /// grounds the next provider call in them. A conversation without a project, or a
    /// retrieval that fails, grounds the call in nothing rather than failing the answer.
    pub(super) async fn ground(&self, ctx: &TurnCtx<'_>, query: &str) -> PromptMessage {
        let mut found = Vec::new();
        if let Some(project_id) = ctx.project_id {
            if let Err(e) = self.projects.ensure_replica(project_id).await {
                tracing::warn!(error = %e, project_id, "could not refresh this instance's index of the project");
            }
            if let Some(path) = ctx.file_path {
                found.extend(self.whole_file(project_id, path).await);
            }
            match self
                .rag
                .retrieve(RetrievalRequest::for_answer(project_id, query))
                .await
            {
                Ok(passages) => found.extend(passages),
                Err(e) => tracing::warn!(error = %e, project_id, "retrieval failed"),
            }
        }
        let (sources, grounding) = {
            let mut turn_sources = ctx.active.sources();
            let numbers = turn_sources.add(found);
            (turn_sources.sources(), turn_sources.grounding(&numbers))
        };
        self.hub.publish(
            &ctx.room,
            ServerMsg::MessageSources {
                conversation_id: ctx.conversation_id,
                message_id: ctx.active.message_id,
                sources,
            },
        );
        PromptMessage {
            role: PromptRole::System,
            content: grounding::instructions(&grounding),
        }
    }

    /// Grounds a call in every source the turn has gathered so far, without retrieving:
    /// a conclusion cites what the steps before it found.
    pub(super) fn recall(ctx: &TurnCtx<'_>) -> PromptMessage {
        let turn_sources = ctx.active.sources();
        let all: Vec<usize> = (1..=turn_sources.passages.len()).collect();
        PromptMessage {
            role: PromptRole::System,
            content: grounding::instructions(&turn_sources.grounding(&all)),
        }
    }

    /// The file a question is about, as one passage ahead of the retrieved ones.
    async fn whole_file(&self, project_id: &str, path: &str) -> Option<Passage> {
        let text = match self.projects.read_document(project_id, path).await {
            Ok(Some(text)) => text,
            // A path that may not be read is, to the question, a file that is not there.
            Ok(None) | Err(ProjectError::InvalidPath(_) | ProjectError::NotFound) => return None,
            Err(e) => {
                tracing::warn!(error = %e, project_id, path, "could not read the asked file");
                return None;
            }
        };
        let lines = u32::try_from(text.lines().count().max(1)).unwrap_or(u32::MAX);
        Some(Passage {
            source: Source {
                id: format!("{path}#L1-L{lines}"),
                path: path.to_owned(),
                start_line: 1,
                end_line: lines,
                snippet: text.chars().take(300).collect(),
                score: 1.0,
            },
            text: crate::rag::truncate_to_tokens(&text, FILE_TOKEN_BUDGET),
        })
    }
}

/// Tokens the asked-about file may take in the prompt.
const FILE_TOKEN_BUDGET: u32 = 6_000;

/// The prompt a provider gets: the grounding first, then the conversation (oldest turns
/// dropped while it is over budget), ending with the question.
pub(super) fn grounded(
    grounding: PromptMessage,
    conversation: &[PromptMessage],
) -> Vec<PromptMessage> {
    let mut start = 0;
    let total = |from: usize| -> u32 {
        conversation[from..]
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum()
    };
    // The question itself always stays, whatever its size.
    while start + 1 < conversation.len() && total(start) > HISTORY_TOKEN_BUDGET {
        start += 1;
    }
    let mut prompt = Vec::with_capacity(conversation.len() - start + 1);
    prompt.push(grounding);
    prompt.extend_from_slice(&conversation[start..]);
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: PromptRole, chars: usize) -> PromptMessage {
        PromptMessage {
            role,
            content: "x".repeat(chars),
        }
    }

    #[test]
    fn old_turns_are_dropped_to_fit_and_the_question_stays() {
        let system = message(PromptRole::System, 10);
        let conversation = vec![
            message(PromptRole::User, 12_000),
            message(PromptRole::Assistant, 8_000),
            message(PromptRole::User, 40),
        ];
        let prompt = grounded(system.clone(), &conversation);
        assert_eq!(prompt.len(), 3);
        assert_eq!(prompt[0], system);
        assert_eq!(prompt[1].content.len(), 8_000);

        let huge_question = vec![message(PromptRole::User, 100_000)];
        assert_eq!(grounded(system, &huge_question).len(), 2);
    }

    #[test]
    fn sources_are_numbered_once_across_retrievals() {
        let passage = |id: &str| Passage {
            source: Source {
                id: id.into(),
                path: id.into(),
                start_line: 1,
                end_line: 2,
                snippet: String::new(),
                score: 1.0,
            },
            text: id.into(),
        };
        let mut sources = TurnSources::default();
        assert_eq!(sources.add(vec![passage("a"), passage("b")]), [1, 2]);
        assert_eq!(sources.add(vec![passage("c"), passage("a")]), [3, 1]);
        let grounding = sources.grounding(&[3, 1]);
        assert_eq!(grounding[0].path, "c");
        assert_eq!(grounding[1].n, 1);
        assert_eq!(sources.sources().len(), 3);
    }
}
