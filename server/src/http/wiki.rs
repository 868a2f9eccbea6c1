//! Wiki REST: start, list, get and control generation jobs; read and export a project's
//! wiki. Progress streams over `job:{id}` on `/ws` and the seed-002 socket
//! `/api/wiki/jobs/{job_id}/progress`.

use app::protocol::rest::{NewWikiJob, Page, Wiki, WikiJob};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ApiError;
use crate::state::AppState;
use crate::wiki::export::{self, Format};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    project_id: Option<String>,
    /// One job status, e.g. `generating_pages` or `completed`.
    #[param(value_type = Option<app::protocol::JobStatus>)]
    status: Option<String>,
    /// Items per page (1 to 200, default 20).
    limit: Option<u64>,
    offset: Option<u64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WikiQuery {
    /// Default `en`.
    language: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `markdown` (default) or `json`.
    #[param(pattern = "^(markdown|json)$")]
    format: Option<String>,
    /// Default `en`.
    language: Option<String>,
}

#[utoipa::path(post, path = "/api/wiki/jobs", tag = "wiki", request_body = NewWikiJob,
    responses((status = 201, body = WikiJob), (status = 400, body = super::ErrorBody),
        (status = 404, description = "No such project", body = super::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Json(request): Json<NewWikiJob>,
) -> Result<(StatusCode, Json<WikiJob>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.wiki.create(request).await?)))
}

#[utoipa::path(get, path = "/api/wiki/jobs", tag = "wiki", params(JobsQuery),
    responses((status = 200, description = "Newest first; items carry no pages", body = Page<WikiJob>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<JobsQuery>,
) -> Result<Json<Page<WikiJob>>, ApiError> {
    let page = state
        .wiki
        .jobs(
            query.project_id.as_deref(),
            query.status.as_deref(),
            query.limit,
            query.offset,
        )
        .await?;
    Ok(Json(page))
}

#[utoipa::path(get, path = "/api/wiki/jobs/{job_id}", tag = "wiki",
    responses((status = 200, body = WikiJob), (status = 404, body = super::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Json<WikiJob>, ApiError> {
    Ok(Json(state.wiki.job(&job_id).await?))
}

#[utoipa::path(post, path = "/api/wiki/jobs/{job_id}/cancel", tag = "wiki",
    responses((status = 200, body = WikiJob), (status = 404, body = super::ErrorBody),
        (status = 409, description = "The job has already ended", body = super::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Json<WikiJob>, ApiError> {
    Ok(Json(state.wiki.cancel(&job_id).await?))
}

#[utoipa::path(post, path = "/api/wiki/jobs/{job_id}/pause", tag = "wiki",
    responses((status = 200, body = WikiJob), (status = 404, body = super::ErrorBody),
        (status = 409, description = "The job is not running", body = super::ErrorBody)))]
pub async fn pause(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Json<WikiJob>, ApiError> {
    Ok(Json(state.wiki.pause(&job_id).await?))
}

#[utoipa::path(post, path = "/api/wiki/jobs/{job_id}/resume", tag = "wiki",
    responses((status = 200, body = WikiJob), (status = 404, body = super::ErrorBody),
        (status = 409, description = "The job is not paused", body = super::ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Json<WikiJob>, ApiError> {
    Ok(Json(state.wiki.resume(&job_id).await?))
}

#[utoipa::path(post, path = "/api/wiki/jobs/{job_id}/pages/{page_id}/retry", tag = "wiki",
    responses((status = 200, body = WikiJob), (status = 404, body = super::ErrorBody),
        (status = 409, description = "The page has not failed", body = super::ErrorBody)))]
pub async fn retry_page(
    State(state): State<AppState>,
    Path((job_id, page_id)): Path<(String, String)>,
) -> Result<Json<WikiJob>, ApiError> {
    Ok(Json(state.wiki.retry_page(&job_id, &page_id).await?))
}

#[utoipa::path(get, path = "/api/projects/{id}/wiki", tag = "wiki", params(WikiQuery),
    responses((status = 200, body = Wiki), (status = 404, body = super::ErrorBody)))]
pub async fn wiki(
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    Query(query): Query<WikiQuery>,
) -> Result<Json<Wiki>, ApiError> {
    let language = query.language.unwrap_or_else(|| "en".into());
    Ok(Json(state.wiki.wiki(&project_id, &language).await?))
}

#[utoipa::path(get, path = "/api/projects/{id}/wiki/export", tag = "wiki", params(ExportQuery),
    responses((status = 200, description = "One Markdown file with a table of contents, or JSON",
        content((String = "text/markdown"), (Wiki = "application/json"))),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = match query.format.as_deref() {
        None => Format::Markdown,
        Some(name) => Format::parse(name)
            .ok_or_else(|| ApiError::BadRequest("format must be markdown or json".into()))?,
    };
    let language = query.language.unwrap_or_else(|| "en".into());
    let wiki = state.wiki.wiki(&project_id, &language).await?;
    let disposition = format!("attachment; filename=\"{}\"", format.file_name(&wiki));
    let body = export::render(&wiki, format);
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
