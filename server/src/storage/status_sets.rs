//! Sets of job statuses in queries. Each set is bound as parameters, never spliced into
//! the SQL: `status IN ($k, …, $k+4)` always has [`SLOTS`] placeholders, and a smaller set
//! repeats its last member, so every query stays one fixed text.

use app::protocol::JobStatus;
use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs};

/// Placeholders of every `status IN (…)` list: the largest set we match (the statuses a
/// job can be cancelled from).
pub const SLOTS: usize = 5;

/// Wiki jobs that are still under way, paused ones included: what cancel acts on.
pub const WIKI_CANCELLABLE: [JobStatus; 5] = [
    JobStatus::Queued,
    JobStatus::Preparing,
    JobStatus::GeneratingStructure,
    JobStatus::GeneratingPages,
    JobStatus::Paused,
];

/// Wiki jobs that ended on their own (not cancelled): a retried page reopens them.
pub const WIKI_REOPENABLE: [JobStatus; 3] = [
    JobStatus::Completed,
    JobStatus::PartiallyCompleted,
    JobStatus::Failed,
];

pub trait BindStatuses: Sized {
    fn bind_text(self, text: &'static str) -> Self;

    /// Binds `set` into the next [`SLOTS`] placeholders. An empty set matches nothing:
    /// no status is the empty text.
    fn bind_statuses(self, set: &[JobStatus]) -> Self {
        (0..SLOTS).fold(self, |query, slot| {
            let status = set.get(slot).or(set.last());
            query.bind_text(status.map_or("", |s| s.as_str()))
        })
    }
}

impl<'q> BindStatuses for Query<'q, Any, AnyArguments<'q>> {
    fn bind_text(self, text: &'static str) -> Self {
        self.bind(text)
    }
}

impl<'q, O> BindStatuses for QueryAs<'q, Any, O, AnyArguments<'q>> {
    fn bind_text(self, text: &'static str) -> Self {
        self.bind(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_fits_the_slots() {
        assert!(WIKI_CANCELLABLE.len() <= SLOTS);
        assert!(JobStatus::WIKI_RUNNING.len() <= SLOTS);
        assert!(WIKI_REOPENABLE.len() <= SLOTS);
    }
}
