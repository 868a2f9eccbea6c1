//! `/projects`: the projects with their index status, adding one from a git URL or a local
//! folder, uploading documents by drag and drop with per-file progress, and starting a
//! wiki.

use leptos::prelude::*;

use super::project_status::{IndexingProgress, StatusBadge, kind_label};
use super::reindex_control::ReindexControl;
use super::wiki_start::WikiStart;
use crate::client::{ChatClient, api, page_reads};
use crate::protocol::rest::{CreateProjectRequest, Project, ProjectKind, ProjectStatus};
use crate::protocol::{DocumentState, rooms};

/// Uploads outlive the project cards, which are rebuilt whenever the list is read again.
#[derive(Clone, Copy)]
struct Uploads {
    /// The project whose upload zone is open; its room is joined (one project room at a time).
    open: RwSignal<Option<String>>,
    /// Per project: each file sent, and whether its request finished (or why it failed).
    files: RwSignal<std::collections::HashMap<String, Vec<SentFile>>>,
}

/// A file's name, and whether its upload request finished (`Ok(true)`) or why it failed.
type SentFile = (String, Result<bool, String>);

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let uploads = Uploads {
        open: RwSignal::new(None),
        files: RwSignal::new(Default::default()),
    };
    provide_context(uploads);
    let joined = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    Effect::new({
        let joined = joined.clone();
        move |_| {
            let wanted = uploads.open.get().map(|id| rooms::project(&id));
            if let Ok(mut j) = joined.lock()
                && *j != wanted
            {
                if let Some(old) = j.take() {
                    client.leave(old);
                }
                if let Some(room) = wanted {
                    client.join(room.clone(), None);
                    *j = Some(room);
                }
            }
        }
    });
    on_cleanup(move || {
        if let Some(room) = joined.lock().ok().and_then(|mut j| j.take()) {
            client.leave(room);
        }
    });
    // Read again after a change made here or reported by a joined project room, or when an
    // indexing run ends; progress in between moves only the card's own bar.
    let reload = RwSignal::new(0u64);
    let projects = Resource::new(
        move || {
            client.project_changed.track();
            reload.get()
        },
        |_| page_reads::projects(),
    );

    view! {
        <main id="main" class="mx-auto w-full max-w-4xl flex-1 overflow-y-auto px-4 py-6">
            <h1 class="text-2xl font-semibold">"Projects"</h1>
            <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">
                "A project is what answers and wikis are drawn from: a git repository, a folder on the server, or uploaded documents."
            </p>
            <AddProject on_added=move || reload.update(|n| *n += 1) />
            <section aria-labelledby="project-list-title" class="mt-8">
                <h2 id="project-list-title" class="text-lg font-semibold">
                    "Your projects"
                </h2>
                <Transition fallback=|| {
                    view! {
                        <p class="mt-2 text-sm text-stone-600 dark:text-stone-400">"Loading…"</p>
                    }
                }>
                    {move || Suspend::new(async move {
                        match projects.await {
                            Err(e) => {
                                view! {
                                    <p
                                        class="mt-2 text-sm text-red-700 dark:text-red-400"
                                        role="alert"
                                    >
                                        {format!("Projects could not be loaded: {e}")}
                                    </p>
                                }
                                    .into_any()
                            }
                            Ok(list) if list.is_empty() => {
                                view! {
                                    <p class="mt-2 text-sm text-stone-600 dark:text-stone-400">
                                        "No projects yet. Add one above."
                                    </p>
                                }
                                    .into_any()
                            }
                            Ok(list) => {
                                view! {
                                    <ul class="mt-3 flex flex-col gap-3">
                                        <For
                                            each=move || list.clone()
                                            key=|p| p.id.clone()
                                            let:project
                                        >
                                            <ProjectCard project reload />
                                        </For>
                                    </ul>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
}

pub(super) fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[component]
fn AddProject(on_added: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let kind = RwSignal::new("git");
    let source = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let branch = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let included_dirs = RwSignal::new(String::new());
    let excluded_dirs = RwSignal::new(String::new());
    let included_files = RwSignal::new(String::new());
    let excluded_files = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let message = RwSignal::new(None::<Result<String, String>>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let k = kind.get_untracked();
        let src = source.get_untracked().trim().to_owned();
        if k != "upload" && src.is_empty() {
            message.set(Some(Err(if k == "git" {
                "Enter the repository URL."
            } else {
                "Enter the folder path."
            }
            .into())));
            return;
        }
        let opt = |s: RwSignal<String>| {
            Some(s.get_untracked().trim().to_owned()).filter(|s| !s.is_empty())
        };
        let request = CreateProjectRequest {
            source: (k != "upload").then_some(src),
            name: opt(name),
            token: if k == "git" { opt(token) } else { None },
            branch: if k == "git" { opt(branch) } else { None },
            included_dirs: split_list(&included_dirs.get_untracked()),
            excluded_dirs: split_list(&excluded_dirs.get_untracked()),
            included_files: split_list(&included_files.get_untracked()),
            excluded_files: split_list(&excluded_files.get_untracked()),
        };
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = api::post::<_, serde::de::IgnoredAny>("/api/projects", &request).await;
            busy.set(false);
            match result {
                Ok(_) => {
                    token.set(String::new());
                    source.set(String::new());
                    name.set(String::new());
                    message.set(Some(Ok("Project added; indexing has started.".into())));
                    on_added();
                }
                Err(e) => message.set(Some(Err(e))),
            }
        });
    };

    let tab = move |value: &'static str, label: &'static str| {
        view! {
            <button
                type="button"
                role="tab"
                aria-selected=move || (kind.get() == value).to_string()
                class=move || {
                    format!(
                        "rounded-md px-3 py-1.5 text-sm {}",
                        if kind.get() == value {
                            "bg-white shadow-sm dark:bg-stone-700"
                        } else {
                            "text-stone-600 dark:text-stone-300"
                        },
                    )
                }
                on:click=move |_| {
                    kind.set(value);
                    message.set(None);
                }
            >
                {label}
            </button>
        }
    };
    let field = |label: &'static str,
                 value: RwSignal<String>,
                 placeholder: &'static str,
                 input_type: &'static str| {
        view! {
            <label class="flex flex-col gap-1 text-sm">
                {label}
                <input
                    type=input_type
                    placeholder=placeholder
                    autocomplete="off"
                    class="rounded-lg border border-stone-300 bg-white px-2.5 py-1.5 dark:border-stone-600 dark:bg-stone-950"
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))
                />
            </label>
        }
    };

    view! {
        <section
            aria-labelledby="add-project-title"
            class="mt-6 rounded-2xl border border-stone-200 bg-white p-4 shadow-sm dark:border-stone-800 dark:bg-stone-900"
        >
            <h2 id="add-project-title" class="text-lg font-semibold">
                "Add a project"
            </h2>
            <div
                role="tablist"
                aria-label="Project source"
                class="mt-3 inline-flex gap-1 rounded-lg bg-stone-100 p-1 dark:bg-stone-800"
            >
                {tab("git", "Git URL")}
                {tab("local", "Local folder")}
                {tab("upload", "Upload documents")}
            </div>
            <form class="mt-3 grid gap-3 sm:grid-cols-2" on:submit=submit>
                <Show when=move || {
                    kind.get() == "git"
                }>
                    {field("Repository URL", source, "https://github.com/owner/repo", "url")}
                    {field("Branch (optional)", branch, "main", "text")}
                    {field(
                        "Access token (private repositories; never stored)",
                        token,
                        "",
                        "password",
                    )}
                </Show>
                <Show when=move || {
                    kind.get() == "local"
                }>{field("Folder on the server", source, "/srv/code/project", "text")}</Show>
                {field("Name (optional)", name, "", "text")}
                <Show when=move || kind.get() != "upload">
                    <details class="sm:col-span-2">
                        <summary class="cursor-pointer text-sm font-medium">"Filters"</summary>
                        <div class="mt-2 grid gap-3 sm:grid-cols-2">
                            {field("Include directories", included_dirs, "src, docs", "text")}
                            {field("Exclude directories", excluded_dirs, "tests, vendor", "text")}
                            {field("Include files", included_files, "*.rs, *.md", "text")}
                            {field("Exclude files", excluded_files, "*.lock", "text")}
                        </div>
                    </details>
                </Show>
                <div class="flex items-center gap-3 sm:col-span-2">
                    <button
                        type="submit"
                        class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white disabled:opacity-50"
                        disabled=move || busy.get()
                    >
                        {move || {
                            if kind.get() == "upload" {
                                "Create upload project"
                            } else {
                                "Add project"
                            }
                        }}
                    </button>
                    {move || {
                        message
                            .get()
                            .map(|m| match m {
                                Ok(text) => {
                                    view! {
                                        <p
                                            role="status"
                                            class="text-sm text-emerald-700 dark:text-emerald-400"
                                        >
                                            {text}
                                        </p>
                                    }
                                        .into_any()
                                }
                                Err(text) => {
                                    view! {
                                        <p
                                            role="alert"
                                            class="text-sm text-red-700 dark:text-red-400"
                                        >
                                            {text}
                                        </p>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </div>
            </form>
        </section>
    }
}

#[component]
fn ProjectCard(project: Project, reload: RwSignal<u64>) -> impl IntoView {
    let id = project.id.clone();
    let error = RwSignal::new(None::<String>);
    let uploads = expect_context::<Uploads>();
    let uploading = Signal::derive({
        let id = id.clone();
        move || uploads.open.with(|o| o.as_deref() == Some(id.as_str()))
    });
    let toggle_upload = {
        let id = id.clone();
        move |_| {
            uploads.open.update(|o| {
                *o = if o.as_deref() == Some(id.as_str()) {
                    None
                } else {
                    Some(id.clone())
                }
            })
        }
    };
    let kind = kind_label(project.kind);
    let delete = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            leptos::task::spawn_local(async move {
                match api::send_empty("DELETE", &format!("/api/projects/{}", api::encode(&id)))
                    .await
                {
                    Ok(()) => reload.update(|n| *n += 1),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let enc = api::encode(&id);
    let reindex_id = id.clone();
    let indexing = (project.status == ProjectStatus::Indexing)
        .then(|| project.job_id.clone())
        .flatten()
        .map(|job_id| view! { <IndexingProgress job_id reload /> });
    view! {
        <li
            class="rounded-2xl border border-stone-200 bg-white p-4 shadow-sm dark:border-stone-800 dark:bg-stone-900"
            data-testid="project"
        >
            <div class="flex flex-wrap items-baseline gap-2">
                <h3 class="text-base font-semibold">
                    <a class="hover:underline" href=format!("/projects/{}", api::encode(&id))>
                        {project.name.clone()}
                    </a>
                </h3>
                <StatusBadge status=project.status />
                <span class="text-xs text-stone-600 dark:text-stone-400">{kind}</span>
            </div>
            {project
                .source
                .clone()
                .map(|s| {
                    view! {
                        <p class="mt-1 break-all font-mono text-xs text-stone-600 dark:text-stone-400">
                            {s}{project.branch.clone().map(|b| format!(" @ {b}"))}
                        </p>
                    }
                })}
            <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">
                {format!("{} documents · {} chunks", project.documents, project.chunks)}
            </p>
            {indexing}
            {project
                .error
                .clone()
                .map(|e| view! { <p class="mt-1 text-sm text-red-700 dark:text-red-400">{e}</p> })}
            <div class="mt-3 flex flex-wrap gap-2 text-sm">
                <a class="btn-secondary" href=format!("/?project={enc}")>
                    "Chat"
                </a>
                <a class="btn-secondary" href=format!("/projects/{enc}/wiki")>
                    "Wiki"
                </a>
                <button
                    type="button"
                    class="btn-secondary"
                    aria-expanded=move || uploading.get().to_string()
                    on:click=toggle_upload
                >
                    "Upload"
                </button>
                <Show when=move || project.kind != ProjectKind::Upload>
                    <ReindexControl
                        project_id=reindex_id.clone()
                        needs_token=project.needs_token
                        reload
                        error
                    />
                </Show>
                <button
                    type="button"
                    class="btn-secondary text-red-700 dark:text-red-400"
                    on:click=delete
                >
                    "Delete"
                </button>
            </div>
            <WikiStart project_id=id.clone() />
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
            <Show when=move || uploading.get()>
                <UploadZone project_id=id.clone() reload />
            </Show>
        </li>
    }
}

/// Drop files (or pick them); each is sent to `POST /api/projects/{id}/documents` and
/// followed through its `document_status` events in the project's room.
#[component]
fn UploadZone(project_id: String, reload: RwSignal<u64>) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let all_files = expect_context::<Uploads>().files;
    let over = RwSignal::new(false);
    let input_id = format!("upload-{project_id}");
    let pid = project_id.clone();
    let upload = move |list: Vec<(String, SendFile)>| {
        for (name, file) in list {
            all_files.update(|all| {
                all.entry(pid.clone())
                    .or_default()
                    .push((name.clone(), Ok(false)))
            });
            let pid = pid.clone();
            leptos::task::spawn_local(async move {
                let result = send_file(&pid, file).await;
                all_files.update(|all| {
                    if let Some(entry) = all
                        .get_mut(&pid)
                        .and_then(|f| f.iter_mut().rev().find(|(n, _)| *n == name))
                    {
                        entry.1 = result.map(|()| true);
                    }
                });
                reload.update(|n| *n += 1);
            });
        }
    };
    let files = {
        let pid = project_id.clone();
        move || all_files.with(|all| all.get(&pid).cloned().unwrap_or_default())
    };
    let upload_drop = upload.clone();
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        over.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(list) = ev.data_transfer().and_then(|d| d.files()) {
            upload_drop(files_of(&list));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &upload_drop;
    };
    let on_pick = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(input) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                && let Some(list) = input.files()
            {
                upload(files_of(&list));
                input.set_value("");
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&ev, &upload);
    };
    let status_of = move |name: &str| {
        client.documents.with(|d| {
            d.values()
                .find(|p| p.path == name || p.path.ends_with(&format!("/{name}")))
                .cloned()
        })
    };

    view! {
        <div class="mt-3">
            <label
                for=input_id.clone()
                class=move || {
                    format!(
                        "flex cursor-pointer flex-col items-center justify-center rounded-xl border-2 border-dashed p-6 text-center text-sm {}",
                        if over.get() {
                            "border-indigo-500 bg-indigo-50 dark:bg-indigo-950/40"
                        } else {
                            "border-stone-300 dark:border-stone-700"
                        },
                    )
                }
                on:dragover=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    over.set(true);
                }
                on:dragleave=move |_| over.set(false)
                on:drop=on_drop
            >
                <span class="font-medium">"Drop files here, or choose them"</span>
                <span class="text-xs text-stone-600 dark:text-stone-400">
                    "Markdown, text, source files and PDF"
                </span>
            </label>
            <input id=input_id type="file" multiple class="sr-only" on:change=on_pick />
            <ul class="mt-2 flex flex-col gap-1.5" aria-label="Uploads">
                {move || {
                    files()
                        .into_iter()
                        .map(|(name, local)| {
                            let live = status_of(&name);
                            let (percent, text) = match (&local, &live) {
                                (Err(e), _) => (0.0, format!("Failed: {e}")),
                                (_, Some(p)) => {
                                    match p.status {
                                        DocumentState::Processing => {
                                            (p.progress, format!("Processing {:.0}%", p.progress))
                                        }
                                        DocumentState::Indexed => (100.0, "Indexed".to_owned()),
                                        DocumentState::Failed => {
                                            (
                                                p.progress,
                                                format!("Failed: {}", p.error.clone().unwrap_or_default()),
                                            )
                                        }
                                    }
                                }
                                (Ok(false), None) => (5.0, "Uploading…".to_owned()),
                                (Ok(true), None) => {
                                    (50.0, "Uploaded, waiting for processing…".to_owned())
                                }
                            };
                            view! {
                                <li class="text-sm">
                                    <div class="flex justify-between gap-2">
                                        <span class="truncate font-mono text-xs">
                                            {name.clone()}
                                        </span>
                                        <span class="text-xs">{text}</span>
                                    </div>
                                    <div
                                        class="mt-0.5 h-1.5 rounded bg-stone-200 dark:bg-stone-800"
                                        role="progressbar"
                                        aria-label=format!("{name} progress")
                                        aria-valuemin="0"
                                        aria-valuemax="100"
                                        aria-valuenow=format!("{percent:.0}")
                                    >
                                        <div
                                            class="h-1.5 rounded bg-indigo-500 transition-[width]"
                                            style=format!("width: {percent:.0}%")
                                        ></div>
                                    </div>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}

#[cfg(feature = "hydrate")]
type SendFile = web_sys::File;
#[cfg(not(feature = "hydrate"))]
type SendFile = ();

#[cfg(feature = "hydrate")]
fn files_of(list: &web_sys::FileList) -> Vec<(String, SendFile)> {
    (0..list.length())
        .filter_map(|i| list.get(i))
        .map(|f| (f.name(), f))
        .collect()
}

#[cfg(feature = "hydrate")]
async fn send_file(project_id: &str, file: SendFile) -> Result<(), String> {
    let form =
        web_sys::FormData::new().map_err(|_| "The browser cannot build the upload.".to_owned())?;
    form.append_with_blob_and_filename("file", &file, &file.name())
        .map_err(|_| "The browser cannot read the file.".to_owned())?;
    let response = gloo_net::http::RequestBuilder::new(&format!(
        "/api/projects/{}/documents",
        api::encode(project_id)
    ))
    .method(gloo_net::http::Method::POST)
    .body(form)
    .map_err(|e| e.to_string())?
    .send()
    .await
    .map_err(|_| "The server cannot be reached.".to_owned())?;
    api::finish::<serde::de::IgnoredAny>(response)
        .await
        .map(|_| ())
}

#[cfg(not(feature = "hydrate"))]
async fn send_file(_project_id: &str, _file: SendFile) -> Result<(), String> {
    Err("Uploads need the browser.".into())
}
