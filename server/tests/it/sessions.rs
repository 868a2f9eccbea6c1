//! Browser sessions with auth on: signing in sets an HttpOnly cookie that pages, REST and
//! sockets accept; pages without one go to sign-in; a removed key revokes its sessions.

use crate::common;

use app::protocol::ServerMsg;
use common::TestServer;
use futures::StreamExt;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

async fn secured(keys: &[&str]) -> TestServer {
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    TestServer::start_with(move |c| {
        c.auth_enabled = true;
        c.api_keys = keys;
    })
    .await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Signs in with `key` and returns the response (a 303).
async fn sign_in(server: &TestServer, key: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut request = no_redirects()
        .post(server.url("/api/auth/session"))
        .form(&[("api_key", key), ("next", "/chat/abc?x=1")]);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.expect("send")
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// `name=value` of the session cookie a response sets, and its attributes.
fn session_cookie(response: &reqwest::Response) -> (String, String) {
    let header = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a Set-Cookie header")
        .to_owned();
    let (pair, attributes) = header.split_once(';').expect("attributes");
    (pair.to_owned(), attributes.to_owned())
}

#[tokio::test]
async fn signing_in_sets_a_cookie_that_pages_rest_and_sockets_accept() {
    let server = secured(&["sesame"]).await;
    let http = no_redirects();

    let refused = sign_in(&server, "wrong", &[]).await;
    assert_eq!(refused.status(), 303);
    assert_eq!(
        location(&refused),
        "/signin?error=invalid&next=%2Fchat%2Fabc%3Fx%3D1"
    );
    assert!(refused.headers().get(SET_COOKIE).is_none());
    let missing = sign_in(&server, "", &[]).await;
    assert!(location(&missing).starts_with("/signin?error=missing"));

    let accepted = sign_in(&server, "sesame", &[]).await;
    assert_eq!(accepted.status(), 303);
    assert_eq!(location(&accepted), "/chat/abc?x=1");
    let (cookie, attributes) = session_cookie(&accepted);
    assert!(cookie.starts_with("repowiki_session="));
    assert!(
        !cookie.contains("sesame"),
        "the key itself is not in the cookie"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(attribute), "{attributes}");
    }
    assert!(!attributes.contains("Secure"), "plain HTTP: {attributes}");
    let behind_tls = sign_in(&server, "sesame", &[("x-forwarded-proto", "https")]).await;
    assert!(session_cookie(&behind_tls).1.contains("Secure"));

    // REST: the cookie stands in for the key.
    let conversations = server.url("/api/chat/conversations");
    let without = http.get(&conversations).send().await.expect("send");
    assert_eq!(without.status(), 401);
    let with = http
        .get(&conversations)
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(with.status(), 200);

    // Pages: without a session, to sign-in (keeping where the browser was going).
    let page = http
        .get(server.url("/projects"))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), 302);
    assert_eq!(location(&page), "/signin?next=%2Fprojects");
    let page = http
        .get(server.url("/projects"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), 200);
    let sign_in_page = http.get(server.url("/signin")).send().await.expect("send");
    assert_eq!(sign_in_page.status(), 200);
    let html = sign_in_page.text().await.expect("html");
    assert!(html.contains("API key") && html.contains("Sign in"));

    // Sockets: the upgrade request carries the cookie.
    let mut request = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("cookie", HeaderValue::from_str(&cookie).expect("cookie"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    let first = tokio::time::timeout(common::PATIENCE, ws.next())
        .await
        .expect("a frame in time");
    let Some(Ok(Message::Text(text))) = first else {
        panic!("expected the welcome, got {first:?}");
    };
    let frame: app::protocol::ServerFrame = serde_json::from_str(&text).expect("frame");
    assert!(matches!(frame.msg, ServerMsg::Welcome { .. }));

    // Signing out clears the cookie.
    let out = http
        .post(server.url("/api/auth/signout"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/signin");
    let (cleared, attributes) = session_cookie(&out);
    assert_eq!(cleared, "repowiki_session=");
    assert!(attributes.contains("Max-Age=0"));
}

#[tokio::test]
async fn removing_a_key_revokes_its_sessions_and_next_never_leaves_the_site() {
    let first = secured(&["sesame"]).await;
    let (cookie, _) = session_cookie(&sign_in(&first, "sesame", &[]).await);
    let offsite = no_redirects()
        .post(first.url("/api/auth/session"))
        .form(&[("api_key", "sesame"), ("next", "//evil.example/x")])
        .send()
        .await
        .expect("send");
    assert_eq!(location(&offsite), "/");

    // The same cookie on a server whose keys no longer include the one it was signed with.
    let second = secured(&["another"]).await;
    let response = no_redirects()
        .get(second.url("/api/chat/conversations"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["message"], "Invalid API key");
}
