//! The closed sets of words that the wire, the database and the UI share: states of
//! jobs, pages and projects, page importance, project kinds. Each is stored and sent as
//! its snake_case text, through `as_str` and [`FromStr`](std::str::FromStr) only.

use serde::{Deserialize, Serialize};

/// A stored or received text that is not a word of its set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState {
    pub kind: &'static str,
    pub text: String,
    /// Every word of the set, so the message can say what would have been accepted.
    pub expected: &'static [&'static str],
}

impl std::fmt::Display for UnknownState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown {} \"{}\"; expected one of {}",
            self.kind,
            self.text,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownState {}

/// Declares an enum whose serde names, `as_str` and parsing come from one list.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident ($kind:literal) {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal / $label:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        // The document must name the wire's words; every text is its variant in snake_case
        // (a test checks), which utoipa can say where it cannot read `rename = $text`.
        #[cfg_attr(feature = "ssr", schema(rename_all = "snake_case"))]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            const TEXTS: &'static [&'static str] = &[$($text),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// For people: `generating pages` where the wire says `generating_pages`.
            pub const fn label(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownState;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownState {
                        kind: $kind,
                        text: text.to_owned(),
                        expected: Self::TEXTS,
                    }),
                }
            }
        }

        /// How rows read from the database become typed.
        impl TryFrom<String> for $name {
            type Error = UnknownState;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }
    };
}

text_enum! {
    /// The state of a background job: a wiki generation job, or a project's indexing run
    /// (which only goes `queued` → `running` → `completed` or `failed`).
    JobStatus ("job status") {
        Queued = "queued" / "queued",
        /// Indexing a project.
        Running = "running" / "running",
        /// Wiki phase 0: fetching and indexing the repository.
        Preparing = "preparing" / "preparing",
        /// Wiki phase 1.
        GeneratingStructure = "generating_structure" / "generating structure",
        /// Wiki phase 2.
        GeneratingPages = "generating_pages" / "generating pages",
        Paused = "paused" / "paused",
        Completed = "completed" / "completed",
        /// Finished, with some pages failed for good.
        PartiallyCompleted = "partially_completed" / "partially completed",
        Failed = "failed" / "failed",
        Cancelled = "cancelled" / "cancelled",
    }
}

impl JobStatus {
    /// Wiki jobs some worker should be running.
    pub const WIKI_RUNNING: [Self; 4] = [
        Self::Queued,
        Self::Preparing,
        Self::GeneratingStructure,
        Self::GeneratingPages,
    ];

    /// A wiki job some worker is (or should be) working on: not paused, not ended.
    pub fn is_running(self) -> bool {
        Self::WIKI_RUNNING.contains(&self)
    }

    /// After these nothing more happens (unless a failed page is retried).
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::PartiallyCompleted | Self::Failed | Self::Cancelled
        )
    }
}

text_enum! {
    /// The state of one page of a wiki job.
    PageStatus ("page status") {
        Pending = "pending" / "pending",
        InProgress = "in_progress" / "in progress",
        Completed = "completed" / "completed",
        /// Failed for good, after every attempt.
        Failed = "failed" / "failed",
    }
}

text_enum! {
    /// How central a wiki page is to understanding the repository.
    Importance ("importance") {
        High = "high" / "high",
        Medium = "medium" / "medium",
        Low = "low" / "low",
    }
}

text_enum! {
    /// Where a project's documents come from.
    ProjectKind ("project kind") {
        Git = "git" / "git",
        Local = "local" / "local",
        Upload = "upload" / "upload",
    }
}

text_enum! {
    ProjectStatus ("project status") {
        Indexing = "indexing" / "indexing",
        Ready = "ready" / "ready",
        Failed = "failed" / "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_serde_and_parsing_agree() {
        for status in JobStatus::ALL {
            let json = serde_json::to_string(status).expect("serialises");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(status.as_str().parse::<JobStatus>(), Ok(*status));
            assert_eq!(status.label().replace(' ', "_"), status.as_str());
        }
        for status in PageStatus::ALL {
            assert_eq!(status.as_str().parse::<PageStatus>(), Ok(*status));
            assert_eq!(status.label().replace(' ', "_"), status.as_str());
        }
        for importance in Importance::ALL {
            assert_eq!(importance.as_str().parse::<Importance>(), Ok(*importance));
        }
        let unknown = "dancing"
            .parse::<ProjectStatus>()
            .expect_err("not a status");
        assert_eq!(
            unknown.to_string(),
            "unknown project status \"dancing\"; expected one of indexing, ready, failed"
        );
    }

    /// The OpenAPI document lists each set's wire words, not the Rust variant names.
    #[cfg(feature = "ssr")]
    #[test]
    fn the_document_names_the_wire_words() {
        fn listed<T: utoipa::PartialSchema>() -> Vec<String> {
            let schema = serde_json::to_value(T::schema()).expect("schema serialises");
            schema["enum"]
                .as_array()
                .expect("an enum")
                .iter()
                .map(|v| v.as_str().expect("text").to_owned())
                .collect()
        }
        let texts = |all: Vec<&str>| all.into_iter().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            listed::<JobStatus>(),
            texts(JobStatus::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            listed::<PageStatus>(),
            texts(PageStatus::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            listed::<Importance>(),
            texts(Importance::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            listed::<ProjectKind>(),
            texts(ProjectKind::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            listed::<ProjectStatus>(),
            texts(ProjectStatus::ALL.iter().map(|s| s.as_str()).collect())
        );
    }
}
