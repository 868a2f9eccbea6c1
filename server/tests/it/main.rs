//! The server's integration tests, in one binary so that the server, tantivy and
//! tree-sitter are linked once rather than once per file. Each module is one area; the
//! support modules start real servers and scripted providers for them.

// A test's job is to panic when something is off; support code unwraps like tests do.
#![allow(clippy::unwrap_used)]

// Support: real servers on ephemeral ports, scripted providers, fixtures.
mod common;
mod project_support;
mod scripted;
mod wiki_support;

// Areas under test.
mod branches;
mod chat_providers;
mod chat_rest;
mod chat_retrieval;
mod http;
mod logs;
mod pages;
mod projects;
mod projects_storage;
mod providers;
mod request_guards;
mod retrieval;
mod scale_out;
mod seed_endpoints;
mod sessions;
mod storage;
mod wiki;
mod wiki_resume;
mod ws_chat;
mod ws_security;
