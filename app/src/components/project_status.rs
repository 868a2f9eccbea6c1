//! How a project's index stands, drawn the same on the projects list and a project's own
//! page: its status badge, what kind of source it is, and the live bar of a run.

use leptos::prelude::*;

use crate::client::ChatClient;
use crate::protocol::rest::{ProjectKind, ProjectStatus};
use crate::protocol::rooms;

#[component]
pub fn StatusBadge(status: ProjectStatus) -> impl IntoView {
    let (label, colours) = match status {
        ProjectStatus::Indexing => (
            "Indexing",
            "bg-amber-100 text-amber-900 dark:bg-amber-900/50 dark:text-amber-200",
        ),
        ProjectStatus::Ready => (
            "Ready",
            "bg-emerald-100 text-emerald-900 dark:bg-emerald-900/50 dark:text-emerald-200",
        ),
        ProjectStatus::Failed => (
            "Failed",
            "bg-red-100 text-red-900 dark:bg-red-900/50 dark:text-red-200",
        ),
    };
    view! {
        <span class=format!("rounded-full px-2 py-0.5 text-xs font-medium {colours}")>{label}</span>
    }
}

/// A word for where a project's documents come from.
pub fn kind_label(kind: ProjectKind) -> &'static str {
    match kind {
        ProjectKind::Git => "git",
        ProjectKind::Local => "folder",
        ProjectKind::Upload => "uploads",
    }
}

/// An indexing run followed through its job room: phase and percent, no polling. When
/// it ends the list is read again, which redraws this project's card.
#[component]
pub fn IndexingProgress(job_id: String, reload: RwSignal<u64>) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let room = rooms::job(&job_id);
    Effect::new({
        let room = room.clone();
        move |_| client.join(room.clone(), None)
    });
    on_cleanup(move || client.leave(room));
    let progress = Memo::new(move |_| client.jobs.with(|jobs| jobs.get(&job_id).cloned()));
    Effect::new(move |_| {
        if progress.with(|p| p.as_ref().is_some_and(|p| p.is_final())) {
            reload.update(|n| *n += 1);
        }
    });
    let percent = move || {
        progress.with(|p| {
            p.as_ref()
                .map_or(0.0, |p| p.progress_percent.clamp(0.0, 100.0))
        })
    };
    let phase = move || {
        progress.with(|p| {
            p.as_ref()
                .map(|p| p.message.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "Waiting to start…".to_owned())
        })
    };
    view! {
        <div class="mt-2" data-testid="indexing-progress">
            <div class="flex justify-between gap-2 text-xs text-stone-600 dark:text-stone-400">
                <span class="truncate">{phase}</span>
                <span class="tabular-nums">{move || format!("{:.0}%", percent())}</span>
            </div>
            <div
                class="mt-1 h-2 overflow-hidden rounded-full bg-stone-200 dark:bg-stone-800"
                role="progressbar"
                aria-label="Indexing progress"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || format!("{:.0}", percent())
            >
                <div
                    class="h-2 rounded-full bg-amber-500 transition-[width] duration-300"
                    style=move || format!("width: {:.1}%", percent())
                ></div>
            </div>
        </div>
    }
}
