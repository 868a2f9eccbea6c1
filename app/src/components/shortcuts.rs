//! Keyboard shortcuts and the dialog that lists them (`?`).

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::ui_state::Ui;
use crate::client::ChatClient;

/// What the dialog lists; the handler below implements exactly these.
const SHORTCUTS: &[(&str, &str)] = &[
    ("?", "Show this dialog"),
    ("Ctrl + Shift + O", "New chat"),
    ("/  or  Shift + Esc", "Focus the message box"),
    ("Esc", "Stop the answer being written"),
    ("Ctrl + Shift + Y", "Copy the last answer"),
    ("Ctrl + Shift + S", "Show or hide the conversation list"),
    ("Ctrl + Shift + E", "Show or hide the sources"),
    ("Enter / Shift + Enter", "Send / new line"),
];

/// Installs the page-wide key handler; call once.
pub fn install_shortcuts() {
    let ui = expect_context::<Ui>();
    let client = expect_context::<ChatClient>();
    let navigate = use_navigate();
    #[cfg(feature = "hydrate")]
    {
        use super::composer::MESSAGE_INPUT_ID;
        use super::message_list::last_answer_id;
        use super::ui_state::{copy_text, focus_later};
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            let key = ev.key();
            let ctrl = ev.ctrl_key() || ev.meta_key();
            let in_field = super::ui_state::typing_in_field(&ev);
            let mut handled = true;
            match (ctrl, ev.shift_key(), key.to_ascii_lowercase().as_str()) {
                (true, true, "o") => navigate("/", Default::default()),
                (true, true, "s") => Ui::toggle(ui.conversations),
                (true, true, "e") => Ui::toggle(ui.sources),
                (true, true, "y") => {
                    if let Some(id) = last_answer_id(client) {
                        let text = client.conversation.with_untracked(|c| {
                            c.messages
                                .iter()
                                .find(|m| m.id == id)
                                .map(|m| m.content.get_untracked())
                        });
                        if let Some(text) = text {
                            leptos::task::spawn_local(async move {
                                copy_text(text).await;
                            });
                        }
                    }
                }
                (false, true, "escape") => focus_later(MESSAGE_INPUT_ID.into()),
                (false, _, "/") if !in_field => focus_later(MESSAGE_INPUT_ID.into()),
                (false, _, "?") if !in_field => ui.shortcuts.set(true),
                (false, false, "escape") if !ui.shortcuts.get_untracked() => {
                    if client.conversation.with_untracked(|c| c.is_streaming()) {
                        client.stop();
                    } else {
                        handled = false;
                    }
                }
                _ => handled = false,
            }
            if handled {
                ev.prevent_default();
            }
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ui, client, navigate);
}

#[component]
pub fn ShortcutsDialog() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    // A native modal dialog: focus stays inside it and Escape closes it.
    Effect::new(move |_| {
        let open = ui.shortcuts.get();
        if let Some(d) = dialog.get() {
            if open && !d.open() {
                let _ = d.show_modal();
            } else if !open && d.open() {
                d.close();
            }
        }
    });

    view! {
        <dialog
            node_ref=dialog
            aria-labelledby="shortcuts-title"
            class="m-auto w-[32rem] max-w-[95vw] rounded-2xl border border-stone-200 bg-white p-0 text-stone-900 shadow-2xl backdrop:bg-black/40 dark:border-stone-700 dark:bg-stone-900 dark:text-stone-100"
            on:close=move |_| ui.shortcuts.set(false)
        >
            <div class="p-5">
                <div class="flex items-center justify-between">
                    <h2 id="shortcuts-title" class="text-lg font-semibold">
                        "Keyboard shortcuts"
                    </h2>
                    <button
                        type="button"
                        class="rounded px-2 py-1 text-sm hover:bg-stone-100 dark:hover:bg-stone-800"
                        on:click=move |_| ui.shortcuts.set(false)
                    >
                        "Close"
                    </button>
                </div>
                <table class="mt-3 w-full text-sm">
                    <caption class="sr-only">"Keyboard shortcuts"</caption>
                    <tbody>
                        {SHORTCUTS
                            .iter()
                            .map(|(keys, what)| {
                                view! {
                                    <tr class="border-t border-stone-100 dark:border-stone-800">
                                        <th scope="row" class="py-1.5 pr-4 text-left font-normal">
                                            <kbd class="rounded border border-stone-300 bg-stone-50 px-1.5 font-mono text-xs dark:border-stone-600 dark:bg-stone-800">
                                                {*keys}
                                            </kbd>
                                        </th>
                                        <td class="py-1.5">{*what}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
                <p class="mt-4 text-sm text-stone-600 dark:text-stone-400">
                    "When the server asks for an API key, " <a href="/signin" class="underline">
                        "sign in"
                    </a> " once: the browser keeps a session, never the key."
                </p>
            </div>
        </dialog>
    }
}
