//! How a domain error is told to a client, the same on every transport. Each domain
//! error (`ChatError`, `ProjectError`, `WikiError`) names its [`Fault`] once; the REST
//! edge turns that into a status and code (`http::error`), the sockets into an
//! [`ErrorCode`] or close frame. A failure on the server's side reaches a client only
//! as "internal error": its text may name files, hosts or queries.

use app::protocol::ErrorCode;

/// What kind of failure an error is, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request itself is wrong: a missing, malformed or out-of-range value.
    Invalid,
    NotFound,
    /// Something is already running there; retry later or stop it.
    Busy,
    /// The server has as much waiting as it takes; retry in a few seconds.
    Overloaded,
    /// The thing is in a state the request does not apply to.
    Conflict,
    /// A source refused by policy (scheme, host, folder) before any connection.
    Refused,
    TooLarge,
    /// A system we depend on failed (a clone, a project's files); `code` names it.
    Upstream(&'static str),
    /// Ours: storage, index, a task. Logged, never shown.
    Internal,
}

pub trait ClientFault: std::fmt::Display {
    fn fault(&self) -> Fault;

    /// The `error` event code of the application socket.
    fn code(&self) -> ErrorCode {
        match self.fault() {
            Fault::Invalid | Fault::Refused | Fault::TooLarge => ErrorCode::InvalidField,
            Fault::NotFound => ErrorCode::NotFound,
            Fault::Busy | Fault::Conflict => ErrorCode::Busy,
            Fault::Overloaded => ErrorCode::RateLimited,
            Fault::Upstream(_) | Fault::Internal => ErrorCode::Internal,
        }
    }

    /// What a client is told. An internal failure is logged here and told as
    /// "internal error".
    fn client_message(&self) -> String {
        if self.fault() == Fault::Internal {
            tracing::error!(error = %self, "a request failed on the server");
            return "internal error".to_owned();
        }
        self.to_string()
    }
}
