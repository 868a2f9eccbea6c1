//! The sources sidebar: the passages an answer was given, each with path, line range,
//! score and snippet; opening one shows its file around those lines.

use leptos::prelude::*;

use super::ui_state::{Ui, panel_class};
use crate::client::{ChatClient, api};
use crate::protocol::Source;
use crate::protocol::rest::DocumentContent;

/// Lines shown around a cited range in the file viewer.
const CONTEXT_LINES: u32 = 8;

#[component]
pub fn SourcesPanel() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let ui = expect_context::<Ui>();
    let sources = move || {
        client.conversation.with(|c| {
            let chosen = ui.source_message.get();
            let message = match chosen {
                Some(id) => c.messages.iter().find(|m| m.id == id),
                None => c
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.sources.with(|s| !s.is_empty())),
            };
            message.map(|m| m.sources.get()).unwrap_or_default()
        })
    };

    view! {
        <aside
            aria-label="Sources"
            class=move || {
                format!(
                    "{} w-80 shrink-0 flex-col border-l border-stone-200 bg-stone-100/95 dark:border-stone-800 dark:bg-stone-900/95 max-xl:fixed max-xl:inset-y-0 max-xl:right-0 max-xl:z-40 max-xl:shadow-xl",
                    panel_class(ui.sources.get(), "xl"),
                )
            }
        >
            <div class="flex items-center justify-between px-4 pt-3 pb-2">
                <h2 class="text-sm font-semibold">"Sources"</h2>
                <button
                    type="button"
                    class="rounded px-2 py-1 text-sm xl:hidden"
                    on:click=move |_| ui.sources.set(Some(false))
                >
                    "Close"
                </button>
            </div>
            <div class="min-h-0 flex-1 overflow-y-auto px-3 pb-4">
                {move || {
                    let list = sources();
                    if list.is_empty() {
                        return view! {
                            <p class="px-1 text-sm text-stone-600 dark:text-stone-400">
                                "The passages an answer cites appear here."
                            </p>
                        }
                            .into_any();
                    }
                    view! {
                        <ol class="flex flex-col gap-2">
                            {list
                                .into_iter()
                                .enumerate()
                                .map(|(i, source)| view! { <SourceItem n=(i + 1) as u32 source /> })
                                .collect_view()}
                        </ol>
                    }
                        .into_any()
                }}
            </div>
        </aside>
    }
}

#[component]
fn SourceItem(n: u32, source: Source) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let active = move || ui.active_source.get() == Some(n);
    let open = move || ui.open_source.get() == Some(n);
    let lines = if source.start_line == source.end_line {
        format!("line {}", source.start_line)
    } else {
        format!("lines {}–{}", source.start_line, source.end_line)
    };
    let toggle = move |_| {
        ui.active_source.set(Some(n));
        ui.open_source
            .update(|o| *o = if *o == Some(n) { None } else { Some(n) });
    };
    let snippet = source.snippet.clone();
    let src = source.clone();
    view! {
        <li
            id=format!("source-{n}")
            tabindex="-1"
            data-testid="source"
            class=move || {
                format!(
                    "rounded-lg border bg-white p-2.5 text-sm outline-none dark:bg-stone-950 {}",
                    if active() {
                        "border-amber-400 ring-2 ring-amber-300 dark:border-amber-500 dark:ring-amber-700"
                    } else {
                        "border-stone-200 dark:border-stone-800"
                    },
                )
            }
            aria-current=move || active().then_some("true")
        >
            <button
                type="button"
                class="flex w-full flex-col items-start gap-0.5 text-left"
                aria-expanded=move || open().to_string()
                on:click=toggle
            >
                <span class="flex w-full items-baseline gap-2">
                    <span class="font-mono text-xs font-semibold text-amber-700 dark:text-amber-400">
                        {format!("[{n}]")}
                    </span>
                    <span
                        class="min-w-0 flex-1 truncate font-mono text-xs font-medium"
                        title=source.path.clone()
                    >
                        {source.path.clone()}
                    </span>
                </span>
                <span class="text-xs text-stone-600 dark:text-stone-400">
                    {lines} " · score " {format!("{:.2}", source.score)}
                </span>
            </button>
            <Show when=move || !open()>
                <pre class="mt-1.5 max-h-28 overflow-hidden whitespace-pre-wrap break-words text-xs text-stone-700 dark:text-stone-300">
                    {snippet.clone()}
                </pre>
            </Show>
            <Show when=open>
                <FileView source=src.clone() item_id=format!("source-{n}") />
            </Show>
        </li>
    }
}

/// The cited file around the cited lines, from `GET /api/projects/{id}/file`; the
/// snippet when the file cannot be had.
#[component]
fn FileView(source: Source, item_id: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let file = RwSignal::new(None::<Result<DocumentContent, String>>);
    // Once the file is shown, its first cited line is brought into view.
    Effect::new(move |_| {
        if matches!(file.get(), Some(Ok(_))) {
            scroll_to_cited(item_id.clone());
        }
    });
    let path = source.path.clone();
    Effect::new(move |_| {
        let project = ui.settings.project_id.get();
        let path = path.clone();
        leptos::task::spawn_local(async move {
            let result = match project {
                Some(project) => {
                    api::get::<DocumentContent>(&format!(
                        "/api/projects/{}/file?path={}",
                        api::encode(&project),
                        api::encode(&path)
                    ))
                    .await
                }
                None => Err("This conversation has no project to read the file from.".into()),
            };
            file.set(Some(result));
        });
    });
    let (start, end) = (
        source.start_line.max(1),
        source.end_line.max(source.start_line),
    );
    view! {
        {move || match file.get() {
            None => {
                view! {
                    <p class="mt-2 text-xs text-stone-600 dark:text-stone-400">
                        "Loading the file…"
                    </p>
                }
                    .into_any()
            }
            Some(Ok(doc)) => {
                let first = start.saturating_sub(CONTEXT_LINES).max(1);
                let last = end + CONTEXT_LINES;
                let rows = doc
                    .content
                    .lines()
                    .enumerate()
                    .map(|(i, line)| (i as u32 + 1, line.to_owned()))
                    .filter(|(no, _)| *no >= first && *no <= last)
                    .map(|(no, line)| {
                        let cited = no >= start && no <= end;
                        view! {
                            <div
                                class=if cited {
                                    "flex bg-amber-100 dark:bg-amber-900/50"
                                } else {
                                    "flex"
                                }
                                data-cited=cited.then_some("true")
                            >
                                <span
                                    class="w-10 shrink-0 pr-2 text-right text-stone-500 select-none"
                                    aria-hidden="true"
                                >
                                    {no}
                                </span>
                                <span class="whitespace-pre">{line}</span>
                            </div>
                        }
                    })
                    .collect_view();
                view! {
                    <div
                        class="mt-2 max-h-96 overflow-auto rounded border border-stone-200 bg-stone-50 py-1 font-mono text-xs dark:border-stone-800 dark:bg-stone-900"
                        role="region"
                        aria-label=format!("{} around the cited lines", doc.path)
                        tabindex="0"
                        data-testid="file-view"
                    >
                        {rows}
                    </div>
                }
                    .into_any()
            }
            Some(Err(e)) => {
                view! {
                    <div class="mt-2">
                        <p class="text-xs text-stone-600 dark:text-stone-400">
                            {format!("File unavailable: {e} Showing the snippet.")}
                        </p>
                        <pre
                            class="mt-1 overflow-auto whitespace-pre-wrap rounded bg-amber-50 p-2 text-xs dark:bg-amber-950/40"
                            data-testid="file-view"
                        >
                            {source.snippet.clone()}
                        </pre>
                    </div>
                }
                    .into_any()
            }
        }}
    }
}

fn scroll_to_cited(item_id: String) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        if let Ok(Some(line)) = document().query_selector(&format!("#{item_id} [data-cited]")) {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Center);
            line.scroll_into_view_with_scroll_into_view_options(&options);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = item_id;
}
