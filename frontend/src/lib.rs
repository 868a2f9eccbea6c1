//! The WASM entry point: hydrates the server-rendered page and nothing else.

// Leptos views are deeply nested types; release builds exceed rustc's default depth.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
