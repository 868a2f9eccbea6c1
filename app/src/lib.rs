//! RepoWiki's shared crate: the wire protocol ([`protocol`]) and the Leptos UI. The server
//! renders the UI (feature `ssr`), the browser hydrates it (feature `hydrate`).

pub mod client;
pub mod components;
pub mod protocol;
mod shell;

pub use shell::{App, shell};
