//! Helpers for the project tests: git repositories made on local disk, served to
//! `git clone` over smart HTTP on 127.0.0.1 by `git http-backend`, and small clients for
//! the progress socket and multipart uploads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use app::protocol::JobProgress;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

use crate::common::PATIENCE;

/// Runs git synchronously in `dir`, panicking with its output on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn write(root: &Path, path: &str, bytes: impl AsRef<[u8]>) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write file");
}

/// A repository in `root/name` on branch `main` with `files` in its first commit.
pub fn init_repo(root: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir repo");
    git(&dir, &["init", "-q", "-b", "main"]);
    for (path, bytes) in files {
        write(&dir, path, bytes);
    }
    git(&dir, &["add", "-A", "-f"]);
    git(&dir, &["commit", "-q", "-m", "first"]);
    dir
}

/// Records what the git server saw.
#[derive(Default)]
pub struct Seen {
    pub authorization: Vec<Option<String>>,
}

#[derive(Clone)]
struct Backend {
    root: PathBuf,
    /// When set, requests without exactly this `Authorization` value get 401.
    required_auth: Option<String>,
    /// Never answers, like a server that accepts the connection and stalls.
    hang: bool,
    seen: Arc<Mutex<Seen>>,
}

pub struct GitServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GitServer {
    /// Serves every repository under `root` at `http://127.0.0.1:port/<name>`.
    pub async fn start(root: &Path, required_auth: Option<String>) -> Self {
        Self::serve(root, required_auth, false).await
    }

    /// A server that accepts requests and never answers them.
    pub async fn start_hanging(root: &Path) -> Self {
        Self::serve(root, None, true).await
    }

    async fn serve(root: &Path, required_auth: Option<String>, hang: bool) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let backend = Backend {
            root: root.to_owned(),
            required_auth,
            hang,
            seen: Arc::clone(&seen),
        };
        let app = axum::Router::new().fallback(cgi).with_state(backend);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind git server");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, seen, task }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://{}/{repo}", self.addr)
    }
}

/// `git http-backend` as a CGI program: request in environment and stdin, response
/// headers and body on stdout.
async fn cgi(
    State(backend): State<Backend>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("authorization");
    backend
        .seen
        .lock()
        .expect("seen")
        .authorization
        .push(authorization.clone());
    if backend.hang {
        std::future::pending::<()>().await;
    }
    if let Some(required) = &backend.required_auth
        && authorization.as_deref() != Some(required.as_str())
    {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("WWW-Authenticate", "Basic realm=\"test\"")
            .body(Body::empty())
            .expect("response");
    }
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", &backend.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(protocol) = header("git-protocol") {
        cmd.env("GIT_PROTOCOL", protocol);
    }
    if let Some(encoding) = header("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", encoding);
    }
    let mut child = cmd.spawn().expect("start git http-backend");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let out = child.wait_with_output().await.expect("http-backend output");
    let _ = writer.await;
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, gap)) = split else {
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::empty())
            .expect("response");
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut response = Response::builder().status(StatusCode::OK);
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(500);
            response = response.status(code);
        } else {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(raw[end + gap..].to_vec()))
        .expect("response")
}

/// Follows the seed-002 progress socket of a job until its final status.
pub async fn wait_job(server_addr: SocketAddr, job_id: &str) -> Vec<JobProgress> {
    let url = format!("ws://{server_addr}/api/wiki/jobs/{job_id}/progress");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("progress socket");
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout(PATIENCE * 3, ws.next())
            .await
            .expect("timed out waiting for job progress");
        match next {
            Some(Ok(Message::Text(text))) => {
                if text.contains("heartbeat") {
                    continue;
                }
                let progress: JobProgress =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
                let done = progress.is_final();
                seen.push(progress);
                if done {
                    return seen;
                }
            }
            Some(Ok(Message::Close(frame))) => panic!("progress socket closed: {frame:?}"),
            Some(Ok(_)) => continue,
            other => panic!("progress socket ended: {other:?}"),
        }
    }
}

/// A `multipart/form-data` body with one part per `(file name, bytes)`.
pub fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "repowiki-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A one-page PDF whose page shows `text` (ASCII, no parentheses), with a correct xref.
pub fn tiny_pdf(text: &str) -> Vec<u8> {
    let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    pdf_with_contents(
        format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        )
        .into_bytes(),
    )
}

/// A PDF whose page content is a Flate stream that inflates to `inflated` bytes of
/// spaces: a decompression bomb.
pub fn deflate_bomb_pdf(inflated: usize) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![b' '; 1024 * 1024];
    for _ in 0..inflated / block.len() {
        encoder.write_all(&block).expect("deflate");
    }
    let stream = encoder.finish().expect("deflate");
    let mut contents = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        stream.len()
    )
    .into_bytes();
    contents.extend_from_slice(&stream);
    contents.extend_from_slice(b"\nendstream");
    pdf_with_contents(contents)
}

fn pdf_with_contents(contents: Vec<u8>) -> Vec<u8> {
    let objects: [Vec<u8>; 5] = [
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .into(),
        contents,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The project JSON as a map, for checks on its raw text.
pub type Json = serde_json::Value;

pub fn paths(documents: &Json) -> Vec<String> {
    documents
        .as_array()
        .expect("document list")
        .iter()
        .map(|d| d["path"].as_str().expect("path").to_owned())
        .collect()
}

pub fn by_path(documents: &Json) -> HashMap<String, Json> {
    documents
        .as_array()
        .expect("document list")
        .iter()
        .map(|d| (d["path"].as_str().expect("path").to_owned(), d.clone()))
        .collect()
}

/// A folder of 3,000 Rust files: enough that the debug build is still indexing it a
/// moment after it started.
pub fn big_folder(root: &std::path::Path) -> std::path::PathBuf {
    let folder = root.join("big");
    let body: String = (0..60)
        .map(|line| format!("pub fn step_{line}(x: u64) -> u64 {{ x.wrapping_mul({line}) }}\n"))
        .collect();
    for file in 0..3_000 {
        write(&folder, &format!("src/m{file}.rs"), &body);
    }
    folder
}

/// Follows a job's progress socket until an update satisfies `done`; returns it.
pub async fn job_reaches(
    server_addr: SocketAddr,
    job_id: &str,
    done: impl Fn(&JobProgress) -> bool,
) -> JobProgress {
    let url = format!("ws://{server_addr}/api/wiki/jobs/{job_id}/progress");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("progress socket");
    loop {
        let next = tokio::time::timeout(PATIENCE * 3, ws.next())
            .await
            .expect("timed out waiting for job progress");
        let Some(Ok(Message::Text(text))) = next else {
            panic!("progress socket ended: {next:?}");
        };
        if let Ok(progress) = serde_json::from_str::<JobProgress>(&text)
            && done(&progress)
        {
            return progress;
        }
    }
}
