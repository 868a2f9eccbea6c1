//! Server-rendered pages carry their data (readable without JavaScript): projects, a
//! project's own page, the source view, the conversation list, a wiki job, the wiki with its citations linked, and
//! the header's count of running wiki jobs, which the `jobs:wiki` room then keeps live, and
//! a job room joined late, which first tells the joiner the job's state.

use crate::common;
use crate::project_support::write;
use crate::projects::create_ready;
use crate::wiki_support::{FakeProvider, Harness, STRUCTURE};

use app::protocol::{ClientMsg, JobStatus, ServerMsg, rooms};
use common::{TestServer, ask, is_turn_end};
use serde_json::json;

async fn page(url: String) -> String {
    let response = reqwest::get(url).await.expect("GET page");
    assert_eq!(response.status(), 200);
    response.text().await.expect("page body")
}

#[tokio::test]
async fn projects_sources_and_conversations_render_with_their_data() {
    let root = tempfile::tempdir().expect("tempdir");
    let folder = root.path().join("shop");
    write(
        &folder,
        "src/cart.rs",
        "pub struct Cart;\n\nimpl Cart {\n    pub fn total_price() {}\n}\n",
    );
    let roots = vec![root.path().display().to_string()];
    let server = TestServer::start_with(|c| c.local_roots = roots).await;
    let project = create_ready(
        &server,
        json!({"source": folder.display().to_string(), "name": "Shop front"}),
    )
    .await;
    let id = project["id"].as_str().expect("id");

    let html = page(server.url("/projects")).await;
    assert!(html.contains("Shop front"), "the card is rendered: {html}");
    assert!(
        html.contains("Ready"),
        "{}",
        &html[html.find("project-list-title\" class").unwrap_or(0)..]
    );
    assert!(
        !html.contains("Loading…"),
        "no loading placeholder is left: {html}"
    );

    let html = page(server.url(&format!("/projects/{id}"))).await;
    assert!(
        html.contains("Shop front") && html.contains("No wiki yet"),
        "the project page is rendered: {html}"
    );
    assert!(
        html.contains(&format!(
            "href=\"/projects/{id}/source?path=src%2Fcart.rs\""
        )),
        "its documents open in the source view: {html}"
    );
    assert!(!html.contains("Loading the project"), "{html}");

    let html = page(server.url(&format!(
        "/projects/{id}/source?path=src%2Fcart.rs&lines=3-4"
    )))
    .await;
    assert!(html.contains("pub fn total_price()"), "{html}");
    assert!(html.contains("id=\"L4\""));
    assert_eq!(
        html.matches("data-marked").count(),
        2,
        "lines 3 and 4 marked"
    );

    let mut client = server.connect().await;
    let conversation = uuid::Uuid::new_v4();
    client
        .send(&ask(conversation, "Where is the cart total?"))
        .await;
    client.recv_until(is_turn_end).await;
    let html = page(server.url("/")).await;
    assert!(
        html.contains(&format!("href=\"/chat/{conversation}\"")),
        "the conversation list is rendered: {html}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_wiki_job_and_its_wiki_render_and_the_running_count_follows_live() {
    let provider = FakeProvider::new(STRUCTURE);
    provider.hold("Overview");
    let server = Harness::start(provider.clone(), 2).await;
    let url = format!("ws://{}/ws", server.addr);
    let mut watcher = common::Client::connect(&url).await;
    watcher
        .send(&ClientMsg::Join {
            room: rooms::WIKI_JOBS.to_owned(),
            since_seq: None,
        })
        .await;
    watcher
        .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
        .await;

    let job_id = server.start_job(json!({"language": "en"})).await;
    provider.asked("Overview").await;
    let html = page(server.url("/projects")).await;
    assert!(
        html.contains("data-testid=\"running-jobs\""),
        "the header counts the running job: {html}"
    );
    let html = page(server.url(&format!("/wiki/job/{job_id}"))).await;
    assert!(
        html.contains("Pause") && html.contains("Overview"),
        "{html}"
    );

    provider.release();
    let frames = watcher
        .recv_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.is_final()))
        .await;
    let last = frames.last().expect("a final frame");
    assert_eq!(last.room.as_deref(), Some(rooms::WIKI_JOBS));
    match &last.msg {
        ServerMsg::JobProgress(p) => {
            assert_eq!(p.job_id, job_id);
            assert_eq!(p.status, JobStatus::Completed);
        }
        other => panic!("expected job progress, got {other:?}"),
    }

    // Joining the job's room after it ended still tells the joiner how it ended.
    let mut late = common::Client::connect(&url).await;
    late.send(&ClientMsg::Join {
        room: rooms::job(&job_id),
        since_seq: None,
    })
    .await;
    let frames = late
        .recv_until(|m| matches!(m, ServerMsg::JobProgress(_)))
        .await;
    match &frames.last().expect("a frame").msg {
        ServerMsg::JobProgress(p) => assert_eq!(p.status, JobStatus::Completed),
        other => panic!("expected job progress, got {other:?}"),
    }

    let html = page(server.url(&format!("/wiki/job/{job_id}"))).await;
    assert!(
        html.contains("completed") && html.contains("Open the wiki"),
        "{html}"
    );
    assert!(
        !html.contains("data-testid=\"running-jobs\""),
        "nothing runs now"
    );

    let html = page(server.url("/projects/demo/wiki?page=server")).await;
    assert!(
        html.contains("What Server does."),
        "the page is rendered: {html}"
    );
    assert!(
        html.contains("/projects/demo/source?path=src%2Fmain.rs&amp;lines=1-3#L1"),
        "its citation opens the source view: {html}"
    );
    assert!(
        html.contains("Related pages") && html.contains("href=\"?language=en&amp;page=overview\"")
    );
    server.stop().await;
}
