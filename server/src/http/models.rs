//! `GET /api/models`: every provider the server knows, whether it is configured, and its
//! models, so a client can offer a provider and model picker.

use app::protocol::rest::{ModelsResponse, ProviderEntry};
use axum::Json;
use axum::extract::State;

use crate::state::AppState;

#[utoipa::path(get, path = "/api/models", tag = "models", responses((status = 200, body = ModelsResponse)))]
pub async fn list(State(state): State<AppState>) -> Json<ModelsResponse> {
    let providers = state
        .providers
        .catalog()
        .iter()
        .map(|p| ProviderEntry {
            id: p.id.to_owned(),
            name: p.name.to_owned(),
            configured: p.configured,
            default_model: p.default_model.clone(),
            models: p.models.clone(),
        })
        .collect();
    Json(ModelsResponse {
        default_provider: state.providers.default_id().to_owned(),
        providers,
    })
}
