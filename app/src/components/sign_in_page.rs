//! `/signin`: trades an API key for a session cookie when the server asks for one. A
//! plain form posted to the server, so it works before (and without) the WASM; the key
//! goes to the server once and never into the page's storage.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::AuthState;

/// How the server judged this browser when it rendered the page; the browser receives
/// the same value with the page, so both render alike.
pub fn auth_state() -> Resource<AuthState> {
    Resource::new(|| (), |_| async { server_auth_state() })
}

fn server_auth_state() -> AuthState {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::ServerData>()
            .map(|data| data.auth)
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        AuthState::default()
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_owned());
    let error = move || {
        query.read().get("error").map(|e| match e.as_str() {
            "missing" => "Enter an API key to sign in.",
            _ => "That API key is invalid, or was revoked. Check it and try again.",
        })
    };
    let auth = auth_state();
    view! {
        <main id="main" class="mx-auto w-full max-w-sm px-4 py-12">
            <h1 class="text-2xl font-semibold tracking-tight">"Sign in"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let state = auth.await;
                    if !state.required {
                        view! {
                            <p class="mt-4 text-stone-700 dark:text-stone-300">
                                "This server does not ask for an API key: every page is open. "
                                <a href="/" class="underline">
                                    "Go to the chat"
                                </a>
                            </p>
                        }
                            .into_any()
                    } else if state.signed_in {
                        view! {
                            <p class="mt-4 text-stone-700 dark:text-stone-300">
                                "This browser is signed in. " <a href="/" class="underline">
                                    "Go to the chat"
                                </a>
                            </p>
                            <SignOutButton />
                        }
                            .into_any()
                    } else {
                        view! { <SignInForm next=next() error=error() /> }.into_any()
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn SignInForm(next: String, error: Option<&'static str>) -> impl IntoView {
    let described = error.map(|_| "signin-error");
    view! {
        <p class="mt-2 text-sm text-stone-600 dark:text-stone-400">
            "This server asks for an API key. The browser keeps a session for seven days; the key itself is not stored."
        </p>
        {error
            .map(|message| {
                view! {
                    <p
                        id="signin-error"
                        role="alert"
                        class="mt-4 rounded-lg bg-red-50 p-3 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-300"
                    >
                        {message}
                    </p>
                }
            })}
        <form method="post" action="/api/auth/session" class="mt-6 flex flex-col gap-3">
            <input type="hidden" name="next" value=next />
            <label for="api-key" class="text-sm font-medium">
                "API key"
            </label>
            <input
                id="api-key"
                name="api_key"
                type="password"
                autocomplete="current-password"
                aria-describedby=described
                class="rounded-lg border border-stone-300 bg-white px-3 py-2 dark:border-stone-600 dark:bg-stone-950"
            />
            <button
                type="submit"
                class="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700"
            >
                "Sign in"
            </button>
        </form>
    }
}

/// Ends the session in this browser.
#[component]
pub fn SignOutButton() -> impl IntoView {
    view! {
        <form method="post" action="/api/auth/signout" class="contents">
            <button type="submit" class="hdr-link">
                "Sign out"
            </button>
        </form>
    }
}
