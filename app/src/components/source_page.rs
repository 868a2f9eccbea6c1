//! `/projects/{id}/source?path=…&lines=12-30`: one stored document of a project with line
//! numbers, the cited lines marked, each line addressable as `#L12`. Wiki citations and
//! relevant-file lists link here; it renders on the server, so it reads without
//! JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::client::{api, page_reads};
use crate::protocol::rest::DocumentContent;

/// `12-30` or `12` as an inclusive range of line numbers.
fn line_range(lines: &str) -> Option<(usize, usize)> {
    let (start, end) = lines.split_once('-').unwrap_or((lines, lines));
    let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    (start >= 1 && start <= end).then_some((start, end))
}

#[component]
pub fn SourcePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let project_id = move || params.read().get("id").unwrap_or_default();
    let path = move || query.read().get("path").unwrap_or_default();
    let marked = move || query.read().get("lines").as_deref().and_then(line_range);
    let document = Resource::new(
        move || (project_id(), path()),
        |(project_id, path)| page_reads::file(project_id, path),
    );
    view! {
        <main id="main" class="mx-auto w-full max-w-5xl flex-1 overflow-y-auto px-4 py-6">
            <p class="text-sm">
                <a
                    class="text-indigo-700 underline dark:text-indigo-300"
                    href=move || format!("/projects/{}/wiki", api::encode(&project_id()))
                >
                    "Back to the wiki"
                </a>
            </p>
            <h1 class="mt-2 font-mono text-lg font-semibold break-all">{path}</h1>
            <Suspense fallback=|| {
                view! {
                    <p class="mt-4 text-sm text-stone-600 dark:text-stone-400">
                        "Loading the file…"
                    </p>
                }
            }>
                {move || Suspend::new(async move {
                    match document.await {
                        Ok(document) => view! { <Lines document marked=marked() /> }.into_any(),
                        Err(e) => {
                            view! {
                                <p role="alert" class="mt-4 text-sm text-red-700 dark:text-red-400">
                                    {format!("The file could not be shown: {e}")}
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

#[component]
fn Lines(document: DocumentContent, marked: Option<(usize, usize)>) -> impl IntoView {
    let is_marked = move |n: usize| marked.is_some_and(|(a, b)| (a..=b).contains(&n));
    let caption = match marked {
        Some((a, b)) if a == b => format!("Line {a} is marked."),
        Some((a, b)) => format!("Lines {a} to {b} are marked."),
        None => format!("{} lines.", document.content.lines().count()),
    };
    view! {
        <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">{caption}</p>
        <pre class="mt-3 overflow-x-auto rounded-xl border border-stone-200 bg-white py-2 text-xs leading-5 dark:border-stone-800 dark:bg-stone-950">
            <code class=format!(
                "language-{}",
                document.language,
            )>
                {document
                    .content
                    .lines()
                    .enumerate()
                    .map(|(i, line)| {
                        let n = i + 1;
                        view! {
                            <span
                                id=format!("L{n}")
                                class=if is_marked(n) {
                                    "block bg-amber-100 pr-4 dark:bg-amber-900/40"
                                } else {
                                    "block pr-4"
                                }
                                data-marked=is_marked(n).then_some("")
                            >
                                <span
                                    class="inline-block w-12 pr-3 text-right text-stone-500 select-none dark:text-stone-400"
                                    aria-hidden="true"
                                >
                                    {n}
                                </span>
                                {line.to_owned()}
                            </span>
                        }
                    })
                    .collect_view()}
            </code>
        </pre>
    }
}

#[cfg(test)]
mod tests {
    use super::line_range;

    #[test]
    fn line_ranges_parse() {
        assert_eq!(line_range("12-30"), Some((12, 30)));
        assert_eq!(line_range("7"), Some((7, 7)));
        assert_eq!(line_range("30-12"), None);
        assert_eq!(line_range("0"), None);
        assert_eq!(line_range("x"), None);
    }
}
