//! Who may talk to the server: API keys, when enabled. Where a request may come from is
//! `origins`.
//!
//! Keys arrive as the `api_key` query parameter (browsers cannot set headers on a
//! WebSocket), `Authorization: Bearer …` or `X-API-Key`, and are compared in constant
//! time so that response timing reveals nothing about a key. Browsers sign in once and
//! send a session cookie instead (`session`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::Config;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    // The texts are the close reasons seed clients already match on.
    #[error("Missing API key")]
    Missing,
    #[error("Invalid API key")]
    Invalid,
}

/// Whom a request speaks for: its key when auth is on (limits are per key), else nobody.
pub type ClientKey = Option<String>;

/// The name per-client limits count under: the key when there is one, else the address.
pub fn client_id(key: &ClientKey, addr: std::net::SocketAddr) -> String {
    match key {
        Some(key) => format!("key:{key}"),
        None => format!("ip:{}", addr.ip()),
    }
}

/// Whom a request speaks for (`key:…`, or `ip:…` without a valid key), for per-client
/// limits. An extractor, so handlers and middleware name the client the same way.
pub struct RequestClient(pub String);

impl RequestClient {
    pub fn of(config: &Config, parts: &axum::http::request::Parts) -> Self {
        let addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        let key = authenticate(config, &parts.headers, parts.uri.query())
            .ok()
            .flatten();
        Self(client_id(&key, addr))
    }
}

impl axum::extract::FromRequestParts<AppState> for RequestClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&state.config, parts))
    }
}

pub fn authenticate(
    config: &Config,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<ClientKey, AuthError> {
    if !config.auth_enabled {
        return Ok(None);
    }
    match presented_key(headers, query) {
        Some(key) => check_key(config, Some(key)),
        None => match super::session::session_key(config, headers) {
            Some(session) => session.map(Some),
            None => Err(AuthError::Missing),
        },
    }
}

/// Checks a key presented some other way (a Socket.IO `auth.token`), as [`authenticate`]
/// checks the request's.
pub fn check_key(config: &Config, presented: Option<String>) -> Result<ClientKey, AuthError> {
    if !config.auth_enabled {
        return Ok(None);
    }
    let presented = presented
        .filter(|k| !k.is_empty())
        .ok_or(AuthError::Missing)?;
    // Every configured key is compared, so the time taken does not depend on which matched.
    let matched = config
        .api_keys
        .iter()
        .filter(|k| !k.is_empty())
        .fold(0u8, |any, key| {
            any | key.as_bytes().ct_eq(presented.as_bytes()).unwrap_u8()
        });
    if matched == 1 {
        Ok(Some(presented))
    } else {
        Err(AuthError::Invalid)
    }
}

fn presented_key(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let from_query = query.and_then(|q| url_pairs(q).find(|(k, _)| k == "api_key").map(|(_, v)| v));
    let from_bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());
    let from_header = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned());
    from_query
        .or(from_bearer)
        .or(from_header)
        .filter(|k| !k.is_empty())
}

fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// Guards the REST API: 401 without a valid key when auth is enabled.
pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match authenticate(&state.config, request.headers(), request.uri().query()) {
        Ok(_) => next.run(request).await,
        Err(e) => ApiError::Unauthorized(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config(keys: &[&str], origins: &[&str]) -> Config {
        let mut c = Config::for_data_dir("/tmp/unused");
        c.auth_enabled = true;
        c.api_keys = keys.iter().map(|k| k.to_string()).collect();
        c.allowed_origins = origins.iter().map(|k| k.to_string()).collect();
        c
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    #[test]
    fn keys_are_read_from_query_bearer_or_header() {
        let c = config(&["k1", "k2"], &[]);
        let none = HeaderMap::new();
        assert_eq!(
            authenticate(&c, &none, Some("a=1&api_key=k2")),
            Ok(Some("k2".into()))
        );
        assert_eq!(
            authenticate(&c, &headers(&[("authorization", "Bearer k1")]), None),
            Ok(Some("k1".into()))
        );
        assert_eq!(
            authenticate(&c, &headers(&[("x-api-key", "k1")]), None),
            Ok(Some("k1".into()))
        );
        assert_eq!(authenticate(&c, &none, None), Err(AuthError::Missing));
        assert_eq!(
            authenticate(&c, &none, Some("api_key=")),
            Err(AuthError::Missing)
        );
        assert_eq!(
            authenticate(&c, &none, Some("api_key=k3")),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            authenticate(&c, &none, Some("api_key=k")),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn auth_off_lets_everyone_in() {
        let mut c = config(&["k1"], &[]);
        c.auth_enabled = false;
        assert_eq!(authenticate(&c, &HeaderMap::new(), None), Ok(None));
    }
}
