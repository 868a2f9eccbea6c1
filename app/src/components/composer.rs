//! Where questions are written: the message box, Send or Stop, the model picker, the
//! deep-research switch and, for a new conversation, the project it answers from.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::ui_state::Ui;
use crate::client::{ChatClient, SendOptions, api, page_reads};
use crate::protocol::rest::ModelsResponse;

pub const MESSAGE_INPUT_ID: &str = "message";

#[component]
pub fn Composer() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let ui = expect_context::<Ui>();
    let settings = ui.settings;
    let navigate = use_navigate();
    let draft = RwSignal::new(String::new());
    let streaming = move || client.conversation.with(|c| c.is_streaming());
    let is_new = move || client.conversation.with(|c| c.messages.is_empty());

    // Typing notices: one when typing starts, one after 3 s without a keystroke or on send.
    let typing = StoredValue::new((false, 0u64));
    let stop_typing = move || {
        if typing.get_value().0 {
            typing.update_value(|t| t.0 = false);
            client.set_typing(false);
        }
    };
    let on_input = move |ev: leptos::ev::Event| {
        draft.set(event_target_value(&ev));
        let (active, generation) = typing.get_value();
        if !active {
            client.set_typing(true);
        }
        typing.set_value((true, generation + 1));
        set_timeout(
            move || {
                if typing.try_get_value().map(|t| t.1) == Some(generation + 1) {
                    stop_typing();
                }
            },
            std::time::Duration::from_secs(3),
        );
    };
    let submit = move || {
        stop_typing();
        let text = draft.get_untracked().trim().to_owned();
        if text.is_empty() || client.conversation.with_untracked(|c| c.is_streaming()) {
            return;
        }
        let had_conversation = client.conversation.with_untracked(|c| c.id.is_some());
        let (provider, model) = settings.provider_and_model();
        let options = SendOptions {
            provider,
            model,
            deep_research: settings.deep_research.get_untracked(),
            project_id: settings.project_id.get_untracked(),
        };
        let id = client.send_message(text, options);
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
        <form
            on:submit=on_submit
            class="border-t border-stone-200 bg-stone-50 px-3 pt-2 pb-3 dark:border-stone-800 dark:bg-stone-950"
        >
            <div class="mx-auto flex max-w-3xl flex-col gap-2">
                <div class="flex flex-wrap items-center gap-x-3 gap-y-1 text-sm">
                    <ModelPicker />
                    <Show when=is_new>
                        <ProjectPicker />
                    </Show>
                    // Announced politely: who else is here, and when someone types.
                    <span
                        class="inline-flex gap-2 text-xs text-stone-600 dark:text-stone-400"
                        aria-live="polite"
                    >
                        <Show when=move || { client.viewers.get() > 1 }>
                            <span data-testid="viewers">
                                {move || format!("{} viewing", client.viewers.get())}
                            </span>
                        </Show>
                        <Show when=move || client.typing.with(|t| !t.is_empty())>
                            <span class="italic" data-testid="typing">
                                "Someone else is typing…"
                            </span>
                        </Show>
                    </span>
                    <label class="inline-flex cursor-pointer items-center gap-1.5 select-none">
                        <input
                            type="checkbox"
                            role="switch"
                            aria-checked=move || settings.deep_research.get().to_string()
                            class="h-4 w-4 accent-amber-600"
                            prop:checked=move || settings.deep_research.get()
                            on:change=move |ev| {
                                settings.deep_research.set(event_target_checked(&ev))
                            }
                        />
                        "Deep research"
                    </label>
                </div>
                <div class="flex items-end gap-2">
                    <label for=MESSAGE_INPUT_ID class="sr-only">
                        "Message"
                    </label>
                    <textarea
                        id=MESSAGE_INPUT_ID
                        name="message"
                        rows="2"
                        placeholder="Ask a question about the repository…"
                        class="min-h-11 flex-1 resize-none rounded-xl border border-stone-300 bg-white px-3 py-2 shadow-sm outline-none focus:border-indigo-500 focus:ring-2 focus:ring-indigo-500/30 dark:border-stone-700 dark:bg-stone-900"
                        prop:value=move || draft.get()
                        on:input=on_input
                        on:keydown=on_keydown
                    ></textarea>
                    <Show
                        when=streaming
                        fallback=|| {
                            view! {
                                <button
                                    type="submit"
                                    class="h-11 rounded-xl bg-indigo-600 px-5 font-medium text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600"
                                >
                                    "Send"
                                </button>
                            }
                        }
                    >
                        <button
                            type="button"
                            on:click=move |_| client.stop()
                            class="h-11 rounded-xl bg-stone-800 px-5 font-medium text-white shadow-sm hover:bg-stone-700 dark:bg-stone-200 dark:text-stone-900"
                        >
                            "Stop"
                        </button>
                    </Show>
                </div>
            </div>
        </form>
    }
}

/// Provider and model from `GET /api/models`; the first choice is the server's default.
#[component]
fn ModelPicker() -> impl IntoView {
    let model = expect_context::<Ui>().settings.model;
    let models = RwSignal::new(None::<ModelsResponse>);
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(m) = api::get::<ModelsResponse>("/api/models").await {
                models.set(Some(m));
            }
        });
    });
    view! {
        <label class="inline-flex items-center gap-1.5">
            <span class="text-stone-600 dark:text-stone-400">"Model"</span>
            <select
                class="max-w-52 rounded-md border border-stone-300 bg-white px-2 py-1 dark:border-stone-700 dark:bg-stone-900"
                on:change=move |ev| model.set(event_target_value(&ev))
                prop:value=move || model.get()
            >
                <option value="">"Server default"</option>
                {move || {
                    models
                        .get()
                        .map(|m| {
                            m.providers
                                .into_iter()
                                .map(|p| {
                                    let label = if p.configured {
                                        p.name.clone()
                                    } else {
                                        format!("{} (not configured)", p.name)
                                    };
                                    let configured = p.configured;
                                    let provider = p.id.clone();
                                    view! {
                                        <optgroup label=label>
                                            {p
                                                .models
                                                .into_iter()
                                                .map(|name| {
                                                    let value = format!("{provider}/{name}");
                                                    view! {
                                                        <option value=value disabled=!configured>
                                                            {name}
                                                        </option>
                                                    }
                                                })
                                                .collect_view()}
                                        </optgroup>
                                    }
                                })
                                .collect_view()
                        })
                }}
            </select>
        </label>
    }
}

/// The project a new conversation answers from (`GET /api/projects`).
#[component]
fn ProjectPicker() -> impl IntoView {
    let project_id = expect_context::<Ui>().settings.project_id;
    let projects = Resource::new(|| (), |_| page_reads::projects());
    let listed = move || {
        projects.with(|p| match p {
            Some(Ok(list)) => list.clone(),
            _ => Vec::new(),
        })
    };
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                page_reads::loaded(projects).await;
                view! {
                    <Show when=move || !listed().is_empty()>
                        <label class="inline-flex items-center gap-1.5">
                            <span class="text-stone-600 dark:text-stone-400">"Project"</span>
                            <select
                                class="max-w-52 rounded-md border border-stone-300 bg-white px-2 py-1 dark:border-stone-700 dark:bg-stone-900"
                                on:change=move |ev| {
                                    let v = event_target_value(&ev);
                                    project_id.set((!v.is_empty()).then_some(v));
                                }
                                prop:value=move || project_id.get().unwrap_or_default()
                            >
                                <option value="">"No project"</option>
                                {move || {
                                    listed()
                                        .into_iter()
                                        .map(|p| {
                                            view! { <option value=p.id.clone()>{p.name}</option> }
                                        })
                                        .collect_view()
                                }}
                            </select>
                        </label>
                    </Show>
                }
            })}
        </Transition>
    }
}
