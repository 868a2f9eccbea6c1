//! `/wiki/job/{job_id}`: a wiki generation followed live. The job as stored
//! (`GET /api/wiki/jobs/{id}`) is the truth after a reload; `job_progress` events in the
//! job's room move the bar between reads, and each finished page triggers a fresh read of
//! the page list.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::client::{ChatClient, api};
use crate::protocol::rest::WikiJob;
use crate::protocol::{JobStatus, PageStatus, rooms};

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
    let client = expect_context::<ChatClient>();
    let params = use_params_map();
    let job_id = move || params.read().get("job_id").unwrap_or_default();
    let job = RwSignal::new(None::<Result<WikiJob, String>>);
    let refresh = RwSignal::new(0u64);
    let action_error = RwSignal::new(None::<String>);

    Effect::new(move |_| {
        let id = job_id();
        refresh.track();
        leptos::task::spawn_local(async move {
            let result = api::get::<WikiJob>(&format!("/api/wiki/jobs/{}", api::encode(&id))).await;
            // A failed re-read keeps what is shown; only the first read shows the error.
            if result.is_ok() || job.try_with_untracked(|j| !matches!(j, Some(Ok(_)))) == Some(true)
            {
                job.set(Some(result));
            }
        });
    });
    // The room joined, kept outside the reactive system so that cleanup can still read it.
    let joined = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    Effect::new({
        let joined = joined.clone();
        move |_| {
            let room = rooms::job(&job_id());
            if let Ok(mut j) = joined.lock()
                && j.as_deref() != Some(room.as_str())
            {
                if let Some(prev) = j.replace(room.clone()) {
                    client.leave(prev);
                }
                client.job.set(None);
                client.join(room, None);
            }
        }
    });
    on_cleanup(move || {
        if let Some(room) = joined.lock().ok().and_then(|mut j| j.take()) {
            client.leave(room);
        }
    });

    // Live progress: merged into the stored job; a changed page count re-reads the pages.
    Effect::new(move |_| {
        let Some(p) = client.job.get() else { return };
        if p.job_id != job_id() {
            return;
        }
        let mut reread = false;
        job.update(|j| {
            if let Some(Ok(j)) = j {
                reread = j.completed_pages != p.completed_pages
                    || j.failed_pages != p.failed_pages
                    || j.total_pages != p.total_pages
                    || j.status != p.status;
                j.status = p.status;
                j.current_phase = p.current_phase;
                j.progress_percent = p.progress_percent;
                j.message = p.message.clone();
                j.total_pages = p.total_pages;
                j.completed_pages = p.completed_pages;
                j.failed_pages = p.failed_pages;
            }
        });
        if reread {
            refresh.update(|n| *n += 1);
        }
    });

    let act = move |path: String| {
        leptos::task::spawn_local(async move {
            match api::post::<_, serde::de::IgnoredAny>(&path, &api::Empty {}).await {
                Ok(_) => {
                    action_error.set(None);
                    refresh.update(|n| *n += 1);
                }
                Err(e) => action_error.set(Some(e)),
            }
        });
    };

    view! {
        <main id="main" class="mx-auto w-full max-w-3xl flex-1 overflow-y-auto px-4 py-6">
            <h1 class="text-2xl font-semibold">"Wiki generation"</h1>
            {move || match job.get() {
                None => {
                    view! {
                        <p class="mt-4 text-sm text-stone-600 dark:text-stone-400">
                            "Loading the job…"
                        </p>
                    }
                        .into_any()
                }
                Some(Err(e)) => {
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
                Some(Ok(j)) => {
                    let id = j.job_id.clone();
                    let base = format!("/api/wiki/jobs/{}", api::encode(&id));
                    let running = !j.status.is_final() && j.status != JobStatus::Paused;
                    let paused = j.status == JobStatus::Paused;
                    let finished = j.status.is_final();
                    let percent = j.progress_percent.clamp(0.0, 100.0);
                    let (b1, b2, b3) = (base.clone(), base.clone(), base.clone());
                    view! {
                        <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">
                            {format!("{} · {} · {}", j.provider, j.model, j.language)}
                        </p>
                        <section
                            class="mt-5 rounded-2xl border border-stone-200 bg-white p-4 shadow-sm dark:border-stone-800 dark:bg-stone-900"
                            aria-labelledby="progress-title"
                        >
                            <div class="flex items-baseline justify-between gap-2">
                                <h2 id="progress-title" class="font-semibold">
                                    {phase_name(j.current_phase)}
                                </h2>
                                <span class="text-sm tabular-nums" data-testid="job-status">
                                    {j.status.label()}
                                </span>
                            </div>
                            <div
                                class="mt-3 h-3 overflow-hidden rounded-full bg-stone-200 dark:bg-stone-800"
                                role="progressbar"
                                aria-label="Wiki generation progress"
                                aria-valuemin="0"
                                aria-valuemax="100"
                                aria-valuenow=format!("{percent:.0}")
                            >
                                <div
                                    class="h-3 rounded-full bg-indigo-600 transition-[width] duration-300"
                                    style=format!("width: {percent:.1}%")
                                ></div>
                            </div>
                            <p class="mt-2 text-sm">
                                {format!(
                                    "{percent:.0}% · {} of {} pages · {} failed",
                                    j.completed_pages,
                                    j.total_pages,
                                    j.failed_pages,
                                )}
                            </p>
                            <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">
                                {j.message.clone()}
                            </p>
                            {j
                                .error
                                .clone()
                                .map(|e| {
                                    view! {
                                        <p
                                            role="alert"
                                            class="mt-1 text-sm text-red-700 dark:text-red-400"
                                        >
                                            {e}
                                        </p>
                                    }
                                })}
                            {j
                                .structure_fallback
                                .then(|| {
                                    view! {
                                        <p class="mt-1 text-xs text-amber-800 dark:text-amber-300">
                                            "The structure was derived from the repository layout (the model's answer did not parse)."
                                        </p>
                                    }
                                })}
                            <div class="mt-3 flex flex-wrap gap-2 text-sm">
                                {running
                                    .then(|| {
                                        view! {
                                            <button
                                                type="button"
                                                class="btn-secondary"
                                                on:click=move |_| act(format!("{b1}/pause"))
                                            >
                                                "Pause"
                                            </button>
                                        }
                                    })}
                                {paused
                                    .then(|| {
                                        view! {
                                            <button
                                                type="button"
                                                class="btn-secondary"
                                                on:click=move |_| act(format!("{b2}/resume"))
                                            >
                                                "Resume"
                                            </button>
                                        }
                                    })}
                                {(!finished)
                                    .then(|| {
                                        view! {
                                            <button
                                                type="button"
                                                class="btn-secondary text-red-700 dark:text-red-400"
                                                on:click=move |_| act(format!("{b3}/cancel"))
                                            >
                                                "Cancel"
                                            </button>
                                        }
                                    })}
                                {finished
                                    .then(|| {
                                        view! {
                                            <a
                                                class="btn-secondary"
                                                href=format!(
                                                    "/projects/{}/wiki",
                                                    api::encode(&j.project_id),
                                                )
                                            >
                                                "Open the wiki"
                                            </a>
                                        }
                                    })}
                            </div>
                            {move || {
                                action_error
                                    .get()
                                    .map(|e| {
                                        view! {
                                            <p
                                                role="alert"
                                                class="mt-2 text-sm text-red-700 dark:text-red-400"
                                            >
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
                            {if j.pages.is_empty() {
                                view! {
                                    <p class="mt-2 text-sm text-stone-600 dark:text-stone-400">
                                        "The page list appears once the structure is known."
                                    </p>
                                }
                                    .into_any()
                            } else {
                                view! {
                                    <ul class="mt-2 flex flex-col divide-y divide-stone-200 rounded-2xl border border-stone-200 bg-white dark:divide-stone-800 dark:border-stone-800 dark:bg-stone-900">
                                        {j
                                            .pages
                                            .into_iter()
                                            .map(|page| {
                                                let retry = format!(
                                                    "{base}/pages/{}/retry",
                                                    api::encode(&page.page_id),
                                                );
                                                let failed = page.status == PageStatus::Failed;
                                                let badge = match page.status {
                                                    PageStatus::Completed => {
                                                        "text-emerald-700 dark:text-emerald-400"
                                                    }
                                                    PageStatus::Failed => "text-red-700 dark:text-red-400",
                                                    PageStatus::InProgress => {
                                                        "text-indigo-700 dark:text-indigo-300"
                                                    }
                                                    PageStatus::Pending => "text-stone-600 dark:text-stone-400",
                                                };
                                                view! {
                                                    <li
                                                        class="flex flex-wrap items-center gap-2 px-3 py-2 text-sm"
                                                        data-testid="job-page"
                                                    >
                                                        <span class="min-w-0 flex-1">{page.title}</span>
                                                        <span class=badge>{page.status.label()}</span>
                                                        {failed
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
                                                                view! {
                                                                    <p class="w-full text-xs text-red-700 dark:text-red-400">
                                                                        {e}
                                                                    </p>
                                                                }
                                                            })}
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }}
                        </section>
                    }
                        .into_any()
                }
            }}
        </main>
    }
}
