//! Request and response bodies of the REST API, shared with the browser.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use super::vocabulary::{ProjectKind, ProjectStatus};
use super::{ChatMessage, Importance, JobStatus, Millis, PageStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Conversation {
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    pub title: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub message_count: u64,
}

/// One page of a list: `?limit=&offset=` in, `{items, total}` out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewConversation {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
    pub title: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConversationUpdate {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
    pub title: String,
}

/// `POST /api/chat/message`: one synchronous turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncChatRequest {
    /// The question; not blank, at most `REPOWIKI_MAX_MESSAGE_CHARS` characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, pattern = r"\S"))]
    pub message: String,
    #[serde(default)]
    pub conversation_id: Option<Uuid>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub include_history: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncChatResponse {
    pub conversation_id: Uuid,
    pub message: ChatMessage,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChatStats {
    pub conversations: u64,
    pub messages: u64,
    pub user_messages: u64,
    pub assistant_messages: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub avg_time_to_first_token_ms: Option<f64>,
    pub avg_duration_ms: Option<f64>,
    /// Answers that ended stopped or failed.
    pub incomplete_answers: u64,
}

/// `POST /api/chat/conversations/{id}/messages/{message_id}/edit`: ask `content` in place
/// of a shown question, as a new branch of the conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EditRequest {
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// `POST /api/chat/conversations/{id}/cleanup`: keep only the newest messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CleanupRequest {
    /// Messages to keep, newest first counted; default 100.
    #[serde(default)]
    pub keep_last: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CleanupResult {
    pub removed: u64,
    pub kept: u64,
}

// --- Wiki generation (SPEC §8) ---

/// Which files of the project a wiki covers. Dirs match path prefixes; files match a
/// file name exactly or, with a leading `*`, by suffix (`*.test.js`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WikiFilters {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_dirs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_dirs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_files: Vec<String>,
}

/// `POST /api/wiki/jobs`: start generating a project's wiki.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewWikiJob {
    #[cfg_attr(feature = "ssr", schema(min_length = 1))]
    pub project_id: String,
    /// Default: the server's default provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Default: the provider's default model.
    #[serde(default)]
    pub model: Option<String>,
    /// Language of the wiki; default `en`.
    #[serde(default)]
    pub language: Option<String>,
    /// Comprehensive (more pages, default) or concise.
    #[serde(default)]
    pub comprehensive: Option<bool>,
    #[serde(default)]
    pub filters: Option<WikiFilters>,
}

/// One page of a job, as the job's progress shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WikiJobPage {
    pub page_id: String,
    pub title: String,
    pub status: PageStatus,
    /// Failed generation attempts so far (a page fails for good after 3).
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A wiki generation job: the seed-002 progress fields plus its settings and pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WikiJob {
    pub job_id: String,
    pub project_id: String,
    pub status: JobStatus,
    /// 0 fetch and index, 1 structure, 2 pages, 3 done.
    pub current_phase: u8,
    pub progress_percent: f32,
    pub message: String,
    pub total_pages: u32,
    pub completed_pages: u32,
    pub failed_pages: u32,
    pub language: String,
    pub provider: String,
    pub model: String,
    pub comprehensive: bool,
    /// The structure came from the repository layout because the model's did not parse.
    pub structure_fallback: bool,
    /// Why the job failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// In structure order; empty until the structure is known, and in list results.
    pub pages: Vec<WikiJobPage>,
}

/// One section of a wiki: an ordered list of page ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WikiSection {
    pub id: String,
    pub title: String,
    pub pages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WikiStructure {
    pub title: String,
    pub description: String,
    pub sections: Vec<WikiSection>,
}

/// A generated page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WikiPage {
    pub id: String,
    pub title: String,
    /// The id of the section it belongs to.
    pub section: String,
    /// Markdown (with mermaid diagrams); empty when generation failed.
    pub content: String,
    pub importance: Importance,
    pub relevant_files: Vec<String>,
    pub related_pages: Vec<String>,
    /// `completed`, or `failed` when the page could not be generated.
    pub status: PageStatus,
}

/// `GET /api/projects/{id}/wiki`: the current wiki of a project in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Wiki {
    pub project_id: String,
    pub language: String,
    /// The job that generated it.
    pub job_id: String,
    pub generated_at: Millis,
    pub structure: WikiStructure,
    pub pages: Vec<WikiPage>,
    /// Every language the project has a wiki in, this one included.
    #[serde(default)]
    pub languages: Vec<String>,
}

// --- Projects (SPEC §2, §4, §5) ---

/// Which files of a repository or folder are indexed, as globs relative to its root.
/// Dirs: `tests` matches a directory of that name anywhere, `docs/api` (or `docs/api/**`)
/// that directory. Files: `*.md`, `src/main.rs`, `Makefile`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProjectFilters {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_dirs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_dirs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_files: Vec<String>,
}

/// What the last indexing run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IndexReport {
    /// Files new since the previous run.
    pub added: u64,
    /// Files whose content hash changed, re-chunked and re-indexed.
    pub changed: u64,
    /// Files gone from the source, dropped from the index.
    pub removed: u64,
    /// Files left as they were.
    pub unchanged: u64,
    /// Files skipped: binary, too large, lock files, symlinks out of the tree.
    pub skipped: u64,
    /// Chunks written to the index in this run.
    pub chunks_indexed: u64,
    pub duration_ms: u64,
}

/// A project as the REST API returns it. Never carries an access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Project {
    pub id: String,
    pub name: String,
    pub kind: ProjectKind,
    /// The git URL or the local folder; absent for an upload project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default)]
    pub filters: ProjectFilters,
    pub status: ProjectStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Documents in the project.
    pub documents: u64,
    /// Chunks of those documents in the index.
    pub chunks: u64,
    /// The commit last indexed, for a git project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The indexing job running or last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_index: Option<IndexReport>,
    pub created_at: Millis,
    pub updated_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexed_at: Option<Millis>,
    /// A private repository (first indexed with an access token): tokens are never
    /// stored, so re-indexing it needs the token again.
    #[serde(default)]
    pub needs_token: bool,
}

/// `POST /api/projects`. Without `source`, an empty project for uploads.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateProjectRequest {
    /// A git URL (`https://…`) or a local folder path.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Access token for a private repository. Used for this clone only, never stored.
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub included_dirs: Vec<String>,
    #[serde(default)]
    pub excluded_dirs: Vec<String>,
    #[serde(default)]
    pub included_files: Vec<String>,
    #[serde(default)]
    pub excluded_files: Vec<String>,
}

// By hand so that a logged request never shows its token.
impl std::fmt::Debug for CreateProjectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateProjectRequest")
            .field("source", &self.source)
            .field("name", &self.name)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("branch", &self.branch)
            .field("included_dirs", &self.included_dirs)
            .field("excluded_dirs", &self.excluded_dirs)
            .field("included_files", &self.included_files)
            .field("excluded_files", &self.excluded_files)
            .finish()
    }
}

/// `POST /api/projects` answers the project and the job indexing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedProject {
    #[serde(flatten)]
    pub project: Project,
    pub job_id: String,
}

/// `POST /api/projects/{id}/reindex`. A private repository needs its token again, since
/// tokens are not stored.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReindexRequest {
    #[serde(default)]
    pub token: Option<String>,
}

impl std::fmt::Debug for ReindexRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReindexRequest")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JobStarted {
    pub job_id: String,
}

/// One document of a project, without its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DocumentInfo {
    pub id: String,
    pub path: String,
    pub language: String,
    /// Bytes of the original file (of the PDF, for an uploaded PDF).
    pub size: u64,
    pub content_hash: String,
    pub chunks: u64,
    /// `source` (fetched from the repository or folder) or `upload`.
    pub origin: String,
    pub updated_at: Millis,
}

/// `GET /api/projects/{id}/file?path=`: a document's text, for the source viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DocumentContent {
    pub id: String,
    pub path: String,
    pub language: String,
    pub content: String,
}

/// `POST /api/projects/{id}/documents`: the documents the upload created or replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadedDocuments {
    pub documents: Vec<DocumentInfo>,
}

// --- Errors and models ---

/// What every failed REST request answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Machine-readable: `bad_request`, `unauthorized`, `not_found`, `conflict`,
    /// `refused_source`, `too_large`, `internal`, or a provider's code.
    pub code: String,
    pub message: String,
}

/// `GET /api/models`: every provider the server knows, whether it is configured, and
/// its models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelsResponse {
    pub default_provider: String,
    pub providers: Vec<ProviderEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProviderEntry {
    pub id: String,
    pub name: String,
    pub configured: bool,
    pub default_model: String,
    pub models: Vec<String>,
}
