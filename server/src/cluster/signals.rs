//! Requests for whichever instance runs something, e.g. "stop the answer in this
//! conversation" sent to an instance that is not running it. Every instance receives
//! every signal and acts on those that concern it.

use fred::interfaces::PubsubInterface;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{Cluster, ClusterError, within};

pub(super) const CHANNEL: &str = "repowiki:signals";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    /// Stop the answer being generated in the conversation.
    StopAnswer { conversation_id: Uuid },
    /// Cancel the project's indexing job.
    CancelIndexing { project_id: String },
}

impl Cluster {
    /// Sends the signal to every instance, this one included.
    pub async fn signal(&self, signal: &Signal) -> Result<(), ClusterError> {
        let text = serde_json::to_string(signal).unwrap_or_default();
        let _: i64 = within(self.commands.publish(CHANNEL, text)).await?;
        Ok(())
    }

    /// Signals as they arrive.
    pub fn signals(&self) -> broadcast::Receiver<Signal> {
        self.signals.subscribe()
    }

    pub(super) fn forward_signal(&self, text: &str) {
        match serde_json::from_str::<Signal>(text) {
            // Nobody listening is fine: nothing here runs anything.
            Ok(signal) => drop(self.signals.send(signal)),
            Err(e) => tracing::warn!(error = %e, "an unreadable signal was skipped"),
        }
    }
}
