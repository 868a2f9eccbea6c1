//! Locks shared by every instance that free themselves when their holder dies: a Redis
//! key written with `SET NX PX`, renewed while held and deleted on release, both only by
//! the holder (a script compares the owner token first), so a lease that expired and was
//! taken by another instance is never renewed or deleted by the old one.

use std::sync::Arc;
use std::time::Duration;

use fred::interfaces::KeysInterface;
use fred::types::{Expiration, SetOptions, Value};
use tokio::sync::oneshot;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use super::{Cluster, ClusterError, LEASE_TIMEOUT};

const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A held lease. Dropping it stops the renewal and releases it in the background;
/// [`Lease::release`] releases it before returning.
pub struct Lease {
    /// Stops the renewal task, which then releases the lease: the one place that does,
    /// so a [`Lease::release`] whose caller goes away half-way still releases it.
    renewal: Option<DropGuard>,
    /// Resolves once the renewal task has released the lease.
    released: Option<oneshot::Receiver<()>>,
    /// Set before the renewal stops when the key is gone already: no release then.
    forgotten: CancellationToken,
}

fn lease_key(name: &str) -> String {
    format!("repowiki:lease:{name}")
}

impl Cluster {
    /// Takes the lease `name` unless another holder has it; renews it every third of
    /// its duration until released.
    pub async fn acquire(self: &Arc<Self>, name: &str) -> Result<Option<Lease>, ClusterError> {
        let key = lease_key(name);
        let owner = format!("{}/{}", self.instance, Uuid::new_v4());
        let lease_ms = millis(self.settings.lease);
        let taken = self.commands.set::<Value, _, _>(
            &key,
            owner.as_str(),
            Some(Expiration::PX(lease_ms)),
            Some(SetOptions::NX),
            false,
        );
        let taken = tokio::time::timeout(LEASE_TIMEOUT, taken)
            .await
            .map_err(|_| ClusterError::Timeout)??;
        if taken.is_null() {
            return Ok(None);
        }
        Ok(Some(self.keep(key, owner)))
    }

    /// Renews `key`, already written with `owner` and this cluster's lease duration,
    /// until the returned lease is released.
    pub(super) fn keep(self: &Arc<Self>, key: String, owner: String) -> Lease {
        let stop = CancellationToken::new();
        let forgotten = CancellationToken::new();
        let (done, released) = oneshot::channel();
        tokio::spawn(renew(
            Arc::clone(self),
            key,
            owner,
            stop.clone(),
            forgotten.clone(),
            done,
        ));
        Lease {
            renewal: Some(stop.drop_guard()),
            released: Some(released),
            forgotten,
        }
    }

    /// Whether some instance holds the lease `name`.
    pub async fn is_held(&self, name: &str) -> Result<bool, ClusterError> {
        let held = self.commands.exists::<u32, _>(lease_key(name));
        let held = tokio::time::timeout(LEASE_TIMEOUT, held)
            .await
            .map_err(|_| ClusterError::Timeout)??;
        Ok(held > 0)
    }

    async fn release_lease(&self, key: &str, owner: &str) {
        let released: Result<i64, _> = self
            .run_script(RELEASE, vec![key.to_owned()], vec![owner.to_owned()])
            .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, key, "could not release a lease; it expires by itself");
        }
    }
}

impl Lease {
    /// Releases the lease now, so the next holder need not wait for it to expire.
    pub async fn release(mut self) {
        drop(self.renewal.take());
        if let Some(released) = self.released.take() {
            // An error means the task ended without releasing: the lease had expired.
            let _ = released.await;
        }
    }

    /// Stops renewing a lease whose key something else has deleted (a script that ended
    /// the ownership it stood for), without a release of its own.
    pub fn forget(self) {
        self.forgotten.cancel();
    }
}

async fn renew(
    cluster: Arc<Cluster>,
    key: String,
    owner: String,
    stop: CancellationToken,
    forgotten: CancellationToken,
    released: oneshot::Sender<()>,
) {
    let lease_ms = millis(cluster.settings.lease);
    let every = cluster.settings.lease / 3;
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                if !forgotten.is_cancelled() {
                    cluster.release_lease(&key, &owner).await;
                }
                let _ = released.send(());
                return;
            }
            _ = tokio::time::sleep(every) => {}
        }
        let renewed: Result<i64, _> = cluster
            .run_script(
                RENEW,
                vec![key.clone()],
                vec![owner.clone(), lease_ms.to_string()],
            )
            .await;
        match renewed {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(
                    key,
                    "a lease expired while held (this instance stalled); another instance may take over"
                );
                return;
            }
            Err(e) => tracing::warn!(error = %e, key, "could not renew a lease"),
        }
    }
}

pub(super) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
