//! The UI's components, one file each.

pub mod app_header;
pub mod chat_page;
pub mod composer;
pub mod connection_indicator;
pub mod conversation_list;
pub mod job_page;
pub mod jobs_page;
pub mod markdown;
pub mod message_list;
pub mod project_page;
pub mod project_status;
pub mod projects_page;
pub mod reindex_control;
pub mod shortcuts;
pub mod sign_in_page;
pub mod source_page;
pub mod sources_panel;
pub mod theme_toggle;
pub mod ui_state;
pub mod wiki_links;
pub mod wiki_page;
pub mod wiki_start;
