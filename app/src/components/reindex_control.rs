//! "Re-index" on a project card. A private repository (first indexed with an access
//! token) asks for its token again, since tokens are never stored, instead of failing
//! later with a clone error.

use leptos::prelude::*;

use crate::client::api;
use crate::protocol::rest::ReindexRequest;

#[component]
pub fn ReindexControl(
    project_id: String,
    needs_token: bool,
    reload: RwSignal<u64>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let token = RwSignal::new(String::new());
    let start = move |token: Option<String>| {
        let path = format!("/api/projects/{}/reindex", api::encode(&project_id));
        leptos::task::spawn_local(async move {
            match api::post::<_, serde::de::IgnoredAny>(&path, &ReindexRequest { token }).await {
                Ok(_) => {
                    asking.set(false);
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let start_again = start.clone();
    view! {
        <button
            type="button"
            class="btn-secondary"
            aria-expanded=move || needs_token.then(|| asking.get().to_string())
            on:click=move |_| {
                if needs_token {
                    asking.update(|a| *a = !*a);
                } else {
                    start(None);
                }
            }
        >
            "Re-index"
        </button>
        <Show when=move || asking.get()>
            <form
                class="flex w-full flex-wrap items-end gap-2"
                on:submit={
                    let start = start_again.clone();
                    move |ev| {
                        ev.prevent_default();
                        let value = token.get_untracked().trim().to_owned();
                        token.set(String::new());
                        start(Some(value).filter(|t| !t.is_empty()));
                    }
                }
            >
                <label class="flex flex-col gap-1">
                    "Access token"
                    <input
                        type="password"
                        autocomplete="off"
                        class="rounded-lg border border-stone-300 bg-white px-2 py-1.5 dark:border-stone-600 dark:bg-stone-950"
                        prop:value=move || token.get()
                        on:input=move |ev| token.set(event_target_value(&ev))
                    />
                </label>
                <button
                    type="submit"
                    class="rounded-lg bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700"
                >
                    "Re-index with token"
                </button>
                <p class="w-full text-xs text-stone-600 dark:text-stone-400">
                    "A private repository: the token is used for this fetch only and never stored."
                </p>
            </form>
        </Show>
    }
}
