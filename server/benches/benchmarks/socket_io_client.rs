//! The Socket.IO client of the load benchmark: Engine.IO 4 over a WebSocket only, the
//! default namespace, events as JSON — what a browser's socket.io-client does once it
//! has upgraded, and no more. No Rust Socket.IO client builds here without OpenSSL, and
//! python-socketio, which the end-to-end tests keep as the real client, spent about a
//! millisecond of its own per turn inside the figure the benchmark reports as the
//! server's.

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{self, Ws};

pub struct SocketIo {
    ws: Ws,
}

impl SocketIo {
    /// Connects to `addr`'s `/socket.io/` and joins the default namespace.
    pub async fn connect(addr: &str) -> Result<Self, String> {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let mut client = Self {
            ws: support::ws_connect(&url).await?,
        };
        // Engine.IO's open packet, then Socket.IO's connect and its answer.
        let open = client.next_text().await?;
        if !open.starts_with('0') {
            return Err(format!("expected an Engine.IO open packet, got {open}"));
        }
        client.send("40".to_owned()).await?;
        let connected = client.next_text().await?;
        if !connected.starts_with("40") {
            return Err(format!("the namespace was not joined: {connected}"));
        }
        Ok(client)
    }

    /// Emits the event `name` with `data`.
    pub async fn emit(&mut self, name: &str, data: serde_json::Value) -> Result<(), String> {
        let packet = serde_json::to_string(&serde_json::json!([name, data]))
            .map_err(|e| format!("event: {e}"))?;
        self.send(format!("42{packet}")).await
    }

    /// The next event the server emits: its name and data.
    pub async fn next_event(&mut self) -> Result<(String, serde_json::Value), String> {
        loop {
            let text = self.next_text().await?;
            if let Some(event) = text.strip_prefix("42") {
                let (name, data): (String, serde_json::Value) =
                    serde_json::from_str(event).map_err(|e| format!("event {event}: {e}"))?;
                return Ok((name, data));
            }
            match text.as_str() {
                // The server's heartbeat.
                "2" => self.send("3".to_owned()).await?,
                "41" | "1" => return Err("the server closed the Socket.IO session".into()),
                _ => {}
            }
        }
    }

    async fn send(&mut self, text: String) -> Result<(), String> {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| format!("Socket.IO send: {e}"))
    }

    async fn next_text(&mut self) -> Result<String, String> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("the socket closed: {frame:?}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("Socket.IO: {e}")),
                None => return Err("the socket ended".into()),
            }
        }
    }
}
