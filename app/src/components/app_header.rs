//! The bar on top of every page: panel toggles, navigation, theme, shortcuts and the
//! connection indicator.

use std::collections::HashSet;

use leptos::prelude::*;

use super::connection_indicator::ConnectionIndicator;
use super::sign_in_page::{SignOutButton, auth_state};
use super::theme_toggle::ThemeToggle;
use super::ui_state::Ui;
use crate::client::{ChatClient, page_reads};
use crate::protocol::rooms;

#[component]
pub fn AppHeader() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let auth = auth_state();
    view! {
        <header class="flex flex-wrap items-center gap-2 border-b border-stone-200 bg-stone-50/90 px-3 py-2 backdrop-blur dark:border-stone-800 dark:bg-stone-950/90">
            <a
                href="#message"
                class="sr-only focus:not-sr-only focus:rounded focus:bg-indigo-600 focus:px-2 focus:text-white"
            >
                "Skip to the message box"
            </a>
            <button
                type="button"
                class="hdr-btn"
                aria-label="Toggle conversation list"
                on:click=move |_| Ui::toggle(ui.conversations)
            >
                <span aria-hidden="true">"☰"</span>
            </button>
            <a href="/" class="text-lg font-semibold tracking-tight">
                "Repo"
                <span class="text-indigo-600 dark:text-indigo-400">"Wiki"</span>
            </a>
            <nav aria-label="Main" class="flex items-center gap-0.5 text-sm sm:ml-2 sm:gap-1">
                <a href="/" class="hdr-link">
                    "Chat"
                </a>
                <a href="/projects" class="hdr-link">
                    "Projects"
                </a>
                <a href="/wiki/jobs" class="hdr-link">
                    // Shorter on a phone, same name for screen readers and tests.
                    <span class="max-sm:sr-only">"Wiki jobs"</span>
                    <span class="sm:hidden" aria-hidden="true">
                        "Jobs"
                    </span>
                    <RunningJobsBadge />
                </a>
            </nav>
            <div class="ml-auto flex items-center gap-1">
                <ConnectionIndicator />
                <button
                    type="button"
                    class="hdr-btn"
                    aria-label="Toggle sources"
                    on:click=move |_| Ui::toggle(ui.sources)
                >
                    <span aria-hidden="true">"❝"</span>
                </button>
                <ThemeToggle />
                <button
                    type="button"
                    class="hdr-btn"
                    aria-label="Keyboard shortcuts and settings"
                    aria-keyshortcuts="?"
                    on:click=move |_| ui.shortcuts.set(true)
                >
                    <span aria-hidden="true">"⌨"</span>
                </button>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let state = auth.await;
                        (state.required && state.signed_in).then(|| view! { <SignOutButton /> })
                    })}
                </Suspense>
            </div>
        </header>
    }
}

/// How many wiki jobs are under way, shown while any is: the server's count when the page
/// was rendered, then followed live in the room every wiki job reports to.
#[component]
fn RunningJobsBadge() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let stored = Resource::new(|| (), |_| page_reads::running_jobs());
    Effect::new(move |_| client.join(rooms::WIKI_JOBS.to_owned(), None));
    let running = move || {
        let mut ids: HashSet<String> = stored
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .collect();
        client.wiki_jobs.with(|live| {
            for (id, status) in live {
                if status.is_running() {
                    ids.insert(id.clone());
                } else {
                    ids.remove(id);
                }
            }
        });
        ids.len()
    };
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                page_reads::loaded(stored).await;
                view! {
                    {move || {
                        let count = running();
                        (count > 0)
                            .then(|| {
                                view! {
                                    <span
                                        class="ml-1 rounded-full bg-amber-500 px-1.5 py-0.5 text-xs font-semibold text-white tabular-nums"
                                        data-testid="running-jobs"
                                    >
                                        {count}
                                        <span class="sr-only">" running"</span>
                                    </span>
                                }
                            })
                    }}
                }
            })}
        </Transition>
    }
}
