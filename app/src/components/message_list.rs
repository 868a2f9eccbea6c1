//! The conversation's messages. The list re-renders only when a message is added; a
//! streamed token updates the text of its own message.

use leptos::prelude::*;

use crate::client::{ChatClient, MessageState, UiMessage};
use crate::protocol::Role;

#[component]
pub fn MessageList() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let messages = move || client.conversation.with(|c| c.messages.clone());

    view! {
        <ol class="flex flex-col gap-4" aria-label="Messages">
            <For each=messages key=|m| m.id let:message>
                <MessageItem message/>
            </For>
        </ol>
    }
}

#[component]
fn MessageItem(message: UiMessage) -> impl IntoView {
    let is_user = message.role == Role::User;
    let content = message.content.clone();
    let state = message.state.clone();
    let error = message.error.clone();
    let bubble = if is_user {
        "self-end max-w-[85%] rounded-2xl rounded-br-sm bg-indigo-600 px-4 py-2.5 text-white shadow-sm"
    } else {
        "self-start max-w-[85%] rounded-2xl rounded-bl-sm border border-stone-200 bg-white px-4 py-2.5 shadow-sm dark:border-stone-800 dark:bg-stone-900"
    };
    let note = move || match state.get() {
        MessageState::Streaming => Some("Generating…"),
        MessageState::Stopped => Some("Stopped"),
        MessageState::Failed => Some("Failed"),
        MessageState::Done => None,
    };

    view! {
        <li class=bubble data-role=if is_user { "user" } else { "assistant" }>
            <p class="whitespace-pre-wrap break-words leading-relaxed">{move || content.get()}</p>
            {move || note().map(|n| view! { <p class="mt-1 text-xs opacity-70">{n}</p> })}
            {move || error.get().map(|e| view! { <p class="mt-1 text-xs text-red-600 dark:text-red-400" role="alert">{e}</p> })}
        </li>
    }
}
