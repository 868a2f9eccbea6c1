//! Writing room events to Redis: one task per process takes what the hub publishes, in
//! order, and sends it many events per round trip (`room_scripts` holds the scripts).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use fred::interfaces::ClientLike;
use fred::types::Value;
use futures::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::rooms::{channel, room_keys};
use super::scripts::pipelined_eval;
use super::{Cluster, Lease, RoomSink, room_scripts};

/// Rooms untouched this long lose their counter and log: nobody can resume that late.
const IDLE_EXPIRY_SECS: u64 = 24 * 3600;
/// Events one batch carries to Redis at most.
const BATCH: usize = 512;
/// Batches on the wire at once.
const BATCHES_IN_FLIGHT: usize = 4;

/// An action on a room, queued for the writer.
pub(super) struct Outgoing {
    room: String,
    action: Action,
}

/// What the writer does with a room: one of the `room_scripts`.
pub(super) enum Action {
    /// Numbered by Redis, or left waiting for the room's owner.
    Publish {
        frame: String,
        sequenced: Option<oneshot::Sender<u64>>,
    },
    /// Numbered by this instance, the room's owner.
    Numbered {
        frame: String,
        seq: u64,
        owner: Arc<str>,
    },
    Claim {
        owner: Arc<str>,
        claimed: oneshot::Sender<Option<u64>>,
    },
    /// Ends the ownership of `owner` (a token, or a dead instance's prefix).
    Release {
        owner: Arc<str>,
        last: u64,
        /// Renews the owner key until the release has run.
        lease: Option<Lease>,
    },
}

impl Cluster {
    /// Queues `action` for the writer.
    pub(super) fn send(&self, room: &str, action: Action) {
        let outgoing = Outgoing {
            room: room.to_owned(),
            action,
        };
        if self.outbox.send(outgoing).is_err() {
            tracing::error!(room, "an event was published after the cluster stopped");
        }
    }
}

/// Writes published events to Redis in order, many per round trip, and a batch goes out
/// while the replies of the ones before it are still on their way.
pub(super) async fn write_events(
    cluster: Arc<Cluster>,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    sink: Weak<dyn RoomSink>,
) {
    // Arguments shared by every event are reference-counted, not copied per event: a
    // script alone is half a kilobyte, and a streaming answer publishes one per token.
    let log_len = Value::from(cluster.settings.room_log_len.max(1).to_string());
    let expiry = Value::from(IDLE_EXPIRY_SECS.to_string());
    let lease_ms = Value::from(super::leases::millis(cluster.settings.lease).to_string());
    let taking = Taking::default();
    let mut in_flight = futures::stream::FuturesOrdered::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        tokio::select! {
            batch = next_batch(&mut outgoing), if open && in_flight.len() < BATCHES_IN_FLIGHT => {
                let Some(mut batch) = batch else {
                    open = false;
                    continue;
                };
                top_up(&mut batch, &mut outgoing).await;
                let shared = SharedArgs {
                    first_seq: Value::from(crate::clock::now_ms().saturating_mul(1000).to_string()),
                    log_len: log_len.clone(),
                    expiry: expiry.clone(),
                    lease_ms: lease_ms.clone(),
                };
                let mut sends = commands(&cluster, &mut batch, &shared);
                // Each polled once here, in order: a command is handed to the connection
                // on its first poll, so Redis runs them in publishing order, this batch
                // before any later one.
                let mut early = Vec::with_capacity(sends.len());
                for (_, send) in &mut sends {
                    early.push(futures::poll!(send.as_mut()));
                }
                in_flight.push_back(async move {
                    let mut results = Vec::with_capacity(batch.len());
                    for ((events, send), early) in sends.into_iter().zip(early) {
                        let replies = match early {
                            std::task::Poll::Ready(replies) => replies,
                            std::task::Poll::Pending => send.await,
                        };
                        spread(replies, events, &mut results);
                    }
                    (batch, results)
                });
            }
            Some((batch, results)) = in_flight.next(), if !in_flight.is_empty() => {
                report(&cluster, &sink, &taking, batch, results);
            }
        }
    }
}

/// Arguments every script of a batch shares, reference-counted.
struct SharedArgs {
    first_seq: Value,
    log_len: Value,
    expiry: Value,
    lease_ms: Value,
}

/// A command's replies, one per event it carries.
type Replies<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<String>, fred::error::Error>> + Send + 'a>>;

/// Numbered events one script call carries at most: a call holds Redis for all of them.
const NUMBERED_PER_CALL: usize = 64;

/// The batch's commands, in order, each with how many events it carries: runs of
/// numbered events (an answer's tokens) go many to a call, anything else alone.
fn commands<'a>(
    cluster: &'a Cluster,
    batch: &mut [Outgoing],
    shared: &SharedArgs,
) -> Vec<(usize, Replies<'a>)> {
    let mut commands = Vec::new();
    let mut rest = batch;
    while !rest.is_empty() {
        let numbered = rest
            .iter()
            .take(NUMBERED_PER_CALL)
            .take_while(|event| matches!(event.action, Action::Numbered { .. }))
            .count();
        let taken = numbered.max(1);
        let (now, later) = rest.split_at_mut(taken);
        let replies: Replies<'a> = match single_args(&mut now[0], shared) {
            None => Box::pin(
                cluster
                    .commands
                    .custom::<Vec<String>, Value>(pipelined_eval(), numbered_args(now, shared)),
            ),
            Some(args) => Box::pin(
                cluster
                    .commands
                    .custom::<String, Value>(pipelined_eval(), args)
                    .map(|reply| reply.map(|reply| vec![reply])),
            ),
        };
        commands.push((taken, replies));
        rest = later;
    }
    commands
}

/// `EVAL` arguments of an action sent alone (see `room_scripts`); None for a numbered
/// event, which goes with the others next to it ([`numbered_args`]).
fn single_args(event: &mut Outgoing, shared: &SharedArgs) -> Option<Vec<Value>> {
    let (script, frame, owner, seq) = match &mut event.action {
        // Only its room and its waiter are needed once it is sent.
        Action::Publish { frame, .. } => (room_scripts::PUBLISH, std::mem::take(frame), None, 0),
        Action::Numbered { .. } => return None,
        Action::Claim { owner, .. } => (room_scripts::CLAIM, String::new(), Some(owner.clone()), 0),
        Action::Release { owner, last, .. } => (
            room_scripts::RELEASE,
            String::new(),
            Some(owner.clone()),
            *last,
        ),
    };
    let [counter, log, owner_key, waiting] = room_keys(&event.room);
    Some(vec![
        Value::from_static_str(script),
        Value::from_static_str("4"),
        counter.into(),
        log.into(),
        owner_key.into(),
        waiting.into(),
        channel(&event.room).into(),
        frame.into(),
        shared.first_seq.clone(),
        shared.log_len.clone(),
        shared.expiry.clone(),
        owner.map_or_else(|| Value::from_static_str(""), |o| Value::from(&*o)),
        shared.lease_ms.clone(),
        Value::from(seq.to_string()),
    ])
}

/// `EVAL` arguments of [`room_scripts::PUBLISH_NUMBERED`] for numbered events.
fn numbered_args(events: &mut [Outgoing], shared: &SharedArgs) -> Vec<Value> {
    let mut keys = Vec::with_capacity(events.len() * 4);
    let mut args = Vec::with_capacity(3 + events.len() * 4);
    args.extend([
        shared.log_len.clone(),
        shared.expiry.clone(),
        shared.lease_ms.clone(),
    ]);
    for event in events {
        keys.extend(room_keys(&event.room).map(Value::from));
        if let Action::Numbered { frame, seq, owner } = &mut event.action {
            args.extend([
                channel(&event.room).into(),
                std::mem::take(frame).into(),
                Value::from(&**owner),
                Value::from(seq.to_string()),
            ]);
        }
    }
    let mut all = Vec::with_capacity(2 + keys.len() + args.len());
    all.push(Value::from_static_str(room_scripts::PUBLISH_NUMBERED));
    all.push(Value::from(keys.len() as i64));
    all.extend(keys);
    all.extend(args);
    all
}

/// One result per event from a command's replies; a failed command (or a reply of the
/// wrong length) fails each of its events.
fn spread(
    replies: Result<Vec<String>, fred::error::Error>,
    events: usize,
    results: &mut Vec<Result<String, fred::error::Error>>,
) {
    match replies {
        Ok(replies) if replies.len() == events => results.extend(replies.into_iter().map(Ok)),
        Ok(replies) => {
            let e = fred::error::Error::new(
                fred::error::ErrorKind::Parse,
                format!("{} replies for {events} events", replies.len()),
            );
            results.extend(std::iter::repeat_n(Err(e), events));
        }
        Err(e) => results.extend(std::iter::repeat_n(Err(e), events)),
    }
}

/// The next events to publish, up to [`BATCH`]; None once no publisher is left.
async fn next_batch(outgoing: &mut mpsc::UnboundedReceiver<Outgoing>) -> Option<Vec<Outgoing>> {
    let mut batch = Vec::with_capacity(BATCH);
    (outgoing.recv_many(&mut batch, BATCH).await > 0).then_some(batch)
}

/// Adds the events published meanwhile to `batch`. Streaming answers publish their tokens
/// from tasks woken by the same timer tick, and the first one's publish wakes the writer
/// ahead of the rest (the runtime runs a task woken by the running one next). Yielding
/// once lets the others queue theirs, so a tick's events reach Redis in one write, and
/// its replies and pub/sub messages come back in one read each, instead of a write, a
/// reply and a message per token. Not part of [`next_batch`]: that one is raced in a
/// `select!`, and events taken from the queue must not be dropped with a lost race.
async fn top_up(batch: &mut Vec<Outgoing>, outgoing: &mut mpsc::UnboundedReceiver<Outgoing>) {
    tokio::task::yield_now().await;
    while batch.len() < BATCH {
        match outgoing.try_recv() {
            Ok(event) => batch.push(event),
            Err(_) => break,
        }
    }
}

/// Tells each publisher that asked its event's number, each claimer whether it owns its
/// room, the sink what it must act on; logs what Redis refused.
fn report(
    cluster: &Arc<Cluster>,
    sink: &Weak<dyn RoomSink>,
    taking: &Taking,
    batch: Vec<Outgoing>,
    results: Vec<Result<String, fred::error::Error>>,
) {
    for (event, result) in batch.into_iter().zip(results) {
        let room = event.room;
        let result = result.inspect_err(|e| {
            metrics::counter!(crate::telemetry::BUS_ERRORS).increment(1);
            tracing::error!(error = %e, room, "Redis failed a room's event");
        });
        match event.action {
            Action::Publish { sequenced, .. } => {
                // '0': the room's owner numbers it.
                if let (Ok(Ok(seq @ 1..)), Some(sequenced)) =
                    (result.map(|id| id.parse::<u64>()), sequenced)
                {
                    let _ = sequenced.send(seq);
                }
            }
            Action::Numbered { owner, .. } => match result.as_deref().map(str::parse::<i64>) {
                Ok(Ok(0)) => {}
                Ok(Ok(1..)) => take_waiting(cluster, sink, taking, room, owner),
                _ => {
                    tracing::warn!(
                        room,
                        "Redis refused an event numbered here; numbering goes back to Redis"
                    );
                    if let Some(sink) = sink.upgrade() {
                        sink.numbering_lost(&room);
                    }
                }
            },
            Action::Claim { claimed, .. } => {
                let _ = claimed.send(result.ok().and_then(|newest| newest.parse().ok()));
            }
            // The script deleted the owner key: its lease need not release it again.
            Action::Release { lease, .. } => match (result, lease) {
                (Ok(_), Some(lease)) => lease.forget(),
                (Err(_), lease) => drop(lease),
                (Ok(_), None) => {}
            },
        }
    }
}

/// Rooms whose waiting events are being taken by their owner here.
type Taking = Arc<std::sync::Mutex<HashSet<String>>>;

/// Hands the events waiting for `owner` in `room` to the sink, one take per room at a
/// time so they keep their order. One that arrives during a take is seen in the reply to
/// the owner's next event, or numbered when its ownership ends.
fn take_waiting(
    cluster: &Arc<Cluster>,
    sink: &Weak<dyn RoomSink>,
    taking: &Taking,
    room: String,
    owner: Arc<str>,
) {
    if !taking
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(room.clone())
    {
        return;
    }
    let (cluster, sink, taking) = (Arc::clone(cluster), sink.clone(), Arc::clone(taking));
    tokio::spawn(async move {
        match cluster.take_waiting(&room, &owner).await {
            Ok(frames) if !frames.is_empty() => {
                if let Some(sink) = sink.upgrade() {
                    sink.number_waiting(&room, &owner, frames);
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, room, "could not take the events waiting for this instance")
            }
        }
        taking
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&room);
    });
}
