//! Starts the real server on an ephemeral port with a temporary SQLite file, and speaks
//! to `/ws` with a real WebSocket client.

use std::net::SocketAddr;
use std::time::Duration;

use app::protocol::{ClientMsg, ServerFrame, ServerMsg};
use futures::{SinkExt, StreamExt};
use server::config::Config;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// How long a test waits for an event before it fails: generous, since it only matters
/// when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub data: TempDir,
    pub config: Config,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_with_providers(adjust, None).await
    }

    /// A server whose providers come from `env` pairs instead of the process environment.
    pub async fn start_with_env(env: &[(&str, &str)]) -> Self {
        let env: std::collections::HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let providers =
            server::providers::Providers::from_env(|name| env.get(name).cloned(), 400.0);
        Self::start_with_providers(|_| {}, Some(providers)).await
    }

    async fn start_with_providers(
        adjust: impl FnOnce(&mut Config),
        providers: Option<server::providers::Providers>,
    ) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(data.path());
        config.database_url = None;
        config.offline_tokens_per_sec = 400.0;
        // The test binary cannot extract PDFs; the server binary built beside it can.
        config.pdf_extractor = Some(env!("CARGO_BIN_EXE_server").into());
        // Tests poll and fire requests faster than a person; the limits have their own test.
        config.rest_requests_per_sec = 100_000;
        config.model_calls_per_min = 100_000;
        adjust(&mut config);
        let options = leptos::config::get_configuration(None)
            .expect("leptos defaults")
            .leptos_options;
        let shutdown = CancellationToken::new();
        let state = match providers {
            Some(providers) => {
                server::build_state_with_providers(
                    config.clone(),
                    options,
                    shutdown.clone(),
                    providers,
                )
                .await
            }
            None => server::build_state(config.clone(), options, shutdown.clone()).await,
        }
        .expect("server state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(server::serve(listener, state));
        Self {
            addr,
            shutdown,
            data,
            config,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn connect(&self) -> Client {
        Client::connect(&format!("ws://{}/ws", self.addr)).await
    }

    /// Shuts the server down gracefully and waits until it has.
    pub async fn stop(self) -> TempDir {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(PATIENCE, self.task).await;
        self.data
    }

    /// A second handle on the server's database, for checking what was stored.
    pub async fn store(&self) -> server::storage::Store {
        server::storage::Store::connect(&self.config.database_url())
            .await
            .expect("open the test database")
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub connection_id: uuid::Uuid,
}

impl Client {
    /// Connects and consumes the server's `welcome`.
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        let mut client = Self {
            ws,
            connection_id: uuid::Uuid::nil(),
        };
        match client.recv().await.msg {
            ServerMsg::Welcome { connection_id, .. } => client.connection_id = connection_id,
            other => panic!("expected welcome, got {other:?}"),
        }
        client
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        let text = serde_json::to_string(msg).expect("serialise");
        self.send_text(&text).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send frame");
    }

    /// The next application frame (control frames are skipped).
    pub async fn recv(&mut self) -> ServerFrame {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket ended")
                .expect("socket error");
            match next {
                Message::Text(text) => {
                    return serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("bad frame {text}: {e}"));
                }
                Message::Close(frame) => panic!("socket closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Frames until one matches; returns all of them, the match last. Bounded as a whole:
    /// pings alone would otherwise keep a wait for an event that never comes alive
    /// forever; the failure lists what did come.
    pub async fn recv_until(&mut self, done: impl Fn(&ServerMsg) -> bool) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        let waited = tokio::time::timeout(PATIENCE * 3, async {
            loop {
                let frame = self.recv().await;
                let stop = done(&frame.msg);
                frames.push(frame);
                if stop {
                    return;
                }
            }
        })
        .await;
        if waited.is_err() {
            panic!("the awaited frame never came; frames received: {frames:#?}");
        }
        frames
    }

    /// Waits for the server to close the socket and returns its close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("timed out waiting for close");
            match next {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next message of any kind, or None when the connection is gone.
    pub async fn next_raw(&mut self) -> Option<Message> {
        match self.ws.next().await {
            Some(Ok(message)) => Some(message),
            _ => None,
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

pub fn ask(conversation_id: uuid::Uuid, content: &str) -> ClientMsg {
    ClientMsg::SendMessage {
        conversation_id,
        content: content.into(),
        client_msg_id: format!("c-{}", uuid::Uuid::new_v4()),
        provider: None,
        model: None,
        temperature: None,
        include_history: None,
        deep_research: None,
        project_id: None,
        file_path: None,
    }
}

pub fn is_turn_end(msg: &ServerMsg) -> bool {
    matches!(
        msg,
        ServerMsg::MessageComplete { .. } | ServerMsg::MessageError { .. }
    )
}

/// The text of every `message_token` among the frames, in order.
pub fn streamed_text(frames: &[ServerFrame]) -> String {
    frames
        .iter()
        .filter_map(|f| match &f.msg {
            ServerMsg::MessageToken { token, .. } => Some(token.as_str()),
            _ => None,
        })
        .collect()
}
