//! Light, dark, or as the system says. `public/theme.js` applies the choice before the
//! first paint (no flash) and follows system changes; this button cycles and saves it.

use leptos::prelude::*;

use crate::client::api::{local_get, local_set};

const KEY: &str = "repowiki.theme";

#[component]
pub fn ThemeToggle() -> impl IntoView {
    // The server cannot know the stored choice; "system" until hydrated.
    let mode = RwSignal::new("system".to_owned());
    Effect::new(move |_| {
        if let Some(saved) = local_get(KEY) {
            mode.set(saved);
        }
    });
    let cycle = move |_| {
        let next = match mode.get_untracked().as_str() {
            "system" => "dark",
            "dark" => "light",
            _ => "system",
        };
        local_set(KEY, (next != "system").then_some(next));
        mode.set(next.to_owned());
        apply_theme();
    };
    let label = move || format!("Theme: {} (change)", mode.get());
    let icon = move || match mode.get().as_str() {
        "dark" => "☾",
        "light" => "☀",
        _ => "◐",
    };
    view! {
        <button type="button" class="hdr-btn" aria-label=label title=label on:click=cycle>
            <span aria-hidden="true">{icon}</span>
        </button>
    }
}

fn apply_theme() {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Ok(f) = js_sys::Reflect::get(&window(), &"repowikiApplyTheme".into())
            && let Some(f) = f.dyn_ref::<js_sys::Function>()
        {
            let _ = f.call0(&wasm_bindgen::JsValue::NULL);
        }
    }
}
