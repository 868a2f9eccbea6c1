//! Headers that tell the browser what our pages may do: a Content-Security-Policy that
//! runs only our own scripts (the WASM needs `'wasm-unsafe-eval'`; Leptos' inline
//! hydration script carries the page's nonce), no framing, no MIME sniffing, and no
//! full URLs (which may hold `?api_key=`) in `Referer` headers sent elsewhere.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use leptos_axum::ResponseOptions;
use tower_http::set_header::SetResponseHeaderLayer;

/// What every policy shares. Styles allow inline: Mermaid's diagrams carry their own
/// `<style>`, and style attributes are no script.
const BASE_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of a server-rendered page whose inline scripts carry `nonce`.
pub fn page_policy(nonce: &str) -> String {
    format!("{BASE_POLICY}; script-src 'self' 'wasm-unsafe-eval' 'nonce-{nonce}'")
}

/// Everything else (API responses, static files, error pages): no inline script at all.
fn default_policy() -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{BASE_POLICY}; script-src 'self' 'wasm-unsafe-eval'"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// Called while a page renders: its policy names the nonce Leptos put on its scripts.
pub fn set_page_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        leptos::prelude::use_context::<ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce)) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Adds the headers to every response of `router`; a page's own policy (with its nonce)
/// is kept.
pub fn add_to<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            default_policy(),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
}
