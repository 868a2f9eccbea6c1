//! What several instances of the server share (SPEC §10), through Redis when `REDIS_URL`
//! is set: room events with cluster-wide sequence numbers ([`rooms`]), locks that expire
//! with the instance holding them ([`leases`]) and requests for whichever instance runs
//! something ([`signals`]). Without Redis none of this exists: each service works on its
//! own process's state, as a single instance always did.

mod census;
mod leases;
mod room_scripts;
mod room_writer;
mod rooms;
mod scripts;
mod signals;

use std::sync::{Arc, Weak};
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::prelude::{Builder, Client, Config, ReconnectPolicy};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use census::{Counts, HEARTBEAT};
pub use leases::Lease;
pub use rooms::{Accepted, RoomSink, with_seq};
pub use signals::Signal;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("REDIS_URL {url} is not a Redis URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot reach Redis at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("the cluster's background tasks have stopped")]
    Stopped,
    #[error("Redis did not answer in time")]
    Timeout,
}

/// How the shared state is kept.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSettings {
    /// Events each room's log keeps for clients that resume (`REPOWIKI_REPLAY_BUFFER`).
    pub room_log_len: usize,
    /// How long a lease outlives an instance that stopped renewing it.
    pub lease: Duration,
}

/// The connection to what instances share. One per process.
pub struct Cluster {
    commands: Client,
    subscriber: SubscriberClient,
    /// This process among the instances: the owner written into its leases.
    instance: Uuid,
    settings: ClusterSettings,
    outbox: mpsc::UnboundedSender<room_writer::Outgoing>,
    subscriptions: mpsc::UnboundedSender<rooms::SubscriptionChange>,
    signals: broadcast::Sender<Signal>,
}

/// Pub/sub messages buffered for this process's subscriber loop; a loop that falls
/// further behind catches up from the rooms' logs (see `rooms`).
const SUBSCRIBER_BUFFER: usize = 1 << 16;

/// How long `/ready` waits for Redis.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a lease operation waits for Redis before the question is refused.
pub(crate) const LEASE_TIMEOUT: Duration = Duration::from_secs(3);

impl Cluster {
    /// Connects to Redis and starts delivering room events to `sink`. Fails at once when
    /// Redis cannot be reached, so a misconfigured instance never starts half-shared.
    pub async fn connect(
        url: &str,
        settings: ClusterSettings,
        sink: Weak<dyn RoomSink>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, ClusterError> {
        let shown = without_credentials(url);
        let config = Config::from_url(url).map_err(|e| ClusterError::InvalidUrl {
            url: shown.clone(),
            reason: e.details().to_owned(),
        })?;
        let mut builder = Builder::from_config(config);
        builder
            .with_performance_config(|perf| perf.broadcast_channel_capacity = SUBSCRIBER_BUFFER)
            .with_connection_config(|conn| conn.connection_timeout = Duration::from_secs(3))
            // Reconnects for good, backing off to 5 s: a Redis restart must not need ours.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
        let commands = builder.build()?;
        let subscriber = builder.build_subscriber_client()?;
        let unreachable = |e: fred::error::Error| ClusterError::Unreachable {
            url: shown.clone(),
            reason: e.details().to_owned(),
        };
        commands.init().await.map_err(unreachable)?;
        subscriber.init().await.map_err(unreachable)?;
        // Channels subscribed before a reconnect are subscribed again after it.
        subscriber.manage_subscriptions();
        subscriber.subscribe(signals::CHANNEL).await?;

        let (outbox, outgoing) = mpsc::unbounded_channel();
        let (subscriptions, changes) = mpsc::unbounded_channel();
        let (signals, _) = broadcast::channel(256);
        let cluster = Arc::new(Self {
            commands,
            subscriber,
            instance: Uuid::new_v4(),
            settings,
            outbox,
            subscriptions,
            signals,
        });
        tokio::spawn(room_writer::write_events(
            Arc::clone(&cluster),
            outgoing,
            sink.clone(),
        ));
        tokio::spawn(rooms::manage_subscriptions(
            Arc::clone(&cluster),
            changes,
            sink.clone(),
        ));
        tokio::spawn(rooms::receive(
            Arc::clone(&cluster),
            sink,
            cluster.subscriber.message_rx(),
            cluster.subscriber.reconnect_rx(),
            shutdown,
        ));
        tracing::info!(redis = %shown, instance = %cluster.instance, "sharing rooms and locks through Redis");
        Ok(cluster)
    }

    /// This process among the instances.
    pub fn instance(&self) -> Uuid {
        self.instance
    }

    /// How long a lease outlives an instance that stopped renewing it.
    pub fn lease(&self) -> Duration {
        self.settings.lease
    }

    /// For `/ready`: Redis answers now. While Redis is away commands wait for it to
    /// come back; this one gives up after a moment.
    pub async fn ping(&self) -> Result<(), ClusterError> {
        match tokio::time::timeout(PING_TIMEOUT, self.commands.ping::<String>(None)).await {
            Ok(pong) => pong.map(drop).map_err(ClusterError::from),
            Err(_) => Err(ClusterError::Timeout),
        }
    }
}

/// Waits for a Redis command at most [`LEASE_TIMEOUT`]. While Redis is away commands
/// wait for it to come back; a caller serving a client (or holding a lock) must not.
pub(crate) async fn within<T>(
    command: impl std::future::Future<Output = Result<T, fred::error::Error>>,
) -> Result<T, ClusterError> {
    match tokio::time::timeout(LEASE_TIMEOUT, command).await {
        Ok(result) => result.map_err(ClusterError::from),
        Err(_) => Err(ClusterError::Timeout),
    }
}

/// The URL as it may be logged or shown: without user name or password.
pub fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("");
            parsed.to_string()
        }
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn credentials_never_reach_a_message() {
        assert_eq!(
            without_credentials("redis://user:secret@cache.internal:6380/2"),
            "redis://cache.internal:6380/2"
        );
        assert_eq!(
            without_credentials("redis://:secret@127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(without_credentials("not a url"), "(unparseable URL)");
    }
}
