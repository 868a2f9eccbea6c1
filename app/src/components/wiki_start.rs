//! Starting a wiki: at once with the defaults ("Generate wiki"), or with a language,
//! provider and model, comprehensive or concise, and folders to leave out chosen under
//! "Wiki options"; then on to the job's page.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::projects_page::split_list;
use crate::client::api;
use crate::protocol::rest::{JobStarted, ModelsResponse, NewWikiJob, WikiFilters};

/// Languages offered first; any other code (`pt-BR`, …) can be typed.
const LANGUAGES: &[(&str, &str)] = &[
    ("en", "English"),
    ("zh", "Chinese (simplified)"),
    ("zh-tw", "Chinese (traditional)"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("pt-BR", "Portuguese (Brazil)"),
    ("ru", "Russian"),
    ("vi", "Vietnamese"),
];

#[component]
pub fn WikiStart(project_id: String) -> impl IntoView {
    let navigate = use_navigate();
    // One card per project: the suggestion lists need ids of their own.
    let languages_id = format!("wiki-languages-{project_id}");
    let models_id = format!("wiki-models-{project_id}");
    let language = RwSignal::new("en".to_owned());
    let provider = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let concise = RwSignal::new(false);
    let excluded = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let models =
        LocalResource::new(|| async { api::get::<ModelsResponse>("/api/models").await.ok() });
    // Read only once hydrated: a browser-only resource read while the server renders
    // would make the projects list around this card give up waiting for its data.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let models = move || hydrated.get().then(|| models.get().flatten()).flatten();
    let model_choices = move || {
        let chosen = provider.get();
        models()
            .and_then(|m| {
                let id = if chosen.is_empty() {
                    m.default_provider.clone()
                } else {
                    chosen
                };
                m.providers.into_iter().find(|p| p.id == id)
            })
            .map(|p| p.models)
            .unwrap_or_default()
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let optional = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let excluded_dirs = split_list(&excluded.get_untracked());
        let body = NewWikiJob {
            project_id: project_id.clone(),
            provider: optional(provider.get_untracked()),
            model: optional(model.get_untracked()),
            language: optional(language.get_untracked()),
            comprehensive: Some(!concise.get_untracked()),
            filters: (!excluded_dirs.is_empty()).then(|| WikiFilters {
                excluded_dirs,
                ..Default::default()
            }),
        };
        let navigate = navigate.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            match api::post::<_, JobStarted>("/api/wiki/jobs", &body).await {
                Ok(job) => navigate(
                    &format!("/wiki/job/{}", api::encode(&job.job_id)),
                    Default::default(),
                ),
                Err(e) => {
                    busy.set(false);
                    error.set(Some(e));
                }
            }
        });
    };
    let field = "rounded-lg border border-stone-300 bg-white px-2 py-1.5 dark:border-stone-600 dark:bg-stone-950";
    view! {
        <form class="mt-3 flex flex-col gap-2 text-sm" on:submit=submit>
            <div class="flex flex-wrap items-center gap-2">
                <button type="submit" class="btn-secondary" disabled=move || busy.get()>
                    "Generate wiki"
                </button>
            </div>
            <details class="rounded-xl border border-stone-200 px-3 py-2 dark:border-stone-800">
                <summary class="cursor-pointer font-medium">
                    "Wiki options: language, model, size, folders"
                </summary>
                <div class="mt-2 grid gap-3 sm:grid-cols-2">
                    <label class="flex flex-col gap-1">
                        "Language"
                        <input
                            class=field
                            list=languages_id.clone()
                            prop:value=move || language.get()
                            on:input=move |ev| language.set(event_target_value(&ev))
                        />
                        <datalist id=languages_id>
                            {LANGUAGES
                                .iter()
                                .map(|(code, name)| view! { <option value=*code>{*name}</option> })
                                .collect_view()}
                        </datalist>
                    </label>
                    <label class="flex flex-col gap-1">
                        "Provider"
                        <select
                            class=field
                            on:change=move |ev| provider.set(event_target_value(&ev))
                        >
                            <option value="">"Server default"</option>
                            {move || {
                                models()
                                    .map(|m| {
                                        m.providers
                                            .into_iter()
                                            .filter(|p| p.configured)
                                            .map(|p| view! { <option value=p.id>{p.name}</option> })
                                            .collect_view()
                                    })
                            }}
                        </select>
                    </label>
                    <label class="flex flex-col gap-1">
                        "Model"
                        <input
                            class=field
                            list=models_id.clone()
                            placeholder="Provider default"
                            prop:value=move || model.get()
                            on:input=move |ev| model.set(event_target_value(&ev))
                        />
                        <datalist id=models_id>
                            {move || {
                                model_choices()
                                    .into_iter()
                                    .map(|m| view! { <option value=m></option> })
                                    .collect_view()
                            }}
                        </datalist>
                    </label>
                    <label class="flex flex-col gap-1">
                        "Leave out folders (comma-separated)"
                        <input
                            class=field
                            placeholder="tests, docs/old"
                            prop:value=move || excluded.get()
                            on:input=move |ev| excluded.set(event_target_value(&ev))
                        />
                    </label>
                    <label class="inline-flex items-center gap-2">
                        <input
                            type="checkbox"
                            prop:checked=move || concise.get()
                            on:change=move |ev| concise.set(event_target_checked(&ev))
                        />
                        "Concise (fewer pages)"
                    </label>
                    <div class="flex items-center justify-end">
                        <button
                            type="submit"
                            class="rounded-lg bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700 disabled:opacity-50"
                            disabled=move || busy.get()
                        >
                            "Start wiki"
                        </button>
                    </div>
                </div>
            </details>
            {move || {
                error
                    .get()
                    .map(|e| {
                        view! {
                            <p role="alert" class="text-red-700 dark:text-red-400">
                                {e}
                            </p>
                        }
                    })
            }}
        </form>
    }
}
