//! Wiki generation through the real router and engine: whole jobs (structure answer
//! valid and not), progress over the seed-002 socket, pause/resume, cancel, page retry,
//! export, bad input, a provider failing on every page, and two workers on one database.

use crate::wiki_support;

use std::sync::Arc;

use app::protocol::JobStatus;
use app::protocol::rest::NewWikiJob;
use serde_json::{Value, json};
use server::jobs::JobBoard;
use server::providers::{OfflineProvider, Providers};
use server::rag::Rag;
use server::realtime::Hub;
use server::storage::Store;
use server::wiki::{MemoryInputs, WikiDeps, WikiService};
use tokio_util::sync::CancellationToken;
use wiki_support::{FakeProvider, Harness, PATIENCE, STRUCTURE, demo_files, settings};

fn statuses(frames: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in frames {
        if let Some(s) = f["status"].as_str()
            && out.last().map(String::as_str) != Some(s)
        {
            out.push(s.to_owned());
        }
    }
    out
}

#[tokio::test]
async fn a_whole_job_generates_every_page_once_with_progress_and_exports() {
    let provider = FakeProvider::new(STRUCTURE);
    // Held until the socket has its first frame (it is subscribed then), so at least
    // Overview's own events reach it; Server and Storage may finish before it connects.
    provider.hold("Overview");
    let server = Harness::start(provider.clone(), 2).await;
    let job_id = server.start_job(json!({"language": "en"})).await;
    let mut socket = server.progress(&job_id).await;
    let first = socket.next().await.expect("initial status");
    assert_eq!(first["job_id"], job_id.as_str());
    for field in [
        "status",
        "current_phase",
        "progress_percent",
        "message",
        "total_pages",
        "completed_pages",
        "failed_pages",
    ] {
        assert!(
            first.get(field).is_some(),
            "initial status has {field}: {first}"
        );
    }
    let two_done = |f: &Value| f["status"] == "generating_pages" && f["completed_pages"] == 2;
    if !two_done(&first) {
        socket.until(two_done).await;
    }
    provider.release();
    let last = socket.finish().await;
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(last["current_phase"], 3);
    assert_eq!(last["progress_percent"], 100.0);
    assert_eq!(last["total_pages"], 3);
    assert_eq!(last["completed_pages"], 3);

    // Phases and percent never go backwards; per-page events name their page.
    let frames: Vec<&Value> = socket
        .seen
        .iter()
        .filter(|f| f.get("status").is_some())
        .collect();
    for pair in frames.windows(2) {
        assert!(
            pair[0]["current_phase"].as_u64() <= pair[1]["current_phase"].as_u64(),
            "{frames:#?}"
        );
        assert!(
            pair[0]["progress_percent"].as_f64() <= pair[1]["progress_percent"].as_f64(),
            "{frames:#?}"
        );
    }
    assert!(
        frames
            .iter()
            .any(|f| f["page_title"] == "Overview" && f["page_id"] == "overview")
    );
    for title in ["Overview", "Server", "Storage"] {
        assert_eq!(provider.calls(title), 1, "{title} generated once");
    }

    let (status, job) = server.get(&format!("/api/wiki/jobs/{job_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(job["status"], "completed");
    assert_eq!(job["structure_fallback"], false);
    let pages = job["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 3);
    assert!(
        pages.iter().all(|p| p["status"] == "completed"
            && p["page_id"].is_string()
            && p["title"].is_string())
    );

    let (status, wiki) = server.get("/api/projects/demo/wiki").await;
    assert_eq!(status, 200, "{wiki}");
    assert_eq!(wiki["job_id"], job_id.as_str());
    assert_eq!(
        wiki["languages"],
        json!(["en"]),
        "the languages the viewer offers"
    );
    assert_eq!(wiki["structure"]["title"], "Demo wiki");
    assert_eq!(
        wiki["structure"]["sections"][1]["pages"],
        json!(["server", "storage"])
    );
    let server_page = &wiki["pages"][1];
    assert_eq!(server_page["id"], "server");
    assert_eq!(server_page["importance"], "high");
    assert_eq!(server_page["relevant_files"], json!(["src/main.rs"]));
    assert_eq!(server_page["related_pages"], json!(["overview"]));
    let content = server_page["content"].as_str().expect("content");
    assert!(content.starts_with("# Server\n"), "{content}");
    // The page was written from whole passages of its file, not search snippets.
    let prompt = provider.prompts.lock().unwrap()["Server"].clone();
    assert!(
        prompt.contains("drain_workers_before_exit"),
        "the page prompt lacks the end of src/main.rs: {prompt}"
    );
    assert!(content.contains("Relevant source files") && content.contains("```mermaid"));

    let response = reqwest::get(server.url("/api/projects/demo/wiki/export?format=markdown"))
        .await
        .expect("export");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/markdown; charset=utf-8");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("demo-wiki-en.md")
    );
    let markdown = response.text().await.expect("body");
    assert!(markdown.starts_with("# Demo wiki\n"));
    assert!(markdown.contains("## Contents") && markdown.contains("[Server](#page-server)"));
    assert!(markdown.contains("<a id=\"page-server\"></a>") && markdown.contains("## Server"));

    let response = reqwest::get(server.url("/api/projects/demo/wiki/export?format=json"))
        .await
        .expect("export");
    assert_eq!(response.headers()["content-type"], "application/json");
    let exported: Value = response.json().await.expect("json");
    assert_eq!(exported["pages"].as_array().map(Vec::len), Some(3));

    let (_, list) = server
        .get("/api/wiki/jobs?project_id=demo&status=completed&limit=5")
        .await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["job_id"], job_id.as_str());
    server.stop().await;
}

#[tokio::test]
async fn an_unparsable_structure_falls_back_to_the_layout_and_says_so() {
    let provider = FakeProvider::new("I would rather not answer in JSON.");
    let server = Harness::start(provider.clone(), 4).await;
    let job_id = server.start_job(json!({})).await;
    let mut socket = server.progress(&job_id).await;
    let last = socket.finish().await;
    assert_eq!(last["status"], "completed", "{last}");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("repository layout"),
        "{last}"
    );
    let (_, job) = server.get(&format!("/api/wiki/jobs/{job_id}")).await;
    assert_eq!(job["structure_fallback"], true);
    let titles: Vec<&str> = job["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        vec!["Overview", "The src folder", "The docs folder"]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_provider_failing_on_every_page_fails_the_job_with_reasons() {
    let provider = FakeProvider::new(STRUCTURE);
    provider.fail("*");
    let server = Harness::start(provider.clone(), 2).await;
    let job_id = server.start_job(json!({})).await;
    let last = server.progress(&job_id).await.finish().await;
    assert_eq!(last["status"], "failed", "{last}");
    assert_eq!(last["failed_pages"], 3);
    let (_, job) = server.get(&format!("/api/wiki/jobs/{job_id}")).await;
    assert!(
        job["error"].as_str().unwrap().contains("scripted failure"),
        "{job}"
    );
    for page in job["pages"].as_array().unwrap() {
        assert_eq!(page["status"], "failed");
        assert_eq!(page["attempts"], 3);
        assert!(page["error"].as_str().unwrap().contains("scripted failure"));
    }
    assert_eq!(provider.calls("Server"), 3, "three attempts per page");
    // A failed job does not become the project's wiki.
    assert_eq!(server.get("/api/projects/demo/wiki").await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_clearly() {
    let provider = FakeProvider::new(STRUCTURE);
    let server = Harness::start(provider, 1).await;
    let (status, body) = server
        .post("/api/wiki/jobs", json!({"project_id": "nope"}))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = server
        .post(
            "/api/wiki/jobs",
            json!({"project_id": "demo", "provider": "openai"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = server
        .post(
            "/api/wiki/jobs",
            json!({"project_id": "demo", "language": "../x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(server.get("/api/wiki/jobs/nope").await.0, 404);
    assert_eq!(
        server.post("/api/wiki/jobs/nope/cancel", json!({})).await.0,
        404
    );
    assert_eq!(server.get("/api/projects/demo/wiki").await.0, 404);
    assert_eq!(
        server
            .get("/api/projects/demo/wiki/export?format=pdf")
            .await
            .0,
        400
    );
    assert_eq!(server.get("/api/wiki/jobs?status=bogus").await.0, 400);
    let (_, openapi) = server.get("/api/openapi.json").await;
    for path in [
        "/api/wiki/jobs",
        "/api/wiki/jobs/{job_id}/pages/{page_id}/retry",
        "/api/projects/{id}/wiki/export",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "OpenAPI documents {path}"
        );
    }

    let job_id = server.start_job(json!({})).await;
    server.progress(&job_id).await.finish().await;
    let (status, body) = server
        .post(&format!("/api/wiki/jobs/{job_id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = server
        .post(
            &format!("/api/wiki/jobs/{job_id}/pages/server/retry"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "a completed page is not retried");
    let (status, _) = server
        .post(
            &format!("/api/wiki/jobs/{job_id}/pages/nope/retry"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn pause_keeps_finished_pages_and_resume_completes_the_job() {
    let provider = FakeProvider::new(STRUCTURE);
    provider.hold("Server");
    let server = Harness::start(provider.clone(), 1).await;
    let job_id = server.start_job(json!({})).await;
    let mut socket = server.progress(&job_id).await;
    // Overview is done and Server is in progress, held. Not awaited as the "Generating
    // Server" event: that may be published before the socket subscribes.
    provider.asked("Server").await;
    // A frame before the pause: the socket's first (stored) state then predates it, and
    // no older event can follow the "paused" one.
    socket.until(|f| f["completed_pages"] == 1).await;
    let (status, job) = server
        .post(&format!("/api/wiki/jobs/{job_id}/pause"), json!({}))
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "paused");
    socket.until(|f| f["status"] == "paused").await;
    let (_, job) = server.get(&format!("/api/wiki/jobs/{job_id}")).await;
    let states: Vec<&str> = job["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        vec!["completed", "pending", "pending"],
        "the page in progress went back"
    );

    provider.release();
    let (status, _) = server
        .post(&format!("/api/wiki/jobs/{job_id}/resume"), json!({}))
        .await;
    assert_eq!(status, 200);
    let last = socket.finish().await;
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(
        provider.calls("Overview"),
        1,
        "a finished page is never generated again"
    );
    assert_eq!(provider.calls("Storage"), 1);
    assert_eq!(
        statuses(&socket.seen)
            .iter()
            .filter(|s| *s == "paused")
            .count(),
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn cancel_stops_the_job_and_keeps_the_previous_wiki() {
    let provider = FakeProvider::new(STRUCTURE);
    let server = Harness::start(provider.clone(), 2).await;
    let first = server.start_job(json!({})).await;
    server.progress(&first).await.finish().await;

    provider.hold("Overview");
    provider.hold("Server");
    provider.hold("Storage");
    let second = server.start_job(json!({})).await;
    let mut socket = server.progress(&second).await;
    socket.until(|f| f["status"] == "generating_pages").await;
    // While the new job runs, the project's wiki is still the first one.
    let (_, wiki) = server.get("/api/projects/demo/wiki").await;
    assert_eq!(wiki["job_id"], first.as_str());
    let (status, job) = server
        .post(&format!("/api/wiki/jobs/{second}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(job["status"], "cancelled");
    let last = socket.finish().await;
    assert_eq!(last["status"], "cancelled");
    let (_, wiki) = server.get("/api/projects/demo/wiki").await;
    assert_eq!(wiki["job_id"], first.as_str());
    provider.release();
    server.stop().await;
}

#[tokio::test]
async fn a_failed_page_can_be_retried_and_the_wiki_follows() {
    let provider = FakeProvider::new(STRUCTURE);
    provider.fail("Storage");
    let server = Harness::start(provider.clone(), 2).await;
    let job_id = server.start_job(json!({})).await;
    let last = server.progress(&job_id).await.finish().await;
    assert_eq!(last["status"], "partially_completed", "{last}");
    assert_eq!(last["failed_pages"], 1);
    let (_, wiki) = server.get("/api/projects/demo/wiki").await;
    assert_eq!(wiki["pages"][2]["status"], "failed");

    provider.heal();
    let (status, job) = server
        .post(
            &format!("/api/wiki/jobs/{job_id}/pages/storage/retry"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let mut socket = server.progress(&job_id).await;
    let last = socket.finish().await;
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(provider.calls("Storage"), 4);
    assert_eq!(provider.calls("Server"), 1);
    let (_, wiki) = server.get("/api/projects/demo/wiki").await;
    assert_eq!(wiki["pages"][2]["status"], "completed");
    assert!(
        wiki["pages"][2]["content"]
            .as_str()
            .unwrap()
            .starts_with("# Storage")
    );
    server.stop().await;
}

/// Two workers (as two servers would) on one database: each job is run by one of them,
/// and no page is generated twice.
#[tokio::test]
async fn two_workers_on_one_database_never_generate_a_page_twice() {
    let data = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        data.path().join("shared.db").display()
    );
    let provider = FakeProvider::new(STRUCTURE);
    let inputs = Arc::new(MemoryInputs::default());
    let shutdown = CancellationToken::new();
    let mut services = Vec::new();
    for i in 0..2 {
        let store = Store::connect(&url).await.expect("store");
        let rag =
            Rag::open(&data.path().join(format!("index-{i}")), store.clone(), None).expect("index");
        let service = WikiService::new(
            WikiDeps {
                store,
                hub: Arc::new(Hub::new(64)),
                board: Arc::new(JobBoard::default()),
                providers: Providers::new(provider.clone()),
                rag: Arc::new(rag),
                inputs: inputs.clone(),
                shutdown: shutdown.clone(),
            },
            settings(3),
        );
        service.start();
        services.push(service);
    }
    const JOBS: usize = 6;
    let mut ids = Vec::new();
    for j in 0..JOBS {
        let project = format!("p{j}");
        inputs.insert(&project, demo_files());
        let job = services[j % 2]
            .create(NewWikiJob {
                project_id: project,
                ..NewWikiJob::default()
            })
            .await
            .expect("job");
        ids.push(job.job_id);
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for id in &ids {
        loop {
            let job = services[0].job(id).await.expect("job");
            if job.status == JobStatus::Completed {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} stuck: {job:?}"
            );
            // Polling the database is the point here: the two workers share nothing else.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    for title in ["Overview", "Server", "Storage"] {
        assert_eq!(provider.calls(title), JOBS, "{title}: once per job");
    }
    assert_eq!(*provider.structure_calls.lock().unwrap(), JOBS);
    shutdown.cancel();
    for service in services {
        service.stopped().await;
    }
}

#[tokio::test]
async fn the_offline_provider_generates_an_honest_wiki_from_the_layout() {
    let server = Harness::start(Arc::new(OfflineProvider::new(1000.0)), 2).await;
    let job_id = server.start_job(json!({"comprehensive": false})).await;
    let last = server.progress(&job_id).await.finish().await;
    assert_eq!(last["status"], "completed", "{last}");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("repository layout"),
        "{last}"
    );
    let (_, wiki) = server.get("/api/projects/demo/wiki").await;
    let overview = wiki["pages"][0]["content"].as_str().expect("content");
    assert!(overview.starts_with("# Overview"), "{overview}");
    assert!(overview.contains("offline provider"));
    assert!(overview.contains("Sources: README.md:1-3"), "{overview}");
    server.stop().await;
}

/// A server that shuts down gracefully releases its job at once: another worker on the
/// database carries on without waiting for a lease, and keeps the finished pages.
#[tokio::test]
async fn a_graceful_shutdown_leaves_the_job_resumable_at_once() {
    let data = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        data.path().join("shared.db").display()
    );
    let provider = FakeProvider::new(STRUCTURE);
    provider.hold("Server");
    let inputs = Arc::new(MemoryInputs::default());
    inputs.insert("demo", demo_files());
    let service = |shutdown: CancellationToken, index: &str| {
        let (inputs, provider, url) = (inputs.clone(), provider.clone(), url.clone());
        let index = data.path().join(index);
        async move {
            let store = Store::connect(&url).await.expect("store");
            let rag = Rag::open(&index, store.clone(), None).expect("index");
            let mut settings = settings(1);
            // A lease far longer than the test: only an explicit release hands over.
            settings.lease = std::time::Duration::from_secs(3600);
            WikiService::new(
                WikiDeps {
                    store,
                    hub: Arc::new(Hub::new(64)),
                    board: Arc::new(JobBoard::default()),
                    providers: Providers::new(provider),
                    rag: Arc::new(rag),
                    inputs,
                    shutdown,
                },
                settings,
            )
        }
    };
    let first_shutdown = CancellationToken::new();
    let first = service(first_shutdown.clone(), "index-a").await;
    first.start();
    let job = first
        .create(NewWikiJob {
            project_id: "demo".into(),
            ..NewWikiJob::default()
        })
        .await
        .expect("job");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while provider.calls("Server") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the held page never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    first_shutdown.cancel();
    first.stopped().await;
    let stopped = first.job(&job.job_id).await.expect("job");
    assert_eq!(
        stopped.status,
        JobStatus::GeneratingPages,
        "still resumable"
    );
    let states: Vec<&str> = stopped.pages.iter().map(|p| p.status.as_str()).collect();
    assert_eq!(states, vec!["completed", "pending", "pending"]);

    provider.release();
    let second_shutdown = CancellationToken::new();
    let second = service(second_shutdown.clone(), "index-b").await;
    second.start();
    loop {
        let job = second.job(&job.job_id).await.expect("job");
        if job.status == JobStatus::Completed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not resumed: {job:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(provider.calls("Overview"), 1);
    assert_eq!(provider.calls("Storage"), 1);
    second_shutdown.cancel();
    second.stopped().await;
}
