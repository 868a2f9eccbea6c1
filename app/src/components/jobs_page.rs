//! `/wiki/jobs`: every wiki job, newest first, filterable by project and status. The
//! server renders the list with its data (readable without JavaScript; the filter is a
//! plain GET form); after hydration each unfinished job's room is joined and its row
//! follows `job_progress` live, touching only that row.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::JobsFilter;
use crate::client::{ChatClient, page_reads};
use crate::protocol::rest::WikiJob;
use crate::protocol::{JobProgress, JobStatus, rooms};

#[component]
pub fn JobsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let query = query.read();
        let chosen = |name: &str| query.get(name).filter(|v| !v.trim().is_empty());
        JobsFilter {
            project_id: chosen("project"),
            status: chosen("status"),
        }
    };
    let jobs = Resource::new(filter, page_reads::jobs);

    view! {
        <main id="main" class="mx-auto w-full max-w-5xl overflow-y-auto px-4 py-6">
            <h1 class="text-2xl font-semibold tracking-tight">"Wiki jobs"</h1>
            {move || view! { <FilterForm filter=filter() /> }}
            <Suspense fallback=|| {
                view! { <p class="mt-6 text-stone-600 dark:text-stone-400">"Loading jobs…"</p> }
            }>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Ok(page) if page.items.is_empty() => {
                            view! {
                                <p class="mt-6 text-stone-600 dark:text-stone-400">
                                    "No wiki jobs match. Start one from a project's wiki page."
                                </p>
                            }
                                .into_any()
                        }
                        Ok(page) => view! { <JobTable jobs=page.items /> }.into_any(),
                        Err(e) => {
                            view! {
                                <p role="alert" class="mt-6 text-red-700 dark:text-red-400">
                                    {e}
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </main>
    }
}

/// A GET form: the filter lives in the URL, so it works without JavaScript and can be
/// bookmarked.
#[component]
fn FilterForm(filter: JobsFilter) -> impl IntoView {
    let status = filter.status.unwrap_or_default();
    let options = std::iter::once(("", "Any status"))
        .chain(JobStatus::ALL.iter().map(|s| (s.as_str(), s.label())))
        .map(|(value, label)| {
            view! {
                <option value=value selected=status == value>
                    {label}
                </option>
            }
        })
        .collect_view();
    view! {
        <form method="get" action="/wiki/jobs" class="mt-4 flex flex-wrap items-end gap-3 text-sm">
            <label class="flex flex-col gap-1">
                "Project"
                <input
                    name="project"
                    value=filter.project_id.unwrap_or_default()
                    placeholder="Any project"
                    class="rounded-lg border border-stone-300 bg-white px-2 py-1.5 dark:border-stone-600 dark:bg-stone-950"
                />
            </label>
            <label class="flex flex-col gap-1">
                "Status"
                <select
                    name="status"
                    class="rounded-lg border border-stone-300 bg-white px-2 py-1.5 dark:border-stone-600 dark:bg-stone-950"
                >
                    {options}
                </select>
            </label>
            <button
                type="submit"
                class="rounded-lg bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700"
            >
                "Filter"
            </button>
        </form>
    }
}

/// Jobs as rows; unfinished ones follow their rooms live while the table is shown.
#[component]
pub(super) fn JobTable(jobs: Vec<WikiJob>) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    // Unfinished jobs are followed live; their rooms are left with the page.
    let followed: Vec<String> = jobs
        .iter()
        .filter(|j| !j.status.is_final())
        .map(|j| rooms::job(&j.job_id))
        .collect();
    Effect::new({
        let followed = followed.clone();
        move |_| {
            for room in &followed {
                client.join(room.clone(), None);
            }
        }
    });
    on_cleanup(move || {
        for room in followed {
            client.leave(room);
        }
    });
    view! {
        // A narrow screen scrolls the table, not the page.
        <div class="mt-6 overflow-x-auto">
            <table class="w-full min-w-[36rem] text-left text-sm">
                <caption class="sr-only">"Wiki jobs, newest first"</caption>
                <thead class="border-b border-stone-200 text-stone-600 dark:border-stone-800 dark:text-stone-400">
                    <tr>
                        <th scope="col" class="py-2 pr-3 font-medium">
                            "Project"
                        </th>
                        <th scope="col" class="py-2 pr-3 font-medium">
                            "Status"
                        </th>
                        <th scope="col" class="py-2 pr-3 font-medium">
                            "Progress"
                        </th>
                        <th scope="col" class="py-2 pr-3 font-medium">
                            "Language · model"
                        </th>
                        <th scope="col" class="py-2 font-medium">
                            "Job"
                        </th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || jobs.clone() key=|job| job.job_id.clone() let:job>
                        <JobRow job />
                    </For>
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn JobRow(job: WikiJob) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let id = job.job_id.clone();
    let stored = JobProgress {
        job_id: job.job_id.clone(),
        status: job.status,
        current_phase: job.current_phase,
        progress_percent: job.progress_percent,
        message: job.message.clone(),
        page_id: None,
        page_title: None,
        total_pages: job.total_pages,
        completed_pages: job.completed_pages,
        failed_pages: job.failed_pages,
    };
    // The newest of what was stored and what the job's room has said since.
    let progress = Memo::new(move |_| {
        client
            .jobs
            .with(|live| live.get(&id).cloned())
            .unwrap_or_else(|| stored.clone())
    });
    let percent = move || progress.with(|p| p.progress_percent.clamp(0.0, 100.0));
    let pages = move || {
        progress.with(|p| {
            let mut text = format!("{} / {} pages", p.completed_pages, p.total_pages);
            if p.failed_pages > 0 {
                text.push_str(&format!(", {} failed", p.failed_pages));
            }
            text
        })
    };
    let href = format!("/wiki/job/{}", job.job_id);
    let wiki_href = format!("/projects/{}/wiki", job.project_id);
    view! {
        <tr
            class="border-b border-stone-100 align-top dark:border-stone-800"
            data-job-id=job.job_id.clone()
        >
            <td class="py-2 pr-3">
                <a href=wiki_href class="underline decoration-stone-300 hover:decoration-inherit">
                    {job.project_id.clone()}
                </a>
            </td>
            <td class="py-2 pr-3" data-testid="job-status">
                {move || progress.with(|p| p.status.label())}
            </td>
            <td class="py-2 pr-3">
                <progress
                    class="h-2 w-32 align-middle"
                    max="100"
                    value=move || percent().to_string()
                    aria-label="Progress"
                ></progress>
                <span class="ml-2 tabular-nums">{move || format!("{:.0} %", percent())}</span>
                <div class="text-xs text-stone-600 dark:text-stone-400">{pages}</div>
            </td>
            <td class="py-2 pr-3">{format!("{} · {}", job.language, job.model)}</td>
            <td class="py-2">
                <a href=href class="text-indigo-700 underline dark:text-indigo-300">
                    "Open"
                </a>
            </td>
        </tr>
    }
}
