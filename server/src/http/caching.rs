//! How long browsers keep what we send, and compression of large API answers.
//!
//! The build names its WASM, JS and CSS after their content (`pkg/repowiki.<hash>.js`):
//! those never change, so browsers keep them a year without asking. Everything else
//! static (`/theme.js`, `/mermaid.min.js`) is revalidated each time (a cheap 304), API
//! answers are never stored, and pages are revalidated. Static files are served
//! precompressed (`.br`/`.gz` written by the release build); API answers over 1 KiB are
//! compressed as they are sent.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Adds a `Cache-Control` to every response that has none.
pub async fn cache_policy(request: Request, next: Next) -> Response {
    let policy = policy_for(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status().is_redirection() {
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static(policy));
    } else {
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

fn policy_for(path: &str) -> &'static str {
    if path.starts_with("/api/") {
        "no-store"
    } else if is_content_named(path) {
        IMMUTABLE
    } else {
        "no-cache"
    }
}

/// `/pkg/repowiki.3fa9c1e2.js`, `/pkg/repowiki_bg.3fa9c1e2.wasm`: a name, a content hash
/// and an extension. The unhashed names of a build without hashing keep `no-cache`.
fn is_content_named(path: &str) -> bool {
    let Some(file) = path.strip_prefix("/pkg/") else {
        return false;
    };
    let parts: Vec<&str> = file.split('.').collect();
    matches!(parts.as_slice(), [name, hash, _ext, ..]
        if !name.is_empty() && hash.len() >= 8 && hash.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// API answers over 1 KiB compressed (brotli or gzip, as the client accepts); event
/// streams never, or their events would wait in the compressor.
pub fn compress_api<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let worth_it = SizeAbove::new(1024)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::SSE)
        .and(NotForContentType::IMAGES);
    router.layer(CompressionLayer::new().compress_when(worth_it))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_named_build_files_are_immutable() {
        assert_eq!(policy_for("/pkg/repowiki.a1b2c3d4e5f6.js"), IMMUTABLE);
        assert_eq!(policy_for("/pkg/repowiki_bg.a1b2c3d4e5f6.wasm"), IMMUTABLE);
        assert_eq!(policy_for("/pkg/repowiki.a1b2c3d4e5f6.css.br"), IMMUTABLE);
        assert_eq!(policy_for("/pkg/repowiki.js"), "no-cache");
        assert_eq!(policy_for("/pkg/repowiki_bg.wasm"), "no-cache");
        assert_eq!(policy_for("/mermaid.min.js"), "no-cache");
        assert_eq!(policy_for("/chat/abc"), "no-cache");
        assert_eq!(policy_for("/api/projects"), "no-store");
    }
}
