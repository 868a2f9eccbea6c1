//! The conversation list: search, open, rename and delete. Refreshed when a question is
//! asked or a conversation is deleted anywhere (room events), and when the search changes.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use uuid::Uuid;

use super::ui_state::{Ui, panel_class};
use crate::client::{ChatClient, api, page_reads};
use crate::protocol::rest::{Conversation, ConversationUpdate};

const PAGE: usize = 30;

#[component]
pub fn ConversationList() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let ui = expect_context::<Ui>();
    let query = RwSignal::new(String::new());
    let limit = RwSignal::new(PAGE);
    // What is searched for: the box's text once typing pauses.
    let search = RwSignal::new(String::new());
    Effect::new(move |_| {
        let q = query.get();
        leptos::task::spawn_local(async move {
            if !q.is_empty() {
                gloo_sleep(200).await;
            }
            if query.try_get_untracked().as_deref() == Some(q.as_str()) {
                search.set(q);
            }
        });
    });
    let reload = RwSignal::new(0u64);
    let page = Resource::new(
        move || {
            reload.track();
            client.conversations_changed.track();
            (search.get(), limit.get())
        },
        |(search, limit)| page_reads::conversations(search, limit),
    );

    let current = move || client.conversation.with(|c| c.id);
    // The open conversation's project, for the source viewer.
    Effect::new(move |_| {
        let id = current();
        if let Some(c) = page.with(|p| match p {
            Some(Ok(p)) => p.items.iter().find(|c| Some(c.id) == id).cloned(),
            _ => None,
        }) && c.project_id.is_some()
        {
            ui.settings.project_id.set(c.project_id);
        }
    });

    view! {
        <nav
            aria-label="Conversations"
            class=move || {
                format!(
                    "{} w-72 shrink-0 flex-col border-r border-stone-200 bg-stone-100/95 dark:border-stone-800 dark:bg-stone-900/95 max-lg:fixed max-lg:inset-y-0 max-lg:left-0 max-lg:z-40 max-lg:shadow-xl",
                    panel_class(ui.conversations.get(), "lg"),
                )
            }
        >
            <div class="flex items-center gap-2 p-3">
                <a
                    href="/"
                    class="flex-1 rounded-lg bg-indigo-600 px-3 py-2 text-center text-sm font-medium text-white hover:bg-indigo-500"
                >
                    "New chat"
                </a>
                <button
                    type="button"
                    class="rounded-lg px-2 py-2 text-sm lg:hidden"
                    on:click=move |_| ui.conversations.set(Some(false))
                >
                    "Close"
                </button>
            </div>
            <div class="px-3 pb-2">
                <input
                    type="search"
                    aria-label="Search conversations"
                    placeholder="Search conversations"
                    class="w-full rounded-lg border border-stone-300 bg-white px-3 py-1.5 text-sm dark:border-stone-700 dark:bg-stone-950"
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev))
                />
            </div>
            <div class="min-h-0 flex-1 overflow-y-auto px-2 pb-3">
                // The server waits for the list and renders it; a later read keeps the
                // list on screen until the new one is in.
                <Transition fallback=|| {
                    view! {
                        <p class="px-2 text-sm text-stone-600 dark:text-stone-400">"Loading…"</p>
                    }
                }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Err(e) => {
                                view! {
                                    <div class="px-2 text-sm" role="alert">
                                        <p class="text-red-700 dark:text-red-400">{e}</p>
                                        <button
                                            type="button"
                                            class="mt-1 underline"
                                            on:click=move |_| reload.update(|n| *n += 1)
                                        >
                                            "Retry"
                                        </button>
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(found) if found.items.is_empty() => {
                                view! {
                                    <p class="px-2 text-sm text-stone-600 dark:text-stone-400">
                                        {if query.get_untracked().is_empty() {
                                            "No conversations yet."
                                        } else {
                                            "No conversation matches."
                                        }}
                                    </p>
                                }
                                    .into_any()
                            }
                            Ok(found) => {
                                let more = (found.items.len() as u64) < found.total;
                                let items = found.items;
                                view! {
                                    <ul class="flex flex-col gap-0.5">
                                        <For
                                            each=move || items.clone()
                                            key=|c| (c.id, c.title.clone(), c.updated_at)
                                            let:conversation
                                        >
                                            <ConversationItem
                                                conversation
                                                current=Signal::derive(current)
                                                reload
                                            />
                                        </For>
                                    </ul>
                                    {more
                                        .then(|| {
                                            view! {
                                                <button
                                                    type="button"
                                                    class="mt-2 w-full rounded-lg py-1.5 text-sm text-indigo-700 hover:bg-stone-200 dark:text-indigo-300 dark:hover:bg-stone-800"
                                                    on:click=move |_| limit.update(|l| *l += PAGE)
                                                >
                                                    "Show more"
                                                </button>
                                            }
                                        })}
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </div>
        </nav>
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    View,
    Rename,
    ConfirmDelete,
}

#[component]
fn ConversationItem(
    conversation: Conversation,
    current: Signal<Option<Uuid>>,
    reload: RwSignal<u64>,
) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let navigate = use_navigate();
    let id = conversation.id;
    let title = conversation.title.clone();
    let mode = RwSignal::new(Mode::View);
    let draft = RwSignal::new(title.clone());
    let error = RwSignal::new(None::<String>);
    let input = NodeRef::<leptos::html::Input>::new();
    let is_current = move || current.get() == Some(id);

    let save = move || {
        let new_title = draft.get_untracked().trim().to_owned();
        if new_title.is_empty() {
            return;
        }
        leptos::task::spawn_local(async move {
            let body = ConversationUpdate { title: new_title };
            match api::put::<_, serde::de::IgnoredAny>(
                &format!("/api/chat/conversations/{id}"),
                &body,
            )
            .await
            {
                Ok(_) => {
                    mode.set(Mode::View);
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let delete = move || {
        let navigate = navigate.clone();
        let was_current = is_current();
        leptos::task::spawn_local(async move {
            match api::send_empty("DELETE", &format!("/api/chat/conversations/{id}")).await {
                Ok(()) => {
                    reload.update(|n| *n += 1);
                    if was_current {
                        navigate("/", Default::default());
                    }
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    Effect::new(move |_| {
        if mode.get() == Mode::Rename
            && let Some(el) = input.get()
        {
            let _ = el.focus();
            el.select();
        }
    });

    let title_for_buttons = title.clone();
    view! {
        <li class=move || {
            format!(
                "group rounded-lg {}",
                if is_current() {
                    "bg-white shadow-sm dark:bg-stone-800"
                } else {
                    "hover:bg-stone-200/70 dark:hover:bg-stone-800/60"
                },
            )
        }>
            {move || match mode.get() {
                Mode::Rename => {
                    view! {
                        <form
                            class="flex gap-1 p-1"
                            on:submit=move |ev| {
                                ev.prevent_default();
                                save();
                            }
                        >
                            <input
                                node_ref=input
                                aria-label="New title"
                                class="min-w-0 flex-1 rounded border border-stone-300 bg-white px-2 py-1 text-sm dark:border-stone-600 dark:bg-stone-950"
                                prop:value=move || draft.get()
                                on:input=move |ev| draft.set(event_target_value(&ev))
                                on:keydown=move |ev| {
                                    if ev.key() == "Escape" {
                                        ev.prevent_default();
                                        mode.set(Mode::View);
                                    }
                                }
                            />
                            <button
                                type="submit"
                                class="rounded px-2 text-sm font-medium text-indigo-700 dark:text-indigo-300"
                            >
                                "Save"
                            </button>
                            <button
                                type="button"
                                class="rounded px-1 text-sm"
                                on:click=move |_| mode.set(Mode::View)
                            >
                                "Cancel"
                            </button>
                        </form>
                    }
                        .into_any()
                }
                Mode::ConfirmDelete => {
                    view! {
                        <div class="flex items-center gap-1 p-2 text-sm">
                            <span class="flex-1 truncate">"Delete this conversation?"</span>
                            <button
                                type="button"
                                class="rounded bg-red-600 px-2 py-0.5 text-white"
                                on:click={
                                    let delete = delete.clone();
                                    move |_| delete()
                                }
                            >
                                "Delete"
                            </button>
                            <button
                                type="button"
                                class="rounded px-2 py-0.5"
                                on:click=move |_| mode.set(Mode::View)
                            >
                                "Cancel"
                            </button>
                        </div>
                    }
                        .into_any()
                }
                Mode::View => {
                    let title = title_for_buttons.clone();
                    let title_id = format!("conversation-{id}");
                    view! {
                        <div class="flex items-center">
                            <a
                                id=title_id.clone()
                                href=format!("/chat/{id}")
                                class="min-w-0 flex-1 truncate px-2 py-2 text-sm"
                                aria-current=move || is_current().then_some("page")
                                title=title.clone()
                                on:click=move |_| {
                                    if !super::ui_state::is_wide() {
                                        ui.conversations.set(Some(false))
                                    }
                                }
                            >
                                {title.clone()}
                            </a>
                            // Names without the title: a title like "Stop" must not make
                            // these buttons answer to the composer's names.
                            <button
                                type="button"
                                class="item-action"
                                aria-label="Rename conversation"
                                aria-describedby=title_id.clone()
                                on:click=move |_| {
                                    error.set(None);
                                    mode.set(Mode::Rename)
                                }
                            >
                                "✎"
                            </button>
                            <button
                                type="button"
                                class="item-action"
                                aria-label="Delete conversation"
                                aria-describedby=title_id.clone()
                                on:click=move |_| {
                                    error.set(None);
                                    mode.set(Mode::ConfirmDelete)
                                }
                            >
                                "✕"
                            </button>
                        </div>
                    }
                        .into_any()
                }
            }}
            {move || {
                error
                    .get()
                    .map(|e| {
                        view! {
                            <p
                                class="px-2 pb-1 text-xs text-red-700 dark:text-red-400"
                                role="alert"
                            >
                                {e}
                            </p>
                        }
                    })
            }}
        </li>
    }
}

async fn gloo_sleep(ms: u32) {
    #[cfg(feature = "hydrate")]
    gloo_timers::future::TimeoutFuture::new(ms).await;
    #[cfg(not(feature = "hydrate"))]
    let _ = ms;
}
