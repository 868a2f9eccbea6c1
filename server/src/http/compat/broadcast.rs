//! Seed 001's broadcast-over-REST: publish a processing status to a room, and count the
//! live connections.

use app::protocol::{JobProgress, JobStatus, ServerMsg};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::http::ApiError;
use crate::realtime::RoomName;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusUpdate {
    /// `conversation:<uuid>`, `project:<id>` or `job:<id>`.
    #[schema(
        pattern = "^(conversation:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|project:.+|job:.+)$"
    )]
    pub room: String,
    /// For a `job:` room one of the job states; otherwise any text.
    #[schema(min_length = 1, max_length = 64)]
    pub status: String,
    #[serde(default)]
    #[schema(max_length = 65536)]
    pub message: Option<String>,
    #[serde(default)]
    pub progress_percent: Option<f32>,
    // The seed-002 job fields, used when the room is a job's.
    #[serde(default)]
    pub current_phase: Option<u8>,
    #[serde(default)]
    pub page_id: Option<String>,
    #[serde(default)]
    pub page_title: Option<String>,
    #[serde(default)]
    pub total_pages: Option<u32>,
    #[serde(default)]
    pub completed_pages: Option<u32>,
    #[serde(default)]
    pub failed_pages: Option<u32>,
}

/// The largest request body `POST /api/v1/websocket/status` reads.
pub const MAX_STATUS_BODY: usize = 80 * 1024;

impl StatusUpdate {
    /// Every text is relayed to each member and may be kept for replay and late joiners,
    /// so each is bounded, and the limit named when exceeded.
    fn check_sizes(&self) -> Result<(), ApiError> {
        let fields = [
            ("status", Some(&self.status), 64),
            ("message", self.message.as_ref(), 64 * 1024),
            ("page_id", self.page_id.as_ref(), 256),
            ("page_title", self.page_title.as_ref(), 512),
        ];
        for (name, value, max) in fields {
            if value.is_some_and(|v| v.chars().count() > max) {
                return Err(ApiError::BadRequest(format!(
                    "{name} is longer than {max} characters"
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Published {
    room: String,
    /// The event's sequence number in the room; absent when nobody was there to get it
    /// (and for job progress with several instances, numbered by Redis later).
    seq: Option<u64>,
}

#[utoipa::path(post, path = "/api/v1/websocket/status", tag = "realtime", request_body = StatusUpdate,
    responses((status = 202, body = Published), (status = 400, body = crate::http::ErrorBody)))]
/// `POST /api/v1/websocket/status`. To a `job:<id>` room this is job progress (also
/// what the seed-002 progress socket relays); to any other room a `processing_status`.
pub async fn publish_status(
    State(state): State<AppState>,
    Json(update): Json<StatusUpdate>,
) -> Result<(StatusCode, Json<Published>), ApiError> {
    update.check_sizes()?;
    let seq = match RoomName::parse(&update.room) {
        None => {
            return Err(ApiError::BadRequest(
                "room must be conversation:<uuid>, project:<id> or job:<id>".into(),
            ));
        }
        Some(RoomName::Job(job_id)) => {
            let status = update
                .status
                .parse::<JobStatus>()
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            state.jobs.publish(
                &state.hub,
                JobProgress {
                    job_id,
                    message: update
                        .message
                        .unwrap_or_else(|| format!("Status: {}", update.status)),
                    status,
                    current_phase: update.current_phase.unwrap_or(0),
                    progress_percent: update.progress_percent.unwrap_or(0.0).clamp(0.0, 100.0),
                    page_id: update.page_id,
                    page_title: update.page_title,
                    total_pages: update.total_pages.unwrap_or(0),
                    completed_pages: update.completed_pages.unwrap_or(0),
                    failed_pages: update.failed_pages.unwrap_or(0),
                },
            )
        }
        Some(_) => {
            state
                .hub
                .publish_sequenced(
                    &update.room,
                    ServerMsg::ProcessingStatus {
                        status: update.status,
                        progress_percent: update.progress_percent,
                        message: update.message,
                    },
                )
                .await
        }
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(Published {
            room: update.room,
            seq,
        }),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Connections {
    active_connections: usize,
    rooms: Vec<RoomCount>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoomCount {
    room: String,
    connections: usize,
}

#[utoipa::path(get, path = "/api/v1/websocket/connections", tag = "realtime",
    responses((status = 200, body = Connections)))]
/// `GET /api/v1/websocket/connections`: open sockets in total and members per room, on
/// every instance (as each last reported, at most a few seconds ago) when there are
/// several.
pub async fn connections(State(state): State<AppState>) -> Json<Connections> {
    if let Some(cluster) = &state.cluster {
        match cluster.counts().await {
            Ok(counts) => {
                return Json(Connections {
                    active_connections: counts.sockets,
                    rooms: counts
                        .rooms
                        .into_iter()
                        .map(|(room, connections)| RoomCount { room, connections })
                        .collect(),
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read other instances' counts; this instance's follow")
            }
        }
    }
    Json(Connections {
        active_connections: state.connections.total(),
        rooms: state
            .hub
            .room_sizes()
            .into_iter()
            .map(|(room, connections)| RoomCount { room, connections })
            .collect(),
    })
}
