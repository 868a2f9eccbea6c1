//! The REST API from the browser: JSON in and out (the session cookie, after signing in,
//! goes with every request), and the server's `{error: {message}}` turned into a
//! readable message.
//!
//! On the server these calls are never made (they run in effects and event handlers);
//! they compile to an error there so that components need no `cfg`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::rest::ErrorBody;

/// A JSON body of `{}`, for actions that take none.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Empty {}

pub fn local_get(key: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()?
            .local_storage()
            .ok()??
            .get_item(key)
            .ok()?
            .filter(|v| !v.is_empty())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        None
    }
}

pub fn local_set(key: &str, value: Option<&str>) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = match value {
            Some(v) if !v.is_empty() => storage.set_item(key, v),
            _ => storage.remove_item(key),
        };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    request("GET", path, None::<&()>).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, String> {
    request("POST", path, Some(body)).await
}

pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, String> {
    request("PUT", path, Some(body)).await
}

/// A request whose answer body does not matter.
pub async fn send_empty(method: &str, path: &str) -> Result<(), String> {
    request::<(), serde::de::IgnoredAny>(method, path, None)
        .await
        .map(|_| ())
}

#[cfg(feature = "hydrate")]
async fn request<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<T, String> {
    use gloo_net::http::{Method, RequestBuilder};

    let method = match method {
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        _ => Method::GET,
    };
    let builder = RequestBuilder::new(path).method(method);
    let response = match body {
        Some(body) => builder.json(body).map_err(|e| e.to_string())?.send().await,
        None => builder.send().await,
    }
    .map_err(|_| "The server cannot be reached.".to_owned())?;
    finish(response).await
}

#[cfg(feature = "hydrate")]
pub(crate) async fn finish<T: DeserializeOwned>(
    response: gloo_net::http::Response,
) -> Result<T, String> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(error_message(status, &text));
    }
    // An empty body (204) reads as JSON null.
    let text = if text.trim().is_empty() {
        "null"
    } else {
        text.as_str()
    };
    serde_json::from_str(text).map_err(|e| format!("Unexpected answer from the server: {e}"))
}

#[cfg(not(feature = "hydrate"))]
async fn request<B: Serialize, T: DeserializeOwned>(
    _method: &str,
    _path: &str,
    _body: Option<&B>,
) -> Result<T, String> {
    Err("Not available while rendering on the server.".into())
}

/// The message of `{error: {code, message}}`, or the status when the body has none.
pub fn error_message(status: u16, body: &str) -> String {
    let parsed = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .map(|b| b.error.message);
    match (parsed, status) {
        (Some(message), _) => message,
        (None, 401) => "The server needs an API key (set it under Settings).".into(),
        (None, 404) => "Not found (this server may not offer it yet).".into(),
        (None, status) => format!("The server answered {status}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_the_server_message() {
        assert_eq!(
            error_message(
                400,
                r#"{"error":{"code":"bad_request","message":"title too long"}}"#
            ),
            "title too long"
        );
        assert!(error_message(404, "").contains("Not found"));
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("a b&c/ü"), "a%20b%26c%2F%C3%BC");
    }
}
