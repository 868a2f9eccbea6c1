//! The hub's side of rooms shared by several instances: joining through Redis (subscribe,
//! learn the room's number, replay from its log) and delivering the events Redis brings
//! back. See `cluster::rooms` for the Redis side.

use std::sync::Arc;

use app::protocol::ServerMsg;

use super::hub::{CatchUp, Hub, JoinOutcome, Member, Room, frame_in};
use super::peer::Peer;
use crate::cluster::{Accepted, Cluster, RoomSink, with_seq};

impl Hub {
    /// [`Hub::join`] on a shared hub. The member's `after` makes the join exact: events
    /// it got by replay or snapshot are skipped when their live copies arrive, and events
    /// still on their way from Redis are delivered when they do.
    pub(super) async fn join_shared(
        &self,
        cluster: &Arc<Cluster>,
        room: &str,
        peer: &Peer,
        since_seq: Option<u64>,
        snapshot: impl FnOnce(u64) -> Option<ServerMsg>,
    ) -> JoinOutcome {
        let _joining = Joining::start(self, room);
        if let Err(e) = cluster.subscribe(room).await {
            // Subscriptions are restored when Redis is back; events flow from then on.
            tracing::warn!(error = %e, room, "could not subscribe to a shared room");
        }
        let head = head_reaching(cluster, room, since_seq).await;
        let replayable_here = |since: u64| {
            self.rooms()
                .get(room)
                .is_some_and(|entry| entry.replays_from(since))
        };
        let logged = match since_seq {
            Some(since) if since < head && !replayable_here(since) => {
                cluster.events_after(room, since).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, room, "could not read a shared room's log");
                    Vec::new()
                })
            }
            _ => Vec::new(),
        };

        let mut rooms = self.rooms();
        let entry = rooms
            .entry(room.to_owned())
            .or_insert_with(|| Room::new(true));
        if entry.last_seq == 0 {
            entry.last_seq = head;
        }
        let newest = entry.last_seq.max(head);
        peer.send(&frame_in(
            room,
            ServerMsg::Joined { last_seq: newest },
            None,
        ));
        let (after, catch_up) = match since_seq {
            None => (newest, CatchUp::LiveOnly),
            Some(since) if since == newest => (newest, CatchUp::Replayed),
            Some(since) if entry.replays_from(since) => {
                let mut after = since;
                for (seq, frame) in entry.replay.iter().filter(|(seq, _)| *seq > since) {
                    peer.deliver(frame.clone());
                    after = *seq;
                }
                (after, CatchUp::Replayed)
            }
            Some(since)
                if logged
                    .first()
                    .is_some_and(|(first, _)| *first <= since.saturating_add(1)) =>
            {
                (replay_log(peer, entry, &logged, since), CatchUp::Replayed)
            }
            // The log no longer reaches back to `since`, or `since` is past the newest
            // number the instances know (a member of an instance that numbered events
            // itself and died before they reached Redis): the stored state, then all the
            // log holds (the answer running now from its first token, as long as the log
            // reaches back that far). Events of messages the snapshot already holds
            // repeat what it says; clients take stored messages as they are.
            Some(_) => {
                let at = logged
                    .first()
                    .map_or(newest, |(first, _)| first.saturating_sub(1));
                if let Some(msg) = snapshot(at) {
                    peer.send(&frame_in(room, msg, None));
                }
                (replay_log(peer, entry, &logged, at), CatchUp::Snapshot)
            }
        };
        entry.members.insert(
            peer.id,
            Member {
                peer: peer.clone(),
                after,
            },
        );
        JoinOutcome {
            last_seq: newest,
            catch_up,
            members: entry.members.len(),
        }
    }
}

/// The room's newest number. A member resuming from a number above it comes from an
/// instance that numbers the room's events itself: its last ones may still be on their
/// way to Redis, so they get a moment to arrive (else the member gets a snapshot).
async fn head_reaching(cluster: &Cluster, room: &str, since_seq: Option<u64>) -> u64 {
    const ATTEMPTS: u32 = 5;
    const APART: std::time::Duration = std::time::Duration::from_millis(10);
    let mut attempt = 0;
    loop {
        let head = match cluster.head(room).await {
            Ok(head) => head,
            Err(e) => {
                tracing::warn!(error = %e, room, "could not read a shared room's sequence number");
                return 0;
            }
        };
        attempt += 1;
        if since_seq.is_none_or(|since| since <= head) || attempt == ATTEMPTS {
            return head;
        }
        tokio::time::sleep(APART).await;
    }
}

/// Delivers the logged events (all after `after`), then those that reached this instance
/// while the log was read; returns the last number delivered.
fn replay_log(peer: &Peer, entry: &Room, logged: &[(u64, String)], mut after: u64) -> u64 {
    for (seq, frame) in logged {
        peer.deliver(with_seq(frame, *seq).into());
        after = *seq;
    }
    let logged_up_to = after;
    for (seq, frame) in entry.replay.iter().filter(|(seq, _)| *seq > logged_up_to) {
        peer.deliver(frame.clone());
        after = *seq;
    }
    after
}

/// A join under way keeps its room, so events arriving meanwhile are kept for it.
struct Joining<'a> {
    hub: &'a Hub,
    room: &'a str,
}

impl<'a> Joining<'a> {
    fn start(hub: &'a Hub, room: &'a str) -> Self {
        hub.rooms()
            .entry(room.to_owned())
            .or_insert_with(|| Room::new(true))
            .joining += 1;
        Self { hub, room }
    }
}

impl Drop for Joining<'_> {
    fn drop(&mut self) {
        let mut rooms = self.hub.rooms();
        if let Some(entry) = rooms.get_mut(self.room) {
            entry.joining = entry.joining.saturating_sub(1);
            if entry.is_unused() {
                rooms.remove(self.room);
            }
        }
        drop(rooms);
        self.hub.release(self.room);
    }
}

impl RoomSink for Hub {
    fn accept(&self, room: &str, seq: u64, frame: &str, fill: bool) -> Accepted {
        let mut rooms = self.rooms();
        let Some(entry) = rooms.get_mut(room) else {
            return Accepted::NoRoom;
        };
        let known = entry.last_seq != 0;
        if known && seq <= entry.last_seq {
            return Accepted::Stale;
        }
        if known && seq > entry.last_seq + 1 && !fill {
            return Accepted::Gap {
                after: entry.last_seq,
            };
        }
        self.record(entry, seq, with_seq(frame, seq).into());
        Accepted::Delivered
    }

    fn accept_ephemeral(&self, room: &str, frame: &str) {
        self.deliver_ephemeral(room, frame.into(), None);
    }

    fn in_use(&self, room: &str) -> bool {
        self.rooms()
            .get(room)
            .is_some_and(|entry| !entry.members.is_empty() || entry.joining > 0)
    }

    fn numbering_lost(&self, room: &str) {
        self.lose_numbering(room);
    }

    fn number_waiting(&self, room: &str, owner: &str, frames: Vec<String>) {
        self.number_taken(room, owner, frames);
    }

    fn positions(&self) -> Vec<(String, u64)> {
        self.rooms()
            .iter()
            .filter(|(_, entry)| !entry.members.is_empty())
            .map(|(name, entry)| (name.clone(), entry.last_seq))
            .collect()
    }
}
