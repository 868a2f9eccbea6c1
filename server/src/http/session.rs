//! Browser sessions when auth is on: the sign-in form trades an API key for an HttpOnly,
//! SameSite=Strict cookie, so the key itself never sits where page scripts can read it.
//!
//! The cookie is signed, not stored: `<expires>.<nonce>.<mac>`, the MAC an HMAC-SHA256
//! keyed by the API key it was issued for. Any instance with the same keys accepts it
//! (no session table to share), a restart keeps it, and removing a key from
//! `REPOWIKI_API_KEYS` revokes every session signed with it.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::auth::{AuthError, check_key};
use crate::clock::now_ms;
use crate::config::Config;
use crate::state::AppState;

pub const COOKIE: &str = "repowiki_session";
/// How long a sign-in lasts.
const LIFETIME_MS: u64 = 7 * 24 * 60 * 60 * 1000;

fn mac(key: &str, expires: u64, nonce: &str) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(format!("repowiki-session.{expires}.{nonce}").as_bytes());
    Some(mac.finalize().into_bytes().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A session cookie's value for `key`, valid from `now` for [`LIFETIME_MS`].
fn issue(key: &str, now: u64) -> Option<String> {
    let expires = now.saturating_add(LIFETIME_MS);
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    Some(format!(
        "{expires}.{nonce}.{}",
        hex(&mac(key, expires, &nonce)?)
    ))
}

/// The configured key a session cookie was signed with, if it still is one and the
/// session has not expired.
fn verify(config: &Config, value: &str, now: u64) -> Result<String, AuthError> {
    let mut parts = value.splitn(3, '.');
    let (Some(expires), Some(nonce), Some(presented)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Invalid);
    };
    let expires: u64 = expires.parse().map_err(|_| AuthError::Invalid)?;
    if expires <= now {
        return Err(AuthError::Invalid);
    }
    // Every key is tried, so the time taken does not tell which one matched.
    let mut found = None;
    for key in config.api_keys.iter().filter(|k| !k.is_empty()) {
        let expected = mac(key, expires, nonce)
            .map(|m| hex(&m))
            .unwrap_or_default();
        if bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
            found = Some(key.clone());
        }
    }
    found.ok_or(AuthError::Invalid)
}

/// The session cookie of a request, if it carries one.
fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// The key a request's session speaks for: `None` without a session cookie.
pub fn session_key(config: &Config, headers: &HeaderMap) -> Option<Result<String, AuthError>> {
    cookie_value(headers).map(|value| verify(config, value, now_ms()))
}

/// Whether the browser reached us over HTTPS (directly or through a proxy that says so):
/// the cookie is then `Secure`.
fn over_https(headers: &HeaderMap) -> bool {
    let header_says = |name: &str, needle: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains(needle))
    };
    header_says("x-forwarded-proto", "https") || header_says("forwarded", "proto=https")
}

fn set_cookie(value: &str, max_age_s: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .ok()
}

/// Where to go after signing in: a path on this site only, never another origin.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn see_other(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct SignIn {
    #[serde(default)]
    api_key: String,
    next: Option<String>,
}

/// `POST /api/auth/session` (the sign-in form): a valid key gets the session cookie and
/// goes on to `next`; anything else goes back to the form, which says why.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    if !state.config.auth_enabled {
        return see_other(&next, None);
    }
    let key = match check_key(&state.config, Some(form.api_key.trim().to_owned())) {
        Ok(Some(key)) => key,
        Ok(None) => return see_other(&next, None),
        Err(e) => {
            let reason = match e {
                AuthError::Missing => "missing",
                AuthError::Invalid => "invalid",
            };
            let back = format!(
                "/signin?error={reason}&next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return see_other(&back, None);
        }
    };
    let cookie = issue(&key, now_ms())
        .and_then(|value| set_cookie(&value, LIFETIME_MS / 1000, over_https(&headers)));
    see_other(&next, cookie)
}

/// `POST /api/auth/signout`: forgets the session in this browser.
pub async fn sign_out(headers: HeaderMap) -> Response {
    see_other("/signin", set_cookie("", 0, over_https(&headers)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(keys: &[&str]) -> Config {
        let mut c = Config::for_data_dir("/tmp/unused");
        c.auth_enabled = true;
        c.api_keys = keys.iter().map(|k| k.to_string()).collect();
        c
    }

    #[test]
    fn a_session_speaks_for_its_key_until_it_expires_or_the_key_is_removed() {
        let value = issue("k2", 1_000).expect("issued");
        assert_eq!(
            verify(&config(&["k1", "k2"]), &value, 2_000),
            Ok("k2".into())
        );
        assert_eq!(
            verify(&config(&["k1", "k2"]), &value, 1_000 + LIFETIME_MS),
            Err(AuthError::Invalid),
            "expired"
        );
        assert_eq!(
            verify(&config(&["k1"]), &value, 2_000),
            Err(AuthError::Invalid),
            "revoked"
        );
    }

    #[test]
    fn a_tampered_or_malformed_session_is_invalid() {
        let value = issue("k1", 1_000).expect("issued");
        let (expires, rest) = value.split_once('.').expect("dot");
        let later: u64 = expires.parse::<u64>().expect("number") + 1;
        let c = config(&["k1"]);
        assert_eq!(
            verify(&c, &format!("{later}.{rest}"), 2_000),
            Err(AuthError::Invalid)
        );
        for bad in ["", "x", "1.2", "nope.nonce.mac", "99999999999999.n.00"] {
            assert_eq!(verify(&c, bad, 2_000), Err(AuthError::Invalid), "{bad}");
        }
    }

    #[test]
    fn the_cookie_is_found_among_others_and_next_stays_on_this_site() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; repowiki_session=abc.def.123; x=y"),
        );
        assert_eq!(cookie_value(&headers), Some("abc.def.123"));
        assert_eq!(safe_next(Some("/chat/1?x=2")), "/chat/1?x=2");
        for outside in ["//evil.example", "https://evil.example", "/\\evil", ""] {
            assert_eq!(safe_next(Some(outside)), "/", "{outside}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
