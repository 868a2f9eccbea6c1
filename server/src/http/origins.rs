//! Where a request may come from. Three browser attacks are refused here:
//!
//! - DNS rebinding: a page on `evil.example` whose name later resolves to this server
//!   reaches it with `Host: evil.example`; only names this server answers to pass.
//! - Cross-site requests a browser sends without a preflight (a form post, a multipart
//!   upload, `text/plain`, an `<img>` GET): CORS only hides their response, so the API
//!   refuses them before they act.
//! - Cross-site WebSocket hijacking: sockets check `Origin` on upgrade (`ws::admission`).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::error::ApiError;
use crate::config::Config;
use crate::state::AppState;

/// True when a browser page on `Origin` may use this server. Requests without an Origin
/// header come from non-browser clients (or same-origin GETs), which cross-site hijacking
/// cannot involve.
pub fn origin_allowed(config: &Config, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let listed = listed_origins(config);
    if listed.is_empty() {
        // Same origin: the page was served by this very host.
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        return host.is_some() && origin_host == host;
    }
    listed.iter().any(|o| *o == "*" || *o == origin)
}

fn listed_origins(config: &Config) -> Vec<&str> {
    config
        .allowed_origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .collect()
}

/// True when a browser would only send these headers for a request started by a page
/// of another site that this server does not trust.
pub fn cross_site(config: &Config, headers: &HeaderMap) -> bool {
    if headers.contains_key(header::ORIGIN) {
        return !origin_allowed(config, headers);
    }
    // No Origin: a GET or HEAD. `<img src>` and links from other sites say so here.
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    matches!(fetch_site, Some("cross-site" | "same-site"))
}

/// True when the `Host` header names this server: an IP address (a rebinding page
/// cannot make a browser send one), `localhost`, a configured name, or the host of an
/// allowed origin. A request without `Host` (HTTP/1.0) has nothing to rebind.
pub fn host_allowed(config: &Config, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Some(name) = host.to_str().ok().and_then(host_name) else {
        return false;
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    let configured = config
        .allowed_hosts
        .iter()
        .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
        .any(|h| h == "*" || h == name);
    configured
        || listed_origins(config)
            .iter()
            .filter_map(|o| url::Url::parse(o).ok())
            .any(|o| o.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&name)))
}

/// `host[:port]` or `[v6]:port` → the host part without brackets.
fn host_name(value: &str) -> Option<&str> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split_once(']').map(|(v6, _)| v6);
    }
    let name = match value.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => value,
    };
    (!name.is_empty() && !name.contains(':')).then_some(name)
}

/// Refuses every request whose `Host` is not this server's (all routes, pages included).
pub async fn require_known_host(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if host_allowed(&state.config, request.headers()) {
        next.run(request).await
    } else {
        ApiError::Forbidden(
            "unknown Host; add the name to REPOWIKI_ALLOWED_HOSTS to serve it".into(),
        )
        .into_response()
    }
}

/// Refuses API requests started by another site's page.
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if cross_site(&state.config, request.headers()) {
        ApiError::Forbidden(
            "cross-site request refused; list the page's origin in REPOWIKI_ALLOWED_ORIGINS".into(),
        )
        .into_response()
    } else {
        next.run(request).await
    }
}

/// CORS that follows the same origin list as the sockets.
pub fn cors(config: &Arc<Config>) -> CorsLayer {
    let config = Arc::clone(config);
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |_, request| {
            origin_allowed(&config, &request.headers)
        }))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("last-event-id"),
        ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config(origins: &[&str], hosts: &[&str]) -> Config {
        let mut c = Config::for_data_dir("/tmp/unused");
        c.allowed_origins = origins.iter().map(|k| k.to_string()).collect();
        c.allowed_hosts = hosts.iter().map(|k| k.to_string()).collect();
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
    fn origins_default_to_same_origin() {
        let c = config(&[], &[]);
        assert!(origin_allowed(&c, &HeaderMap::new()));
        assert!(origin_allowed(
            &c,
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ])
        ));
        assert!(!origin_allowed(
            &c,
            &headers(&[
                ("origin", "http://evil.example"),
                ("host", "127.0.0.1:3000")
            ])
        ));

        let listed = config(&["https://wiki.example.com/"], &[]);
        assert!(origin_allowed(
            &listed,
            &headers(&[("origin", "https://wiki.example.com")])
        ));
        assert!(!origin_allowed(
            &listed,
            &headers(&[("origin", "https://other.example.com")])
        ));
    }

    #[test]
    fn rebinding_names_are_refused_and_ours_pass() {
        let c = config(&["https://wiki.example.com"], &["repowiki.lan"]);
        for ours in [
            "127.0.0.1:3000",
            "[::1]:3000",
            "10.0.0.5",
            "localhost:3000",
            "app.localhost",
            "repowiki.lan:8080",
            "REPOWIKI.LAN.",
            "wiki.example.com",
        ] {
            assert!(host_allowed(&c, &headers(&[("host", ours)])), "{ours}");
        }
        for theirs in [
            "evil.example:3000",
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "",
            "[::1",
        ] {
            assert!(!host_allowed(&c, &headers(&[("host", theirs)])), "{theirs}");
        }
        assert!(host_allowed(&c, &HeaderMap::new()));
        assert!(host_allowed(
            &config(&[], &["*"]),
            &headers(&[("host", "anything.example")])
        ));
    }

    #[test]
    fn cross_site_requests_are_told_apart() {
        let c = config(&[], &[]);
        let host = ("host", "127.0.0.1:3000");
        // A non-browser client, and the app's own page.
        assert!(!cross_site(&c, &headers(&[host])));
        assert!(!cross_site(
            &c,
            &headers(&[host, ("origin", "http://127.0.0.1:3000")])
        ));
        assert!(!cross_site(
            &c,
            &headers(&[host, ("sec-fetch-site", "same-origin")])
        ));
        assert!(!cross_site(
            &c,
            &headers(&[host, ("sec-fetch-site", "none")])
        ));
        // A foreign form post, `null` from a sandbox, and an `<img>` GET.
        assert!(cross_site(
            &c,
            &headers(&[host, ("origin", "http://evil.example")])
        ));
        assert!(cross_site(&c, &headers(&[host, ("origin", "null")])));
        assert!(cross_site(
            &c,
            &headers(&[host, ("sec-fetch-site", "cross-site")])
        ));
        // A listed origin may call the API from its own site.
        let listed = config(&["https://wiki.example.com"], &[]);
        assert!(!cross_site(
            &listed,
            &headers(&[
                ("origin", "https://wiki.example.com"),
                ("sec-fetch-site", "cross-site")
            ])
        ));
    }
}
