//! One whole answer from a provider, for wiki generation: nobody watches the tokens, so
//! they are only collected. Stops (dropping the upstream request) when `cancel` fires.

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::providers::{
    ChatProvider, ChatRequest, PromptMessage, PromptRole, ProviderError, ProviderEvent,
};

#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the model's answer was empty")]
    Empty,
    #[error("stopped")]
    Stopped,
}

pub async fn ask(
    provider: &dyn ChatProvider,
    model: &str,
    system: String,
    user: String,
    cancel: &CancellationToken,
) -> Result<String, AskError> {
    let request = ChatRequest {
        messages: vec![
            PromptMessage {
                role: PromptRole::System,
                content: system,
            },
            PromptMessage {
                role: PromptRole::User,
                content: user,
            },
        ],
        model: Some(model.to_owned()),
        // Wiki pages are documentation: prefer the model's most likely wording.
        temperature: Some(0.2),
    };
    let mut stream = provider.stream_chat(request);
    let mut text = String::new();
    loop {
        let event = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(AskError::Stopped),
            event = stream.next() => event,
        };
        match event {
            Some(Ok(ProviderEvent::Token(token))) => text.push_str(&token),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => break,
        }
    }
    if text.trim().is_empty() {
        return Err(AskError::Empty);
    }
    Ok(text)
}
