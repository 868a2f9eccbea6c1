//! The HTML document and the router: the one place that names every page.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::client::ChatClient;
use crate::components::chat_page::ChatPage;

/// The whole document, rendered by the server around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-stone-50 text-stone-900 dark:bg-stone-950 dark:text-stone-100 antialiased">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let client = ChatClient::new();
    provide_context(client);
    // Browser-only: Effects never run during server rendering.
    Effect::new(move |_| {
        client.start();
        mark_hydrated();
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/repowiki.css"/>
        <Title text="RepoWiki"/>
        <Router>
            <Routes fallback=|| view! { <p class="p-8">"Page not found."</p> }>
                <Route path=path!("/") view=ChatPage/>
                <Route path=path!("/chat/:conversation_id") view=ChatPage/>
            </Routes>
        </Router>
    }
}

/// Tells browser tests that event handlers are attached: clicks before hydration are lost.
fn mark_hydrated() {
    #[cfg(feature = "hydrate")]
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
