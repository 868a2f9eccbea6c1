//! `/projects/{id}/wiki`: the generated wiki. Sections and their pages on the left, the
//! chosen page (Markdown with mermaid diagrams) on the right, and export links. The
//! server renders the wiki with its data; choosing a page changes only the page shown.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::markdown::Markdown;
use super::wiki_links::{link_citations, source_href};
use crate::client::{api, page_reads};
use crate::protocol::PageStatus;
use crate::protocol::rest::{Wiki, WikiPage as StoredPage};

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
    let wiki = Resource::new(
        move || (project_id(), language()),
        |(project_id, language)| page_reads::wiki(project_id, language),
    );
    view! {
        <div class="flex min-h-0 flex-1">
            <Suspense fallback=|| {
                view! {
                    <main id="main" class="flex-1 p-6 text-sm text-stone-600 dark:text-stone-400">
                        "Loading the wiki…"
                    </main>
                }
            }>
                {move || Suspend::new(async move {
                    match wiki.await {
                        Ok(w) => view! { <WikiView wiki=w /> }.into_any(),
                        Err(e) => view! { <NoWiki reason=e /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn NoWiki(reason: String) -> impl IntoView {
    view! {
        <main id="main" class="mx-auto max-w-xl flex-1 p-6">
            <h1 class="text-2xl font-semibold">"Wiki"</h1>
            <p class="mt-3 text-sm" role="alert">
                {format!("No wiki to show: {reason}")}
            </p>
            <p class="mt-2 text-sm">
                "Generate one from the " <a href="/projects" class="underline">
                    "projects page"
                </a> "."
            </p>
        </main>
    }
}

/// The page a link names, else the first page in structure order.
fn chosen_page(wiki: &Wiki, chosen: Option<&str>) -> Option<StoredPage> {
    chosen
        .and_then(|id| wiki.pages.iter().find(|p| p.id == id))
        .or_else(|| {
            wiki.structure
                .sections
                .iter()
                .flat_map(|s| s.pages.iter())
                .find_map(|id| wiki.pages.iter().find(|p| &p.id == id))
        })
        .or_else(|| wiki.pages.first())
        .cloned()
}

#[component]
fn WikiView(wiki: Wiki) -> impl IntoView {
    let query = use_query_map();
    let wiki = StoredValue::new(wiki);
    let current = Memo::new(move |_| {
        let chosen = query.read().get("page");
        wiki.with_value(|w| chosen_page(w, chosen.as_deref()))
    });
    let current_id = move || current.with(|p| p.as_ref().map(|p| p.id.clone()));
    let page_href = move |id: &str| {
        wiki.with_value(|w| {
            format!(
                "?language={}&page={}",
                api::encode(&w.language),
                api::encode(id)
            )
        })
    };
    let title_of = move |id: &str| {
        wiki.with_value(|w| {
            w.pages
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| id.to_owned(), |p| p.title.clone())
        })
    };
    let (project_id, language, title, description, languages) = wiki.with_value(|w| {
        (
            w.project_id.clone(),
            w.language.clone(),
            w.structure.title.clone(),
            w.structure.description.clone(),
            w.languages.clone(),
        )
    });
    let pid = api::encode(&project_id);
    let lang = api::encode(&language);
    let sections = wiki.with_value(|w| w.structure.sections.clone());
    let all_pages = wiki.with_value(|w| w.pages.clone());
    let wiki_title = title.clone();

    view! {
        <nav
            aria-label="Wiki sections"
            class="hidden w-72 shrink-0 overflow-y-auto border-r border-stone-200 bg-stone-100/60 p-4 md:block dark:border-stone-800 dark:bg-stone-900/60"
        >
            <p class="text-sm font-semibold">{title.clone()}</p>
            <LanguageSwitch languages current=language.clone() />
            {sections
                .into_iter()
                .map(|section| {
                    view! {
                        <div class="mt-3">
                            <p class="text-xs font-semibold tracking-wide text-stone-600 uppercase dark:text-stone-400">
                                {section.title}
                            </p>
                            <ul class="mt-1 flex flex-col">
                                {section
                                    .pages
                                    .into_iter()
                                    .map(|id| {
                                        let active = {
                                            let id = id.clone();
                                            move || current_id().as_deref() == Some(id.as_str())
                                        };
                                        let active_class = active.clone();
                                        view! {
                                            <li>
                                                <a
                                                    href=page_href(&id)
                                                    aria-current=move || active().then_some("page")
                                                    class=move || {
                                                        if active_class() {
                                                            "block rounded px-2 py-1 text-sm bg-white font-medium shadow-sm dark:bg-stone-800"
                                                        } else {
                                                            "block rounded px-2 py-1 text-sm hover:bg-stone-200 dark:hover:bg-stone-800"
                                                        }
                                                    }
                                                >
                                                    {title_of(&id)}
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
                        {move || {
                            current
                                .with(|p| p.as_ref().map(|p| p.title.clone()))
                                .unwrap_or_else(|| wiki_title.clone())
                        }}
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
                        href=format!("/api/projects/{pid}/wiki/export?format=json&language={lang}")
                        download
                    >
                        "Export JSON"
                    </a>
                </div>
                <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">{description}</p>
                <label class="mt-3 block md:hidden text-sm">
                    "Page "
                    <select
                        class="rounded border border-stone-300 bg-white px-2 py-1 dark:border-stone-700 dark:bg-stone-900"
                        on:change={
                            let language = language.clone();
                            move |ev| {
                                #[cfg(feature = "hydrate")]
                                {
                                    let _ = window()
                                        .location()
                                        .set_search(
                                            &format!(
                                                "language={}&page={}",
                                                api::encode(&language),
                                                api::encode(&event_target_value(&ev)),
                                            ),
                                        );
                                }
                                #[cfg(not(feature = "hydrate"))]
                                let _ = (&ev, &language);
                            }
                        }
                    >
                        {all_pages
                            .into_iter()
                            .map(|p| {
                                let id = p.id.clone();
                                view! {
                                    <option
                                        value=p.id
                                        selected=move || {
                                            current_id().as_deref() == Some(id.as_str())
                                        }
                                    >
                                        {p.title}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                {move || {
                    let page = current.get();
                    view! { <PageBody page project_id=project_id.clone() page_href title_of /> }
                }}
            </div>
        </main>
    }
}

/// One page: its content with cited lines linked to the source view, the pages it relates
/// to, and the files it draws on.
#[component]
fn PageBody(
    page: Option<StoredPage>,
    project_id: String,
    page_href: impl Fn(&str) -> String + Copy + Send + Sync + 'static,
    title_of: impl Fn(&str) -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let Some(page) = page else {
        return view! { <p class="mt-6 text-sm">"This wiki has no pages."</p> }.into_any();
    };
    if page.status == PageStatus::Failed || page.content.is_empty() {
        return view! {
            <p class="mt-6 text-sm text-red-700 dark:text-red-400" role="alert">
                "This page could not be generated."
            </p>
        }
        .into_any();
    }
    let content = link_citations(&page.content, &project_id);
    let related = page.related_pages.clone();
    let files = page.relevant_files.clone();
    view! {
        <article class="mt-6">
            <Markdown content=Signal::stored(content) streaming=Signal::stored(false) />
        </article>
        {(!related.is_empty())
            .then(|| {
                view! {
                    <nav
                        class="mt-8 border-t border-stone-200 pt-4 dark:border-stone-800"
                        aria-label="Related pages"
                    >
                        <h2 class="text-sm font-semibold">"Related pages"</h2>
                        <ul class="mt-1 flex flex-wrap gap-2 text-sm">
                            {related
                                .into_iter()
                                .map(|id| {
                                    view! {
                                        <li>
                                            <a
                                                href=page_href(&id)
                                                class="text-indigo-700 underline dark:text-indigo-300"
                                            >
                                                {title_of(&id)}
                                            </a>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    </nav>
                }
            })}
        {(!files.is_empty())
            .then(|| {
                view! {
                    <section
                        class="mt-6 border-t border-stone-200 pt-4 dark:border-stone-800"
                        aria-label="Relevant files"
                    >
                        <h2 class="text-sm font-semibold">"Relevant files"</h2>
                        <ul class="mt-1 flex flex-wrap gap-2">
                            {files
                                .into_iter()
                                .map(|f| {
                                    view! {
                                        <li>
                                            <a
                                                href=source_href(&project_id, &f, None)
                                                class="rounded bg-stone-100 px-2 py-0.5 font-mono text-xs underline decoration-stone-300 hover:decoration-inherit dark:bg-stone-800"
                                            >
                                                {f.clone()}
                                            </a>
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
