//! State shared by the page's parts (sidebars, dialogs, the chosen model, the selected
//! source), provided once by the app, and small browser helpers the components use.

use leptos::prelude::*;
use uuid::Uuid;

/// Which panels are open. `None` means "as the screen size suggests": the conversation
/// list is shown on wide screens and hidden on phones until asked for.
#[derive(Clone, Copy)]
pub struct Ui {
    pub conversations: RwSignal<Option<bool>>,
    pub sources: RwSignal<Option<bool>>,
    pub shortcuts: RwSignal<bool>,
    /// The answer whose sources the sidebar shows; `None` is the newest answer.
    pub source_message: RwSignal<Option<Uuid>>,
    /// The citation number highlighted in the sidebar.
    pub active_source: RwSignal<Option<u32>>,
    /// The source whose file is open in the viewer.
    pub open_source: RwSignal<Option<u32>>,
    /// A citation under the pointer or focus: answer, number and where to draw the card.
    pub preview: RwSignal<Option<CitePreview>>,
    pub settings: ChatSettings,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CitePreview {
    pub message_id: Uuid,
    pub n: u32,
    pub x: f64,
    pub y: f64,
}

/// What the next question is sent with.
#[derive(Clone, Copy)]
pub struct ChatSettings {
    /// `provider/model`, or empty for the server's default.
    pub model: RwSignal<String>,
    pub deep_research: RwSignal<bool>,
    pub project_id: RwSignal<Option<String>>,
}

impl ChatSettings {
    /// The chosen provider and model, `None`s for the server's default.
    pub fn provider_and_model(&self) -> (Option<String>, Option<String>) {
        match self.model.get_untracked().split_once('/') {
            Some((provider, model)) => (Some(provider.to_owned()), Some(model.to_owned())),
            None => (None, None),
        }
    }
}

impl Ui {
    pub fn new() -> Self {
        Self {
            conversations: RwSignal::new(None),
            sources: RwSignal::new(None),
            shortcuts: RwSignal::new(false),
            source_message: RwSignal::new(None),
            active_source: RwSignal::new(None),
            open_source: RwSignal::new(None),
            preview: RwSignal::new(None),
            settings: ChatSettings {
                model: RwSignal::new(String::new()),
                deep_research: RwSignal::new(false),
                project_id: RwSignal::new(None),
            },
        }
    }

    /// Flips a panel, starting from what the screen currently shows.
    pub fn toggle(panel: RwSignal<Option<bool>>) {
        let shown = panel.get_untracked().unwrap_or_else(is_wide);
        panel.set(Some(!shown));
    }

    /// Shows the sources of `message_id` with citation `n` highlighted and in view.
    pub fn show_source(self, message_id: Uuid, n: u32) {
        self.source_message.set(Some(message_id));
        self.active_source.set(Some(n));
        if !self.sources.get_untracked().unwrap_or_else(is_wide) {
            self.sources.set(Some(true));
        }
        focus_later(format!("source-{n}"));
    }
}

impl Default for Ui {
    fn default() -> Self {
        Self::new()
    }
}

/// Classes of a panel that follows the screen size until toggled.
pub fn panel_class(open: Option<bool>, wide: &'static str) -> &'static str {
    match (open, wide) {
        (None, "xl") => "hidden xl:flex",
        (None, _) => "hidden lg:flex",
        (Some(true), _) => "flex",
        (Some(false), _) => "hidden",
    }
}

/// True on screens where sidebars sit beside the conversation.
pub fn is_wide() -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.match_media("(min-width: 1024px)").ok().flatten())
            .is_some_and(|m| m.matches())
    }
    #[cfg(not(feature = "hydrate"))]
    true
}

/// Focuses (and scrolls to) element `id` after the current render.
pub fn focus_later(id: String) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        use wasm_bindgen::JsCast;
        if let Some(el) = document()
            .get_element_by_id(&id)
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Nearest);
            el.scroll_into_view_with_scroll_into_view_options(&options);
            let _ = el.focus();
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// Puts `text` on the clipboard; true once it is there.
pub async fn copy_text(text: String) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let promise = window().navigator().clipboard().write_text(&text);
        wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}

/// True when the key event comes from a field the user is typing in.
#[cfg(feature = "hydrate")]
pub fn typing_in_field(ev: &web_sys::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.has_attribute("contenteditable")
        })
}
