//! Lua scripts run on the command connection without holding it. fred sends its own
//! `EVAL` alone and waits for the reply before writing the next command (a long script
//! must not hold the others up, and `EVALSHA` may fail in a pipeline); ours are a few
//! calls each, and every one of them — a lease given back at an answer's end, a room's
//! presence at each join — stopped the rooms' token events queued behind it for a round
//! trip. Sent as a custom command they are pipelined like any other.

use fred::interfaces::ClientLike;
use fred::types::{ClusterHash, CustomCommand, FromValue, Value};

use super::Cluster;

/// `EVAL` that may share the connection with the commands around it; its first key
/// (argument 2) picks the cluster node.
pub(super) fn pipelined_eval() -> CustomCommand {
    CustomCommand::new_static("EVAL", ClusterHash::Offset(2), false)
}

impl Cluster {
    /// Runs `script` (at least one key) and converts its reply.
    pub(super) async fn run_script<R: FromValue>(
        &self,
        script: &'static str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<R, fred::error::Error> {
        let mut arguments = Vec::with_capacity(2 + keys.len() + args.len());
        arguments.push(Value::from_static_str(script));
        arguments.push(Value::from(keys.len() as i64));
        arguments.extend(keys.into_iter().map(Value::from));
        arguments.extend(args.into_iter().map(Value::from));
        self.commands.custom(pipelined_eval(), arguments).await
    }
}
