//! Several instances (SPEC §10): the realtime figures of two server processes sharing
//! Redis and a database, each beside the same run on one instance without Redis:
//! - fan-out: a 1,000-client room split over the two, events published through one,
//!   publish -> receipt p50/p99;
//! - streams: 200 answers at 50 tokens/s, askers split over the two, added latency per
//!   token p50/p99 and tokens lost (must be 0).
//!
//! Needs `REDIS_URL` (and uses `DATABASE_URL` when set, else one SQLite file both
//! processes open); says so and skips without it. `cargo bench -p server -- scale_out`;
//! sizes: `REPOWIKI_BENCH_ROOM`, `REPOWIKI_BENCH_STREAMS`. Report:
//! `target/bench-scale-out.json`.

use crate::realtime::{Server, Shared, fan_out_over, streams_over};
use crate::support;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn bench() {
    let Ok(redis) = std::env::var("REDIS_URL") else {
        println!("scale_out: skipped: REDIS_URL unset");
        return;
    };
    support::block_on(measure(redis));
}

async fn measure(redis: String) {
    let folder = tempfile::tempdir().expect("temp dir");
    let database = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            folder.path().join("shared.db").display()
        )
    });
    // The lone instance uses the same database, so the figures differ by Redis alone.
    let alone_on = Shared {
        redis: None,
        database: database.clone(),
    };
    let shared = Shared {
        redis: Some(redis.clone()),
        database,
    };
    let room = size("REPOWIKI_BENCH_ROOM", 1_000);
    let streams = size("REPOWIKI_BENCH_STREAMS", 200);

    let (fan_one, streams_one) = {
        let alone = Server::start(3921, Some(&alone_on));
        alone.ready().await;
        let addrs = [alone.addr.as_str()];
        (
            fan_out_over(&addrs, room, 50).await,
            streams_over(&addrs, streams).await,
        )
    };
    let (fan_two, streams_two) = {
        let a = Server::start(3922, Some(&shared));
        let b = Server::start(3923, Some(&shared));
        a.ready().await;
        b.ready().await;
        let addrs = [a.addr.as_str(), b.addr.as_str()];
        let fan = fan_out_over(&addrs, room, 50).await;
        let before = redis_usage(&redis).await;
        let mut streaming = streams_over(&addrs, streams).await;
        if let (Some(before), Some(after)) = (before, redis_usage(&redis).await) {
            let tokens = streaming["tokens"].as_f64().unwrap_or(f64::NAN);
            let commands = after.commands.saturating_sub(before.commands) as f64;
            let cpu_ms = (after.cpu_secs - before.cpu_secs) * 1000.0;
            println!(
                "streams: Redis meanwhile: {commands} commands ({:.2} per token), {cpu_ms:.0} ms of its CPU ({:.1} us per token)",
                commands / tokens,
                cpu_ms * 1000.0 / tokens
            );
            streaming["redis_commands_per_token"] = (commands / tokens).into();
            streaming["redis_cpu_us_per_token"] = (cpu_ms * 1000.0 / tokens).into();
        }
        (fan, streaming)
    };
    let ratio = |two: &serde_json::Value, one: &serde_json::Value, key: &str| {
        two[key].as_f64().unwrap_or(f64::NAN) / one[key].as_f64().unwrap_or(f64::NAN)
    };
    println!(
        "scale_out: fan-out p99 two instances / one = {:.2} (target <= 2); stream added p99 two / one = {:.2} (target <= 2); tokens lost {} (target 0)",
        ratio(&fan_two, &fan_one, "p99_ms"),
        ratio(&streams_two, &streams_one, "added_p99_ms"),
        streams_two["lost"]
    );
    let report = serde_json::json!({
        "one_instance": {"fan_out": fan_one, "streaming": streams_one},
        "two_instances": {"fan_out": fan_two, "streaming": streams_two},
    });
    support::write_report("bench-scale-out.json", &report);
}

/// Redis's own counters (`INFO`): what the instances cost it.
struct RedisUsage {
    commands: u64,
    cpu_secs: f64,
}

async fn redis_usage(url: &str) -> Option<RedisUsage> {
    use fred::interfaces::ClientLike;
    use fred::types::{ClusterHash, CustomCommand};
    let config = fred::prelude::Config::from_url(url).ok()?;
    let client = fred::prelude::Builder::from_config(config).build().ok()?;
    client.init().await.ok()?;
    let info: String = client
        .custom(
            CustomCommand::new_static("INFO", ClusterHash::Random, false),
            vec!["all"],
        )
        .await
        .ok()?;
    let _ = client.quit().await;
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    Some(RedisUsage {
        commands: field("total_commands_processed")?.parse().ok()?,
        cpu_secs: field("used_cpu_user")?.parse::<f64>().ok()?
            + field("used_cpu_sys")?.parse::<f64>().ok()?,
    })
}
