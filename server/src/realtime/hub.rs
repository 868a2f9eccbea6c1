//! Rooms: sets of connections that receive the same events, in order, each event with the
//! room's next sequence number.
//!
//! Unlike a `tokio::sync::broadcast` channel, a lagging member never silently loses
//! events: every member has its own bounded queue, and one that is full is closed so the
//! client reconnects and resumes from its last sequence number out of the room's replay
//! buffer. Each event is serialised once, however many members receive it.
//!
//! A room exists while it has members or holds (a running chat turn holds its
//! conversation's room, so a reload that briefly leaves it empty loses nothing), and is
//! removed after that, so idle rooms cost nothing.
//!
//! Several instances (SPEC §10): once a [`Cluster`] is attached, `publish` hands events to
//! it, sequence numbers come from Redis, and events reach this hub's members when they
//! come back from Redis (`shared_rooms`), so every instance delivers the same numbers in
//! the same order. Callers see the same methods either way.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use app::protocol::{ServerFrame, ServerMsg};

use super::owned_rooms::Numbering;
use super::peer::{ConnectionId, Peer, WireFrame};
use crate::cluster::Cluster;

pub struct Hub {
    rooms: Mutex<HashMap<String, Room>>,
    replay_capacity: usize,
    replay_bytes: usize,
    /// Set once at start when instances share rooms through Redis.
    pub(super) cluster: OnceLock<Arc<Cluster>>,
}

/// Bytes of events each room keeps for replay unless configured: a few answers' worth.
pub const DEFAULT_REPLAY_BYTES: usize = 1024 * 1024;

/// A room's member count is announced at most this often. Announcing every join to every
/// member made a thousand clients opening one room cost half a million `presence` frames,
/// and the room's next real event waited behind them (the fan-out benchmark's tail).
const PRESENCE_INTERVAL: Duration = Duration::from_millis(100);

pub(super) struct Room {
    /// The newest event delivered here; 0 in a shared room that has seen none yet.
    pub(super) last_seq: u64,
    pub(super) members: HashMap<ConnectionId, Member>,
    pub(super) replay: VecDeque<(u64, WireFrame)>,
    /// What `replay` holds, so a few huge events cannot pin unbounded memory.
    replay_bytes: usize,
    holds: usize,
    /// Shared rooms: joins waiting for Redis (subscription, log), which keep the room.
    pub(super) joining: usize,
    /// A `presence` announcement is scheduled and will carry the count as it is then.
    presence_pending: bool,
    /// Who numbers a shared room's events (see `owned_rooms`).
    pub(super) numbering: Numbering,
}

pub(super) struct Member {
    pub(super) peer: Peer,
    /// Events up to this number reached the member while it joined (replay or
    /// snapshot); live copies of them are skipped.
    pub(super) after: u64,
}

impl Room {
    pub(super) fn new(shared: bool) -> Self {
        Self {
            // A recreated room continues above any sequence number an older incarnation
            // handed out (a client may still hold one), so resume never mistakes new events
            // for old ones: it sees a gap and gets a snapshot. Millisecond-based values stay
            // below 2^53, exact in JavaScript. A shared room learns its number from Redis.
            last_seq: if shared {
                0
            } else {
                crate::clock::now_ms().saturating_mul(1000)
            },
            members: HashMap::new(),
            replay: VecDeque::new(),
            replay_bytes: 0,
            holds: 0,
            joining: 0,
            presence_pending: false,
            numbering: Numbering::Redis,
        }
    }

    pub(super) fn is_unused(&self) -> bool {
        self.members.is_empty() && self.holds == 0 && self.joining == 0
    }

    /// Forgets the events kept for replay.
    pub(super) fn clear_replay(&mut self) {
        self.replay.clear();
        self.replay_bytes = 0;
    }

    /// Whether the replay buffer holds every event after `since`.
    pub(super) fn replays_from(&self, since: u64) -> bool {
        self.replay
            .front()
            .is_some_and(|(first, _)| *first <= since.saturating_add(1))
    }
}

/// How a join caught the connection up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// No `since_seq`: live events only.
    LiveOnly,
    /// Every event after `since_seq` was replayed from the buffer.
    Replayed,
    /// The buffer no longer reaches back to `since_seq`: the caller's snapshot was sent.
    Snapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinOutcome {
    pub last_seq: u64,
    pub catch_up: CatchUp,
    pub members: usize,
}

impl Hub {
    pub fn new(replay_capacity: usize) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            replay_capacity: replay_capacity.max(1),
            replay_bytes: DEFAULT_REPLAY_BYTES,
            cluster: OnceLock::new(),
        }
    }

    /// Caps each room's replay buffer in bytes as well as in events. An event larger
    /// than the cap is delivered live but not kept: resuming across it gets a snapshot.
    pub fn with_replay_bytes(mut self, bytes: usize) -> Self {
        self.replay_bytes = bytes;
        self
    }

    /// Shares rooms with the other instances from now on. Called once, at start.
    pub fn attach(&self, cluster: Arc<Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// Whether rooms are shared with other instances.
    pub fn is_shared(&self) -> bool {
        self.cluster.get().is_some()
    }

    /// The other instances, when rooms are shared with them.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    pub(super) fn rooms(&self) -> MutexGuard<'_, HashMap<String, Room>> {
        // A panic while holding the lock leaves plain data behind, still consistent enough
        // to serve; refusing every later request would be worse.
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `peer` to `room` and catches it up, all before any later event can reach it:
    /// `joined`, then either the missed events or `snapshot(last_seq)`, then live events.
    pub async fn join(
        &self,
        room: &str,
        peer: &Peer,
        since_seq: Option<u64>,
        snapshot: impl FnOnce(u64) -> Option<ServerMsg>,
    ) -> JoinOutcome {
        match self.cluster.get() {
            Some(cluster) => {
                self.join_shared(cluster, room, peer, since_seq, snapshot)
                    .await
            }
            None => self.join_local(room, peer, since_seq, snapshot),
        }
    }

    /// [`Hub::join`] on a hub that shares nothing, at once, so a caller can hold its own
    /// lock across it (the chat engine's answer-so-far). Shared hubs must use `join`.
    pub fn join_local(
        &self,
        room: &str,
        peer: &Peer,
        since_seq: Option<u64>,
        snapshot: impl FnOnce(u64) -> Option<ServerMsg>,
    ) -> JoinOutcome {
        debug_assert!(!self.is_shared(), "a shared hub joins through Redis");
        let mut rooms = self.rooms();
        let entry = rooms
            .entry(room.to_owned())
            .or_insert_with(|| Room::new(false));
        entry.members.insert(
            peer.id,
            Member {
                peer: peer.clone(),
                after: 0,
            },
        );
        let last_seq = entry.last_seq;
        peer.send(&frame_in(room, ServerMsg::Joined { last_seq }, None));

        let catch_up = match since_seq {
            None => CatchUp::LiveOnly,
            Some(since) if since >= last_seq => CatchUp::Replayed,
            Some(since) if entry.replays_from(since) => {
                for (_, frame) in entry.replay.iter().filter(|(seq, _)| *seq > since) {
                    if !peer.deliver(frame.clone()) {
                        break;
                    }
                }
                CatchUp::Replayed
            }
            Some(_) => {
                if let Some(msg) = snapshot(last_seq) {
                    peer.send(&frame_in(room, msg, None));
                }
                CatchUp::Snapshot
            }
        };
        JoinOutcome {
            last_seq,
            catch_up,
            members: entry.members.len(),
        }
    }

    /// Removes the connection from the room; returns how many members remain, or None if
    /// it was not a member.
    pub fn leave(&self, room: &str, id: ConnectionId) -> Option<usize> {
        let mut rooms = self.rooms();
        let entry = rooms.get_mut(room)?;
        entry.members.remove(&id)?;
        let remaining = entry.members.len();
        if entry.is_unused() {
            rooms.remove(room);
        }
        drop(rooms);
        self.release(room);
        Some(remaining)
    }

    /// Removes the connection from every room; returns the rooms it left and who remains.
    pub fn leave_all(&self, id: ConnectionId) -> Vec<(String, usize)> {
        let mut rooms = self.rooms();
        let mut left = Vec::new();
        rooms.retain(|name, room| {
            if room.members.remove(&id).is_some() {
                left.push((name.clone(), room.members.len()));
            }
            !room.is_unused()
        });
        drop(rooms);
        for (room, _) in &left {
            self.release(room);
        }
        left
    }

    /// A shared room may have lost its last local member: its subscription may end.
    pub(super) fn release(&self, room: &str) {
        if let Some(cluster) = self.cluster.get() {
            cluster.release(room);
        }
    }

    /// Publishes an event to every member with the room's next sequence number and keeps
    /// it for replay. Returns the sequence number, or None if the room does not exist
    /// (nobody is in it and nobody holds it, so nobody could ever ask for the event).
    /// A shared hub returns None too unless it numbers the room's events itself (see
    /// `owned_rooms`); otherwise Redis numbers the event (see `publish_sequenced`).
    pub fn publish(&self, room: &str, msg: ServerMsg) -> Option<u64> {
        metrics::counter!(crate::telemetry::EVENTS_PUBLISHED).increment(1);
        if let Some(cluster) = self.cluster.get() {
            let frame = serialise(&frame_in(room, msg, None))?;
            return self.publish_shared(cluster, room, frame, None);
        }
        let mut rooms = self.rooms();
        let entry = rooms.get_mut(room)?;
        let seq = entry.last_seq + 1;
        if let Some(text) = serialise(&frame_in(room, msg, Some(seq))) {
            self.record(entry, seq, text.into());
        } else {
            entry.last_seq = seq;
        }
        Some(seq)
    }

    /// [`Hub::publish`], waiting for a shared hub's number from Redis.
    pub async fn publish_sequenced(&self, room: &str, msg: ServerMsg) -> Option<u64> {
        let Some(cluster) = self.cluster.get() else {
            return self.publish(room, msg);
        };
        metrics::counter!(crate::telemetry::EVENTS_PUBLISHED).increment(1);
        let frame = serialise(&frame_in(room, msg, None))?;
        let (sequenced, seq) = tokio::sync::oneshot::channel();
        if let Some(here) = self.publish_shared(cluster, room, frame, Some(sequenced)) {
            return Some(here);
        }
        seq.await.ok()
    }

    /// Keeps event `seq` for replay and delivers it to the members that lack it.
    pub(super) fn record(&self, entry: &mut Room, seq: u64, text: WireFrame) {
        entry.last_seq = seq;
        entry.replay_bytes += text.len();
        entry.replay.push_back((seq, text.clone()));
        while entry.replay.len() > self.replay_capacity || entry.replay_bytes > self.replay_bytes {
            match entry.replay.pop_front() {
                Some((_, old)) => entry.replay_bytes -= old.len(),
                None => break,
            }
        }
        // A member whose queue is full is being closed; it stops receiving at once.
        entry
            .members
            .retain(|_, member| seq <= member.after || member.peer.deliver(text.clone()));
    }

    /// Sends an event that is not worth replaying (typing, presence) to the room's
    /// members, optionally all but one; it takes no sequence number. With several
    /// instances it reaches the other instances' members too.
    pub fn send_ephemeral(&self, room: &str, msg: ServerMsg, except: Option<ConnectionId>) {
        let Some(text) = serialise(&frame_in(room, msg, None)) else {
            return;
        };
        if let Some(cluster) = self.cluster.get() {
            cluster.publish_ephemeral(room, text.clone());
        }
        self.deliver_ephemeral(room, text.into(), except);
    }

    /// Delivers an ephemeral frame to this instance's members of the room.
    pub(super) fn deliver_ephemeral(
        &self,
        room: &str,
        text: WireFrame,
        except: Option<ConnectionId>,
    ) {
        let rooms = self.rooms();
        let Some(entry) = rooms.get(room) else {
            return;
        };
        for (id, member) in &entry.members {
            if Some(*id) != except {
                member.peer.deliver(text.clone());
            }
        }
    }

    /// Tells the room's members how many they are, soon: changes within
    /// [`PRESENCE_INTERVAL`] are announced once, with the count as it is then. Outside a
    /// runtime (unit tests) it is announced at once.
    pub fn announce_presence(self: &Arc<Self>, room: &str) {
        {
            let mut rooms = self.rooms();
            let Some(entry) = rooms.get_mut(room) else {
                return;
            };
            if entry.presence_pending {
                return;
            }
            entry.presence_pending = true;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            if let Some(connections) = self.take_presence(room) {
                self.send_ephemeral(room, ServerMsg::Presence { connections }, None);
            }
            return;
        };
        let hub = Arc::clone(self);
        let room = room.to_owned();
        runtime.spawn(async move {
            tokio::time::sleep(PRESENCE_INTERVAL).await;
            let Some(here) = hub.take_presence(&room) else {
                return;
            };
            // With several instances, everyone's members: this instance's count is
            // recorded in Redis and the live instances' counts summed.
            let connections = match hub.cluster.get() {
                Some(cluster) => cluster.room_presence(&room, here).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, room, "could not count a room's members across instances");
                    here
                }),
                None => here,
            };
            hub.send_ephemeral(&room, ServerMsg::Presence { connections }, None);
        });
    }

    /// The room's member count here, ending the pending announcement; None if the room
    /// is gone.
    fn take_presence(&self, room: &str) -> Option<usize> {
        let mut rooms = self.rooms();
        let entry = rooms.get_mut(room)?;
        entry.presence_pending = false;
        Some(entry.members.len())
    }

    /// Keeps the room (its sequence and replay buffer) alive until the hold is dropped,
    /// even with no members.
    pub fn hold(self: &Arc<Self>, room: &str) -> RoomHold {
        let shared = self.is_shared();
        self.rooms()
            .entry(room.to_owned())
            .or_insert_with(|| Room::new(shared))
            .holds += 1;
        RoomHold {
            hub: Arc::clone(self),
            room: room.to_owned(),
            owner: None,
        }
    }

    pub fn is_member(&self, room: &str, id: ConnectionId) -> bool {
        self.rooms()
            .get(room)
            .is_some_and(|r| r.members.contains_key(&id))
    }

    /// Live member counts per room.
    pub fn room_sizes(&self) -> Vec<(String, usize)> {
        let mut sizes: Vec<_> = self
            .rooms()
            .iter()
            .map(|(name, room)| (name.clone(), room.members.len()))
            .collect();
        sizes.sort();
        sizes
    }
}

fn serialise(frame: &ServerFrame) -> Option<String> {
    match serde_json::to_string(frame) {
        Ok(text) => Some(text),
        Err(e) => {
            tracing::error!(error = %e, "could not serialise an event");
            None
        }
    }
}

/// Dropping it releases the room; see [`Hub::hold`] and [`Hub::own`].
pub struct RoomHold {
    hub: Arc<Hub>,
    room: String,
    /// The token under which this hold numbers the room's events, if it does.
    pub(super) owner: Option<Arc<str>>,
}

impl Drop for RoomHold {
    fn drop(&mut self) {
        let mut rooms = self.hub.rooms();
        if let Some(entry) = rooms.get_mut(&self.room) {
            if let Some(owner) = self.owner.take() {
                self.hub.disown(&self.room, entry, &owner);
            }
            entry.holds = entry.holds.saturating_sub(1);
            if entry.is_unused() {
                rooms.remove(&self.room);
            }
        }
        drop(rooms);
        self.hub.release(&self.room);
    }
}

pub(super) fn frame_in(room: &str, msg: ServerMsg, seq: Option<u64>) -> ServerFrame {
    ServerFrame {
        msg,
        room: Some(room.to_owned()),
        seq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::Receiver;

    fn parse(frame: WireFrame) -> ServerFrame {
        serde_json::from_str(&frame).expect("valid frame")
    }

    fn drain(rx: &mut Receiver<WireFrame>) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        while let Ok(f) = rx.try_recv() {
            frames.push(parse(f));
        }
        frames
    }

    fn presence(n: usize) -> ServerMsg {
        ServerMsg::Presence { connections: n }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_joins_is_announced_once_with_the_final_count() {
        let hub = Arc::new(Hub::new(16));
        let peers: Vec<_> = (0..3).map(|_| Peer::new(16)).collect();
        for (peer, _) in &peers {
            hub.join_local("r", peer, None, |_| None);
            hub.announce_presence("r");
        }
        tokio::time::sleep(PRESENCE_INTERVAL * 2).await;
        for (_, mut rx) in peers {
            let presences: Vec<_> = drain(&mut rx)
                .into_iter()
                .filter_map(|frame| match frame.msg {
                    ServerMsg::Presence { connections } => Some(connections),
                    _ => None,
                })
                .collect();
            assert_eq!(presences, vec![3]);
        }
    }

    #[test]
    fn events_fan_out_with_consecutive_sequence_numbers() {
        let hub = Hub::new(16);
        let (a, mut rx_a) = Peer::new(16);
        let (b, mut rx_b) = Peer::new(16);
        let first = hub.join_local("r", &a, None, |_| None).last_seq;
        hub.join_local("r", &b, None, |_| None);
        let s1 = hub.publish("r", presence(1)).expect("room exists");
        let s2 = hub.publish("r", presence(2)).expect("room exists");
        assert_eq!((s1, s2), (first + 1, first + 2));
        for rx in [&mut rx_a, &mut rx_b] {
            let seqs: Vec<_> = drain(rx).iter().filter_map(|f| f.seq).collect();
            assert_eq!(seqs, vec![s1, s2]);
        }
    }

    #[test]
    fn resume_replays_exactly_what_was_missed() {
        let hub = Hub::new(16);
        let (a, mut rx_a) = Peer::new(16);
        hub.join_local("r", &a, None, |_| None);
        let s1 = hub.publish("r", presence(1)).expect("room");
        let s2 = hub.publish("r", presence(2)).expect("room");
        drain(&mut rx_a);

        let (b, mut rx_b) = Peer::new(16);
        let outcome = hub.join_local("r", &b, Some(s1), |_| panic!("no snapshot needed"));
        assert_eq!(outcome.catch_up, CatchUp::Replayed);
        let frames = drain(&mut rx_b);
        assert!(matches!(frames[0].msg, ServerMsg::Joined { last_seq } if last_seq == s2));
        assert_eq!(frames[1].seq, Some(s2));
        assert_eq!(frames.len(), 2);
    }

    #[test]
    fn the_replay_buffer_is_bounded_in_bytes_too() {
        let hub = Hub::new(1000).with_replay_bytes(64 * 1024);
        let (a, _rx_a) = Peer::new(1000);
        let start = hub.join_local("r", &a, None, |_| None).last_seq;
        let big = |n: usize| ServerMsg::ProcessingStatus {
            status: "x".repeat(16 * 1024 + n),
            progress_percent: None,
            message: None,
        };
        for n in 0..200 {
            hub.publish("r", big(n));
        }
        let rooms = hub.rooms();
        let room = rooms.get("r").expect("room");
        let held: usize = room.replay.iter().map(|(_, f)| f.len()).sum();
        assert_eq!(held, room.replay_bytes);
        assert!(held <= 64 * 1024, "{held} bytes kept");
        assert!(room.replay.len() >= 2, "the newest events are kept");
        assert_eq!(room.replay.back().map(|(seq, _)| *seq), Some(start + 200));
    }

    #[test]
    fn a_resume_older_than_the_buffer_gets_a_snapshot() {
        let hub = Hub::new(2);
        let (a, _rx_a) = Peer::new(16);
        let start = hub.join_local("r", &a, None, |_| None).last_seq;
        for n in 0..5 {
            hub.publish("r", presence(n));
        }
        let (b, mut rx_b) = Peer::new(16);
        let outcome = hub.join_local("r", &b, Some(start), |last| {
            Some(ServerMsg::Joined {
                last_seq: last + 1000,
            })
        });
        assert_eq!(outcome.catch_up, CatchUp::Snapshot);
        let frames = drain(&mut rx_b);
        assert_eq!(frames.len(), 2);
        assert!(
            matches!(frames[1].msg, ServerMsg::Joined { last_seq } if last_seq == start + 5 + 1000)
        );
    }

    #[test]
    fn a_slow_member_is_closed_and_others_keep_receiving() {
        let hub = Hub::new(64);
        let (slow, _rx_slow) = Peer::new(2);
        let (fast, mut rx_fast) = Peer::new(64);
        hub.join_local("r", &slow, None, |_| None);
        hub.join_local("r", &fast, None, |_| None);
        for n in 0..10 {
            hub.publish("r", presence(n));
        }
        assert!(slow.is_closing());
        assert!(!hub.is_member("r", slow.id));
        assert_eq!(drain(&mut rx_fast).len(), 11);
        assert!(!fast.is_closing());
    }

    #[test]
    fn rooms_disappear_when_empty_unless_held() {
        let hub = Arc::new(Hub::new(4));
        let (a, _rx) = Peer::new(4);
        hub.join_local("r", &a, None, |_| None);
        assert_eq!(hub.leave("r", a.id), Some(0));
        assert!(hub.room_sizes().is_empty());
        assert_eq!(hub.publish("r", presence(0)), None);

        let hold = hub.hold("r");
        assert!(hub.publish("r", presence(0)).is_some());
        hub.join_local("r", &a, None, |_| None);
        assert_eq!(hub.leave_all(a.id), vec![("r".to_owned(), 0)]);
        assert_eq!(hub.room_sizes(), vec![("r".to_owned(), 0)]);
        drop(hold);
        assert!(hub.room_sizes().is_empty());
    }

    #[test]
    fn ephemeral_events_skip_the_sender_and_take_no_sequence() {
        let hub = Hub::new(4);
        let (a, mut rx_a) = Peer::new(8);
        let (b, mut rx_b) = Peer::new(8);
        hub.join_local("r", &a, None, |_| None);
        hub.join_local("r", &b, None, |_| None);
        drain(&mut rx_a);
        drain(&mut rx_b);
        hub.send_ephemeral("r", presence(2), Some(a.id));
        assert!(drain(&mut rx_a).is_empty());
        let got = drain(&mut rx_b);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].seq, None);
    }
}
