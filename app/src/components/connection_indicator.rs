//! The connection indicator: a status region that says whether answers can stream.

use leptos::prelude::*;

use crate::client::{ChatClient, ConnectionStatus};

#[component]
pub fn ConnectionIndicator() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let status = client.status;
    let label = move || match status.get() {
        ConnectionStatus::Connected => "Connected",
        ConnectionStatus::Reconnecting { .. } => "Reconnecting…",
        ConnectionStatus::Offline => "Offline",
        ConnectionStatus::SignInNeeded => "Signed out",
    };
    let dot = move || match status.get() {
        ConnectionStatus::Connected => "bg-emerald-500",
        ConnectionStatus::Reconnecting { .. } => "bg-amber-500 animate-pulse",
        ConnectionStatus::Offline | ConnectionStatus::SignInNeeded => "bg-stone-400",
    };
    // Attempt count and latency sit outside the status element so that its text stays one
    // of three words that assistive technology and tests can rely on.
    let detail = move || match status.get() {
        ConnectionStatus::Reconnecting { attempt } => format!("attempt {attempt}"),
        ConnectionStatus::Connected => client
            .latency_ms
            .get()
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default(),
        ConnectionStatus::Offline | ConnectionStatus::SignInNeeded => String::new(),
    };
    // The sign-in page says what to do itself.
    let location = leptos_router::hooks::use_location();
    let refused = move || {
        status.get() == ConnectionStatus::SignInNeeded && location.pathname.get() != "/signin"
    };

    view! {
        <div class="flex items-center gap-2 text-sm text-stone-600 dark:text-stone-400">
            <span
                class=move || format!("inline-block h-2.5 w-2.5 rounded-full {}", dot())
                aria-hidden="true"
            ></span>
            // A phone shows the dot; the words stay for screen readers.
            <span role="status" data-testid="connection-status" class="max-sm:sr-only">
                {label}
            </span>
            <span
                class="tabular-nums text-xs text-stone-600 max-sm:hidden dark:text-stone-400"
                data-testid="connection-detail"
            >
                {detail}
            </span>
            <Show when=refused>
                <p role="alert" class="text-sm text-red-700 dark:text-red-400">
                    "The server refused this browser's API key: it is invalid or was revoked. "
                    <a href="/signin?error=invalid" class="underline">
                        "Sign in again"
                    </a>
                </p>
            </Show>
        </div>
    }
}
