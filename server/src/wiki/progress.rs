//! A job's progress in seed 002's terms, computed from what is stored, so it is the same
//! whichever process runs the job and survives restarts. Phases and percent ranges:
//! 0 fetch and index (0–10 %), 1 structure (10–20 %), 2 pages (20–100 %), 3 done.

use app::protocol::rest::{WikiJob, WikiJobPage};
use app::protocol::{JobProgress, JobStatus};

use crate::storage::wiki_jobs::WikiJobRow;
use crate::storage::wiki_pages::{PageCounts, WikiPageRow};

pub fn percent(status: JobStatus, phase: i64, counts: PageCounts) -> f32 {
    if matches!(status, JobStatus::Completed | JobStatus::PartiallyCompleted) {
        return 100.0;
    }
    match phase {
        0 => 2.0,
        1 => 10.0,
        _ if counts.total == 0 => 20.0,
        _ => {
            let done = (counts.completed + counts.failed) as f32 / counts.total as f32;
            // Rounded to a tenth: the seed's clients show one decimal.
            ((20.0 + 80.0 * done).min(100.0) * 10.0).round() / 10.0
        }
    }
}

pub fn job_progress(
    row: &WikiJobRow,
    counts: PageCounts,
    page: Option<(&str, &str)>,
) -> JobProgress {
    JobProgress {
        job_id: row.id.clone(),
        status: row.status,
        current_phase: row.current_phase.clamp(0, 3) as u8,
        progress_percent: percent(row.status, row.current_phase, counts),
        message: row.message.clone(),
        page_id: page.map(|(id, _)| id.to_owned()),
        page_title: page.map(|(_, title)| title.to_owned()),
        total_pages: counts.total,
        completed_pages: counts.completed,
        failed_pages: counts.failed,
    }
}

pub fn wiki_job(row: &WikiJobRow, counts: PageCounts, pages: &[WikiPageRow]) -> WikiJob {
    WikiJob {
        job_id: row.id.clone(),
        project_id: row.project_id.clone(),
        status: row.status,
        current_phase: row.current_phase.clamp(0, 3) as u8,
        progress_percent: percent(row.status, row.current_phase, counts),
        message: row.message.clone(),
        total_pages: counts.total,
        completed_pages: counts.completed,
        failed_pages: counts.failed,
        language: row.language.clone(),
        provider: row.provider.clone(),
        model: row.model.clone(),
        comprehensive: row.comprehensive != 0,
        structure_fallback: row.structure_fallback != 0,
        error: row.error.clone(),
        created_at: row.created_at.max(0) as u64,
        updated_at: row.updated_at.max(0) as u64,
        pages: pages
            .iter()
            .map(|p| WikiJobPage {
                page_id: p.page_id.clone(),
                title: p.title.clone(),
                status: p.status,
                attempts: p.attempts.clamp(0, i64::from(u32::MAX)) as u32,
                error: p.error.clone(),
            })
            .collect(),
    }
}
