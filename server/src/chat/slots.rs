//! How many answers run at once: at most `total` on this server and `per_client` for any
//! one client (API key, or IP address when auth is off). A question over either limit
//! waits its turn (its room is told `message_waiting {reason: "queued"}`), and only when
//! `max_waiting` questions already wait is one refused outright.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Clients remembered before idle ones are forgotten (their limits are full again anyway).
const FORGET_ABOVE: usize = 1024;

pub struct AnswerSlots {
    total: Arc<Semaphore>,
    per_client: usize,
    clients: Mutex<HashMap<String, Arc<Semaphore>>>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

/// A place in line, taken when the question is accepted.
pub struct Ticket {
    total: Arc<Semaphore>,
    client: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

/// The right to run one answer; given back when dropped.
pub struct Running {
    _total: OwnedSemaphorePermit,
    _client: OwnedSemaphorePermit,
}

impl AnswerSlots {
    pub fn new(total: usize, per_client: usize, max_waiting: usize) -> Self {
        Self {
            total: Arc::new(Semaphore::new(total.max(1))),
            per_client: per_client.max(1),
            clients: Mutex::new(HashMap::new()),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
        }
    }

    /// A ticket for `client`, or None when the line is full.
    pub fn enqueue(&self, client: &str) -> Option<Ticket> {
        let taken = self.waiting.fetch_add(1, Ordering::AcqRel);
        if taken >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let client = {
            let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            // Clients with nothing running or waiting are forgotten, now and then rather
            // than on every question (a scan of every client).
            if clients.len() > FORGET_ABOVE {
                clients.retain(|_, s| Arc::strong_count(s) > 1);
            }
            Arc::clone(
                clients
                    .entry(client.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_client))),
            )
        };
        Some(Ticket {
            total: Arc::clone(&self.total),
            client,
            waiting: Arc::clone(&self.waiting),
        })
    }

    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

impl Ticket {
    /// Runs at once when both limits allow.
    pub fn try_run(&self) -> Option<Running> {
        let client = Arc::clone(&self.client).try_acquire_owned().ok()?;
        let total = Arc::clone(&self.total).try_acquire_owned().ok()?;
        Some(Running {
            _total: total,
            _client: client,
        })
    }

    /// Waits for both limits, the client's first, so one busy client does not hold
    /// server-wide places while it waits for its own. None only if the limits were
    /// closed, which they never are.
    pub async fn run(self) -> Option<Running> {
        let client = Arc::clone(&self.client).acquire_owned().await.ok()?;
        let total = Arc::clone(&self.total).acquire_owned().await.ok()?;
        Some(Running {
            _total: total,
            _client: client,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_wait_for_a_place_per_client_and_in_total() {
        let slots = AnswerSlots::new(3, 2, 10);
        let a1 = slots.enqueue("a").unwrap().try_run().expect("first of a");
        let a2 = slots.enqueue("a").unwrap().try_run().expect("second of a");
        let a3 = slots.enqueue("a").unwrap();
        assert!(a3.try_run().is_none(), "a third answer of a waits");
        let b1 = slots
            .enqueue("b")
            .unwrap()
            .try_run()
            .expect("b has its own limit");
        let c1 = slots.enqueue("c").unwrap();
        assert!(c1.try_run().is_none(), "the server-wide limit holds");
        drop(a1);
        // a's place is free and the total too: a's third answer runs.
        let a3 = tokio::time::timeout(std::time::Duration::from_secs(5), a3.run())
            .await
            .expect("runs once a place is free")
            .expect("limits are open");
        drop((a2, a3, b1));
        assert!(c1.try_run().is_some());
    }

    #[test]
    fn the_line_is_bounded() {
        let slots = AnswerSlots::new(1, 1, 2);
        let first = slots.enqueue("a");
        let second = slots.enqueue("a");
        assert!(first.is_some() && second.is_some());
        assert!(slots.enqueue("b").is_none());
        drop(first);
        let third = slots.enqueue("b");
        assert!(third.is_some());
        assert_eq!(slots.waiting(), 2);
    }
}
