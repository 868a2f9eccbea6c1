//! The chat page: conversation list, the messages with the composer, and the sources.
//! `/` starts a new conversation; sending its first message moves to `/chat/{id}`.
//!
//! The server renders a conversation's stored messages (through
//! [`crate::PageStore`]), so a conversation can be read without JavaScript; after
//! hydration the socket's snapshot takes over and the answer in progress continues.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use uuid::Uuid;

use super::composer::Composer;
use super::conversation_list::ConversationList;
use super::message_list::{CitationPreview, MessageList, follow_stream};
use super::sources_panel::SourcesPanel;
use super::ui_state::Ui;
use crate::client::{ChatClient, page_reads};

#[component]
pub fn ChatPage() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let ui = expect_context::<Ui>();
    let params = use_params_map();
    let conversation_id = move || {
        params
            .read()
            .get("conversation_id")
            .and_then(|s| Uuid::parse_str(&s).ok())
    };
    // `/?project=…` (from the projects page) asks the new conversation's project.
    let query = use_query_map();
    Effect::new(move |_| {
        if let Some(project) = query.read().get("project") {
            ui.settings.project_id.set(Some(project));
        }
    });
    Effect::new(move |_| {
        ui.source_message.set(None);
        ui.active_source.set(None);
        ui.open_source.set(None);
        match conversation_id() {
            Some(id) => client.open_conversation(id),
            None => client.new_conversation(),
        }
    });
    let stored = Resource::new(conversation_id, |id| async move {
        match id {
            Some(id) => page_reads::messages(id).await,
            None => None,
        }
    });
    let scroller = NodeRef::<leptos::html::Div>::new();
    follow_stream(scroller);
    let deleted = move || client.conversation.with(|c| c.deleted);

    view! {
        <div class="flex min-h-0 flex-1">
            <ConversationList />
            <div class="flex min-w-0 flex-1 flex-col">
                <div node_ref=scroller class="min-h-0 flex-1 overflow-y-auto">
                    <main id="main" class="mx-auto flex max-w-3xl flex-col gap-4 px-4 py-6">
                        <h1 class="sr-only">"Chat"</h1>
                        <Show when=deleted>
                            <p
                                role="alert"
                                class="rounded-lg bg-red-50 p-3 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-300"
                            >
                                "This conversation was deleted. "
                                <a href="/" class="underline">
                                    "Start a new one"
                                </a>
                            </p>
                        </Show>
                        <section aria-live="polite" aria-label="Conversation" class="flex flex-col">
                            <Suspense fallback=|| ()>
                                {move || Suspend::new(async move {
                                    if let (Some(id), Some(messages)) = (
                                        conversation_id(),
                                        stored.await,
                                    ) {
                                        client.seed_conversation(id, &messages);
                                    }
                                    view! {
                                        <EmptyState />
                                        <MessageList />
                                    }
                                })}
                            </Suspense>
                        </section>
                    </main>
                </div>
                <Composer />
            </div>
            <SourcesPanel />
            <CitationPreview />
        </div>
    }
}

#[component]
fn EmptyState() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let empty = move || client.conversation.with(|c| c.messages.is_empty());
    view! {
        <Show when=empty>
            <div class="mt-16 text-center text-stone-600 dark:text-stone-400">
                <p class="text-2xl font-semibold text-stone-800 dark:text-stone-200">
                    "Ask about your code."
                </p>
                <p class="mt-2 text-sm">
                    "Answers stream as they are written; every claim cites its source."
                </p>
                <p class="mt-4 text-xs">
                    "Press "
                    <kbd class="rounded border border-stone-300 px-1 dark:border-stone-700">
                        "?"
                    </kbd> " for keyboard shortcuts."
                </p>
            </div>
        </Show>
    }
}
