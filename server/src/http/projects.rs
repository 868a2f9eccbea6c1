//! Project REST: create from a git URL, a local folder or nothing (for uploads), list,
//! get, delete, re-index; upload, list, read and delete documents.

use app::protocol::rest::{
    CreateProjectRequest, CreatedProject, DocumentContent, DocumentInfo, JobStarted, Page, Project,
    ReindexRequest, UploadedDocuments,
};
use axum::Json;
use axum::extract::multipart::Multipart;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::ApiError;
use super::error::ErrorBody;
use crate::projects::ProjectError;
use crate::state::AppState;

const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page (1 to 200, default 20).
    limit: Option<u64>,
    /// Items to skip.
    offset: Option<u64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    /// The document's path relative to the project, e.g. `src/lib.rs`.
    #[param(
        min_length = 1,
        max_length = 1024,
        pattern = "^[^\\u0000-\\u001f\\u007f]+$"
    )]
    path: String,
}

#[utoipa::path(post, path = "/api/projects", tag = "projects", request_body = CreateProjectRequest,
    responses(
        (status = 201, body = CreatedProject, description = "Created; indexing runs as job `job_id`"),
        (status = 400, body = ErrorBody, description = "Invalid input (path, branch, glob, token)"),
        (status = 422, body = ErrorBody, description = "Source refused: scheme, host or folder not allowed")))]
pub async fn create(
    State(state): State<AppState>,
    Json(req): Json<CreateProjectRequest>,
) -> Result<(StatusCode, Json<CreatedProject>), ApiError> {
    let (project, job_id) = state.projects.create(req).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedProject { project, job_id }),
    ))
}

#[utoipa::path(get, path = "/api/projects", tag = "projects", params(ListQuery),
    responses((status = 200, body = Page<Project>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<Project>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    Ok(Json(
        state
            .projects
            .list(limit, query.offset.unwrap_or(0))
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/projects/{id}", tag = "projects",
    responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Project>, ApiError> {
    Ok(Json(state.projects.get(&id).await?))
}

#[utoipa::path(delete, path = "/api/projects/{id}", tag = "projects",
    responses((status = 204, description = "Deleted with its documents, index and clone"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Being indexed")))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.projects.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancels the project's indexing job, on whichever instance runs it; the project
/// then fails with "indexing was cancelled" and keeps what its index held before.
#[utoipa::path(post, path = "/api/projects/{id}/cancel", tag = "projects",
    responses((status = 202, description = "Cancelling"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not being indexed")))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.projects.cancel(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Only files whose content changed are re-chunked. A private repository needs its
/// token again: tokens are never stored.
#[utoipa::path(post, path = "/api/projects/{id}/reindex", tag = "projects",
    request_body(content = Option<ReindexRequest>),
    responses((status = 202, body = JobStarted), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Already being indexed")))]
pub async fn reindex(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    // The body is optional: none, `null` and `{}` all mean "no token".
    let body: Option<ReindexRequest> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("bad JSON body: {e}")))?
    };
    let token = body.and_then(|b| b.token);
    let job_id = state.projects.reindex(&id, token).await?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job_id })))
}

#[utoipa::path(get, path = "/api/projects/{id}/documents", tag = "projects",
    responses((status = 200, body = Vec<DocumentInfo>), (status = 404, body = ErrorBody)))]
pub async fn documents(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<DocumentInfo>>, ApiError> {
    Ok(Json(state.projects.documents(&id).await?))
}

/// Multipart form; every file part is one document, named by its file name (a relative
/// path such as `docs/guide.md` is kept). Markdown, text, source files and PDF.
#[utoipa::path(post, path = "/api/projects/{id}/documents", tag = "projects",
    request_body(content_type = "multipart/form-data", content = String,
        description = "One or more `file` parts"),
    responses((status = 201, body = UploadedDocuments),
        (status = 400, body = ErrorBody, description = "Bad name (`..`, absolute) or not text/PDF"),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody, description = "Over REPOWIKI_MAX_UPLOAD_BYTES")))]
pub async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    mut form: Multipart,
) -> Result<(StatusCode, Json<UploadedDocuments>), ApiError> {
    state.projects.get(&id).await?;
    let limit = state.projects.max_upload_bytes();
    // The whole form is read before anything is stored: an upload is all or nothing.
    let mut files = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let Some(name) = field.file_name().map(str::to_owned) else {
            continue;
        };
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        files.push((name, bytes.to_vec()));
    }
    if files.is_empty() {
        return Err(ApiError::BadRequest(
            "the form has no file part (multipart/form-data with a file name)".into(),
        ));
    }
    let documents = state.projects.upload(&id, files).await?;
    Ok((StatusCode::CREATED, Json(UploadedDocuments { documents })))
}

fn multipart_error(e: axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ProjectError::TooLarge(format!(
            "the upload is larger than {limit} bytes (REPOWIKI_MAX_UPLOAD_BYTES)"
        ))
        .into()
    } else {
        ApiError::BadRequest(format!("bad multipart body: {}", e.body_text()))
    }
}

#[utoipa::path(delete, path = "/api/projects/{id}/documents/{document_id}", tag = "projects",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_document(
    State(state): State<AppState>,
    Path((id, document_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.projects.delete_document(&id, &document_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A document's stored text, for the source viewer; nothing is read from disk.
#[utoipa::path(get, path = "/api/projects/{id}/file", tag = "projects", params(FileQuery),
    responses((status = 200, body = DocumentContent),
        (status = 400, body = ErrorBody, description = "Path with `..` or absolute"),
        (status = 404, body = ErrorBody)))]
pub async fn file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<FileQuery>,
) -> Result<Json<DocumentContent>, ApiError> {
    state
        .projects
        .document_content(&id, &query.path)
        .await?
        .map(Json)
        .ok_or_else(|| ProjectError::DocumentNotFound.into())
}

/// The project routes; uploads may be as large as `max_upload_bytes` (plus the form's
/// own overhead), every other body keeps axum's default limit.
pub fn routes(max_upload_bytes: usize) -> axum::Router<AppState> {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::{delete as delete_route, get as get_route, post};
    axum::Router::new()
        .route("/api/projects", get_route(list).post(create))
        .route("/api/projects/{id}", get_route(get).delete(delete))
        .route("/api/projects/{id}/reindex", post(reindex))
        .route("/api/projects/{id}/cancel", post(cancel))
        .route(
            "/api/projects/{id}/documents",
            get_route(documents)
                .post(upload)
                .layer(DefaultBodyLimit::max(
                    max_upload_bytes.saturating_add(64 * 1024),
                )),
        )
        .route(
            "/api/projects/{id}/documents/{document_id}",
            delete_route(delete_document),
        )
        .route("/api/projects/{id}/file", get_route(file))
}
