//! The latest progress of every job that reported any, so a client that subscribes late
//! first gets the current state. Progress is stored here before it is published, so a
//! subscriber that joins in between sees it at most twice, never not at all.

use std::collections::HashMap;
use std::sync::Mutex;

use app::protocol::{JobProgress, ServerMsg, rooms};

use crate::realtime::Hub;

/// Jobs remembered for late subscribers. Beyond this the oldest finished job is dropped,
/// or, when none has finished, the one silent longest: anyone may post progress for any
/// job id, and that must not grow memory without bound.
const KEEP_JOBS: usize = 2048;

#[derive(Default)]
pub struct JobBoard {
    latest: Mutex<HashMap<String, (u64, JobProgress)>>,
    counter: Mutex<u64>,
}

impl JobBoard {
    pub fn publish(&self, hub: &Hub, progress: JobProgress) -> Option<u64> {
        let order = {
            let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            *counter += 1;
            *counter
        };
        {
            let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
            latest.insert(progress.job_id.clone(), (order, progress.clone()));
            if latest.len() > KEEP_JOBS {
                let evicted = latest
                    .iter()
                    .min_by_key(|(_, (order, p))| (!p.is_final(), *order))
                    .map(|(id, _)| id.clone());
                if let Some(id) = evicted {
                    latest.remove(&id);
                }
            }
        }
        hub.publish(
            &rooms::job(&progress.job_id),
            ServerMsg::JobProgress(progress),
        )
    }

    pub fn latest(&self, job_id: &str) -> Option<JobProgress> {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(job_id)
            .map(|(_, p)| p.clone())
    }
}
