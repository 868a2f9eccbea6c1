//! Per-client limits on sockets: how many may be open at once, and how fast one may
//! send. A client is its API key when auth is on, else its IP address. With several
//! instances the number of sockets is counted over all of them.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use std::time::Duration;

use governor::clock::{Clock, DefaultClock};

use crate::cluster::Cluster;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

pub struct ConnectionLimiter {
    max_per_client: usize,
    open: Mutex<HashMap<String, usize>>,
    /// Set once at start when instances share their counts.
    cluster: OnceLock<Arc<Cluster>>,
}

impl ConnectionLimiter {
    pub fn new(max_per_client: usize) -> Arc<Self> {
        Arc::new(Self {
            max_per_client: max_per_client.max(1),
            open: Mutex::new(HashMap::new()),
            cluster: OnceLock::new(),
        })
    }

    /// Counts every instance's sockets from now on. Called once, at start.
    pub fn attach(&self, cluster: Arc<Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// A slot for one more socket of `client`, or None if it already has the maximum
    /// (on every instance together, with several). The slot is given back when dropped.
    pub async fn acquire(self: &Arc<Self>, client: String) -> Option<ConnectionSlot> {
        let mut slot = self.acquire_here(client)?;
        if let Some(cluster) = self.cluster.get() {
            match cluster
                .take_client_slot(&slot.client, self.max_per_client)
                .await
            {
                Ok(true) => slot.shared = true,
                Ok(false) => return None,
                // Redis away: the limit on this instance still holds.
                Err(e) => tracing::warn!(error = %e, "could not count a socket across instances"),
            }
        }
        Some(slot)
    }

    fn acquire_here(self: &Arc<Self>, client: String) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(client.clone()).or_insert(0);
        if *count >= self.max_per_client {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            limiter: Arc::clone(self),
            client,
            shared: false,
        })
    }

    /// Open sockets in total.
    pub fn total(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum()
    }
}

pub struct ConnectionSlot {
    limiter: Arc<ConnectionLimiter>,
    client: String,
    /// Counted across instances too.
    shared: bool,
}

impl ConnectionSlot {
    /// Whom the connection speaks for: `key:…` or `ip:…`.
    pub fn client(&self) -> &str {
        &self.client
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if self.shared
            && let Some(cluster) = self.limiter.cluster.get()
        {
            cluster.give_back_client_slot(&self.client);
        }
        let mut open = self.limiter.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// What to do with one incoming frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Refuse this frame with an error event.
    Refuse,
    /// The client keeps flooding: close the connection.
    Disconnect,
}

/// A connection's message budget: `per_sec` frames a second with bursts of twice that.
/// A client over budget is told so for each refused frame; one refused more than a
/// burst's worth within ten seconds is disconnected, however its frames are spaced (a
/// steady flood just above the rate keeps getting some through, and must still end).
pub struct FrameBudget<C: Clock = DefaultClock> {
    frames: DirectLimiter<C>,
    refusals: DirectLimiter<C>,
}

type DirectLimiter<C> =
    RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The window over which refusals are counted.
const REFUSAL_WINDOW: Duration = Duration::from_secs(10);

impl FrameBudget {
    pub fn new(per_sec: u32) -> Self {
        // One clock for every connection: making one queries the CPU for its timer
        // (`cpuid`, which traps to the hypervisor in a virtual machine), and sockets
        // that open for one answer made one each.
        static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);
        Self::with_clock(per_sec, CLOCK.clone())
    }
}

impl<C: Clock + Clone> FrameBudget<C> {
    fn with_clock(per_sec: u32, clock: C) -> Self {
        let rate = NonZeroU32::new(per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = rate.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        let refusals = Quota::with_period(REFUSAL_WINDOW / burst.get())
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        Self {
            frames: RateLimiter::direct_with_clock(
                Quota::per_second(rate).allow_burst(burst),
                clock.clone(),
            ),
            refusals: RateLimiter::direct_with_clock(refusals, clock),
        }
    }

    pub fn check(&mut self) -> Verdict {
        if self.frames.check().is_ok() {
            Verdict::Accept
        } else if self.refusals.check().is_ok() {
            Verdict::Refuse
        } else {
            Verdict::Disconnect
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[tokio::test]
    async fn slots_are_limited_per_client_and_given_back() {
        let limiter = ConnectionLimiter::new(2);
        let a1 = limiter.acquire("a".into()).await;
        let a2 = limiter.acquire("a".into()).await;
        assert!(a1.is_some() && a2.is_some());
        assert!(limiter.acquire("a".into()).await.is_none());
        assert!(limiter.acquire("b".into()).await.is_some());
        drop(a1);
        assert!(limiter.acquire("a".into()).await.is_some());
    }

    #[test]
    fn a_flood_is_refused_then_disconnected() {
        let mut budget = FrameBudget::new(5);
        let verdicts: Vec<_> = (0..40).map(|_| budget.check()).collect();
        assert!(verdicts[..10].iter().all(|v| *v == Verdict::Accept));
        assert_eq!(verdicts[10], Verdict::Refuse);
        assert_eq!(verdicts.last(), Some(&Verdict::Disconnect));
    }

    #[test]
    fn a_steady_flood_just_over_the_rate_is_disconnected_too() {
        // Each accepted frame used to forgive the refusals before it, so a client sending
        // a little faster than allowed was refused forever and never closed.
        let clock = FakeRelativeClock::default();
        let mut budget = FrameBudget::with_clock(5, clock.clone());
        let mut verdicts = Vec::new();
        // Twice the allowed rate, for at most a minute.
        for _ in 0..600 {
            verdicts.push(budget.check());
            if verdicts.last() == Some(&Verdict::Disconnect) {
                break;
            }
            clock.advance(Duration::from_millis(100));
        }
        assert!(verdicts.contains(&Verdict::Accept) && verdicts.contains(&Verdict::Refuse));
        assert_eq!(verdicts.last(), Some(&Verdict::Disconnect));

        // At the allowed rate nothing is ever refused.
        let clock = FakeRelativeClock::default();
        let mut budget = FrameBudget::with_clock(5, clock.clone());
        for _ in 0..600 {
            assert_eq!(budget.check(), Verdict::Accept);
            clock.advance(Duration::from_millis(200));
        }
    }
}
