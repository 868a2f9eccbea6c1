//! Counts across instances: open sockets, room members and each client's sockets. Every
//! instance reports itself alive (and its counts) every [`HEARTBEAT`]; an instance that
//! stops reporting drops out of every count after [`STALE`], so a crashed instance's
//! sockets stop counting against anyone's limit by themselves.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{Cluster, ClusterError, LEASE_TIMEOUT};
use crate::clock::now_ms;

/// How often an instance reports itself.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// An instance silent this long counts for nothing.
const STALE: Duration = Duration::from_secs(6);

/// Instances by the time they last reported (a sorted set).
const INSTANCES: &str = "repowiki:instances";

/// KEYS: instances, this instance's counts. ARGV: instance, now, counts JSON, expiry ms.
const REPORT: &str = r"
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
";

/// KEYS: instances. ARGV: oldest live report (ms), prefix of the counts keys. Forgets
/// silent instances; returns the counts of the live ones.
const LIVE_COUNTS: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
local counts = {}
for i, instance in ipairs(live) do
  local report = redis.call('GET', ARGV[2] .. instance)
  if report then counts[#counts + 1] = report end
end
return counts
";

/// Sums one hash's fields (instance -> count) over live instances, dropping the fields of
/// silent ones. KEYS: the hash, instances. ARGV: oldest live report, this instance.
const LIVE_SUM: &str = r"
local function live_sum(hash, instances, oldest, me)
  local fields = redis.call('HGETALL', hash)
  local total = 0
  for i = 1, #fields, 2 do
    local seen = redis.call('ZSCORE', instances, fields[i])
    if fields[i] == me or (seen and tonumber(seen) >= tonumber(oldest)) then
      total = total + tonumber(fields[i + 1])
    else
      redis.call('HDEL', hash, fields[i])
    end
  end
  return total
end
";

/// KEYS: the client's sockets, instances. ARGV: oldest live, instance, max. Takes a
/// place for one more socket unless the client has `max` on live instances.
fn take_slot_script() -> &'static str {
    static SCRIPT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{LIVE_SUM}
if live_sum(KEYS[1], KEYS[2], ARGV[1], ARGV[2]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('PEXPIRE', KEYS[1], 86400000)
return 1"
        )
    });
    &SCRIPT
}

/// KEYS: a room's members by instance, instances. ARGV: oldest live, instance, local
/// members. Records this instance's members and returns everyone's.
fn presence_script() -> &'static str {
    static SCRIPT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{LIVE_SUM}
if tonumber(ARGV[3]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], 86400000)
else
  redis.call('HDEL', KEYS[1], ARGV[2])
end
return live_sum(KEYS[1], KEYS[2], ARGV[1], ARGV[2])"
        )
    });
    &SCRIPT
}

/// KEYS: the client's sockets. ARGV: instance.
const GIVE_BACK_SLOT: &str = r"
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
";

/// What one instance reports, and what the cluster sums to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub sockets: usize,
    /// Members per room with any.
    pub rooms: BTreeMap<String, usize>,
}

fn counts_prefix() -> &'static str {
    "repowiki:counts:"
}

fn client_key(client: &str) -> String {
    format!("repowiki:client:{client}")
}

fn presence_key(room: &str) -> String {
    format!("repowiki:{{{room}}}:presence")
}

fn oldest_live() -> String {
    now_ms()
        .saturating_sub(u64::try_from(STALE.as_millis()).unwrap_or(u64::MAX))
        .to_string()
}

impl Cluster {
    /// Reports this instance alive with its counts, now and every [`HEARTBEAT`] until
    /// `shutdown`. The first report is made before this returns, so this instance counts
    /// before it accepts its first socket.
    pub async fn report_counts(
        self: &Arc<Self>,
        counts: impl Fn() -> Counts + Send + 'static,
        shutdown: CancellationToken,
    ) {
        self.report(&counts()).await;
        let cluster = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(HEARTBEAT) => {}
                }
                cluster.report(&counts()).await;
            }
        });
    }

    async fn report(&self, counts: &Counts) {
        let json = serde_json::to_string(counts).unwrap_or_default();
        let key = format!("{}{}", counts_prefix(), self.instance);
        let expiry = u64::try_from(STALE.as_millis()).unwrap_or(u64::MAX);
        let reported: Result<i64, _> = self
            .run_script(
                REPORT,
                vec![INSTANCES.to_owned(), key],
                vec![
                    self.instance.to_string(),
                    now_ms().to_string(),
                    json,
                    expiry.to_string(),
                ],
            )
            .await;
        if let Err(e) = reported {
            tracing::warn!(error = %e, "could not report this instance's counts");
        }
    }

    /// Sockets and room members over every live instance.
    pub async fn counts(&self) -> Result<Counts, ClusterError> {
        let reports = self.run_script::<Vec<String>>(
            LIVE_COUNTS,
            vec![INSTANCES.to_owned()],
            vec![oldest_live(), counts_prefix().to_owned()],
        );
        let reports = tokio::time::timeout(LEASE_TIMEOUT, reports)
            .await
            .map_err(|_| ClusterError::Timeout)??;
        let mut total = Counts::default();
        for report in reports {
            let Ok(counts) = serde_json::from_str::<Counts>(&report) else {
                tracing::warn!("an unreadable instance report was skipped");
                continue;
            };
            total.sockets += counts.sockets;
            for (room, members) in counts.rooms {
                *total.rooms.entry(room).or_default() += members;
            }
        }
        Ok(total)
    }

    /// Takes a place for one more socket of `client`, unless it already has `max` open
    /// on live instances.
    pub async fn take_client_slot(&self, client: &str, max: usize) -> Result<bool, ClusterError> {
        let taken = self.run_script::<i64>(
            take_slot_script(),
            vec![client_key(client), INSTANCES.to_owned()],
            vec![oldest_live(), self.instance.to_string(), max.to_string()],
        );
        let taken = tokio::time::timeout(LEASE_TIMEOUT, taken)
            .await
            .map_err(|_| ClusterError::Timeout)??;
        Ok(taken == 1)
    }

    /// Gives back a place taken by [`Cluster::take_client_slot`], in the background.
    pub fn give_back_client_slot(self: &Arc<Self>, client: &str) {
        let cluster = Arc::clone(self);
        let key = client_key(client);
        tokio::spawn(async move {
            let given: Result<i64, _> = cluster
                .run_script(
                    GIVE_BACK_SLOT,
                    vec![key],
                    vec![cluster.instance.to_string()],
                )
                .await;
            if let Err(e) = given {
                tracing::warn!(error = %e, "could not give back a socket's place; it lapses with this instance");
            }
        });
    }

    /// Records that this instance has `local` members in the room; returns how many all
    /// live instances have.
    pub async fn room_presence(&self, room: &str, local: usize) -> Result<usize, ClusterError> {
        let total = self.run_script::<i64>(
            presence_script(),
            vec![presence_key(room), INSTANCES.to_owned()],
            vec![oldest_live(), self.instance.to_string(), local.to_string()],
        );
        let total = tokio::time::timeout(LEASE_TIMEOUT, total)
            .await
            .map_err(|_| ClusterError::Timeout)??;
        Ok(usize::try_from(total).unwrap_or(0))
    }
}
