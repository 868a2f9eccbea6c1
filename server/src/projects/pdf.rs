//! PDF text extraction, in a child process with a memory and a time limit.
//!
//! A PDF's streams are compressed: a 1 MiB file can inflate to gigabytes, and a crafted
//! one can make the parser loop. Neither can be bounded from inside the parser, so the
//! server runs it in a copy of its own executable (`server --extract-pdf`) whose
//! address space is capped with `RLIMIT_AS` and whose life is capped by a timeout.
//! Running out of either fails that one upload; the server itself is never touched.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::ProjectError;

/// The argument that turns the server executable into the extractor.
pub const EXTRACT_ARG: &str = "--extract-pdf";

/// Largest text accepted back from one PDF.
const MAX_TEXT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct PdfLimits {
    /// The executable that understands [`EXTRACT_ARG`]: normally the running server.
    pub extractor: PathBuf,
    pub memory_bytes: u64,
    pub timeout: Duration,
}

impl PdfLimits {
    pub fn new(extractor: Option<PathBuf>, memory_mib: u64, timeout_secs: u64) -> Self {
        Self {
            extractor: extractor
                .or_else(|| std::env::current_exe().ok())
                .unwrap_or_else(|| PathBuf::from("server")),
            memory_bytes: memory_mib.max(64).saturating_mul(1024 * 1024),
            timeout: Duration::from_secs(timeout_secs.max(1)),
        }
    }
}

/// The PDF's text, extracted by a limited child process.
pub async fn pdf_text(bytes: Vec<u8>, limits: &PdfLimits) -> Result<String, ProjectError> {
    let unreadable = || ProjectError::InvalidInput("the PDF could not be read".into());
    let mut command = Command::new(&limits.extractor);
    command
        .arg(EXTRACT_ARG)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    limit_child(&mut command, limits);
    let mut child = command.spawn().map_err(|e| {
        ProjectError::internal(
            &format!("starting the PDF extractor {}", limits.extractor.display()),
            e,
        )
    })?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(unreadable());
    };
    let run = async move {
        // Written concurrently with reading: a large PDF fills the pipe both ways.
        let feed = async move {
            let written = stdin.write_all(&bytes).await;
            drop(stdin);
            written
        };
        let mut text = Vec::new();
        let mut limited = stdout.take(MAX_TEXT_BYTES + 1);
        let read = limited.read_to_end(&mut text);
        let (fed, read) = tokio::join!(feed, read);
        let status = child.wait().await;
        (fed, read.map(|_| text), status)
    };
    let (fed, text, status) = tokio::time::timeout(limits.timeout, run)
        .await
        .map_err(|_| {
            ProjectError::InvalidInput(format!(
                "reading the PDF took longer than {} s (REPOWIKI_PDF_TIMEOUT_SECS)",
                limits.timeout.as_secs()
            ))
        })?;
    let status = status.map_err(|e| ProjectError::internal("waiting for the PDF extractor", e))?;
    if !status.success() {
        // An abort is how an allocation over the address-space cap ends.
        return Err(if fed.is_ok() && status.code().is_none() {
            ProjectError::InvalidInput(format!(
                "the PDF needs more than {} MiB to read (REPOWIKI_PDF_MEMORY_MIB)",
                limits.memory_bytes / (1024 * 1024)
            ))
        } else {
            unreadable()
        });
    }
    let text = text.map_err(|_| unreadable())?;
    if text.len() as u64 > MAX_TEXT_BYTES {
        return Err(ProjectError::TooLarge(format!(
            "the PDF holds more than {} MiB of text",
            MAX_TEXT_BYTES / (1024 * 1024)
        )));
    }
    let text = String::from_utf8(text).map_err(|_| unreadable())?;
    if text.trim().is_empty() {
        return Err(ProjectError::InvalidInput(
            "the PDF has no text to extract (a scanned image?)".into(),
        ));
    }
    Ok(text)
}

#[cfg(unix)]
fn limit_child(command: &mut Command, limits: &PdfLimits) {
    let memory = limits.memory_bytes;
    // The CPU limit is a backstop for the timeout, should the child outlive its parent.
    let cpu_secs = limits.timeout.as_secs().saturating_add(1);
    // SAFETY: runs in the forked child before exec; setrlimit(2) is async-signal-safe
    // and touches only the limits passed by value.
    unsafe {
        command.pre_exec(move || {
            let address_space = libc::rlimit {
                rlim_cur: memory,
                rlim_max: memory,
            };
            let cpu = libc::rlimit {
                rlim_cur: cpu_secs,
                rlim_max: cpu_secs,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &address_space) != 0
                || libc::setrlimit(libc::RLIMIT_CPU, &cpu) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn limit_child(_command: &mut Command, _limits: &PdfLimits) {}

/// The child's side: the PDF on stdin, its text on stdout, failure as the exit status.
/// Called by `main` before anything else when the first argument is [`EXTRACT_ARG`].
pub fn run_extractor() -> std::process::ExitCode {
    use std::io::{Read, Write};
    let mut bytes = Vec::new();
    if std::io::stdin().read_to_end(&mut bytes).is_err() {
        return std::process::ExitCode::from(2);
    }
    // A malformed file can make the parser panic; that is an unreadable PDF.
    std::panic::set_hook(Box::new(|_| {}));
    match std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(&bytes)) {
        Ok(Ok(text)) => match std::io::stdout().lock().write_all(text.as_bytes()) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(_) => std::process::ExitCode::from(2),
        },
        _ => std::process::ExitCode::from(3),
    }
}
