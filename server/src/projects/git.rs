//! Shallow clones with the `git` command line: the token travels in the environment (an
//! `Authorization` header through `GIT_CONFIG_*`), so it is never in argv, a log line, an
//! error, an event or the database; the clone is killed past its time or size limit.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::ProjectError;
use super::url_policy::GitUrl;

/// Git's own error text kept for the user, at most.
const STDERR_KEEP: usize = 16 * 1024;
/// How often the checkout's size is measured while cloning.
const SIZE_POLL: Duration = Duration::from_millis(250);

pub struct CloneRequest<'a> {
    pub url: &'a GitUrl,
    pub branch: Option<&'a str>,
    pub token: Option<&'a str>,
    pub dest: &'a Path,
    pub timeout: Duration,
    pub max_bytes: u64,
}

/// Clones into `dest` (which must not exist) and answers the commit checked out. On any
/// failure `dest` is removed.
pub async fn shallow_clone(req: CloneRequest<'_>) -> Result<String, ProjectError> {
    let result = clone_inner(&req).await;
    if result.is_err() {
        remove_dir(req.dest).await;
    }
    result
}

pub async fn remove_dir(dir: &Path) {
    if let Err(e) = tokio::fs::remove_dir_all(dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove a folder");
    }
}

/// The `Authorization` header value git sends; the user name is what each forge expects
/// with a token, any other host gets GitHub's.
fn auth_header(host: &str, token: &str) -> String {
    let user = if host.contains("gitlab") {
        "oauth2"
    } else if host.contains("bitbucket") {
        "x-token-auth"
    } else {
        "x-access-token"
    };
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
    format!("Authorization: Basic {basic}")
}

/// Removes every trace of the token (raw and encoded) from text git printed.
fn scrub(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

fn git_command(req: &CloneRequest<'_>, secrets: &mut Vec<String>) -> Command {
    let mut cmd = Command::new("git");
    // Configuration through the environment: nothing secret on the command line.
    let mut config: Vec<(&str, String)> = vec![
        // Only the transport the URL names; no ext::, file:// or fd:: through redirects
        // or submodules.
        ("protocol.allow", "never".into()),
        ("protocol.https.allow", "always".into()),
        ("protocol.http.allow", "always".into()),
        ("protocol.ssh.allow", "always".into()),
        // A redirect could lead to a host the policy never checked.
        ("http.followRedirects", "false".into()),
        ("core.askPass", "".into()),
        ("credential.helper", "".into()),
    ];
    if let Some(pin) = &req.url.pin {
        config.push(("http.curloptResolve", pin.clone()));
    }
    if let Some(token) = req.token.filter(|t| !t.is_empty()) {
        let header = auth_header(&req.url.host, token);
        secrets.push(token.to_owned());
        secrets.push(
            header
                .trim_start_matches("Authorization: Basic ")
                .to_owned(),
        );
        config.push(("http.extraHeader", header));
    }
    cmd.env("GIT_CONFIG_COUNT", config.len().to_string());
    for (i, (key, value)) in config.into_iter().enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{i}"), key);
        cmd.env(format!("GIT_CONFIG_VALUE_{i}"), value);
    }
    // No system or user configuration: an `insteadOf` there could send the clone to a
    // URL the policy never checked.
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_LFS_SKIP_SMUDGE", "1")
        .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        .env_remove("SSH_ASKPASS")
        .env_remove("GIT_ASKPASS");
    cmd.arg("clone")
        .arg("--depth=1")
        .arg("--single-branch")
        .arg("--no-tags")
        .arg("--quiet");
    if let Some(branch) = req.branch {
        cmd.arg(format!("--branch={branch}"));
    }
    cmd.arg("--").arg(&req.url.url).arg(req.dest);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so a timeout kills git's helpers (git-remote-https) too.
        .process_group(0);
    cmd
}

async fn clone_inner(req: &CloneRequest<'_>) -> Result<String, ProjectError> {
    if let Some(parent) = req.dest.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| ProjectError::internal("creating the repos folder", e))?;
    }
    let mut secrets = Vec::new();
    let mut child = git_command(req, &mut secrets)
        .spawn()
        .map_err(|e| ProjectError::internal("starting git", e))?;
    let mut stderr = child.stderr.take();
    let stderr_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                if buf.len() < STDERR_KEEP {
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    });
    let pid = child.id();
    let outcome = tokio::select! {
        status = child.wait() => Ok(status),
        () = tokio::time::sleep(req.timeout) => Err(ProjectError::Fetch(format!(
            "the clone took longer than {} s and was stopped",
            req.timeout.as_secs()
        ))),
        () = grows_past(req.dest, req.max_bytes) => Err(too_large(req.max_bytes)),
    };
    let status = match outcome {
        Ok(status) => status.map_err(|e| ProjectError::internal("waiting for git", e))?,
        Err(e) => {
            kill_group(pid);
            let _ = child.wait().await;
            return Err(e);
        }
    };
    let stderr = stderr_task.await.unwrap_or_default();
    if !status.success() {
        let text = scrub(stderr.trim(), &secrets);
        let last = text.lines().rev().take(3).collect::<Vec<_>>();
        let detail = last.into_iter().rev().collect::<Vec<_>>().join(" ");
        return Err(ProjectError::Fetch(format!(
            "git clone failed: {}",
            if detail.is_empty() {
                "no details"
            } else {
                &detail
            }
        )));
    }
    let dest = req.dest.to_owned();
    let size = tokio::task::spawn_blocking(move || dir_size(&dest)).await?;
    if size > req.max_bytes {
        return Err(too_large(req.max_bytes));
    }
    head_commit(req.dest).await
}

fn too_large(max: u64) -> ProjectError {
    ProjectError::TooLarge(format!(
        "the repository is larger than the limit of {} MiB (REPOWIKI_MAX_REPO_BYTES)",
        max / (1024 * 1024)
    ))
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals the process group git leads; it
        // touches no memory of ours.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Resolves once the folder holds more than `max` bytes; never otherwise.
async fn grows_past(dir: &Path, max: u64) {
    let mut tick = tokio::time::interval(SIZE_POLL);
    loop {
        tick.tick().await;
        let dir = dir.to_owned();
        let size = tokio::task::spawn_blocking(move || dir_size(&dir))
            .await
            .unwrap_or(0);
        if size > max {
            return;
        }
    }
}

/// Bytes of the regular files under `dir`; symlinks are not followed.
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(t) if t.is_file() => total += entry.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

async fn head_commit(dir: &Path) -> Result<String, ProjectError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ProjectError::internal("running git rev-parse", e))?;
    if !out.status.success() {
        return Err(ProjectError::Fetch(
            "the clone has no commit checked out".into(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_scrubbed_raw_and_encoded() {
        let header = auth_header("github.com", "s3cret");
        let encoded = header
            .trim_start_matches("Authorization: Basic ")
            .to_owned();
        let text = format!("fatal: bad s3cret and {encoded}");
        let clean = scrub(&text, &["s3cret".into(), encoded]);
        assert!(!clean.contains("s3cret"));
        assert_eq!(clean, "fatal: bad *** and ***");
    }
}
