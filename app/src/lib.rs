//! RepoWiki's shared crate: the wire protocol ([`protocol`]) and the Leptos UI. The server
//! renders the UI (feature `ssr`), the browser hydrates it (feature `hydrate`).

// Leptos views are deeply nested types; release builds exceed rustc's default depth.
#![recursion_limit = "256"]

pub mod client;
pub mod components;
pub mod protocol;
mod shell;

pub use shell::{App, shell};
