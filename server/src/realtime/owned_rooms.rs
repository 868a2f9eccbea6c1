//! Rooms this instance numbers itself. While an answer streams here, its conversation's
//! room is owned by this instance (`Hub::own`): each event gets the room's next number at
//! once, reaches this instance's members at once, and is then written to Redis with that
//! number for the other instances (`cluster::room_scripts`). Without it every token went
//! to Redis and back before its asker saw it, and a busy machine that left Redis's one
//! thread waiting for a core held every instance's tokens up with it.
//!
//! Other instances' events for an owned room wait in Redis until the owner takes and
//! numbers them, so a room still has one order. A member that saw a number Redis then
//! refused (an ownership that lapsed while its instance stalled) is closed and resumes.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::hub::{Hub, Room, RoomHold};
use super::peer::close_code;
use crate::cluster::{Cluster, LEASE_TIMEOUT, Lease, with_seq};

/// Who gives a shared room's events their numbers.
pub(crate) enum Numbering {
    /// Redis, as it does for every room nobody here answers in.
    Redis,
    /// This instance has asked to own the room; events published here wait for the reply.
    Claiming {
        owner: Arc<str>,
        waiting: Vec<String>,
    },
    /// This instance, under `owner`, kept alive by `lease`.
    Here {
        owner: Arc<str>,
        lease: Option<Lease>,
    },
}

impl Hub {
    /// [`Hub::hold`]; with several instances, this instance also numbers the room's
    /// events while the hold lives (unless another instance does). For an answer: its
    /// tokens reach the members here without a round trip through Redis.
    pub async fn own(self: &Arc<Self>, room: &str) -> RoomHold {
        let mut hold = self.hold(room);
        let Some(cluster) = self.cluster.get().cloned() else {
            return hold;
        };
        let owner = cluster.owner_token();
        let (claimed_tx, claimed) = oneshot::channel();
        {
            let mut rooms = self.rooms();
            let Some(entry) = rooms.get_mut(room) else {
                return hold;
            };
            if !matches!(entry.numbering, Numbering::Redis) {
                return hold;
            }
            entry.numbering = Numbering::Claiming {
                owner: owner.clone(),
                waiting: Vec::new(),
            };
            // Under the lock: the claim reaches Redis after every event published here
            // before it, so the number it returns counts them all.
            cluster.claim(room, owner.clone(), claimed_tx);
        }
        hold.owner = Some(owner.clone());
        // A task of its own: the caller may stop waiting, the claim must still settle.
        let hub = Arc::clone(self);
        let room = room.to_owned();
        let settled =
            tokio::spawn(async move { hub.settle_claim(&cluster, &room, owner, claimed).await });
        if let Err(e) = settled.await {
            tracing::error!(error = %e, "claiming a room failed");
        }
        hold
    }

    async fn settle_claim(
        &self,
        cluster: &Arc<Cluster>,
        room: &str,
        owner: Arc<str>,
        claimed: oneshot::Receiver<Option<u64>>,
    ) {
        let newest = match tokio::time::timeout(LEASE_TIMEOUT, claimed).await {
            Ok(newest) => newest.ok().flatten(),
            Err(_) => {
                // Redis is away; the claim waits for it to come back, and is undone then.
                cluster.release_owner(room, owner.clone(), 0, None);
                None
            }
        };
        let Some(newest) = newest else {
            // Another instance owns the room, or Redis failed: Redis numbers its events.
            self.end_claim(cluster, room, &owner);
            return;
        };
        // Events numbered before the claim may still be on their way here: the members
        // get them from the log before any numbered here.
        let last = self.rooms().get(room).map_or(0, |entry| entry.last_seq);
        if last != 0 && last < newest {
            match cluster.events_after(room, last).await {
                Ok(events) => {
                    for (seq, frame) in events.into_iter().filter(|(seq, _)| *seq <= newest) {
                        crate::cluster::RoomSink::accept(self, room, seq, &frame, true);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, room, "could not read a room's log before numbering it")
                }
            }
        }
        let lease = cluster.keep_owner(room, &owner);
        let mut rooms = self.rooms();
        let Some((entry, waiting)) = rooms
            .get_mut(room)
            .and_then(|entry| take_claim(entry, &owner).map(|waiting| (entry, waiting)))
        else {
            // The hold is gone already.
            cluster.release_owner(room, owner, newest, Some(lease));
            return;
        };
        entry.last_seq = entry.last_seq.max(newest);
        entry.numbering = Numbering::Here {
            owner: owner.clone(),
            lease: Some(lease),
        };
        for frame in waiting {
            self.number_here(cluster, room, entry, &owner, frame);
        }
    }

    /// The claim did not succeed: the events that waited for it go to Redis.
    fn end_claim(&self, cluster: &Cluster, room: &str, owner: &Arc<str>) {
        let mut rooms = self.rooms();
        if let Some(waiting) = rooms
            .get_mut(room)
            .and_then(|entry| take_claim(entry, owner))
        {
            for frame in waiting {
                cluster.publish(room, frame, None);
            }
        }
    }

    /// Publishes on a shared hub: numbered here when this instance owns the room, else
    /// by Redis. Returns the number when it is known at once.
    pub(super) fn publish_shared(
        &self,
        cluster: &Cluster,
        room: &str,
        frame: String,
        sequenced: Option<oneshot::Sender<u64>>,
    ) -> Option<u64> {
        let mut rooms = self.rooms();
        if let Some(entry) = rooms.get_mut(room) {
            match &mut entry.numbering {
                Numbering::Here { owner, .. } => {
                    let owner = owner.clone();
                    return Some(self.number_here(cluster, room, entry, &owner, frame));
                }
                Numbering::Claiming { waiting, .. } => {
                    waiting.push(frame);
                    return None;
                }
                Numbering::Redis => {}
            }
        }
        // Under the lock, like a claim: events reach Redis in the order published.
        cluster.publish(room, frame, sequenced);
        None
    }

    /// Gives `frame` the room's next number, delivers it here and sends it on to Redis.
    fn number_here(
        &self,
        cluster: &Cluster,
        room: &str,
        entry: &mut Room,
        owner: &Arc<str>,
        frame: String,
    ) -> u64 {
        let seq = entry.last_seq + 1;
        self.record(entry, seq, with_seq(&frame, seq).into());
        cluster.publish_numbered(room, frame, seq, owner.clone());
        seq
    }

    /// The owning hold of `room` is dropped: Redis numbers its events again, after the
    /// ones numbered here.
    pub(super) fn disown(&self, room: &str, entry: &mut Room, owner: &Arc<str>) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        // The claim may still be on its way; it ends the ownership when it is back, and
        // these events wait in Redis until then.
        if let Some(waiting) = take_claim(entry, owner) {
            for frame in waiting {
                cluster.publish(room, frame, None);
            }
            return;
        }
        match std::mem::replace(&mut entry.numbering, Numbering::Redis) {
            Numbering::Here { owner: o, lease } if o == *owner => {
                cluster.release_owner(room, o, entry.last_seq, lease);
            }
            other => entry.numbering = other,
        }
    }

    /// See [`crate::cluster::RoomSink::numbering_lost`].
    pub(super) fn lose_numbering(&self, room: &str) {
        let mut rooms = self.rooms();
        let Some(entry) = rooms.get_mut(room) else {
            return;
        };
        match std::mem::replace(&mut entry.numbering, Numbering::Redis) {
            Numbering::Here { owner, lease } => {
                // Their numbers may mean other events on the other instances: they
                // resume from the shared log, which has one order.
                for member in entry.members.values() {
                    member.peer.close(
                        close_code::TRY_AGAIN_LATER,
                        "the room's events were renumbered: resume with since_seq",
                    );
                }
                entry.members.clear();
                entry.clear_replay();
                entry.last_seq = 0;
                if let Some(cluster) = self.cluster.get() {
                    cluster.release_owner(room, owner, 0, lease);
                }
            }
            other => entry.numbering = other,
        }
    }

    /// See [`crate::cluster::RoomSink::number_waiting`].
    pub(super) fn number_taken(&self, room: &str, owner: &str, frames: Vec<String>) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        let mut rooms = self.rooms();
        if let Some(entry) = rooms.get_mut(room)
            && let Numbering::Here { owner: o, .. } = &entry.numbering
            && **o == *owner
        {
            let o = o.clone();
            for frame in frames {
                self.number_here(cluster, room, entry, &o, frame);
            }
            return;
        }
        for frame in frames {
            cluster.publish(room, frame, None);
        }
    }
}

/// Ends `owner`'s claim of the room (Redis numbers it again) and returns the events that
/// waited for it; None, and nothing changed, unless `owner` is claiming the room.
fn take_claim(entry: &mut Room, owner: &Arc<str>) -> Option<Vec<String>> {
    if !matches!(&entry.numbering, Numbering::Claiming { owner: o, .. } if o == owner) {
        return None;
    }
    match std::mem::replace(&mut entry.numbering, Numbering::Redis) {
        Numbering::Claiming { waiting, .. } => Some(waiting),
        other => {
            entry.numbering = other;
            None
        }
    }
}
