//! `/wiki/job/{job_id}`: a wiki generation followed live. The server renders the job as
//! stored; after hydration `job_progress` events in the job's room move the bar, status
//! and buttons in place (keyboard focus on Pause survives), and a changed page count
//! re-reads the page list, whose rows are keyed so only changed ones are redrawn.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::client::{ChatClient, api, page_reads};
use crate::protocol::rest::{WikiJob, WikiJobPage};
use crate::protocol::{JobProgress, JobStatus, PageStatus, rooms};

fn phase_name(phase: u8) -> &'static str {
    match phase {
        0 => "Fetching and indexing the repository",
        1 => "Determining the wiki structure",
        2 => "Generating pages",
        _ => "Finished",
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let job_id = move || params.read().get("job_id").unwrap_or_default();
    let stored = Resource::new(job_id, page_reads::job);
    view! {
        <main id="main" class="mx-auto w-full max-w-3xl flex-1 overflow-y-auto px-4 py-6">
            <h1 class="text-2xl font-semibold">"Wiki generation"</h1>
            <Suspense fallback=|| {
                view! {
                    <p class="mt-4 text-sm text-stone-600 dark:text-stone-400">
                        "Loading the job…"
                    </p>
                }
            }>
                {move || Suspend::new(async move {
                    match stored.await {
                        Ok(job) => view! { <LiveJob job /> }.into_any(),
                        Err(e) => {
                            view! {
                                <p role="alert" class="mt-4 text-sm text-red-700 dark:text-red-400">
                                    {format!("The job could not be loaded: {e}")}
                                </p>
                                <a href="/projects" class="mt-2 inline-block text-sm underline">
                                    "Back to projects"
                                </a>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </main>
    }
}

/// The job as last read, with live progress merged in.
#[component]
fn LiveJob(job: WikiJob) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let id = job.job_id.clone();
    let project_id = job.project_id.clone();
    let details = format!("{} · {} · {}", job.provider, job.model, job.language);
    let job = RwSignal::new(job);
    let action_error = RwSignal::new(None::<String>);
    // Re-reads overtaken by a newer one are dropped.
    let reads = StoredValue::new(0u64);
    let job_id = StoredValue::new(id.clone());
    let reread = move || {
        let n = reads.try_update_value(|n| {
            *n += 1;
            *n
        });
        let Some(id) = job_id.try_get_value() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let result = page_reads::job(id).await;
            if n == reads.try_get_value()
                && let Ok(fresh) = result
            {
                job.try_set(fresh);
            }
        });
    };

    let room = rooms::job(&id);
    Effect::new({
        let room = room.clone();
        move |_| client.join(room.clone(), None)
    });
    on_cleanup(move || client.leave(room));
    Effect::new({
        let id = id.clone();
        move |_| {
            let Some(progress) = client.jobs.with(|jobs| jobs.get(&id).cloned()) else {
                return;
            };
            if merge(job, &progress) {
                reread();
            }
        }
    });

    let act = move |path: String| {
        leptos::task::spawn_local(async move {
            match api::post::<_, serde::de::IgnoredAny>(&path, &api::Empty {}).await {
                Ok(_) => {
                    action_error.set(None);
                    reread();
                }
                Err(e) => action_error.set(Some(e)),
            }
        });
    };
    let base = format!("/api/wiki/jobs/{}", api::encode(&id));
    let page_base = StoredValue::new(base.clone());
    let status = Memo::new(move |_| job.with(|j| j.status));
    let percent = Memo::new(move |_| job.with(|j| j.progress_percent.clamp(0.0, 100.0)));
    let pages = move || job.with(|j| j.pages.clone());
    let (pause, resume, cancel) = (
        format!("{base}/pause"),
        format!("{base}/resume"),
        format!("{base}/cancel"),
    );

    view! {
        <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">{details}</p>
        <section
            class="mt-5 rounded-2xl border border-stone-200 bg-white p-4 shadow-sm dark:border-stone-800 dark:bg-stone-900"
            aria-labelledby="progress-title"
        >
            <div class="flex items-baseline justify-between gap-2">
                <h2 id="progress-title" class="font-semibold">
                    {move || job.with(|j| phase_name(j.current_phase))}
                </h2>
                <span class="text-sm tabular-nums" data-testid="job-status">
                    {move || status.get().label()}
                </span>
            </div>
            <div
                class="mt-3 h-3 overflow-hidden rounded-full bg-stone-200 dark:bg-stone-800"
                role="progressbar"
                aria-label="Wiki generation progress"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || format!("{:.0}", percent.get())
            >
                <div
                    class="h-3 rounded-full bg-indigo-600 transition-[width] duration-300"
                    style=move || format!("width: {:.1}%", percent.get())
                ></div>
            </div>
            <p class="mt-2 text-sm">
                {move || {
                    job.with(|j| {
                        format!(
                            "{:.0}% · {} of {} pages · {} failed",
                            percent.get(),
                            j.completed_pages,
                            j.total_pages,
                            j.failed_pages,
                        )
                    })
                }}
            </p>
            <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">
                {move || job.with(|j| j.message.clone())}
            </p>
            {move || {
                job.with(|j| j.error.clone())
                    .map(|e| {
                        view! {
                            <p role="alert" class="mt-1 text-sm text-red-700 dark:text-red-400">
                                {e}
                            </p>
                        }
                    })
            }}
            <Show when=move || job.with(|j| j.structure_fallback)>
                <p class="mt-1 text-xs text-amber-800 dark:text-amber-300">
                    "The structure was derived from the repository layout (the model's answer did not parse)."
                </p>
            </Show>
            <div class="mt-3 flex flex-wrap gap-2 text-sm">
                <Show when=move || {
                    let s = status.get();
                    !s.is_final() && s != JobStatus::Paused
                }>
                    <JobAction label="Pause" path=pause.clone() act />
                </Show>
                <Show when=move || status.get() == JobStatus::Paused>
                    <JobAction label="Resume" path=resume.clone() act />
                </Show>
                <Show when=move || !status.get().is_final()>
                    <JobAction label="Cancel" path=cancel.clone() act danger=true />
                </Show>
                <Show when=move || status.get().is_final()>
                    <a
                        class="btn-secondary"
                        href=format!("/projects/{}/wiki", api::encode(&project_id))
                    >
                        "Open the wiki"
                    </a>
                </Show>
            </div>
            {move || {
                action_error
                    .get()
                    .map(|e| {
                        view! {
                            <p role="alert" class="mt-2 text-sm text-red-700 dark:text-red-400">
                                {e}
                            </p>
                        }
                    })
            }}
        </section>
        <section class="mt-5" aria-labelledby="pages-title">
            <h2 id="pages-title" class="font-semibold">
                "Pages"
            </h2>
            <Show
                when=move || job.with(|j| !j.pages.is_empty())
                fallback=|| {
                    view! {
                        <p class="mt-2 text-sm text-stone-600 dark:text-stone-400">
                            "The page list appears once the structure is known."
                        </p>
                    }
                }
            >
                <ul class="mt-2 flex flex-col divide-y divide-stone-200 rounded-2xl border border-stone-200 bg-white dark:divide-stone-800 dark:border-stone-800 dark:bg-stone-900">
                    <For
                        each=pages
                        key=|page| (page.page_id.clone(), page.status, page.error.clone())
                        let:page
                    >
                        <PageRow page base=page_base.get_value() act />
                    </For>
                </ul>
            </Show>
        </section>
    }
}

/// A button that posts to one of the job's control endpoints.
#[component]
fn JobAction(
    label: &'static str,
    path: String,
    act: impl Fn(String) + Copy + Send + Sync + 'static,
    #[prop(optional)] danger: bool,
) -> impl IntoView {
    let class = if danger {
        "btn-secondary text-red-700 dark:text-red-400"
    } else {
        "btn-secondary"
    };
    view! {
        <button type="button" class=class on:click=move |_| act(path.clone())>
            {label}
        </button>
    }
}

/// Merges live progress into the job; true when the page list needs reading again.
fn merge(job: RwSignal<WikiJob>, progress: &JobProgress) -> bool {
    let mut reread = false;
    job.update(|j| {
        reread = j.completed_pages != progress.completed_pages
            || j.failed_pages != progress.failed_pages
            || j.total_pages != progress.total_pages
            || j.status != progress.status;
        j.status = progress.status;
        j.current_phase = progress.current_phase;
        j.progress_percent = progress.progress_percent;
        j.message = progress.message.clone();
        j.total_pages = progress.total_pages;
        j.completed_pages = progress.completed_pages;
        j.failed_pages = progress.failed_pages;
        // The page being written says so before its count changes.
        if let Some(page_id) = &progress.page_id
            && !progress.status.is_final()
            && let Some(page) = j
                .pages
                .iter_mut()
                .find(|p| &p.page_id == page_id && p.status == PageStatus::Pending)
        {
            page.status = PageStatus::InProgress;
        }
    });
    reread
}

#[component]
fn PageRow(
    page: WikiJobPage,
    base: String,
    act: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let retry = format!("{base}/pages/{}/retry", api::encode(&page.page_id));
    let badge = match page.status {
        PageStatus::Completed => "text-emerald-700 dark:text-emerald-400",
        PageStatus::Failed => "text-red-700 dark:text-red-400",
        PageStatus::InProgress => "text-indigo-700 dark:text-indigo-300",
        PageStatus::Pending => "text-stone-600 dark:text-stone-400",
    };
    view! {
        <li class="flex flex-wrap items-center gap-2 px-3 py-2 text-sm" data-testid="job-page">
            <span class="min-w-0 flex-1">{page.title}</span>
            <span class=badge>{page.status.label()}</span>
            {(page.status == PageStatus::Failed)
                .then(|| {
                    view! {
                        <button
                            type="button"
                            class="btn-secondary"
                            on:click=move |_| act(retry.clone())
                        >
                            "Retry"
                        </button>
                    }
                })}
            {page
                .error
                .map(|e| {
                    view! { <p class="w-full text-xs text-red-700 dark:text-red-400">{e}</p> }
                })}
        </li>
    }
}
