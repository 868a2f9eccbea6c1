//! `/projects/{id}/wiki`: the generated wiki. Sections and their pages on the left, the
//! chosen page (Markdown with mermaid diagrams) on the right, and export links.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::markdown::Markdown;
use crate::client::api;
use crate::protocol::PageStatus;
use crate::protocol::rest::Wiki;

#[component]
pub fn WikiPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let project_id = move || params.read().get("id").unwrap_or_default();
    let language = move || {
        query
            .read()
            .get("language")
            .unwrap_or_else(|| "en".to_owned())
    };
    let wiki = RwSignal::new(None::<Result<Wiki, String>>);
    Effect::new(move |_| {
        let id = project_id();
        let language = language();
        leptos::task::spawn_local(async move {
            wiki.set(Some(
                api::get::<Wiki>(&format!(
                    "/api/projects/{}/wiki?language={}",
                    api::encode(&id),
                    api::encode(&language)
                ))
                .await,
            ));
        });
    });
    let chosen = move || query.read().get("page");

    view! {
        <div class="flex min-h-0 flex-1">
            {move || match wiki.get() {
                None => {
                    view! {
                        <main
                            id="main"
                            class="flex-1 p-6 text-sm text-stone-600 dark:text-stone-400"
                        >
                            "Loading the wiki…"
                        </main>
                    }
                        .into_any()
                }
                Some(Err(e)) => {
                    view! {
                        <main id="main" class="mx-auto max-w-xl flex-1 p-6">
                            <h1 class="text-2xl font-semibold">"Wiki"</h1>
                            <p class="mt-3 text-sm" role="alert">
                                {format!("No wiki to show: {e}")}
                            </p>
                            <p class="mt-2 text-sm">
                                "Generate one from the " <a href="/projects" class="underline">
                                    "projects page"
                                </a> "."
                            </p>
                        </main>
                    }
                        .into_any()
                }
                Some(Ok(w)) => {
                    let pid = api::encode(&w.project_id);
                    let lang = api::encode(&w.language);
                    let current = chosen()
                        .and_then(|id| w.pages.iter().find(|p| p.id == id).cloned())
                        .or_else(|| {
                            w.structure
                                .sections
                                .iter()
                                .flat_map(|s| s.pages.iter())
                                .find_map(|id| w.pages.iter().find(|p| &p.id == id).cloned())
                        })
                        .or_else(|| w.pages.first().cloned());
                    let current_id = current.as_ref().map(|p| p.id.clone());
                    let title_of = |id: &str| {
                        w.pages
                            .iter()
                            .find(|p| p.id == id)
                            .map(|p| p.title.clone())
                            .unwrap_or_else(|| id.to_owned())
                    };
                    view! {
                        <nav
                            aria-label="Wiki sections"
                            class="hidden w-72 shrink-0 overflow-y-auto border-r border-stone-200 bg-stone-100/60 p-4 md:block dark:border-stone-800 dark:bg-stone-900/60"
                        >
                            <p class="text-sm font-semibold">{w.structure.title.clone()}</p>
                            <LanguageSwitch
                                languages=w.languages.clone()
                                current=w.language.clone()
                            />
                            {w
                                .structure
                                .sections
                                .iter()
                                .map(|section| {
                                    view! {
                                        <div class="mt-3">
                                            <p class="text-xs font-semibold tracking-wide text-stone-600 uppercase dark:text-stone-400">
                                                {section.title.clone()}
                                            </p>
                                            <ul class="mt-1 flex flex-col">
                                                {section
                                                    .pages
                                                    .iter()
                                                    .map(|id| {
                                                        let active = current_id.as_deref() == Some(id.as_str());
                                                        view! {
                                                            <li>
                                                                <a
                                                                    href=format!(
                                                                        "?language={}&page={}",
                                                                        api::encode(&w.language),
                                                                        api::encode(id),
                                                                    )
                                                                    aria-current=active.then_some("page")
                                                                    class=if active {
                                                                        "block rounded px-2 py-1 text-sm bg-white font-medium shadow-sm dark:bg-stone-800"
                                                                    } else {
                                                                        "block rounded px-2 py-1 text-sm hover:bg-stone-200 dark:hover:bg-stone-800"
                                                                    }
                                                                >
                                                                    {title_of(id)}
                                                                </a>
                                                            </li>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </ul>
                                        </div>
                                    }
                                })
                                .collect_view()}
                        </nav>
                        <main id="main" class="min-w-0 flex-1 overflow-y-auto px-4 py-6 md:px-8">
                            <div class="mx-auto max-w-3xl">
                                <div class="flex flex-wrap items-center gap-2">
                                    <h1 class="flex-1 text-2xl font-semibold">
                                        {current
                                            .as_ref()
                                            .map(|p| p.title.clone())
                                            .unwrap_or_else(|| w.structure.title.clone())}
                                    </h1>
                                    <a
                                        class="btn-secondary text-sm"
                                        href=format!(
                                            "/api/projects/{pid}/wiki/export?format=markdown&language={lang}",
                                        )
                                        download
                                    >
                                        "Export Markdown"
                                    </a>
                                    <a
                                        class="btn-secondary text-sm"
                                        href=format!(
                                            "/api/projects/{pid}/wiki/export?format=json&language={lang}",
                                        )
                                        download
                                    >
                                        "Export JSON"
                                    </a>
                                </div>
                                <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">
                                    {w.structure.description.clone()}
                                </p>
                                <label class="mt-3 block md:hidden text-sm">
                                    "Page "
                                    <select
                                        class="rounded border border-stone-300 bg-white px-2 py-1 dark:border-stone-700 dark:bg-stone-900"
                                        on:change=move |ev| {
                                            #[cfg(feature = "hydrate")]
                                            {
                                                let _ = window()
                                                    .location()
                                                    .set_search(
                                                        &format!("page={}", api::encode(&event_target_value(&ev))),
                                                    );
                                            }
                                            #[cfg(not(feature = "hydrate"))]
                                            let _ = ev;
                                        }
                                    >
                                        {w
                                            .pages
                                            .iter()
                                            .map(|p| {
                                                view! {
                                                    <option
                                                        value=p.id.clone()
                                                        selected=current_id.as_deref() == Some(p.id.as_str())
                                                    >
                                                        {p.title.clone()}
                                                    </option>
                                                }
                                            })
                                            .collect_view()}
                                    </select>
                                </label>
                                {match current {
                                    None => {
                                        view! {
                                            <p class="mt-6 text-sm">"This wiki has no pages."</p>
                                        }
                                            .into_any()
                                    }
                                    Some(
                                        page,
                                    ) if page.status == PageStatus::Failed
                                        || page.content.is_empty() => {
                                        view! {
                                            <p
                                                class="mt-6 text-sm text-red-700 dark:text-red-400"
                                                role="alert"
                                            >
                                                "This page could not be generated."
                                            </p>
                                        }
                                            .into_any()
                                    }
                                    Some(page) => {
                                        let files = page.relevant_files.clone();
                                        view! {
                                            <article class="mt-6">
                                                <Markdown
                                                    content=Signal::stored(page.content.clone())
                                                    streaming=Signal::stored(false)
                                                />
                                            </article>
                                            {(!files.is_empty())
                                                .then(|| {
                                                    view! {
                                                        <section
                                                            class="mt-8 border-t border-stone-200 pt-4 dark:border-stone-800"
                                                            aria-label="Relevant files"
                                                        >
                                                            <h2 class="text-sm font-semibold">"Relevant files"</h2>
                                                            <ul class="mt-1 flex flex-wrap gap-2">
                                                                {files
                                                                    .into_iter()
                                                                    .map(|f| {
                                                                        view! {
                                                                            <li class="rounded bg-stone-100 px-2 py-0.5 font-mono text-xs dark:bg-stone-800">
                                                                                {f}
                                                                            </li>
                                                                        }
                                                                    })
                                                                    .collect_view()}
                                                            </ul>
                                                        </section>
                                                    }
                                                })}
                                        }
                                            .into_any()
                                    }
                                }}
                            </div>
                        </main>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

/// The languages this project's wiki exists in, as links: the viewer shows the chosen one.
#[component]
fn LanguageSwitch(languages: Vec<String>, current: String) -> impl IntoView {
    (languages.len() > 1).then(|| {
        view! {
            <nav aria-label="Wiki language" class="mt-2 flex flex-wrap gap-1 text-xs">
                {languages
                    .into_iter()
                    .map(|language| {
                        let active = language == current;
                        view! {
                            <a
                                href=format!("?language={}", api::encode(&language))
                                hreflang=language.clone()
                                aria-current=active.then_some("page")
                                class=if active {
                                    "rounded bg-indigo-600 px-2 py-0.5 font-medium text-white"
                                } else {
                                    "rounded px-2 py-0.5 hover:bg-stone-200 dark:hover:bg-stone-800"
                                }
                            >
                                {language.clone()}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
        }
    })
}
