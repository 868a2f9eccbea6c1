//! SQLite's write-ahead log is copied back into the database file (a checkpoint) by
//! whichever connection commits past 1,000 pages of log, right after its commit and
//! before that commit returns. A checkpoint syncs the log and the file, about 4 ms each
//! on this project's test machine: one chat turn in some thirty waited 8 ms more for
//! its first token, which was the warm paths' whole p99. The server's connections do
//! not checkpoint; a task on a connection of its own does, once a second and passively
//! (it copies what no reader still needs, waiting for nobody, and nobody waits for it).

use std::time::Duration;

use sqlx::{AnyConnection, Connection};
use tokio_util::sync::CancellationToken;

use super::Result;

const INTERVAL: Duration = Duration::from_secs(1);

/// The checkpointing task; it stops when this is dropped or stopped.
pub(super) struct WalCheckpoints {
    stop: CancellationToken,
}

impl WalCheckpoints {
    /// Opens the task's connection to the SQLite file at `url` and starts it.
    pub async fn start(url: &str) -> Result<Self> {
        let mut connection = AnyConnection::connect(url).await?;
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = stopped.cancelled() => break,
                    _ = ticks.tick() => {}
                }
                let done = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut connection)
                    .await;
                if let Err(e) = done {
                    tracing::warn!(error = %e, "could not checkpoint SQLite's write-ahead log");
                }
            }
            let _ = connection.close().await;
        });
        Ok(Self { stop })
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for WalCheckpoints {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
