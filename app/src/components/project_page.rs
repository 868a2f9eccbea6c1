//! `/projects/{id}`: one project in full. What it was built from and how its last index
//! went, a live bar while it indexes, its wikis and wiki jobs, and every document it
//! holds, each opening in the source view. Server-rendered with its data; after
//! hydration the document list filters as you type.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::jobs_page::JobTable;
use super::project_status::{IndexingProgress, StatusBadge, kind_label};
use super::reindex_control::ReindexControl;
use super::wiki_start::WikiStart;
use crate::JobsFilter;
use crate::client::{ChatClient, api, page_reads};
use crate::protocol::JobStatus;
use crate::protocol::rest::{DocumentInfo, Project, ProjectKind, ProjectStatus, WikiJob};

/// Rows the document list shows before the reader narrows it with the filter: a
/// repository of thousands of files still renders quickly.
const SHOWN_DOCUMENTS: usize = 300;

#[component]
pub fn ProjectPage() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let params = use_params_map();
    let project_id = move || params.read().get("id").unwrap_or_default();
    // Read again when a run ends or this page changes the project.
    let reload = RwSignal::new(0u64);
    let project = Resource::new(
        move || {
            client.project_changed.track();
            (project_id(), reload.get())
        },
        |(id, _)| page_reads::project(id),
    );
    let jobs = Resource::new(
        move || (project_id(), reload.get()),
        |(id, _)| {
            page_reads::jobs(JobsFilter {
                project_id: Some(id),
                status: None,
            })
        },
    );
    let documents = Resource::new(
        move || (project_id(), reload.get()),
        |(id, _)| page_reads::documents(id),
    );

    view! {
        <main id="main" class="mx-auto w-full max-w-5xl flex-1 overflow-y-auto px-4 py-6">
            <p class="text-sm">
                <a class="text-indigo-700 underline dark:text-indigo-300" href="/projects">
                    "All projects"
                </a>
            </p>
            <Transition fallback=|| {
                view! {
                    <p class="mt-4 text-sm text-stone-600 dark:text-stone-400">
                        "Loading the project…"
                    </p>
                }
            }>
                {move || Suspend::new(async move {
                    let (project, jobs, documents) = (project.await, jobs.await, documents.await);
                    match project {
                        Ok(project) => {
                            let id = project.id.clone();
                            view! {
                                <Overview project reload />
                                <Wikis jobs project_id=id.clone() />
                                <Documents documents project_id=id />
                            }
                                .into_any()
                        }
                        Err(e) => {
                            view! {
                                <h1 class="mt-2 text-2xl font-semibold">"Project"</h1>
                                <p role="alert" class="mt-4 text-sm text-red-700 dark:text-red-400">
                                    {format!("The project could not be shown: {e}")}
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </main>
    }
}

/// Name, source, counts, the last run's report, and what can be done with the project.
#[component]
fn Overview(project: Project, reload: RwSignal<u64>) -> impl IntoView {
    let navigate = use_navigate();
    let error = RwSignal::new(None::<String>);
    let enc = api::encode(&project.id);
    let delete = {
        let path = format!("/api/projects/{enc}");
        move |_| {
            let path = path.clone();
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                match api::send_empty("DELETE", &path).await {
                    Ok(()) => navigate("/projects", Default::default()),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let indexing = (project.status == ProjectStatus::Indexing)
        .then(|| project.job_id.clone())
        .flatten()
        .map(|job_id| view! { <IndexingProgress job_id reload /> });
    let source = project.source.clone().map(|source| {
        let branch = project.branch.clone().map(|b| format!(" @ {b}"));
        let commit = project
            .commit
            .clone()
            .map(|c| format!(" · commit {}", c.get(..12).unwrap_or(&c)));
        view! {
            <p class="mt-1 font-mono text-xs break-all text-stone-600 dark:text-stone-400">
                {source}{branch}{commit}
            </p>
        }
    });
    let report = project.last_index.as_ref().map(|r| {
        format!(
            "Last index: {} added, {} changed, {} removed, {} unchanged, {} skipped; {} chunks written in {:.1} s.",
            r.added,
            r.changed,
            r.removed,
            r.unchanged,
            r.skipped,
            r.chunks_indexed,
            r.duration_ms as f64 / 1000.0,
        )
    });
    let filters = filter_summary(&project);
    let reindex_id = project.id.clone();
    let needs_token = project.needs_token;
    let can_reindex = project.kind != ProjectKind::Upload;
    view! {
        <div class="mt-2 flex flex-wrap items-baseline gap-2">
            <h1 class="text-2xl font-semibold tracking-tight">{project.name.clone()}</h1>
            <StatusBadge status=project.status />
            <span class="text-xs text-stone-600 dark:text-stone-400">
                {kind_label(project.kind)}
            </span>
        </div>
        {source}
        <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">
            {format!("{} documents · {} chunks", project.documents, project.chunks)}
        </p>
        {report
            .map(|r| view! { <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">{r}</p> })}
        {filters
            .map(|f| {
                view! { <p class="mt-1 text-xs text-stone-600 dark:text-stone-400">{f}</p> }
            })}
        {indexing}
        {project
            .error
            .clone()
            .map(|e| {
                view! {
                    <p role="alert" class="mt-2 text-sm text-red-700 dark:text-red-400">
                        {e}
                    </p>
                }
            })}
        <div class="mt-3 flex flex-wrap gap-2 text-sm">
            <a class="btn-secondary" href=format!("/?project={enc}")>
                "Chat"
            </a>
            <a class="btn-secondary" href=format!("/projects/{enc}/wiki")>
                "Wiki"
            </a>
            <Show when=move || can_reindex>
                <ReindexControl project_id=reindex_id.clone() needs_token reload error />
            </Show>
            <button
                type="button"
                class="btn-secondary text-red-700 dark:text-red-400"
                on:click=delete
            >
                "Delete"
            </button>
        </div>
        {move || {
            error
                .get()
                .map(|e| {
                    view! {
                        <p role="alert" class="mt-2 text-sm text-red-700 dark:text-red-400">
                            {e}
                        </p>
                    }
                })
        }}
    }
}

/// The project's include/exclude globs in one line, if it has any.
fn filter_summary(project: &Project) -> Option<String> {
    let f = &project.filters;
    let parts: Vec<String> = [
        ("directories included", &f.included_dirs),
        ("directories excluded", &f.excluded_dirs),
        ("files included", &f.included_files),
        ("files excluded", &f.excluded_files),
    ]
    .into_iter()
    .filter(|(_, globs)| !globs.is_empty())
    .map(|(what, globs)| format!("{what}: {}", globs.join(", ")))
    .collect();
    (!parts.is_empty()).then(|| format!("Filters — {}", parts.join("; ")))
}

/// The languages the wiki is written in, starting another, and every wiki job.
#[component]
fn Wikis(
    jobs: Result<crate::protocol::rest::Page<WikiJob>, String>,
    project_id: String,
) -> impl IntoView {
    let enc = api::encode(&project_id);
    let body = match jobs {
        Err(e) => view! {
            <p role="alert" class="mt-2 text-sm text-red-700 dark:text-red-400">
                {format!("Wiki jobs could not be loaded: {e}")}
            </p>
        }
        .into_any(),
        Ok(page) if page.items.is_empty() => view! {
            <p class="mt-2 text-sm text-stone-600 dark:text-stone-400">
                "No wiki yet. Start one below."
            </p>
        }
        .into_any(),
        Ok(page) => {
            let mut languages: Vec<String> = page
                .items
                .iter()
                .filter(|job| {
                    matches!(
                        job.status,
                        JobStatus::Completed | JobStatus::PartiallyCompleted
                    )
                })
                .map(|job| job.language.clone())
                .collect();
            languages.sort();
            languages.dedup();
            let links = languages
                .into_iter()
                .map(|language| {
                    let href = format!("/projects/{enc}/wiki?language={}", api::encode(&language));
                    view! {
                        <li>
                            <a class="btn-secondary" href=href>
                                {format!("Wiki ({language})")}
                            </a>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <ul class="mt-2 flex flex-wrap gap-2 text-sm" aria-label="Wikis by language">
                    {links}
                </ul>
                <JobTable jobs=page.items />
            }
            .into_any()
        }
    };
    view! {
        <section aria-labelledby="wikis-title" class="mt-8">
            <h2 id="wikis-title" class="text-lg font-semibold">
                "Wikis"
            </h2>
            {body}
            <WikiStart project_id=project_id.clone() />
        </section>
    }
}

/// Every document, each linking to the source view; the list filters by path.
#[component]
fn Documents(documents: Result<Vec<DocumentInfo>, String>, project_id: String) -> impl IntoView {
    let documents = match documents {
        Ok(documents) => documents,
        Err(e) => {
            return view! {
                <section aria-labelledby="documents-title" class="mt-8">
                    <h2 id="documents-title" class="text-lg font-semibold">
                        "Documents"
                    </h2>
                    <p role="alert" class="mt-2 text-sm text-red-700 dark:text-red-400">
                        {format!("Documents could not be loaded: {e}")}
                    </p>
                </section>
            }
            .into_any();
        }
    };
    let total = documents.len();
    let documents = StoredValue::new(documents);
    let filter = RwSignal::new(String::new());
    let matching = Memo::new(move |_| {
        let needle = filter.get().trim().to_lowercase();
        documents.with_value(|all| {
            let found: Vec<DocumentInfo> = all
                .iter()
                .filter(|d| needle.is_empty() || d.path.to_lowercase().contains(&needle))
                .cloned()
                .collect();
            found
        })
    });
    let enc = api::encode(&project_id);
    let count = move || {
        let found = matching.with(Vec::len);
        if found > SHOWN_DOCUMENTS {
            format!("Showing {SHOWN_DOCUMENTS} of {found}; type part of a path to narrow the list.")
        } else if found == total {
            format!("{total} documents")
        } else {
            format!("{found} of {total} documents match")
        }
    };
    view! {
        <section aria-labelledby="documents-title" class="mt-8">
            <h2 id="documents-title" class="text-lg font-semibold">
                "Documents"
            </h2>
            <label class="mt-2 flex max-w-sm flex-col gap-1 text-sm">
                "Filter by path"
                <input
                    type="search"
                    class="rounded-lg border border-stone-300 bg-white px-2.5 py-1.5 dark:border-stone-600 dark:bg-stone-950"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </label>
            <p class="mt-2 text-xs text-stone-600 dark:text-stone-400" aria-live="polite">
                {count}
            </p>
            <div class="mt-2 overflow-x-auto">
                <table class="w-full min-w-[32rem] text-left text-sm">
                    <caption class="sr-only">"Documents of this project, by path"</caption>
                    <thead class="border-b border-stone-200 text-stone-600 dark:border-stone-800 dark:text-stone-400">
                        <tr>
                            <th scope="col" class="py-2 pr-3 font-medium">
                                "Path"
                            </th>
                            <th scope="col" class="py-2 pr-3 font-medium">
                                "Language"
                            </th>
                            <th scope="col" class="py-2 pr-3 text-right font-medium">
                                "Size"
                            </th>
                            <th scope="col" class="py-2 text-right font-medium">
                                "Chunks"
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || {
                                matching
                                    .with(|m| {
                                        m.iter().take(SHOWN_DOCUMENTS).cloned().collect::<Vec<_>>()
                                    })
                            }
                            key=|d| d.id.clone()
                            let:document
                        >
                            <tr class="border-b border-stone-100 dark:border-stone-800">
                                <td class="py-1.5 pr-3 font-mono text-xs break-all">
                                    <a
                                        class="text-indigo-700 underline decoration-indigo-300 dark:text-indigo-300"
                                        href=format!(
                                            "/projects/{enc}/source?path={}",
                                            api::encode(&document.path),
                                        )
                                    >
                                        {document.path.clone()}
                                    </a>
                                </td>
                                <td class="py-1.5 pr-3">{document.language.clone()}</td>
                                <td class="py-1.5 pr-3 text-right tabular-nums">
                                    {human_size(document.size)}
                                </td>
                                <td class="py-1.5 text-right tabular-nums">{document.chunks}</td>
                            </tr>
                        </For>
                    </tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

/// Bytes as a reader says them: `812 B`, `14.2 KiB`, `3.1 MiB`.
fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / (KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(14_540), "14.2 KiB");
        assert_eq!(human_size(3_250_586), "3.1 MiB");
    }
}
