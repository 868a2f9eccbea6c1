//! Several instances as one (SPEC §10): two real servers on one database and one Redis.
//! Run when `REDIS_URL` is set (`.ci/run` sets it); each test says so plainly when not.
//! The database is `DATABASE_URL` when set, else one SQLite file both servers open.

use app::protocol::{ClientMsg, ErrorCode, FinishReason, ServerFrame, ServerMsg, rooms};
use uuid::Uuid;

use crate::common::{Client, TestServer, ask, is_turn_end, streamed_text};

/// Where the instances of a test meet: Redis, and a database of the test's own (a fresh
/// database on the PostgreSQL of `DATABASE_URL`, else one SQLite file in the returned
/// folder). Its own, because instances take over indexing they find unfinished in their
/// database, and other tests' servers share `DATABASE_URL`. None, and a line saying so,
/// without Redis.
async fn meeting_point() -> Option<(String, String, tempfile::TempDir)> {
    let Ok(redis) = std::env::var("REDIS_URL") else {
        eprintln!("skipped: REDIS_URL unset");
        return None;
    };
    let shared = tempfile::tempdir().expect("temp dir");
    let database = match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => fresh_postgres_database(&url).await,
        _ => format!(
            "sqlite://{}?mode=rwc",
            shared.path().join("shared.db").display()
        ),
    };
    Some((redis, database, shared))
}

/// Creates an empty database beside the one `url` names; returns its URL.
async fn fresh_postgres_database(url: &str) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!("scale_out_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(url)
        .await
        .expect("DATABASE_URL is set but unreachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a database for the test");
    let mut fresh = url::Url::parse(url).expect("DATABASE_URL is a URL");
    fresh.set_path(&name);
    fresh.to_string()
}

async fn instance(redis: &str, database: &str, tokens_per_sec: f64) -> TestServer {
    instance_with(redis, database, tokens_per_sec, |_| {}).await
}

async fn instance_with(
    redis: &str,
    database: &str,
    tokens_per_sec: f64,
    adjust: impl FnOnce(&mut server::config::Config),
) -> TestServer {
    let (redis, database) = (redis.to_owned(), database.to_owned());
    TestServer::start_with(move |c| {
        c.redis_url = Some(redis);
        c.database_url = Some(database);
        c.offline_tokens_per_sec = tokens_per_sec;
        c.lease_ms = 1_000;
        adjust(c);
    })
    .await
}

/// Two servers sharing a database and Redis, or None without Redis.
async fn two_instances(tokens_per_sec: f64) -> Option<(TestServer, TestServer, tempfile::TempDir)> {
    let (redis, database, shared) = meeting_point().await?;
    let a = instance(&redis, &database, tokens_per_sec).await;
    let b = instance(&redis, &database, tokens_per_sec).await;
    Some((a, b, shared))
}

/// Two instances and a client of each in one conversation's room.
async fn a_room_on_two_instances(
    tokens_per_sec: f64,
) -> Option<(
    TestServer,
    TestServer,
    tempfile::TempDir,
    Uuid,
    Client,
    Client,
)> {
    let (a, b, shared) = two_instances(tokens_per_sec).await?;
    let id = Uuid::new_v4();
    let mut on_a = a.connect().await;
    let mut on_b = b.connect().await;
    join(&mut on_a, id, None).await;
    join(&mut on_b, id, None).await;
    Some((a, b, shared, id, on_a, on_b))
}

async fn join(client: &mut Client, id: Uuid, since_seq: Option<u64>) -> u64 {
    client
        .send(&ClientMsg::Join {
            room: rooms::conversation(id),
            since_seq,
        })
        .await;
    let frames = client
        .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
        .await;
    match frames.last().map(|f| &f.msg) {
        Some(ServerMsg::Joined { last_seq }) => *last_seq,
        _ => unreachable!("recv_until ends on joined"),
    }
}

/// The room's numbered events, as (seq, event).
fn sequenced(frames: &[ServerFrame]) -> Vec<(u64, ServerMsg)> {
    frames
        .iter()
        .filter_map(|f| Some((f.seq?, f.msg.clone())))
        .collect()
}

#[tokio::test]
async fn a_client_on_each_instance_receives_the_identical_stream() {
    let Some((_a, b, _shared, id, mut on_a, mut on_b)) = a_room_on_two_instances(200.0).await
    else {
        return;
    };

    on_a.send(&ask(id, "How is the server put together?")).await;
    let seen_on_a = sequenced(&on_a.recv_until(is_turn_end).await);
    let seen_on_b = sequenced(&on_b.recv_until(is_turn_end).await);

    assert_eq!(
        seen_on_a, seen_on_b,
        "same events, same numbers, same order"
    );
    assert!(
        seen_on_a.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "consecutive numbers"
    );
    assert!(matches!(
        seen_on_b.first(),
        Some((_, ServerMsg::MessageReceived { .. }))
    ));
    let Some((_, ServerMsg::MessageComplete { content, .. })) = seen_on_b.last() else {
        panic!("the answer completes on B too");
    };
    let stored = b.store().await.messages(id).await.expect("read");
    assert_eq!(stored.len(), 2);
    assert_eq!(&stored[1].content, content);
}

#[tokio::test]
async fn an_event_from_the_other_instance_during_an_answer_keeps_one_order() {
    let Some((_a, b, _shared, id, mut on_a, mut on_b)) = a_room_on_two_instances(40.0).await else {
        return;
    };

    // A answers (and numbers the room's events); B publishes into the room meanwhile.
    on_a.send(&ask(id, "How is the server put together?")).await;
    on_b.recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    let published = reqwest::Client::new()
        .post(b.url("/api/v1/websocket/status"))
        .json(&serde_json::json!({"room": rooms::conversation(id), "status": "reindexing"}))
        .send()
        .await
        .expect("request");
    assert_eq!(published.status(), 202);
    let seen_on_a = sequenced(&on_a.recv_until(is_turn_end).await);
    let seen_on_b = sequenced(&on_b.recv_until(is_turn_end).await);

    let status_at = |seen: &[(u64, ServerMsg)]| {
        seen.iter()
            .find(|(_, m)| matches!(m, ServerMsg::ProcessingStatus { .. }))
            .map(|(seq, _)| *seq)
    };
    let on_a_at = status_at(&seen_on_a).expect("A's client gets B's event");
    assert_eq!(status_at(&seen_on_b), Some(on_a_at), "one number for it");
    let tail = |seen: &[(u64, ServerMsg)]| -> Vec<(u64, ServerMsg)> {
        seen.iter()
            .filter(|(seq, _)| *seq >= on_a_at)
            .cloned()
            .collect()
    };
    assert_eq!(
        tail(&seen_on_a),
        tail(&seen_on_b),
        "the same order from it on"
    );
    for seen in [&seen_on_a, &seen_on_b] {
        assert!(
            seen.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "consecutive numbers"
        );
    }
}

#[tokio::test]
async fn one_answer_per_conversation_and_stop_reaches_the_instance_answering() {
    let Some((a, b, _shared)) = two_instances(20.0).await else {
        return;
    };
    let id = Uuid::new_v4();
    let mut on_a = a.connect().await;
    let mut on_b = b.connect().await;
    join(&mut on_b, id, None).await;
    on_a.send(&ask(id, "Tell me everything")).await;
    on_a.recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;

    on_b.send(&ask(id, "And now this")).await;
    on_b.recv_until(|m| {
        matches!(
            m,
            ServerMsg::Error {
                code: ErrorCode::Busy,
                ..
            }
        )
    })
    .await;

    on_b.send(&ClientMsg::Stop {
        conversation_id: id,
    })
    .await;
    let ended = on_b.recv_until(is_turn_end).await;
    let Some(ServerMsg::MessageComplete { metadata, .. }) = ended.last().map(|f| &f.msg) else {
        panic!("the answer ends with message_complete");
    };
    assert_eq!(metadata.finish_reason, FinishReason::Stopped);

    // Once it has ended, B may answer in the conversation.
    on_b.send(&ask(id, "And now this")).await;
    let next = on_b.recv_until(is_turn_end).await;
    assert!(matches!(
        next.last().map(|f| &f.msg),
        Some(ServerMsg::MessageComplete { .. })
    ));
}

#[tokio::test]
async fn a_client_resumes_on_the_other_instance_without_loss_or_repeats() {
    let Some((a, b, _shared)) = two_instances(60.0).await else {
        return;
    };
    let id = Uuid::new_v4();
    let mut on_a = a.connect().await;
    join(&mut on_a, id, None).await;
    on_a.send(&ask(id, "Explain the architecture")).await;
    let before = on_a
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    let last_seen = before.iter().filter_map(|f| f.seq).max().expect("numbered");
    on_a.close().await;

    let mut on_b = b.connect().await;
    join(&mut on_b, id, Some(last_seen)).await;
    let after = on_b.recv_until(is_turn_end).await;
    let numbers: Vec<u64> = after.iter().filter_map(|f| f.seq).collect();
    assert_eq!(
        numbers.first(),
        Some(&(last_seen + 1)),
        "resumes right after"
    );
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap, no repeat"
    );
    let text = streamed_text(&before) + &streamed_text(&after);
    let Some(ServerMsg::MessageComplete { content, .. }) = after.last().map(|f| &f.msg) else {
        panic!("the answer completes");
    };
    assert_eq!(&text, content);
}

#[tokio::test]
async fn readiness_names_redis() {
    let Some((a, _b, _shared)) = two_instances(200.0).await else {
        return;
    };
    let ready: serde_json::Value = reqwest::get(a.url("/ready"))
        .await
        .expect("ready")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["redis"], "ok");
    assert_eq!(ready["database"], "ok");
}

/// The server binary in a process of its own, so it can die the way a machine does.
struct ServerProcess {
    child: tokio::process::Child,
    addr: std::net::SocketAddr,
}

impl ServerProcess {
    /// Starts the binary on `data`; with Redis and a database when given, else alone on
    /// SQLite in `data`.
    async fn start(
        data: &std::path::Path,
        shared: Option<(&str, &str)>,
        tokens_per_sec: f64,
    ) -> Self {
        Self::start_with(data, shared, tokens_per_sec, &[]).await
    }

    async fn start_with(
        data: &std::path::Path,
        shared: Option<(&str, &str)>,
        tokens_per_sec: f64,
        env: &[(&str, &str)],
    ) -> Self {
        use tokio::io::AsyncBufReadExt;
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"));
        match shared {
            Some((redis, database)) => command
                .env("REDIS_URL", redis)
                .env("DATABASE_URL", database),
            None => command.env_remove("REDIS_URL").env_remove("DATABASE_URL"),
        };
        command.envs(env.iter().copied());
        let mut child = command
            .env("LEPTOS_SITE_ADDR", addr.to_string())
            .env("LEPTOS_OUTPUT_NAME", "repowiki")
            .env("REPOWIKI_DATA_DIR", data)
            .env(
                "REPOWIKI_OFFLINE_TOKENS_PER_SEC",
                tokens_per_sec.to_string(),
            )
            .env("REPOWIKI_LEASE_MS", "1000")
            .env("RUST_LOG", "info")
            .env_remove("REPOWIKI_LOG_FORMAT")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the server binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let listening = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("RepoWiki listening") {
                    return true;
                }
            }
            false
        };
        let started = tokio::time::timeout(crate::common::PATIENCE * 3, listening).await;
        assert_eq!(started.ok(), Some(true), "the server process started");
        // Keep reading its log, so a full pipe never blocks it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, addr }
    }

    async fn connect(&self) -> Client {
        Client::connect(&format!("ws://{}/ws", self.addr)).await
    }

    async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }
}

/// Asks on `client` and returns the frames up to a token streamed after the answer's
/// first checkpoint (a checkpoint is taken every second).
async fn ask_past_a_checkpoint(client: &mut Client, id: Uuid) -> Vec<ServerFrame> {
    client.send(&ask(id, "Explain everything slowly")).await;
    let mut frames = client
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    let first_token = std::time::Instant::now();
    while first_token.elapsed() < std::time::Duration::from_millis(1_500) {
        frames.extend(
            client
                .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
                .await,
        );
    }
    frames
}

#[tokio::test]
async fn an_answer_killed_with_its_lone_instance_is_kept_as_interrupted_after_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let first = ServerProcess::start(data.path(), None, 20.0).await;
    let id = Uuid::new_v4();
    let mut client = first.connect().await;
    let streamed = streamed_text(&ask_past_a_checkpoint(&mut client, id).await);
    first.kill().await;

    let restarted = ServerProcess::start(data.path(), None, 20.0).await;
    let store = server::storage::Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        data.path().join("repowiki.db").display()
    ))
    .await
    .expect("open the database");
    let stored = store.messages(id).await.expect("read");
    assert_eq!(stored.len(), 2, "question and interrupted answer");
    assert_eq!(
        stored[1].metadata.as_ref().map(|m| m.finish_reason),
        Some(FinishReason::Interrupted)
    );
    assert!(!stored[1].content.is_empty() && streamed.starts_with(&stored[1].content));
    assert!(store.checkpoints().await.expect("read").is_empty());
    restarted.kill().await;
}

#[tokio::test]
async fn an_answer_whose_instance_is_killed_is_kept_as_interrupted_and_the_other_takes_over() {
    let Some((redis, database, _shared)) = meeting_point().await else {
        return;
    };
    let b = instance(&redis, &database, 20.0).await;
    let a_data = tempfile::tempdir().expect("data dir");
    let a = ServerProcess::start(a_data.path(), Some((&redis, &database)), 20.0).await;
    let id = Uuid::new_v4();

    let mut on_a = a.connect().await;
    let before = ask_past_a_checkpoint(&mut on_a, id).await;
    let last_seen = before.iter().filter_map(|f| f.seq).max().expect("numbered");
    a.kill().await;

    let mut on_b = b.connect().await;
    join(&mut on_b, id, Some(last_seen)).await;
    let after = on_b.recv_until(is_turn_end).await;
    let Some(ServerMsg::MessageError { code, content, .. }) = after.last().map(|f| &f.msg) else {
        panic!("the answer ends as interrupted, got {:?}", after.last());
    };
    assert_eq!(code, "interrupted");
    let streamed = streamed_text(&before) + &streamed_text(&after);
    assert!(
        streamed.starts_with(content.as_str()) && !content.is_empty(),
        "the stored answer is what was streamed, up to its last checkpoint"
    );

    let stored = b.store().await.messages(id).await.expect("read");
    assert_eq!(stored.len(), 2);
    assert_eq!(&stored[1].content, content);
    assert_eq!(
        stored[1].metadata.as_ref().map(|m| m.finish_reason),
        Some(FinishReason::Interrupted)
    );

    // The conversation is free again: B answers the next question.
    on_b.send(&ask(id, "Try again")).await;
    let next = on_b.recv_until(is_turn_end).await;
    assert!(matches!(
        next.last().map(|f| &f.msg),
        Some(ServerMsg::MessageComplete { .. })
    ));
}

#[tokio::test]
async fn an_unreachable_redis_stops_the_start_naming_it_without_its_password() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = server::config::Config::for_data_dir(data.path());
    config.redis_url = Some(format!("redis://admin:hunter2@{closed}"));
    let options = leptos::config::get_configuration(None)
        .expect("leptos defaults")
        .leptos_options;
    let started = tokio::time::timeout(
        crate::common::PATIENCE,
        server::build_state(config, options, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .expect("gives up instead of waiting for Redis");
    let Err(e) = started else {
        panic!("started without its Redis");
    };
    let message = e.to_string();
    assert!(message.contains(&closed.to_string()), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

/// A Redis of the test's own, to stop and start again.
struct PrivateRedis {
    child: tokio::process::Child,
    port: u16,
}

impl PrivateRedis {
    /// None (and a line saying so) where `redis-server` is not installed.
    async fn start(port: Option<u16>) -> Option<Self> {
        use tokio::io::AsyncBufReadExt;
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port")
        });
        let Ok(mut child) = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        else {
            eprintln!("skipped: redis-server not installed");
            return None;
        };
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let ready = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Ready to accept connections") {
                    return true;
                }
            }
            false
        };
        let started = tokio::time::timeout(crate::common::PATIENCE, ready).await;
        assert_eq!(started.ok(), Some(true), "redis-server started");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(Self { child, port })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends `kill -<signal>` to the server: STOP pauses it, CONT resumes it.
    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -{signal}");
    }

    async fn kill(mut self) -> u16 {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
        self.port
    }
}

/// An instance on a Redis of its own (and a SQLite file), and a client of it.
async fn an_instance_on_a_private_redis(
    tokens_per_sec: f64,
) -> Option<(PrivateRedis, tempfile::TempDir, TestServer, Client)> {
    let redis = PrivateRedis::start(None).await?;
    let data = tempfile::tempdir().expect("temp dir");
    let database = format!(
        "sqlite://{}?mode=rwc",
        data.path().join("db.sqlite").display()
    );
    let server = instance(&redis.url(), &database, tokens_per_sec).await;
    let client = server.connect().await;
    Some((redis, data, server, client))
}

async fn readiness(server: &TestServer) -> (u16, serde_json::Value) {
    let response = reqwest::get(server.url("/ready")).await.expect("ready");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn answer_completes(client: &mut Client, id: Uuid) {
    client.send(&ask(id, "Still there?")).await;
    let frames = client.recv_until(is_turn_end).await;
    assert!(matches!(
        frames.last().map(|f| &f.msg),
        Some(ServerMsg::MessageComplete { .. })
    ));
}

#[tokio::test]
async fn an_answer_reaches_its_asker_on_the_answering_instance_without_waiting_for_redis() {
    let Some((redis, _data, _server, mut client)) = an_instance_on_a_private_redis(100.0).await
    else {
        return;
    };
    let id = Uuid::new_v4();
    join(&mut client, id, None).await;
    client.send(&ask(id, "Explain the architecture")).await;
    let first = client
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;

    // Redis answers nothing while paused; this instance numbers the room's events itself.
    redis.signal("STOP");
    let mut later = Vec::new();
    while later.len() < 10 {
        let frames = client
            .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
            .await;
        later.extend(frames.into_iter().filter(|f| f.seq.is_some()));
    }
    redis.signal("CONT");
    let rest = client.recv_until(is_turn_end).await;

    let numbers: Vec<u64> = first
        .iter()
        .chain(&later)
        .chain(&rest)
        .filter_map(|f| f.seq)
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive numbers: {numbers:?}"
    );
    assert!(matches!(
        rest.last().map(|f| &f.msg),
        Some(ServerMsg::MessageComplete { .. })
    ));
}

#[tokio::test]
async fn losing_redis_is_reported_and_survived_without_a_restart() {
    let Some((redis, _data, server, mut client)) = an_instance_on_a_private_redis(400.0).await
    else {
        return;
    };
    let id = Uuid::new_v4();
    answer_completes(&mut client, id).await;

    let port = redis.kill().await;
    let (status, body) = readiness(&server).await;
    assert_eq!(status, 503);
    assert_eq!(body["redis"], "unreachable");
    assert_eq!(body["database"], "ok");
    // Joining a room meanwhile gives up on Redis after a moment instead of hanging.
    let mut newcomer = server.connect().await;
    join(&mut newcomer, Uuid::new_v4(), None).await;

    let _redis = PrivateRedis::start(Some(port)).await.expect("restarted");
    // Reconnection backs off up to 5 s; readiness says when it is back.
    let back = async {
        while readiness(&server).await.0 != 200 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(crate::common::PATIENCE, back)
        .await
        .expect("ready again without a restart");
    // The same socket, still open, gets the next answer through the new connection.
    answer_completes(&mut client, id).await;
}

#[tokio::test]
async fn malformed_bus_messages_are_skipped() {
    use fred::interfaces::{ClientLike, PubsubInterface};
    let Some((redis, database, _shared)) = meeting_point().await else {
        return;
    };
    let server = instance(&redis, &database, 400.0).await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    join(&mut client, id, None).await;

    let raw =
        fred::prelude::Builder::from_config(fred::prelude::Config::from_url(&redis).expect("url"))
            .build()
            .expect("client");
    raw.init().await.expect("connect");
    let channel = format!("repowiki:room:{}", rooms::conversation(id));
    for garbage in [
        "",
        "no-number here",
        "12",
        "999999999999999999999 {}",
        "\u{0}\u{1}",
    ] {
        let _: i64 = raw.publish(&channel, garbage).await.expect("publish");
    }
    let _: i64 = raw
        .publish("repowiki:signals", "{\"signal\":\"unknown\"}")
        .await
        .expect("publish");
    answer_completes(&mut client, id).await;
}

/// Creates a project of a local folder through the instance at `addr`: (id, job id).
async fn create_project(addr: std::net::SocketAddr, folder: &std::path::Path) -> (String, String) {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/api/projects"))
        .json(&serde_json::json!({"source": folder.display().to_string()}))
        .send()
        .await
        .expect("create a project")
        .json()
        .await
        .expect("created");
    let field = |name: &str| created[name].as_str().expect(name).to_owned();
    (field("id"), field("job_id"))
}

#[tokio::test]
async fn a_folder_indexed_through_one_instance_grounds_answers_on_the_other() {
    let Some((redis, database, _shared)) = meeting_point().await else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let folder = root.path().join("ledger");
    crate::project_support::write(
        &folder,
        "src/ledger.rs",
        "/// Settles the quarterly ledger of the zanzibar account.\npub fn settle_zanzibar_ledger(total: u64) -> u64 {\n    total / 4\n}\n",
    );
    crate::project_support::write(&folder, "README.md", "# Ledger\n\nBookkeeping.\n");
    let local_root = root.path().display().to_string();
    let allow = |c: &mut server::config::Config| c.local_roots = vec![local_root.clone()];
    let a = instance_with(&redis, &database, 400.0, allow).await;
    let b = instance_with(&redis, &database, 400.0, allow).await;

    let (project_id, job_id) = create_project(a.addr, &folder).await;
    let job = crate::project_support::wait_job(a.addr, &job_id).await;
    assert_eq!(
        job.last().map(|p| p.status),
        Some(app::protocol::JobStatus::Completed)
    );
    // B did not run the job, and still reports how it ended.
    let seen_on_b = crate::project_support::wait_job(b.addr, &job_id).await;
    assert_eq!(
        seen_on_b.last().map(|p| p.status),
        Some(app::protocol::JobStatus::Completed)
    );

    let mut on_b = b.connect().await;
    let mut question = ask(Uuid::new_v4(), "How is the zanzibar ledger settled?");
    if let ClientMsg::SendMessage { project_id: p, .. } = &mut question {
        *p = Some(project_id);
    }
    on_b.send(&question).await;
    let frames = on_b.recv_until(is_turn_end).await;
    let sources = frames
        .iter()
        .find_map(|f| match &f.msg {
            ServerMsg::MessageSources { sources, .. } => Some(sources.clone()),
            _ => None,
        })
        .expect("message_sources");
    assert_eq!(
        sources.first().map(|s| s.path.as_str()),
        Some("src/ledger.rs"),
        "{sources:?}"
    );
}

#[tokio::test]
async fn presence_typing_and_counts_span_instances() {
    let Some((a, b, _shared)) = two_instances(400.0).await else {
        return;
    };
    let id = Uuid::new_v4();
    let room = rooms::conversation(id);
    let mut on_a = a.connect().await;
    join(&mut on_a, id, None).await;
    let mut on_b = b.connect().await;
    join(&mut on_b, id, None).await;

    on_a.recv_until(|m| matches!(m, ServerMsg::Presence { connections: 2 }))
        .await;
    on_b.send(&ClientMsg::Typing {
        conversation_id: id,
        is_typing: true,
    })
    .await;
    on_a.recv_until(|m| {
        matches!(m, ServerMsg::Typing { is_typing: true, connection_id, .. } if *connection_id == on_b.connection_id)
    })
    .await;

    // Each instance reports its counts every couple of seconds; either one answers for both.
    let both_counted = async {
        loop {
            let counts: serde_json::Value = reqwest::get(b.url("/api/v1/websocket/connections"))
                .await
                .expect("counts")
                .json()
                .await
                .expect("json");
            let in_room = counts["rooms"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["room"] == room.as_str())
                .and_then(|r| r["connections"].as_u64());
            if in_room == Some(2) {
                return counts;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    let counts = tokio::time::timeout(crate::common::PATIENCE, both_counted)
        .await
        .expect("both instances' members counted");
    assert!(counts["active_connections"].as_u64() >= Some(2));
}

#[tokio::test]
async fn the_per_client_socket_limit_holds_across_instances() {
    let Some((redis, database, _shared)) = meeting_point().await else {
        return;
    };
    // A key of this test's own: other tests' sockets come from the same address.
    let key = format!("limit-{}", Uuid::new_v4());
    let limited = |c: &mut server::config::Config| {
        c.auth_enabled = true;
        c.api_keys = vec![key.clone()];
        c.max_connections_per_client = 2;
    };
    let a = instance_with(&redis, &database, 400.0, limited).await;
    let b = instance_with(&redis, &database, 400.0, limited).await;
    let url = |server: &TestServer| format!("ws://{}/ws?api_key={key}", server.addr);

    let first = Client::connect(&url(&a)).await;
    let _second = Client::connect(&url(&b)).await;
    let (mut third, _) = tokio_tungstenite::connect_async(url(&a))
        .await
        .expect("upgrade");
    let refused = loop {
        use futures::StreamExt;
        match tokio::time::timeout(crate::common::PATIENCE, third.next())
            .await
            .expect("a close in time")
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => {
                break u16::from(frame.code);
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(
        refused, 1013,
        "a third socket on either instance is one too many"
    );

    // Closing one gives its place back, cluster-wide.
    first.close().await;
    let reopened = async {
        loop {
            let (mut socket, _) = tokio_tungstenite::connect_async(url(&b))
                .await
                .expect("upgrade");
            use futures::StreamExt;
            if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) = socket.next().await
            {
                return;
            }
        }
    };
    tokio::time::timeout(crate::common::PATIENCE, reopened)
        .await
        .expect("a place is free again");
}

#[tokio::test]
async fn an_indexing_job_whose_instance_is_killed_finishes_on_the_other() {
    let Some((redis, database, _shared)) = meeting_point().await else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let folder = crate::project_support::big_folder(root.path());
    let local_root = root.path().display().to_string();
    let b = instance_with(&redis, &database, 400.0, |c| {
        c.local_roots = vec![local_root.clone()]
    })
    .await;
    let a_data = tempfile::tempdir().expect("data dir");
    let a = ServerProcess::start_with(
        a_data.path(),
        Some((&redis, &database)),
        400.0,
        &[("REPOWIKI_LOCAL_ROOTS", local_root.as_str())],
    )
    .await;

    let (project_id, first_job) = create_project(a.addr, &folder).await;
    // Killed once it is under way, well before it is done.
    let under_way = crate::project_support::job_reaches(a.addr, &first_job, |p| {
        p.status == app::protocol::JobStatus::Running && p.progress_percent > 0.0
    })
    .await;
    assert!(
        under_way.progress_percent < 90.0,
        "indexing was too quick to interrupt"
    );
    a.kill().await;

    let finished = async {
        loop {
            let project: serde_json::Value =
                reqwest::get(b.url(&format!("/api/projects/{project_id}")))
                    .await
                    .expect("project")
                    .json()
                    .await
                    .expect("json");
            if project["status"] == "ready" {
                return project;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    let project = tokio::time::timeout(crate::common::PATIENCE * 6, finished)
        .await
        .expect("B finishes the job A started");
    assert_ne!(project["job_id"], first_job.as_str(), "a job of B's own");
    assert_eq!(project["documents"], 3_000);
}

#[tokio::test]
async fn a_fresh_join_on_the_other_instance_mid_answer_sees_the_whole_answer() {
    let Some((a, b, _shared)) = two_instances(60.0).await else {
        return;
    };
    let id = Uuid::new_v4();
    let mut on_a = a.connect().await;
    on_a.send(&ask(id, "Walk me through main")).await;
    for _ in 0..3 {
        on_a.recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
            .await;
    }
    let mut on_b = b.connect().await;
    join(&mut on_b, id, Some(0)).await;
    let frames = on_b.recv_until(is_turn_end).await;
    let Some((messages, in_progress)) = frames.iter().find_map(|f| match &f.msg {
        ServerMsg::Snapshot {
            messages,
            in_progress,
            ..
        } => Some((messages.clone(), in_progress.clone())),
        _ => None,
    }) else {
        panic!("a snapshot");
    };
    assert_eq!(messages.len(), 1, "the question is stored");
    assert!(in_progress.is_none());
    let Some(ServerMsg::MessageComplete { content, .. }) = frames.last().map(|f| &f.msg) else {
        panic!("the answer completes");
    };
    assert_eq!(
        &streamed_text(&frames),
        content,
        "every token, from the first"
    );
}

#[tokio::test]
async fn an_indexing_job_is_cancelled_from_the_other_instance() {
    let Some((redis, database, _shared)) = meeting_point().await else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let folder = crate::project_support::big_folder(root.path());
    let local_root = root.path().display().to_string();
    let allow = |c: &mut server::config::Config| c.local_roots = vec![local_root.clone()];
    let a = instance_with(&redis, &database, 400.0, allow).await;
    let b = instance_with(&redis, &database, 400.0, allow).await;
    let http = reqwest::Client::new();

    let (project_id, job_id) = create_project(a.addr, &folder).await;
    crate::project_support::job_reaches(a.addr, &job_id, |p| {
        p.status == app::protocol::JobStatus::Running
    })
    .await;
    let cancel = http
        .post(b.url(&format!("/api/projects/{project_id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), 202);
    let job = crate::project_support::wait_job(a.addr, &job_id).await;
    assert_eq!(
        job.last().map(|p| p.status),
        Some(app::protocol::JobStatus::Cancelled)
    );
    let project: serde_json::Value = http
        .get(b.url(&format!("/api/projects/{project_id}")))
        .send()
        .await
        .expect("project")
        .json()
        .await
        .expect("json");
    assert_eq!(project["status"], "failed");
    assert_eq!(project["error"], "indexing was cancelled");

    let again = http
        .post(a.url(&format!("/api/projects/{project_id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(again.status(), 409, "nothing to cancel any more");
}
