//! Room events across instances. Publishing runs one Lua script (`room_scripts`, sent by
//! `room_writer`) that takes the room's next sequence number, appends the event to the
//! room's bounded log (a Redis stream whose entry ids are the sequence numbers,
//! `XADD … MAXLEN ~`) and publishes it on the room's channel, atomically: every instance
//! sees a room's events in sequence order, with the same numbers. While an instance
//! answers in a room it numbers the room's events itself and delivers them to its own
//! members first (`realtime::owned_rooms`); its scripts then only log and publish them.
//! Each instance subscribes to a room's channel while it has members there and hands what
//! arrives to its [`RoomSink`] (the `Hub`), which delivers to its own connections. A gap
//! in the numbers (a reconnect, a subscriber that fell behind) is filled from the log
//! before delivery goes on, so each member gets every event once, in order.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};

use fred::interfaces::{KeysInterface, PubsubInterface, StreamsInterface};
use fred::prelude::Server;
use fred::types::Message;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::room_writer::Action;
use super::{Cluster, ClusterError, LEASE_TIMEOUT, Lease, room_scripts, signals, within};

/// A room's channel; the room name follows the prefix.
const ROOM_CHANNEL: &str = "repowiki:room:";
/// Marks an event without a number on a room's channel, followed by the sending
/// instance (which has delivered it to its own members already).
const EPHEMERAL: &str = "-";
/// What receives a process's share of room events: the `Hub`.
pub trait RoomSink: Send + Sync {
    /// Delivers event `seq` of `room` (a frame without its `seq` field). `fill` accepts
    /// a gap that could not be filled from the log.
    fn accept(&self, room: &str, seq: u64, frame: &str, fill: bool) -> Accepted;
    /// Delivers an event without a number (typing, presence) from another instance.
    fn accept_ephemeral(&self, room: &str, frame: &str);
    /// Whether the room still has local members (or joins under way).
    fn in_use(&self, room: &str) -> bool;
    /// Each local room and the last number delivered in it, to catch up after a gap.
    fn positions(&self) -> Vec<(String, u64)>;
    /// Redis refused an event this instance numbered in `room` (the ownership lapsed and
    /// another instance numbered events meanwhile, or Redis failed): its members here may
    /// hold numbers the others do not know.
    fn numbering_lost(&self, room: &str);
    /// Events other instances published in `room` while `owner` numbered its events,
    /// oldest first, for it to number (or to publish again, should it own the room no
    /// longer).
    fn number_waiting(&self, room: &str, owner: &str, frames: Vec<String>);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Delivered,
    /// Already delivered (or older than the room's first member here).
    Stale,
    /// Events after `after` and before this one are missing: fill from the log first.
    Gap {
        after: u64,
    },
    /// Nobody here is in the room.
    NoRoom,
}

pub(super) enum SubscriptionChange {
    Subscribe(String, oneshot::Sender<Result<(), ClusterError>>),
    /// The room may have no local members left: unsubscribe if it still has none.
    Release(String),
}

fn counter_key(room: &str) -> String {
    // The braces make both keys of a room one Redis Cluster hash slot, as scripts need.
    format!("repowiki:{{{room}}}:seq")
}

fn log_key(room: &str) -> String {
    format!("repowiki:{{{room}}}:log")
}

fn owner_key(room: &str) -> String {
    format!("repowiki:{{{room}}}:owner")
}

fn waiting_key(room: &str) -> String {
    format!("repowiki:{{{room}}}:waiting")
}

pub(super) fn room_keys(room: &str) -> [String; 4] {
    [
        counter_key(room),
        log_key(room),
        owner_key(room),
        waiting_key(room),
    ]
}

pub(super) fn channel(room: &str) -> String {
    format!("{ROOM_CHANNEL}{room}")
}

/// A frame without `seq`, with it: the field goes last, as serde writes it.
pub fn with_seq(frame: &str, seq: u64) -> String {
    match frame.strip_suffix('}') {
        Some(open) => format!("{open},\"seq\":{seq}}}"),
        None => frame.to_owned(),
    }
}

impl Cluster {
    /// Publishes `frame` (serialised without `seq`) to the room on every instance.
    /// Events are written in the order of these calls; `sequenced` learns the number,
    /// unless the room's owner is to number the event.
    pub fn publish(&self, room: &str, frame: String, sequenced: Option<oneshot::Sender<u64>>) {
        self.send(room, Action::Publish { frame, sequenced });
    }

    /// Publishes `frame` as event `seq` of a room this instance owns (see [`Cluster::claim`]).
    pub fn publish_numbered(&self, room: &str, frame: String, seq: u64, owner: Arc<str>) {
        self.send(room, Action::Numbered { frame, seq, owner });
    }

    /// Asks to number the room's events here from now on, as `owner`, a token from
    /// [`Cluster::owner_token`]. `claimed` gets the room's newest number once this
    /// instance owns the room; None if another instance owns it or Redis failed. Written
    /// after every event published before it.
    pub fn claim(&self, room: &str, owner: Arc<str>, claimed: oneshot::Sender<Option<u64>>) {
        self.send(room, Action::Claim { owner, claimed });
    }

    /// Keeps the claimed ownership alive while its instance is: renewed like a lease.
    pub fn keep_owner(self: &Arc<Self>, room: &str, owner: &str) -> Lease {
        self.keep(owner_key(room), owner.to_owned())
    }

    /// Ends the ownership of `owner` after the events published before; `last` is the
    /// newest number it gave. The lease is let go once the release has run.
    pub fn release_owner(&self, room: &str, owner: Arc<str>, last: u64, lease: Option<Lease>) {
        self.send(room, Action::Release { owner, last, lease });
    }

    /// Ends the ownership of the room by a dead instance, if it still has it: the events
    /// waiting for that instance are numbered, and Redis numbers the room again.
    pub fn release_dead_owner(&self, room: &str, instance: &str) {
        let prefix: Arc<str> = format!("{instance}/").into();
        self.release_owner(room, prefix, 0, None);
    }

    /// A new owner token of this instance.
    pub fn owner_token(&self) -> Arc<str> {
        format!("{}/{}", self.instance, uuid::Uuid::new_v4()).into()
    }

    /// The events other instances published in a room `owner` owns, for it to number.
    pub async fn take_waiting(&self, room: &str, owner: &str) -> Result<Vec<String>, ClusterError> {
        let keys = vec![owner_key(room), waiting_key(room)];
        within(self.run_script(room_scripts::TAKE_WAITING, keys, vec![owner.to_owned()])).await
    }

    /// Sends an event without a number (typing, presence) to the room's members on the
    /// other instances. Best effort: such events are not worth a retry.
    pub fn publish_ephemeral(self: &Arc<Self>, room: &str, frame: String) {
        let cluster = Arc::clone(self);
        let channel = channel(room);
        tokio::spawn(async move {
            let text = format!("{EPHEMERAL} {} {frame}", cluster.instance);
            let sent: Result<i64, _> = cluster.commands.publish(channel, text).await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "an ephemeral event did not reach the other instances");
            }
        });
    }

    /// Subscribes this instance to the room's events; returns once they flow.
    pub async fn subscribe(&self, room: &str) -> Result<(), ClusterError> {
        let (done, subscribed) = oneshot::channel();
        self.subscriptions
            .send(SubscriptionChange::Subscribe(room.to_owned(), done))
            .map_err(|_| ClusterError::Stopped)?;
        match tokio::time::timeout(LEASE_TIMEOUT, subscribed).await {
            Ok(subscribed) => subscribed.map_err(|_| ClusterError::Stopped)?,
            // It completes when Redis is back; the caller goes on meanwhile.
            Err(_) => Err(ClusterError::Timeout),
        }
    }

    /// The room may have lost its last local member: its subscription ends if so.
    pub fn release(&self, room: &str) {
        let _ = self
            .subscriptions
            .send(SubscriptionChange::Release(room.to_owned()));
    }

    /// The room's newest sequence number on any instance; 0 for a room never used.
    pub async fn head(&self, room: &str) -> Result<u64, ClusterError> {
        let head: Option<String> = within(self.commands.get(counter_key(room))).await?;
        Ok(head.and_then(|h| h.parse().ok()).unwrap_or(0))
    }

    /// The room's logged events after `after`, oldest first, as (seq, frame without seq).
    /// Starts later than `after + 1` when the log no longer reaches back that far.
    pub async fn events_after(
        &self,
        room: &str,
        after: u64,
    ) -> Result<Vec<(u64, String)>, ClusterError> {
        let start = format!("{}-0", after.saturating_add(1));
        let entries: Vec<(String, HashMap<String, String>)> = within(self.commands.xrange(
            log_key(room),
            start,
            "+",
            Some(self.settings.room_log_len as u64),
        ))
        .await?;
        Ok(entries
            .into_iter()
            .filter_map(|(id, mut fields)| {
                let seq = id.split('-').next()?.parse().ok()?;
                Some((seq, fields.remove("e")?))
            })
            .collect())
    }
}

/// Subscribes and unsubscribes one change at a time, so a room that empties and fills
/// again at once never ends unsubscribed while it has members.
pub(super) async fn manage_subscriptions(
    cluster: Arc<Cluster>,
    mut changes: mpsc::UnboundedReceiver<SubscriptionChange>,
    sink: Weak<dyn RoomSink>,
) {
    let mut subscribed = HashSet::new();
    while let Some(change) = changes.recv().await {
        match change {
            SubscriptionChange::Subscribe(room, done) => {
                let result = if subscribed.contains(&room) {
                    Ok(())
                } else {
                    let result = cluster.subscriber.subscribe(channel(&room)).await;
                    if result.is_ok() {
                        subscribed.insert(room);
                    }
                    result.map_err(ClusterError::from)
                };
                let _ = done.send(result);
            }
            SubscriptionChange::Release(room) => {
                let in_use = sink.upgrade().is_some_and(|sink| sink.in_use(&room));
                if !in_use
                    && subscribed.remove(&room)
                    && let Err(e) = cluster.subscriber.unsubscribe(channel(&room)).await
                {
                    tracing::warn!(error = %e, room, "could not unsubscribe from a room");
                }
            }
        }
    }
}

/// Hands each room event to the sink, filling gaps from the logs; forwards signals.
pub(super) async fn receive(
    cluster: Arc<Cluster>,
    sink: Weak<dyn RoomSink>,
    mut messages: broadcast::Receiver<Message>,
    mut reconnects: broadcast::Receiver<Server>,
    shutdown: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return,
            reconnected = reconnects.recv() => {
                if reconnected.is_ok() {
                    tracing::info!("Redis connection restored; catching rooms up from their logs");
                    catch_up_all(&cluster, &sink).await;
                }
                continue;
            }
            message = messages.recv() => message,
        };
        let Some(sink) = sink.upgrade() else { return };
        match message {
            Ok(message) => handle(&cluster, sink.as_ref(), &message).await,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "fell behind the room events; catching up from the logs"
                );
                catch_up_all(&cluster, &Arc::downgrade(&sink)).await;
            }
            Err(RecvError::Closed) => return,
        }
    }
}

async fn handle(cluster: &Cluster, sink: &dyn RoomSink, message: &Message) {
    let text: Option<std::borrow::Cow<'_, str>> = message.value.as_str();
    let Some(text) = text else {
        tracing::warn!(channel = %message.channel, "a bus message that is not text was skipped");
        return;
    };
    if &*message.channel == signals::CHANNEL {
        cluster.forward_signal(&text);
        return;
    }
    let Some(room) = message.channel.strip_prefix(ROOM_CHANNEL) else {
        return;
    };
    if let Some(rest) = text
        .strip_prefix(EPHEMERAL)
        .and_then(|r| r.strip_prefix(' '))
    {
        match rest.split_once(' ') {
            Some((from, frame)) if from != cluster.instance.to_string() => {
                sink.accept_ephemeral(room, frame);
            }
            Some(_) => {}
            None => tracing::warn!(room, "a malformed ephemeral event was skipped"),
        }
        return;
    }
    let Some((seq, frame)) = text
        .split_once(' ')
        .and_then(|(seq, frame)| Some((seq.parse::<u64>().ok()?, frame)))
    else {
        tracing::warn!(room, "a malformed room event was skipped");
        return;
    };
    if let Accepted::Gap { after } = sink.accept(room, seq, frame, false) {
        fill_gap(cluster, sink, room, after).await;
        sink.accept(room, seq, frame, true);
    }
}

/// Delivers the room's logged events after `after`, as far as the log reaches.
async fn fill_gap(cluster: &Cluster, sink: &dyn RoomSink, room: &str, after: u64) {
    match cluster.events_after(room, after).await {
        Ok(events) => {
            for (seq, frame) in events {
                sink.accept(room, seq, &frame, true);
            }
        }
        Err(e) => tracing::warn!(error = %e, room, "could not read a room's log to fill a gap"),
    }
}

async fn catch_up_all(cluster: &Cluster, sink: &Weak<dyn RoomSink>) {
    let Some(sink) = sink.upgrade() else { return };
    for (room, last) in sink.positions() {
        if last > 0 {
            fill_gap(cluster, sink.as_ref(), &room, last).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_number_is_added_as_the_last_field() {
        let frame = r#"{"type":"presence","connections":2,"room":"r"}"#;
        let framed = with_seq(frame, 17);
        assert_eq!(
            framed,
            r#"{"type":"presence","connections":2,"room":"r","seq":17}"#
        );
        let parsed: app::protocol::ServerFrame = serde_json::from_str(&framed).expect("valid");
        assert_eq!(parsed.seq, Some(17));
    }

    #[test]
    fn a_rooms_keys_share_one_cluster_slot() {
        assert_eq!(
            counter_key("conversation:1"),
            "repowiki:{conversation:1}:seq"
        );
        assert_eq!(log_key("conversation:1"), "repowiki:{conversation:1}:log");
    }
}
