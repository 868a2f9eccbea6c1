//! The conversation's messages. The list re-renders only when a message is added or
//! removed; a streamed token updates its own message, and there only the unfinished tail
//! of the Markdown.

use leptos::prelude::*;
use uuid::Uuid;

use super::markdown::Markdown;
use super::ui_state::{CitePreview, Ui, copy_text};
use crate::client::{ChatClient, MessageState, UiMessage};
use crate::protocol::Role;

#[component]
pub fn MessageList() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let messages = move || client.conversation.with(|c| c.messages.clone());
    let last_answer =
        Memo::new(move |_| client.conversation.with(|c| c.last_answer().map(|m| m.id)));

    view! {
        <ol class="flex flex-col gap-5" aria-label="Messages">
            <For each=messages key=|m| m.id let:message>
                {
                    let id = message.id;
                    let is_last = Signal::derive(move || last_answer.get() == Some(id));
                    if message.role == Role::User {
                        view! { <UserMessage message /> }.into_any()
                    } else {
                        view! { <AssistantMessage message is_last /> }.into_any()
                    }
                }
            </For>
        </ol>
    }
}

#[component]
fn UserMessage(message: UiMessage) -> impl IntoView {
    let content = message.content;
    view! {
        <li
            class="self-end max-w-[85%] rounded-2xl rounded-br-sm bg-indigo-600 px-4 py-2.5 text-white shadow-sm"
            data-role="user"
        >
            // Questions are shown as typed: plain text, never Markdown or HTML.
            <p class="whitespace-pre-wrap break-words leading-relaxed">{move || content.get()}</p>
        </li>
    }
}

#[component]
fn AssistantMessage(message: UiMessage, is_last: Signal<bool>) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let ui = expect_context::<Ui>();
    let id = message.id;
    let state = message.state.clone();
    let streaming = Signal::derive({
        let state = state.clone();
        move || state.get() == MessageState::Streaming
    });
    let content = Signal::derive({
        let content = message.content.clone();
        move || content.get()
    });
    let sources = message.sources.clone();
    let source_count = Signal::derive({
        let sources = sources.clone();
        move || sources.with(Vec::len)
    });
    let note = {
        let state = state.clone();
        let waiting = message.waiting.clone();
        move || match (state.get(), waiting.get()) {
            (MessageState::Streaming, Some(why)) => Some(format!("Waiting: {why}")),
            (MessageState::Streaming, None) => Some("Generating…".to_owned()),
            (MessageState::Stopped, _) => Some("Stopped".to_owned()),
            (MessageState::Failed, _) => Some("Failed".to_owned()),
            (MessageState::Done, _) => None,
        }
    };
    let error = message.error.clone();
    let research = message.research.clone();
    let metadata = message.metadata.clone();
    let meta_line = Signal::derive(move || {
        metadata.get().map(|m| {
            let mut parts = vec![format!("{} · {}", m.provider, m.model)];
            if m.duration_ms > 0 {
                parts.push(format!("{:.1} s", m.duration_ms as f64 / 1000.0));
            }
            if let Some(n) = m.research_iterations {
                parts.push(format!("{n} research steps"));
            }
            parts.join(" · ")
        })
    });
    let copied = RwSignal::new(false);
    let copy = {
        let content = message.content.clone();
        move |_| {
            let text = content.get_untracked();
            leptos::task::spawn_local(async move {
                copied.set(copy_text(text).await);
            });
        }
    };

    // Citations are links inside rendered Markdown; one handler per answer finds them.
    let cite_of = |ev: &leptos::ev::Event| -> Option<(u32, (f64, f64))> {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let el = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
            let link = el.closest("a[data-cite]").ok()??;
            let n = link.get_attribute("data-cite")?.parse().ok()?;
            let rect = link.get_bounding_client_rect();
            Some((n, (rect.left(), rect.bottom())))
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = ev;
            None
        }
    };
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some((n, _)) = cite_of(&ev) {
            ev.prevent_default();
            ui.preview.set(None);
            ui.show_source(id, n);
        }
    };
    let show_preview = move |ev: &leptos::ev::Event| {
        if let Some((n, (x, y))) = cite_of(ev) {
            ui.preview.set(Some(CitePreview {
                message_id: id,
                n,
                x,
                y,
            }));
        }
    };
    let hide_preview = move || ui.preview.set(None);

    view! {
        <li
            class="self-stretch rounded-2xl rounded-bl-sm border border-stone-200 bg-white px-4 py-3 shadow-sm dark:border-stone-800 dark:bg-stone-900"
            data-role="assistant"
            data-message-id=id.to_string()
            on:click=on_click
            on:mouseover=move |ev| show_preview(&ev)
            on:focusin=move |ev| show_preview(&ev)
            on:mouseout=move |_| hide_preview()
            on:focusout=move |_| hide_preview()
        >
            <ResearchSteps research />
            <Markdown content streaming />
            <div class="mt-1 text-xs text-stone-600 dark:text-stone-400" aria-hidden="true">
                {note}
            </div>
            {move || {
                error
                    .get()
                    .map(|e| {
                        view! {
                            <p class="mt-1 text-sm text-red-700 dark:text-red-400" role="alert">
                                {e}
                            </p>
                        }
                    })
            }}
            <Show when=move || !streaming.get()>
                <div class="mt-2 flex flex-wrap items-center gap-1 text-sm">
                    <button type="button" class="msg-action" on:click=copy.clone()>
                        {move || if copied.get() { "Copied" } else { "Copy answer" }}
                    </button>
                    <Show when=move || is_last.get()>
                        <button
                            type="button"
                            class="msg-action"
                            on:click=move |_| client.regenerate(id)
                        >
                            "Regenerate"
                        </button>
                    </Show>
                    {move || {
                        (source_count.get() > 0)
                            .then(|| {
                                view! {
                                    <button
                                        type="button"
                                        class="msg-action"
                                        on:click=move |_| {
                                            ui.source_message.set(Some(id));
                                            ui.active_source.set(None);
                                            ui.sources.set(Some(true));
                                        }
                                    >
                                        {format!("Sources ({})", source_count.get())}
                                    </button>
                                }
                            })
                    }}
                    <span class="ml-auto text-xs text-stone-600 dark:text-stone-400">
                        {meta_line}
                    </span>
                </div>
            </Show>
        </li>
    }
}

/// Deep research: each announced step, as it arrives.
#[component]
fn ResearchSteps(research: ArcRwSignal<Vec<crate::client::ResearchStep>>) -> impl IntoView {
    let has_steps = {
        let research = research.clone();
        move || research.with(|r| !r.is_empty())
    };
    view! {
        <Show when=has_steps.clone()>
            <details
                open
                class="mb-2 rounded-lg bg-amber-50 px-3 py-2 text-sm dark:bg-amber-950/40"
            >
                <summary class="cursor-pointer font-medium text-amber-900 dark:text-amber-200">
                    "Deep research"
                </summary>
                <ol
                    class="mt-1 flex flex-col gap-0.5"
                    aria-label="Research steps"
                    data-testid="research-steps"
                >
                    {
                        let research = research.clone();
                        move || {
                            research
                                .get()
                                .into_iter()
                                .map(|step| {
                                    view! {
                                        <li class="text-stone-700 dark:text-stone-300">
                                            <span class="font-medium tabular-nums">
                                                {format!("Step {} of {}: ", step.n, step.total)}
                                            </span>
                                            {step.query}
                                        </li>
                                    }
                                })
                                .collect_view()
                        }
                    }
                </ol>
            </details>
        </Show>
    }
}

/// The card shown over a citation under the pointer or focus.
#[component]
pub fn CitationPreview() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let ui = expect_context::<Ui>();
    let card = move || {
        let p = ui.preview.get()?;
        let source = client.conversation.with(|c| {
            c.messages
                .iter()
                .find(|m| m.id == p.message_id)
                .and_then(|m| {
                    let i = (p.n as usize).checked_sub(1)?;
                    m.sources.with(|s| s.get(i).cloned())
                })
        });
        Some((p, source))
    };
    view! {
        {move || {
            card()
                .map(|(p, source)| {
                    let style = format!("left: {}px; top: {}px;", p.x.max(8.0), p.y + 6.0);
                    view! {
                        <div
                            role="tooltip"
                            class="pointer-events-none fixed z-50 w-80 max-w-[90vw] rounded-lg border border-stone-200 bg-white p-3 text-sm shadow-lg dark:border-stone-700 dark:bg-stone-900"
                            style=style
                        >
                            {match source {
                                Some(s) => {
                                    view! {
                                        <p class="font-mono text-xs font-medium break-all">
                                            {format!(
                                                "[{}] {}:{}–{}",
                                                p.n,
                                                s.path,
                                                s.start_line,
                                                s.end_line,
                                            )}
                                        </p>
                                        <pre class="mt-1 max-h-40 overflow-hidden whitespace-pre-wrap text-xs text-stone-600 dark:text-stone-300">
                                            {s.snippet}
                                        </pre>
                                    }
                                        .into_any()
                                }
                                None => {
                                    view! {
                                        <p>
                                            {format!("Source {} is not in this answer's sources.", p.n)}
                                        </p>
                                    }
                                        .into_any()
                                }
                            }}
                        </div>
                    }
                })
        }}
    }
}

/// Keeps the newest text in view while an answer streams, unless the reader scrolled up.
pub fn follow_stream(scroller: NodeRef<leptos::html::Div>) {
    let client = expect_context::<ChatClient>();
    Effect::new(move |_| {
        let _len = client.conversation.with(|c| {
            (
                c.messages.len(),
                c.messages.last().map(|m| m.content.with(String::len)),
            )
        });
        #[cfg(feature = "hydrate")]
        if let Some(el) = scroller.get_untracked() {
            let distance = el.scroll_height() - el.scroll_top() - el.client_height();
            if distance < 160 {
                el.set_scroll_top(el.scroll_height());
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = scroller;
    });
}

/// The newest answer's id, for shortcuts.
pub fn last_answer_id(client: ChatClient) -> Option<Uuid> {
    client
        .conversation
        .with_untracked(|c| c.last_answer().map(|m| m.id))
}
