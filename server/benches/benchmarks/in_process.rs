//! A server inside the benchmark's process, on an ephemeral port, with its providers
//! taken from a given environment (a scripted provider's): for benchmarks that need the
//! server's state at hand (to create a project) as well as its sockets.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use app::protocol::rest::Project;
use app::protocol::{ClientMsg, ServerFrame, ServerMsg};
use futures::{SinkExt, StreamExt};
use server::config::Config;
use server::state::AppState;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

pub use crate::support::Ws;

pub struct Instance {
    pub state: AppState,
    pub addr: SocketAddr,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Instance {
    /// Data under `work/data`; local projects may be anywhere under `work`.
    pub async fn start(work: &Path, provider_env: &[(&str, String)]) -> Result<Self, String> {
        let providers = server::providers::Providers::from_env(
            |name| {
                provider_env
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            },
            1000.0,
        );
        let mut config = Config::for_data_dir(work.join("data"));
        config.local_roots = vec![work.display().to_string()];
        // A benchmark's turns come from one connection, as fast as it can send them.
        config.messages_per_sec = 1_000_000;
        let options = leptos::config::get_configuration(None)
            .map_err(|e| format!("leptos configuration: {e}"))?
            .leptos_options;
        let shutdown = tokio_util::sync::CancellationToken::new();
        let state = server::build_state_with_providers(config, options, shutdown, providers)
            .await
            .map_err(|e| format!("server state: {e}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("address: {e}"))?;
        let serving = tokio::spawn(server::serve(listener, state.clone()));
        Ok(Self {
            state,
            addr,
            serving,
        })
    }

    /// Creates a project of the local folder `tree` and waits until it is indexed.
    pub async fn index(&self, tree: &Path) -> Result<Project, String> {
        let request = app::protocol::rest::CreateProjectRequest {
            source: Some(tree.display().to_string()),
            ..Default::default()
        };
        let (project, _) = self
            .state
            .projects
            .create(request)
            .await
            .map_err(|e| format!("create the project: {e}"))?;
        let project = self
            .state
            .projects
            .wait_ready(&project.id)
            .await
            .map_err(|e| format!("indexing: {e}"))?;
        match &project.error {
            Some(error) => Err(format!("indexing failed: {error}")),
            None => Ok(project),
        }
    }

    pub async fn connect(&self) -> Result<Ws, String> {
        crate::support::ws_connect(&format!("ws://{}/ws", self.addr)).await
    }

    pub async fn stop(self) {
        self.state.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.serving).await;
    }
}

async fn recv(ws: &mut Ws) -> Option<ServerFrame> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// A question about the project in a new conversation, answered by `provider`.
pub fn send_message(project_id: &str, question: &str, provider: &str) -> ClientMsg {
    let conversation_id = Uuid::new_v4();
    ClientMsg::SendMessage {
        conversation_id,
        content: question.into(),
        client_msg_id: conversation_id.to_string(),
        provider: Some(provider.into()),
        model: None,
        temperature: None,
        include_history: None,
        deep_research: None,
        project_id: Some(project_id.to_owned()),
        file_path: None,
    }
}

/// What one turn showed its asker.
pub struct Turn {
    pub first_token: Instant,
    pub sources: usize,
}

/// Asks `question` about the project in a new conversation through the `openrouter`
/// provider and reads the turn to its end; the conversation's room is left afterwards,
/// since a connection may only be in so many rooms at once.
pub async fn ask(ws: &mut Ws, project_id: &str, question: &str) -> Result<Turn, String> {
    let msg = send_message(project_id, question, "openrouter");
    let ClientMsg::SendMessage {
        conversation_id, ..
    } = &msg
    else {
        return Err("not a question".into());
    };
    let conversation_id = *conversation_id;
    let text = serde_json::to_string(&msg).map_err(|e| format!("encode: {e}"))?;
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|_| "the socket closed".to_owned())?;
    let mut first_token = None;
    let mut sources = 0;
    loop {
        let frame = recv(ws)
            .await
            .ok_or_else(|| "the socket closed mid-turn".to_owned())?;
        match frame.msg {
            ServerMsg::MessageSources { sources: s, .. } => sources = s.len(),
            ServerMsg::MessageToken { .. } => {
                first_token.get_or_insert_with(Instant::now);
            }
            ServerMsg::MessageComplete { .. } => break,
            ServerMsg::MessageError { message, .. } | ServerMsg::Error { message, .. } => {
                return Err(format!("turn failed: {message}"));
            }
            _ => {}
        }
    }
    let leave = ClientMsg::Leave {
        room: app::protocol::rooms::conversation(conversation_id),
    };
    if let Ok(text) = serde_json::to_string(&leave) {
        let _ = ws.send(Message::Text(text.into())).await;
    }
    let first_token = first_token.ok_or_else(|| "a turn had no token".to_owned())?;
    Ok(Turn {
        first_token,
        sources,
    })
}
