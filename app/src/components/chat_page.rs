//! The chat page: header with the connection indicator, the messages, and the composer.
//! `/` starts a new conversation; sending its first message moves to `/chat/{id}`.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use uuid::Uuid;

use super::connection_indicator::ConnectionIndicator;
use super::message_list::MessageList;
use crate::client::ChatClient;

#[component]
pub fn ChatPage() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let params = use_params_map();
    let conversation_id = move || {
        params
            .read()
            .get("conversation_id")
            .and_then(|s| Uuid::parse_str(&s).ok())
    };
    Effect::new(move |_| {
        if let Some(id) = conversation_id() {
            client.open_conversation(id);
        }
    });

    view! {
        <div class="mx-auto flex min-h-dvh max-w-3xl flex-col px-4">
            <header class="sticky top-0 z-10 flex items-center justify-between border-b border-stone-200 bg-stone-50/90 py-3 backdrop-blur dark:border-stone-800 dark:bg-stone-950/90">
                <a href="/" class="text-lg font-semibold tracking-tight">
                    "Repo" <span class="text-indigo-600 dark:text-indigo-400">"Wiki"</span>
                </a>
                <ConnectionIndicator/>
            </header>
            <main class="flex flex-1 flex-col gap-4 py-6">
                <h1 class="sr-only">"Chat"</h1>
                <EmptyState/>
                <section aria-live="polite" aria-label="Conversation" class="flex flex-col">
                    <MessageList/>
                </section>
            </main>
            <Composer/>
        </div>
    }
}

#[component]
fn EmptyState() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let empty = move || client.conversation.with(|c| c.messages.is_empty());
    view! {
        <Show when=empty>
            <div class="mt-16 text-center text-stone-500 dark:text-stone-400">
                <p class="text-2xl font-semibold text-stone-800 dark:text-stone-200">"Ask about your code."</p>
                <p class="mt-2 text-sm">"Answers stream as they are written; every claim cites its source."</p>
            </div>
        </Show>
    }
}

#[component]
fn Composer() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let navigate = use_navigate();
    let draft = RwSignal::new(String::new());
    let streaming = move || client.conversation.with(|c| c.is_streaming());

    let submit = move || {
        let text = draft.get_untracked().trim().to_owned();
        if text.is_empty() {
            return;
        }
        let had_conversation = client.conversation.with_untracked(|c| c.id.is_some());
        let id = client.send_message(text);
        draft.set(String::new());
        if !had_conversation {
            navigate(&format!("/chat/{id}"), Default::default());
        }
    };
    let on_submit = {
        let submit = submit.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            submit();
        }
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        // Enter sends, Shift+Enter starts a new line: the convention of every chat app.
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };

    view! {
        <form on:submit=on_submit class="sticky bottom-0 flex items-end gap-2 border-t border-stone-200 bg-stone-50 py-3 dark:border-stone-800 dark:bg-stone-950">
            <label for="message" class="sr-only">"Message"</label>
            <textarea
                id="message"
                name="message"
                rows="2"
                placeholder="Ask a question about the repository…"
                class="min-h-11 flex-1 resize-none rounded-xl border border-stone-300 bg-white px-3 py-2 shadow-sm outline-none focus:border-indigo-500 focus:ring-2 focus:ring-indigo-500/30 dark:border-stone-700 dark:bg-stone-900"
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                on:keydown=on_keydown
            ></textarea>
            <Show
                when=streaming
                fallback=|| view! {
                    <button type="submit" class="h-11 rounded-xl bg-indigo-600 px-5 font-medium text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600">
                        "Send"
                    </button>
                }
            >
                <button type="button" on:click=move |_| client.stop() class="h-11 rounded-xl bg-stone-800 px-5 font-medium text-white shadow-sm hover:bg-stone-700 dark:bg-stone-200 dark:text-stone-900">
                    "Stop"
                </button>
            </Show>
        </form>
    }
}
