//! The HTML document and the router: the one place that names every page.

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

use crate::client::ChatClient;
use crate::components::app_header::AppHeader;
use crate::components::chat_page::ChatPage;
use crate::components::job_page::JobPage;
use crate::components::jobs_page::JobsPage;
use crate::components::project_page::ProjectPage;
use crate::components::projects_page::ProjectsPage;
use crate::components::shortcuts::{ShortcutsDialog, install_shortcuts};
use crate::components::sign_in_page::SignInPage;
use crate::components::source_page::SourcePage;
use crate::components::ui_state::Ui;
use crate::components::wiki_page::WikiPage;

/// The whole document, rendered by the server around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                // Before the first paint, so a dark theme never flashes light.
                <script src="/theme.js"></script>
                <script src="/enhance.js" defer></script>
                // The build's content-hashed name when it hashes (target/<profile>/hash.txt).
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="bg-stone-50 text-stone-900 dark:bg-stone-950 dark:text-stone-100 antialiased">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let client = ChatClient::new();
    provide_context(client);
    provide_context(Ui::new());
    // Browser-only: Effects never run during server rendering.
    Effect::new(move |_| {
        client.start();
        mark_hydrated();
    });

    view! {
        <Title text="RepoWiki" />
        <Router>
            <Shortcuts />
            <div class="flex h-dvh flex-col">
                <AppHeader />
                // In-order streaming: a page with stored data is complete HTML, readable
                // without JavaScript.
                <Routes fallback=|| {
                    view! {
                        <main id="main" class="p-8">
                            <h1>"Page not found."</h1>
                        </main>
                    }
                }>
                    <Route path=path!("/") view=ChatPage ssr=SsrMode::InOrder />
                    <Route
                        path=path!("/chat/:conversation_id")
                        view=ChatPage
                        ssr=SsrMode::InOrder
                    />
                    <Route path=path!("/projects") view=ProjectsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/projects/:id") view=ProjectPage ssr=SsrMode::InOrder />
                    <Route path=path!("/projects/:id/wiki") view=WikiPage ssr=SsrMode::InOrder />
                    <Route
                        path=path!("/projects/:id/source")
                        view=SourcePage
                        ssr=SsrMode::InOrder
                    />
                    <Route path=path!("/wiki/jobs") view=JobsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/wiki/job/:job_id") view=JobPage ssr=SsrMode::InOrder />
                    <Route path=path!("/signin") view=SignInPage />
                </Routes>
            </div>
            <ShortcutsDialog />
        </Router>
    }
}

/// The key handler needs the router (for "new chat"), so it is installed inside it.
#[component]
fn Shortcuts() -> impl IntoView {
    install_shortcuts();
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
