//! Projects end to end against the real server: git clones over smart HTTP from a server
//! on 127.0.0.1, local folders, uploads, incremental re-index, restart recovery, and the
//! bad input the server must refuse (SPEC §5, §11).

use crate::common;
use crate::project_support;

use std::path::Path;

use app::protocol::rest::ProjectFilters;
use app::protocol::{ClientMsg, DocumentState, ProjectChange, ServerMsg};
use base64::Engine;
use common::TestServer;
use project_support::{
    GitServer, Json, by_path, git, init_repo, multipart, paths, tiny_pdf, wait_job, write,
};
use serde_json::json;

const TOKEN: &str = "ghp_TestToken123456789";

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post_json(server: &TestServer, path: &str, body: Json) -> (u16, Json) {
    let response = http()
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Json::Null))
}

async fn get_json(server: &TestServer, path: &str) -> (u16, Json) {
    let response = http().get(server.url(path)).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Json::Null))
}

/// Creates a project and waits for its indexing job; answers the project as stored.
pub(crate) async fn create_ready(server: &TestServer, body: Json) -> Json {
    let (status, created) = post_json(server, "/api/projects", body).await;
    assert_eq!(status, 201, "{created}");
    let job = wait_job(server.addr, created["job_id"].as_str().expect("job id")).await;
    let id = created["id"].as_str().expect("id");
    let (_, project) = get_json(server, &format!("/api/projects/{id}")).await;
    assert_eq!(
        job.last().map(|p| p.status.as_str()),
        Some(if project["status"] == "ready" {
            "completed"
        } else {
            "failed"
        })
    );
    project
}

async fn upload(server: &TestServer, id: &str, files: &[(&str, &[u8])]) -> (u16, Json) {
    let (content_type, body) = multipart(files);
    let response = http()
        .post(server.url(&format!("/api/projects/{id}/documents")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Json::Null))
}

/// The server's services on a data folder, without serving; start-up work is left to
/// the test.
async fn state_on(data: &Path, local_root: &Path) -> server::state::AppState {
    let mut config = server::config::Config::for_data_dir(data);
    config.local_roots = vec![local_root.display().to_string()];
    let options = leptos::config::get_configuration(None)
        .expect("leptos defaults")
        .leptos_options;
    server::build_state(config, options, tokio_util::sync::CancellationToken::new())
        .await
        .expect("state")
}

async fn join_project(socket: &mut common::Client, id: &str) {
    socket
        .send(&ClientMsg::Join {
            room: format!("project:{id}"),
            since_seq: None,
        })
        .await;
    socket
        .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
        .await;
}

async fn documents(server: &TestServer, id: &str) -> Json {
    get_json(server, &format!("/api/projects/{id}/documents"))
        .await
        .1
}

async fn reindex(server: &TestServer, id: &str, body: Json) -> Json {
    let (status, started) = post_json(server, &format!("/api/projects/{id}/reindex"), body).await;
    assert_eq!(status, 202, "{started}");
    wait_job(server.addr, started["job_id"].as_str().expect("job id")).await;
    get_json(server, &format!("/api/projects/{id}")).await.1
}

fn sample_repo(root: &Path) -> std::path::PathBuf {
    let big = "x".repeat(8 * 1024);
    init_repo(
        root,
        "sample",
        &[
            (
                "src/lib.rs",
                b"//! Library.\n\n/// Reads the configuration.\npub fn parse_config(input: &str) -> Config {\n    Config::from(input)\n}\n\npub struct Config;\n",
            ),
            (
                "web/app.js",
                b"export function parseConfig(text) {\n  return JSON.parse(text);\n}\n",
            ),
            ("docs/guide.md", b"# Guide\n\nHow to start.\n\n## Install\n\nRun it.\n"),
            ("tests/test_lib.py", b"def test_parse():\n    assert True\n"),
            ("node_modules/dep/index.js", b"module.exports = 1;\n"),
            ("Cargo.lock", b"# generated\n"),
            ("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            ("big.txt", big.as_bytes()),
            (".gitignore", b"secret.txt\n"),
            ("secret.txt", b"committed but ignored\n"),
        ],
    )
}

#[tokio::test]
async fn a_private_git_repository_is_cloned_filtered_and_searchable() {
    let repos = tempfile::tempdir().expect("tempdir");
    let repo = sample_repo(repos.path());
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    write(&repo, "FEATURE.md", "# Feature branch\n");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "feature"]);
    git(&repo, &["checkout", "-q", "main"]);

    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"));
    let git_server = GitServer::start(repos.path(), Some(format!("Basic {basic}"))).await;
    let server = TestServer::start_with(|c| {
        c.allowed_git_hosts = vec!["127.0.0.1".into()];
        c.max_file_bytes = 4096;
    })
    .await;
    let mut socket = server.connect().await;

    // Without the token the clone fails, with a clear error and nothing indexed.
    let failed = create_ready(&server, json!({"source": git_server.url("sample")})).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("git clone failed"),
        "{failed}"
    );
    assert_eq!(failed["documents"], 0);

    let (status, created) = post_json(
        &server,
        "/api/projects",
        json!({"source": git_server.url("sample"), "token": TOKEN, "branch": "feature"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let progress = wait_job(server.addr, created["job_id"].as_str().unwrap()).await;
    let (_, project) = get_json(&server, &format!("/api/projects/{id}")).await;
    assert_eq!(project["status"], "ready", "{project}");
    assert_eq!(project["kind"], "git");
    assert_eq!(project["name"], "sample");
    assert_eq!(project["branch"], "feature");
    assert!(project["commit"].as_str().is_some_and(|c| c.len() == 40));

    let docs = documents(&server, &id).await;
    assert_eq!(
        paths(&docs),
        [
            "FEATURE.md",
            "docs/guide.md",
            "src/lib.rs",
            "tests/test_lib.py",
            "web/app.js"
        ],
        "vendored trees, lock files, binaries, big and ignored files are skipped"
    );
    assert_eq!(by_path(&docs)["src/lib.rs"]["language"], "rust");
    assert_eq!(project["documents"], 5);
    assert!(project["chunks"].as_u64().unwrap() >= 5);
    assert_eq!(project["last_index"]["added"], 5);
    assert_eq!(project["last_index"]["skipped"], 2, "logo.png and big.txt");

    // The token reached the git server as a header, and nowhere else.
    let seen = git_server.seen.lock().unwrap().authorization.clone();
    assert!(
        seen.iter()
            .any(|a| a.as_deref() == Some(&format!("Basic {basic}")))
    );
    let everything = format!(
        "{created}{project}{docs}{}{}",
        serde_json::to_string(&progress).unwrap(),
        get_json(&server, "/api/projects").await.1
    );
    assert!(!everything.contains(TOKEN) && !everything.contains(&basic));

    // A private repository: re-indexing without its token is refused up front, saying why.
    assert_eq!(project["needs_token"], true);
    let (status, refused) =
        post_json(&server, &format!("/api/projects/{id}/reindex"), json!({})).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("access token again"),
        "{refused}"
    );

    // Re-indexing with the token again: the project room sees the job, nothing changed.
    join_project(&mut socket, &id).await;
    let (status, started) = post_json(
        &server,
        &format!("/api/projects/{id}/reindex"),
        json!({"token": TOKEN}),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let frames = socket
        .recv_until(|m| matches!(m, ServerMsg::ProjectUpdate { status: Some(s), .. } if *s != app::protocol::rest::ProjectStatus::Indexing))
        .await;
    assert!(frames.iter().any(
        |f| matches!(&f.msg, ServerMsg::JobProgress(p) if p.status == app::protocol::JobStatus::Completed && p.current_phase == 0)
    ));
    assert!(!serde_json::to_string(&frames).unwrap().contains(TOKEN));
    let (_, again) = get_json(&server, &format!("/api/projects/{id}")).await;
    assert_eq!(again["last_index"]["unchanged"], 5, "{again}");
    assert_eq!(again["last_index"]["chunks_indexed"], 0);
    let db = std::fs::read(server.data.path().join("repowiki.db")).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&db).contains(TOKEN));

    // The source viewer reads stored text; the checkout is not needed.
    let (status, file) =
        get_json(&server, &format!("/api/projects/{id}/file?path=src/lib.rs")).await;
    assert_eq!(status, 200);
    assert!(
        file["content"]
            .as_str()
            .unwrap()
            .contains("pub fn parse_config")
    );

    // Identifier search through a chat turn: snake_case and camelCase both find it.
    for query in ["where is parse_config defined?", "parseConfig"] {
        let (status, answer) = post_json(
            &server,
            "/api/chat/message",
            json!({"message": query, "project_id": id}),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let sources = answer["message"]["sources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let lib = sources
            .iter()
            .find(|s| s["path"] == "src/lib.rs")
            .unwrap_or_else(|| panic!("{query}: no src/lib.rs in {sources:?}"));
        assert!(lib["start_line"].as_u64().unwrap() >= 1);
        assert!(lib["end_line"].as_u64().unwrap() >= lib["start_line"].as_u64().unwrap());
        assert!(sources.iter().any(|s| s["path"] == "web/app.js"));
    }

    // Filters: globs on dirs and files.
    let filtered = create_ready(
        &server,
        json!({"source": git_server.url("sample"), "token": TOKEN,
               "excluded_dirs": ["tests"], "excluded_files": ["*.md"]}),
    )
    .await;
    let id2 = filtered["id"].as_str().unwrap();
    assert_eq!(
        paths(&documents(&server, id2).await),
        ["src/lib.rs", "web/app.js"]
    );
    let only_docs = create_ready(
        &server,
        json!({"source": git_server.url("sample"), "token": TOKEN,
               "included_dirs": ["docs/**", "web"], "included_files": ["*.md"]}),
    )
    .await;
    let id3 = only_docs["id"].as_str().unwrap();
    assert_eq!(paths(&documents(&server, id3).await), ["docs/guide.md"]);

    // Deleting removes the clone and the documents.
    assert!(server.data.path().join("repos").join(&id).exists());
    let status = http()
        .delete(server.url(&format!("/api/projects/{id}")))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    assert!(!server.data.path().join("repos").join(&id).exists());
    assert_eq!(
        get_json(&server, &format!("/api/projects/{id}")).await.0,
        404
    );
    server.stop().await;
}

#[tokio::test]
async fn reindexing_touches_only_changed_files() {
    let root = tempfile::tempdir().expect("tempdir");
    let folder = root.path().join("proj");
    write(&folder, "a.rs", "fn alpha() {}\n");
    write(&folder, "b.rs", "fn beta() {}\n");
    write(&folder, "c.md", "# Gamma\n");
    let roots = vec![root.path().display().to_string()];
    let server = TestServer::start_with(|c| c.local_roots = roots).await;
    let project = create_ready(&server, json!({"source": folder.display().to_string()})).await;
    assert_eq!(project["status"], "ready", "{project}");
    assert_eq!(project["kind"], "local");
    let id = project["id"].as_str().unwrap();
    let before = by_path(&documents(&server, id).await);

    write(&folder, "a.rs", "fn alpha_changed() {}\n\nfn more() {}\n");
    std::fs::remove_file(folder.join("b.rs")).unwrap();
    write(&folder, "d.txt", "delta\n");
    let after_project = reindex(&server, id, json!({})).await;
    let report = &after_project["last_index"];
    assert_eq!(
        (
            report["added"].as_u64(),
            report["changed"].as_u64(),
            report["removed"].as_u64(),
            report["unchanged"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(1)),
        "{report}"
    );
    let after = by_path(&documents(&server, id).await);
    assert_eq!(after.len(), 3);
    assert_eq!(
        after["c.md"]["updated_at"], before["c.md"]["updated_at"],
        "untouched"
    );
    assert_eq!(
        after["a.rs"]["id"], before["a.rs"]["id"],
        "same document, new content"
    );
    assert_ne!(
        after["a.rs"]["content_hash"],
        before["a.rs"]["content_hash"]
    );
    let (_, file) = get_json(&server, &format!("/api/projects/{id}/file?path=a.rs")).await;
    assert!(file["content"].as_str().unwrap().contains("alpha_changed"));
    assert_eq!(
        get_json(&server, &format!("/api/projects/{id}/file?path=b.rs"))
            .await
            .0,
        404
    );

    // Nothing changed: nothing re-chunked.
    let same = reindex(&server, id, json!(null)).await;
    assert_eq!(same["last_index"]["unchanged"], 3);
    assert_eq!(same["last_index"]["chunks_indexed"], 0);

    // A server started on the same data with its index folder gone rebuilds the index
    // from the stored documents.
    let chunks = same["chunks"].as_u64().unwrap();
    let data = server.stop().await;
    std::fs::remove_dir_all(data.path().join("index")).unwrap();
    let state = state_on(data.path(), root.path()).await;
    assert_eq!(state.rag.project_chunk_count(id).unwrap(), 0);
    state.projects.resume().await.unwrap();
    let rebuilt = state.projects.wait_ready(id).await.unwrap();
    assert_eq!(rebuilt.status, app::protocol::rest::ProjectStatus::Ready);
    assert_eq!(rebuilt.chunks, chunks);
    assert_eq!(state.rag.project_chunk_count(id).unwrap(), chunks);

    // A project a stopped server left `indexing` is indexed again, whole, at start-up.
    state
        .store
        .set_project_indexing(id, "interrupted-job", 0)
        .await
        .unwrap();
    state.projects.resume().await.unwrap();
    let resumed = state.projects.wait_ready(id).await.unwrap();
    assert_ne!(resumed.job_id.as_deref(), Some("interrupted-job"));
    assert_eq!(resumed.chunks, chunks);
    assert_eq!(resumed.last_index.map(|r| r.chunks_indexed), Some(chunks));
    assert_eq!(state.rag.project_chunk_count(id).unwrap(), chunks);
    state.shutdown.cancel();
    drop(data);
}

#[tokio::test]
async fn uploads_of_each_type_are_indexed_with_live_status() {
    let server = TestServer::start_with(|c| c.max_upload_bytes = 64 * 1024).await;
    let (status, created) = post_json(&server, "/api/projects", json!({"name": "Docs"})).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["kind"], "upload");
    let id = created["id"].as_str().unwrap().to_owned();
    wait_job(server.addr, created["job_id"].as_str().unwrap()).await;
    let mut socket = server.connect().await;
    join_project(&mut socket, &id).await;

    let pdf = tiny_pdf("Hello PDF about render_page");
    let files: [(&str, &[u8]); 4] = [
        ("notes/readme.md", b"# Notes\n\nSome notes.\n"),
        ("plain.txt", b"plain text\n"),
        ("main.py", b"def render_page():\n    return 1\n"),
        ("paper.pdf", &pdf),
    ];
    let (status, uploaded) = upload(&server, &id, &files).await;
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["documents"].as_array().unwrap().len(), 4);

    let mut added = Vec::new();
    let mut statuses = Vec::new();
    while added.len() < 4 {
        match socket.recv().await.msg {
            ServerMsg::DocumentStatus { path, status, .. } => statuses.push((path, status)),
            ServerMsg::ProjectUpdate {
                update: ProjectChange::DocumentAdded,
                path,
                ..
            } => added.push(path.unwrap()),
            _ => {}
        }
    }
    assert_eq!(
        added,
        ["notes/readme.md", "plain.txt", "main.py", "paper.pdf"]
    );
    for (name, _) in files {
        let of: Vec<_> = statuses
            .iter()
            .filter(|(p, _)| p == name)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(of.first(), Some(&DocumentState::Processing), "{name}");
        assert_eq!(of.last(), Some(&DocumentState::Indexed), "{name}");
    }
    let (_, pdf_text) = get_json(&server, &format!("/api/projects/{id}/file?path=paper.pdf")).await;
    assert!(
        pdf_text["content"].as_str().unwrap().contains("Hello PDF"),
        "{pdf_text}"
    );
    let docs = by_path(&documents(&server, &id).await);
    assert_eq!(docs["main.py"]["language"], "python");
    assert_eq!(docs["paper.pdf"]["language"], "pdf");

    // Bad uploads: a path out of the project, a binary, too large.
    for name in ["../escape.md", "/etc/passwd"] {
        assert_eq!(upload(&server, &id, &[(name, b"x")]).await.0, 400, "{name}");
    }
    let binary = upload(&server, &id, &[("blob.bin", b"\0\x01\x02binary")]).await;
    assert_eq!(binary.0, 400);
    let huge = vec![b'a'; 200 * 1024];
    let (status, error) = upload(&server, &id, &[("huge.txt", &huge)]).await;
    assert_eq!(status, 413);
    assert_eq!(error["error"]["code"], "too_large");

    // An upload is all or nothing: a good file before a bad one is not stored either.
    let before = documents(&server, &id).await.as_array().unwrap().len();
    let (status, _) = upload(
        &server,
        &id,
        &[("first.md", b"# First\n"), ("second.bin", b"\0\x01binary")],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = upload(
        &server,
        &id,
        &[("first.md", b"# First\n"), ("huge.txt", &huge)],
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(
        documents(&server, &id).await.as_array().unwrap().len(),
        before
    );
    assert!(!by_path(&documents(&server, &id).await).contains_key("first.md"));

    // Deleting a document tells the room.
    let doc_id = docs["plain.txt"]["id"].as_str().unwrap();
    let r = http()
        .delete(server.url(&format!("/api/projects/{id}/documents/{doc_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    socket
        .recv_until(|m| matches!(m, ServerMsg::ProjectUpdate { update: ProjectChange::DocumentDeleted, document_id: Some(d), .. } if d == doc_id))
        .await;
    let (_, project) = get_json(&server, &format!("/api/projects/{id}")).await;
    assert_eq!(project["documents"], 3);

    // An upload project re-indexes from the database.
    let again = reindex(&server, &id, json!({})).await;
    assert_eq!(again["status"], "ready");
    assert_eq!(again["chunks"], project["chunks"]);
    server.stop().await;
}

#[tokio::test]
async fn bad_sources_and_paths_are_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    write(outside.path(), "secret.txt", "top secret\n");
    let folder = root.path().join("proj");
    write(&folder, "ok.md", "# fine\n");
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), folder.join("leak.txt")).unwrap();
    let roots = vec![root.path().display().to_string()];
    let server = TestServer::start_with(|c| c.local_roots = roots).await;

    for source in [
        "file:///etc",
        "ssh://git@github.com/o/r.git",
        "git@github.com:o/r.git",
        "http://example.com/o/r.git",
        "https://127.0.0.1/o/r.git",
        "https://10.1.2.3/o/r.git",
        "https://169.254.169.254/latest",
        "https://[::1]/o/r.git",
        "/etc",
    ] {
        let (status, body) = post_json(&server, "/api/projects", json!({"source": source})).await;
        assert_eq!(status, 422, "{source}: {body}");
        assert_eq!(body["error"]["code"], "refused_source");
    }
    for body in [
        json!({"source": "relative/folder"}),
        json!({"source": "https://user:pw@example.com/o/r.git"}),
        json!({"source": folder.display().to_string(), "excluded_files": ["a["]}),
        json!({"source": folder.display().to_string(), "branch": "main"}),
    ] {
        let (status, answer) = post_json(&server, "/api/projects", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    assert_eq!(
        get_json(&server, "/api/projects").await.1["total"],
        0,
        "nothing stored"
    );

    // A symlink out of the tree is not followed.
    let project = create_ready(&server, json!({"source": folder.display().to_string()})).await;
    let id = project["id"].as_str().unwrap();
    assert_eq!(paths(&documents(&server, id).await), ["ok.md"]);
    assert_eq!(project["last_index"]["skipped"], 1);
    for path in ["../../etc/passwd", "/etc/passwd", "%2e%2e/x"] {
        let (status, _) = get_json(&server, &format!("/api/projects/{id}/file?path={path}")).await;
        assert_eq!(status, 400, "{path}");
    }
    assert_eq!(get_json(&server, "/api/projects/nope").await.0, 404);
    assert_eq!(
        get_json(&server, "/api/projects/nope/documents").await.0,
        404
    );
    let (status, _) = post_json(&server, "/api/projects/nope/reindex", json!({})).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn a_repository_over_the_size_limit_fails_and_leaves_nothing() {
    let repos = tempfile::tempdir().expect("tempdir");
    let noise: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 1)
        .collect();
    init_repo(
        repos.path(),
        "big",
        &[("README.md", b"# Big\n"), ("blob.dat", &noise)],
    );
    let git_server = GitServer::start(repos.path(), None).await;
    let server = TestServer::start_with(|c| {
        c.allowed_git_hosts = vec!["127.0.0.1".into()];
        c.max_repo_bytes = 100 * 1024;
    })
    .await;
    let project = create_ready(&server, json!({"source": git_server.url("big")})).await;
    assert_eq!(project["status"], "failed");
    assert!(
        project["error"]
            .as_str()
            .unwrap()
            .contains("larger than the limit"),
        "{project}"
    );
    assert_eq!(project["documents"], 0);
    assert_eq!(project["chunks"], 0);
    let leftovers: Vec<_> = std::fs::read_dir(server.data.path().join("repos"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    server.stop().await;
}

#[tokio::test]
async fn ensure_for_source_reuses_the_project_and_wait_ready_wakes() {
    let root = tempfile::tempdir().expect("tempdir");
    let folder = root.path().join("proj");
    write(&folder, "src/main.rs", "fn main() {}\n");
    let data = tempfile::tempdir().expect("tempdir");
    let state = state_on(data.path(), root.path()).await;
    let source = folder.display().to_string();
    let first = state
        .projects
        .ensure_for_source(&source, None, ProjectFilters::default())
        .await
        .unwrap();
    let again = state
        .projects
        .ensure_for_source(&format!("{source}/"), None, ProjectFilters::default())
        .await
        .unwrap();
    assert_eq!(first.id, again.id, "the same folder is one project");
    let filtered = ProjectFilters {
        excluded_dirs: vec!["src".into()],
        ..ProjectFilters::default()
    };
    let other = state
        .projects
        .ensure_for_source(&source, None, filtered.clone())
        .await
        .unwrap();
    assert_ne!(other.id, first.id, "other filters make another project");
    assert_eq!(other.filters, filtered);
    let same = state
        .projects
        .ensure_for_source(&source, None, filtered)
        .await
        .unwrap();
    assert_eq!(same.id, other.id, "the same filters reuse it");
    let ready = state.projects.wait_ready(&first.id).await.unwrap();
    assert_eq!(ready.documents, 1);
    assert_eq!(
        state.projects.document_paths(&first.id).await.unwrap(),
        ["src/main.rs"]
    );
    let text = state
        .projects
        .read_document(&first.id, "src/main.rs")
        .await
        .unwrap();
    assert_eq!(text.as_deref(), Some("fn main() {}\n"));
    assert!(matches!(
        state.projects.read_document(&first.id, "../x").await,
        Err(server::projects::ProjectError::InvalidPath(_))
    ));
    assert!(matches!(
        state.projects.get("missing").await,
        Err(server::projects::ProjectError::NotFound)
    ));
    state.shutdown.cancel();
}

#[tokio::test]
async fn a_clone_past_its_time_limit_is_stopped() {
    let repos = tempfile::tempdir().expect("tempdir");
    init_repo(repos.path(), "slow", &[("README.md", b"# Slow\n")]);
    let git_server = GitServer::start_hanging(repos.path()).await;
    let server = TestServer::start_with(|c| {
        c.allowed_git_hosts = vec!["127.0.0.1".into()];
        c.clone_timeout_secs = 1;
    })
    .await;
    let project = create_ready(&server, json!({"source": git_server.url("slow")})).await;
    assert_eq!(project["status"], "failed");
    assert!(
        project["error"]
            .as_str()
            .unwrap()
            .contains("longer than 1 s"),
        "{project}"
    );
    assert_eq!(project["documents"], 0);
    server.stop().await;
}

#[tokio::test]
async fn a_pdf_that_inflates_past_the_memory_limit_is_refused_and_the_server_lives() {
    let server = TestServer::start_with(|c| {
        c.max_upload_bytes = 8 * 1024 * 1024;
        c.pdf_memory_mib = 256;
    })
    .await;
    let (status, created) = post_json(&server, "/api/projects", json!({"name": "Bombs"})).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    wait_job(server.addr, created["job_id"].as_str().unwrap()).await;

    // A few MiB on the wire, 512 MiB once its content stream is inflated.
    let bomb = project_support::deflate_bomb_pdf(512 * 1024 * 1024);
    assert!(bomb.len() < 4 * 1024 * 1024, "{} bytes", bomb.len());
    let (status, error) = upload(&server, &id, &[("bomb.pdf", &bomb)]).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "bad_request");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("REPOWIKI_PDF_MEMORY_MIB"), "{message}");

    // The server still answers, and still reads an honest PDF.
    let pdf = tiny_pdf("Still alive");
    let (status, uploaded) = upload(&server, &id, &[("fine.pdf", &pdf)]).await;
    assert_eq!(status, 201, "{uploaded}");
}

#[tokio::test]
async fn an_indexing_job_can_be_cancelled_and_nothing_else_can() {
    let root = tempfile::tempdir().expect("temp dir");
    let folder = project_support::big_folder(root.path());
    let local_root = root.path().display().to_string();
    let server = TestServer::start_with(|c| c.local_roots = vec![local_root]).await;
    let (status, created) = post_json(
        &server,
        "/api/projects",
        json!({"source": folder.display().to_string()}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (id, job_id) = (
        created["id"].as_str().expect("id").to_owned(),
        created["job_id"].as_str().expect("job").to_owned(),
    );
    crate::project_support::job_reaches(server.addr, &job_id, |p| {
        p.status == app::protocol::JobStatus::Running
    })
    .await;
    let (status, _) = post_json(&server, &format!("/api/projects/{id}/cancel"), json!({})).await;
    assert_eq!(status, 202);
    let job = wait_job(server.addr, &job_id).await;
    assert_eq!(
        job.last().map(|p| p.status),
        Some(app::protocol::JobStatus::Cancelled)
    );
    let (_, project) = get_json(&server, &format!("/api/projects/{id}")).await;
    assert_eq!(project["status"], "failed");
    assert_eq!(project["error"], "indexing was cancelled");

    let (status, _) = post_json(&server, &format!("/api/projects/{id}/cancel"), json!({})).await;
    assert_eq!(status, 409);
    let (status, _) = post_json(&server, "/api/projects/no-such/cancel", json!({})).await;
    assert_eq!(status, 404);
}

/// Rust files with more than a mebibyte of code in all, so a first index cuts them by
/// lines before their syntax chunks replace those.
fn code_heavy_folder(root: &Path) -> (std::path::PathBuf, Vec<(String, String)>) {
    let folder = root.join("code-heavy");
    let method = |i: usize| {
        format!(
            "    /// Step {i} of the pipeline.\n    pub fn step_{i}(&self, input: u64) -> u64 {{\n        let scaled = input.wrapping_mul({i});\n        scaled ^ self.seed\n    }}\n\n"
        )
    };
    let body = format!(
        "//! One stage.\n\npub struct Stage {{\n    seed: u64,\n}}\n\nimpl Stage {{\n{}}}\n\npub fn run(stage: &Stage) -> u64 {{\n    stage.step_1(7)\n}}\n",
        (0..24).map(method).collect::<String>()
    );
    let files: Vec<(String, String)> = (0..300)
        .map(|n| {
            (
                format!("src/stage_{n}.rs"),
                body.replace("One stage", &format!("Stage {n}")),
            )
        })
        .collect();
    for (path, text) in &files {
        write(&folder, path, text);
    }
    (folder, files)
}

#[tokio::test]
async fn a_large_first_index_answers_at_once_and_then_holds_syntax_chunks() {
    use server::rag::{Chunker, Depth};
    let root = tempfile::tempdir().expect("temp dir");
    let (folder, files) = code_heavy_folder(root.path());
    let code_bytes: usize = files.iter().map(|(_, text)| text.len()).sum();
    assert!(code_bytes > 1024 * 1024, "{code_bytes}");
    let chunker = Chunker::default();
    let count = |depth| -> u64 {
        files
            .iter()
            .map(|(path, text)| chunker.chunk_at(depth, path, text).expect("chunks").len() as u64)
            .sum()
    };
    let (by_lines, by_syntax) = (count(Depth::Lines), count(Depth::Syntax));

    let local_root = root.path().display().to_string();
    let server = TestServer::start_with(|c| c.local_roots = vec![local_root]).await;
    let project = create_ready(&server, json!({"source": folder.display().to_string()})).await;
    assert_eq!(project["status"], "ready", "{project}");
    assert_eq!(project["documents"], 300);
    let id = project["id"].as_str().expect("id").to_owned();
    let first = project["last_index"]["chunks_indexed"]
        .as_u64()
        .expect("chunks");
    assert!(
        first == by_lines || first == by_syntax,
        "{first} chunks: neither {by_lines} by lines nor {by_syntax} by syntax"
    );

    // The refinement announces the project again when its syntax chunks are in.
    let mut socket = server.connect().await;
    join_project(&mut socket, &id).await;
    let refined = loop {
        let (_, project) = get_json(&server, &format!("/api/projects/{id}")).await;
        if project["chunks"].as_u64() == Some(by_syntax) {
            break project;
        }
        socket
            .recv_until(|m| {
                matches!(
                    m,
                    ServerMsg::ProjectUpdate {
                        update: ProjectChange::StatusChanged,
                        ..
                    }
                )
            })
            .await;
    };
    assert_eq!(refined["status"], "ready");
    assert_eq!(refined["last_index"]["chunks_indexed"], by_syntax);
    let stored: u64 = by_path(&documents(&server, &id).await)
        .values()
        .map(|d| d["chunks"].as_u64().expect("chunks"))
        .sum();
    assert_eq!(stored, by_syntax);
    // The refinement let go of the project: it can be indexed again at once.
    let again = reindex(&server, &id, json!({})).await;
    assert_eq!(again["last_index"]["unchanged"], 300);
    // Nothing of the first pass is left in the index.
    let data = server.stop().await;
    let state = state_on(data.path(), root.path()).await;
    assert_eq!(
        state.rag.project_chunk_count(&id).expect("count"),
        by_syntax
    );

    // A process that dies before refining leaves first-pass chunks, which the database
    // does not count: start-up re-chunks the project by syntax.
    let uncounted: Vec<(String, u64)> = files.iter().map(|(path, _)| (path.clone(), 0)).collect();
    state
        .store
        .set_document_chunks(&id, &uncounted)
        .await
        .expect("counts");
    state
        .store
        .refresh_project_counts(&id, 1)
        .await
        .expect("counts");
    state.projects.resume().await.expect("resume");
    let rebuilt = state.projects.wait_ready(&id).await.expect("ready");
    assert_eq!(rebuilt.chunks, by_syntax);
    assert_eq!(
        state.rag.project_chunk_count(&id).expect("count"),
        by_syntax
    );
    state.shutdown.cancel();
}
