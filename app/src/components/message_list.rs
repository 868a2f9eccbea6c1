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

/// True while an answer streams: no branch may change until it ends.
fn answering() -> Signal<bool> {
    let client = expect_context::<ChatClient>();
    Signal::derive(move || client.conversation.with(|c| c.is_streaming()))
}

#[component]
fn UserMessage(message: UiMessage) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let id = message.id;
    let content = message.content.clone();
    let settings = expect_context::<Ui>().settings;
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let busy = answering();
    let editor = NodeRef::<leptos::html::Textarea>::new();
    let start_editing = {
        let content = content.clone();
        move |_| {
            draft.set(content.get_untracked());
            editing.set(true);
            #[cfg(feature = "hydrate")]
            request_animation_frame(move || {
                if let Some(el) = editor.get_untracked() {
                    let _ = el.focus();
                }
            });
        }
    };
    let submit = move || {
        let text = draft.get_untracked();
        if text.trim().is_empty() || busy.get_untracked() {
            return;
        }
        editing.set(false);
        // The edited question is answered like a new one: with the model chosen now.
        let (provider, model) = settings.provider_and_model();
        client.edit(id, text, provider, model);
    };
    view! {
        <li class="flex max-w-[85%] flex-col items-end gap-1 self-end" data-role="user">
            <Show
                when=move || editing.get()
                fallback=move || {
                    let content = content.clone();
                    view! {
                        // Questions are shown as typed: plain text, never Markdown or HTML.
                        <p class="whitespace-pre-wrap break-words rounded-2xl rounded-br-sm bg-indigo-600 px-4 py-2.5 leading-relaxed text-white shadow-sm">
                            {move || content.get()}
                        </p>
                    }
                }
            >
                <form
                    class="flex w-full min-w-[min(32rem,80vw)] flex-col gap-2"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        submit();
                    }
                >
                    <textarea
                        node_ref=editor
                        aria-label="Edited question"
                        rows="3"
                        class="w-full rounded-xl border border-stone-300 bg-white px-3 py-2 text-stone-900 dark:border-stone-700 dark:bg-stone-900 dark:text-stone-100"
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))
                        on:keydown=move |ev| {
                            if ev.key() == "Escape" {
                                editing.set(false);
                            } else if ev.key() == "Enter" && !ev.shift_key() {
                                ev.prevent_default();
                                submit();
                            }
                        }
                    ></textarea>
                    <div class="flex justify-end gap-2 text-sm">
                        <button
                            type="button"
                            class="msg-action"
                            on:click=move |_| editing.set(false)
                        >
                            "Cancel"
                        </button>
                        <button
                            type="submit"
                            class="rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700 disabled:opacity-50"
                            disabled=move || busy.get()
                        >
                            "Save and send"
                        </button>
                    </div>
                </form>
            </Show>
            <Show when=move || !editing.get()>
                <div class="flex items-center gap-1 text-sm">
                    <VersionNav id versions=message.versions.clone() busy />
                    <button
                        type="button"
                        class="msg-action"
                        aria-label="Edit question"
                        title="Edit question"
                        disabled=move || busy.get()
                        on:click=start_editing.clone()
                    >
                        "Edit"
                    </button>
                </div>
            </Show>
        </li>
    }
}

/// "‹ 2 / 3 ›": browses the versions of one place in the conversation (regenerated
/// answers, edited questions); choosing one shows its branch.
#[component]
fn VersionNav(id: Uuid, versions: ArcRwSignal<Vec<Uuid>>, busy: Signal<bool>) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let neighbour = {
        let versions = versions.clone();
        move |step: isize| {
            versions.with(|v| {
                let i = v.iter().position(|x| *x == id)?;
                v.get(i.checked_add_signed(step)?).copied()
            })
        }
    };
    let position = {
        let versions = versions.clone();
        move || {
            versions.with(|v| {
                v.iter()
                    .position(|x| *x == id)
                    .map(|i| format!("{} / {}", i + 1, v.len()))
            })
        }
    };
    let several = move || versions.with(|v| v.len() > 1);
    let go = {
        let neighbour = neighbour.clone();
        move |step: isize| {
            if let Some(other) = neighbour(step) {
                client.show_version(other);
            }
        }
    };
    let (previous, next) = (neighbour.clone(), neighbour);
    view! {
        <Show when=several.clone()>
            <span
                class="inline-flex items-center gap-0.5 text-xs"
                role="group"
                aria-label="Versions"
            >
                <button
                    type="button"
                    class="msg-action"
                    aria-label="Previous version"
                    title="Previous version"
                    disabled={
                        let previous = previous.clone();
                        move || busy.get() || previous(-1).is_none()
                    }
                    on:click={
                        let go = go.clone();
                        move |_| go(-1)
                    }
                >
                    "‹"
                </button>
                <span class="tabular-nums text-stone-600 dark:text-stone-400">
                    {position.clone()}
                </span>
                <button
                    type="button"
                    class="msg-action"
                    aria-label="Next version"
                    title="Next version"
                    disabled={
                        let next = next.clone();
                        move || busy.get() || next(1).is_none()
                    }
                    on:click={
                        let go = go.clone();
                        move |_| go(1)
                    }
                >
                    "›"
                </button>
            </span>
        </Show>
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
    // The signal itself, not a copy of its text: reading a 20,000-token answer at every
    // token must not clone it.
    let content = Signal::<String>::from(message.content.clone());
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
    let versions = message.versions.clone();
    let busy = answering();
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
                    <VersionNav id versions=versions.clone() busy />
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
/// Measured once per frame, not per token: reading the scroll height forces the browser
/// to lay out the whole conversation, which per token cost milliseconds in a long chat.
pub fn follow_stream(scroller: NodeRef<leptos::html::Div>) {
    let client = expect_context::<ChatClient>();
    let scheduled = StoredValue::new(false);
    Effect::new(move |_| {
        let _len = client.conversation.with(|c| {
            (
                c.messages.len(),
                c.messages.last().map(|m| m.content.with(String::len)),
            )
        });
        if scheduled.get_value() {
            return;
        }
        scheduled.set_value(true);
        request_animation_frame(move || {
            // The page may have been left before the frame: then there is nothing to scroll.
            if scheduled.try_set_value(false).is_some() {
                return;
            }
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
    });
}

/// The newest answer's id, for shortcuts.
pub fn last_answer_id(client: ChatClient) -> Option<Uuid> {
    client
        .conversation
        .with_untracked(|c| c.last_answer().map(|m| m.id))
}
