//! Which sources a project may come from, decided before any connection is made: git
//! over `https://` (plain `http://` and private addresses only for allow-listed hosts),
//! `ssh` only when enabled, `file:` and other schemes never; local folders only under
//! the configured roots. The checked address is pinned for git, so a second DNS answer
//! cannot send the clone somewhere else.

use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use url::{Host, Url};

use super::ProjectError;
use super::public_address::is_public;
use crate::config::Config;

const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A source that passed the policy.
#[derive(Debug, Clone)]
pub enum Source {
    Git(GitUrl),
    /// A canonical folder path under one of the roots.
    Local(PathBuf),
}

#[derive(Debug, Clone)]
pub struct GitUrl {
    /// What `git clone` is given.
    pub url: String,
    /// The same repository always gives the same key (case of the host, `.git`, `/`).
    pub key: String,
    /// `owner/repo`, a default project name.
    pub name: String,
    /// The host name as written, lower-case, for choosing the token's user name.
    pub host: String,
    /// `host:port:address` for git's `http.curloptResolve`, when the host was resolved.
    pub pin: Option<String>,
}

impl Source {
    pub fn key(&self) -> String {
        match self {
            Self::Git(git) => git.key.clone(),
            Self::Local(path) => path.display().to_string(),
        }
    }

    pub fn default_name(&self) -> String {
        match self {
            Self::Git(git) => git.name.clone(),
            Self::Local(path) => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SourcePolicy {
    allowed_hosts: Vec<String>,
    allow_ssh: bool,
    local_roots: Vec<PathBuf>,
}

fn refused(why: impl Into<String>) -> ProjectError {
    ProjectError::Refused(why.into())
}

impl SourcePolicy {
    pub fn from_config(config: &Config) -> Self {
        let configured: Vec<PathBuf> = config
            .local_roots
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .map(PathBuf::from)
            .collect();
        let roots = if configured.is_empty() {
            default_roots()
        } else {
            configured
        };
        let mut local_roots: Vec<PathBuf> = Vec::new();
        // A root that does not exist allows nothing. Each is kept as written (paths are
        // first judged as written) and resolved (then as they really are).
        for root in roots.iter().filter(|r| r.is_absolute()) {
            if let Ok(real) = root.canonicalize() {
                local_roots.push(lexically_normal(root));
                local_roots.push(real);
            }
        }
        local_roots.dedup();
        Self {
            allowed_hosts: config
                .allowed_git_hosts
                .iter()
                .map(|h| normalize_host(h))
                .filter(|h| !h.is_empty())
                .collect(),
            allow_ssh: config.allow_ssh_git,
            local_roots,
        }
    }

    /// Checks a git URL or folder path, resolving the host of a URL.
    pub async fn check(&self, source: &str) -> Result<Source, ProjectError> {
        let source = source.trim();
        if source.is_empty() {
            return Err(ProjectError::InvalidInput("source is empty".into()));
        }
        if source.contains('\0') || source.chars().any(char::is_control) {
            return Err(ProjectError::InvalidInput(
                "source contains control characters".into(),
            ));
        }
        let lower = source.to_ascii_lowercase();
        if lower.starts_with("file:") {
            return Err(refused("file: URLs are not accepted"));
        }
        if source.starts_with('/') || source.starts_with('~') || source.starts_with('.') {
            return self.check_local(source).map(Source::Local);
        }
        if source.contains("://") {
            return self.check_url(source).await.map(Source::Git);
        }
        if let Some((user_host, path)) = scp_like(source) {
            return self
                .check_scp(source, user_host, path)
                .await
                .map(Source::Git);
        }
        Err(ProjectError::InvalidInput(
            "source must be a git URL (https://…) or an absolute folder path".into(),
        ))
    }

    fn check_local(&self, source: &str) -> Result<PathBuf, ProjectError> {
        let expanded = match source.strip_prefix('~') {
            Some(rest) => {
                let home = std::env::var_os("HOME")
                    .ok_or_else(|| refused("`~` cannot be expanded on this server"))?;
                PathBuf::from(home).join(rest.trim_start_matches('/'))
            }
            None => PathBuf::from(source),
        };
        if !expanded.is_absolute() {
            return Err(ProjectError::InvalidPath(
                "a local folder must be an absolute path".into(),
            ));
        }
        // Judged as written before the file system is asked anything, so a refusal tells
        // nothing about what exists outside the roots.
        self.inside_roots(&lexically_normal(&expanded), source)?;
        // Resolving `..` and symlinks shows where the folder really is; judged again.
        let real = expanded
            .canonicalize()
            .map_err(|_| ProjectError::InvalidInput(format!("no folder at {source}")))?;
        self.inside_roots(&real, source)?;
        if !real.is_dir() {
            return Err(ProjectError::InvalidInput(format!(
                "{source} is not a folder"
            )));
        }
        Ok(real)
    }

    /// Refuses a path outside every root, or one that passes through a hidden folder
    /// below its root (`~/.ssh`, `.git`, `.config`: keys and credentials live there).
    fn inside_roots(&self, path: &Path, source: &str) -> Result<(), ProjectError> {
        let below = self
            .local_roots
            .iter()
            .find_map(|root| path.strip_prefix(root).ok())
            .ok_or_else(|| {
                refused(format!(
                    "{source} is outside the folders this server may read (REPOWIKI_LOCAL_ROOTS)"
                ))
            })?;
        let hidden = below
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
        if hidden {
            return Err(refused(format!(
                "{source} is or is inside a hidden folder, which is never read"
            )));
        }
        Ok(())
    }

    async fn check_url(&self, source: &str) -> Result<GitUrl, ProjectError> {
        let url = Url::parse(source)
            .map_err(|e| ProjectError::InvalidInput(format!("not a valid URL: {e}")))?;
        let host = match url.host() {
            Some(Host::Domain(d)) => normalize_host(d),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(ProjectError::InvalidInput("the URL names no host".into())),
        };
        let allowed = self.allowed_hosts.contains(&host);
        let ssh = match url.scheme() {
            "https" => false,
            "http" if allowed => false,
            "http" => return Err(refused("only https:// git URLs are accepted")),
            "ssh" | "git+ssh" if self.allow_ssh => true,
            "ssh" | "git+ssh" => {
                return Err(refused(
                    "ssh git URLs are disabled (REPOWIKI_ALLOW_SSH_GIT)",
                ));
            }
            other => return Err(refused(format!("{other}: URLs are not accepted"))),
        };
        if url.password().is_some() || (!ssh && !url.username().is_empty()) {
            return Err(ProjectError::InvalidInput(
                "credentials in the URL are not accepted; send the token as `token`".into(),
            ));
        }
        let port = url
            .port_or_known_default()
            .unwrap_or(if ssh { 22 } else { 443 });
        let pin = if allowed {
            None
        } else {
            let address = public_address(&host, port).await?;
            (!ssh).then(|| pin_entry(url.host_str().unwrap_or(&host), port, address))
        };
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        Ok(GitUrl {
            url: url.to_string(),
            key: format!(
                "{}://{}{}{}",
                if ssh { "ssh" } else { "https" },
                host,
                url.port().map(|p| format!(":{p}")).unwrap_or_default(),
                path
            ),
            name: repo_name(path),
            host,
            pin,
        })
    }

    async fn check_scp(
        &self,
        source: &str,
        user_host: &str,
        path: &str,
    ) -> Result<GitUrl, ProjectError> {
        if !self.allow_ssh {
            return Err(refused(
                "ssh git URLs are disabled (REPOWIKI_ALLOW_SSH_GIT)",
            ));
        }
        let host = normalize_host(user_host.rsplit('@').next().unwrap_or(user_host));
        if host.is_empty() || host.starts_with('-') {
            return Err(ProjectError::InvalidInput("the URL names no host".into()));
        }
        if !self.allowed_hosts.contains(&host) {
            public_address(&host, 22).await?;
        }
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        Ok(GitUrl {
            url: source.to_owned(),
            key: format!("ssh://{host}/{}", path.trim_start_matches('/')),
            name: repo_name(path),
            host,
            pin: None,
        })
    }
}

/// Where local projects may live when `REPOWIKI_LOCAL_ROOTS` is not set: the usual
/// folders for code in the user's home, not the home folder itself.
pub const DEFAULT_ROOTS: [&str; 7] = [
    "src",
    "code",
    "projects",
    "repos",
    "git",
    "dev",
    "workspace",
];

fn default_roots() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return Vec::new();
    };
    DEFAULT_ROOTS.iter().map(|name| home.join(name)).collect()
}

/// `a/b/../c/./d` → `a/c/d`, without touching the file system.
fn lexically_normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal
}

/// `git@host:owner/repo` (no scheme): the user-and-host part and the path.
fn scp_like(source: &str) -> Option<(&str, &str)> {
    let (user_host, path) = source.split_once(':')?;
    (user_host.contains('@') && !user_host.contains('/') && !path.starts_with("//"))
        .then_some((user_host, path))
}

fn normalize_host(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

fn repo_name(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => "repository".to_owned(),
        [one] => (*one).to_owned(),
        [.., owner, repo] => format!("{owner}/{repo}"),
    }
}

fn pin_entry(host: &str, port: u16, address: IpAddr) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match address {
        IpAddr::V4(v4) => format!("{host}:{port}:{v4}"),
        IpAddr::V6(v6) => format!("{host}:{port}:[{v6}]"),
    }
}

/// Resolves the host; every address must be public, and the first one is returned.
async fn public_address(host: &str, port: u16) -> Result<IpAddr, ProjectError> {
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| ProjectError::Fetch(format!("resolving {host} timed out")))?
            .map_err(|_| ProjectError::InvalidInput(format!("the host {host} does not resolve")))?
            .map(|a| a.ip())
            .collect(),
    };
    if let Some(bad) = addresses.iter().find(|ip| !is_public(ip)) {
        return Err(refused(format!(
            "the host {host} resolves to a non-public address ({bad}); \
             allow it with REPOWIKI_ALLOWED_GIT_HOSTS"
        )));
    }
    addresses
        .first()
        .copied()
        .ok_or_else(|| ProjectError::InvalidInput(format!("the host {host} does not resolve")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str], ssh: bool) -> SourcePolicy {
        SourcePolicy {
            allowed_hosts: allowed.iter().map(|h| normalize_host(h)).collect(),
            allow_ssh: ssh,
            local_roots: vec![std::env::temp_dir().canonicalize().unwrap()],
        }
    }

    #[tokio::test]
    async fn schemes_and_hosts_are_refused_before_connecting() {
        let p = policy(&[], false);
        for bad in [
            "file:///etc",
            "ftp://example.com/x.git",
            "git://example.com/x.git",
            "http://example.com/x.git",
            "ssh://git@example.com/x.git",
            "git@example.com:x/y.git",
            "https://127.0.0.1/x.git",
            "https://10.0.0.8/x.git",
            "https://169.254.169.254/x.git",
            "https://[::1]/x.git",
            "https://localhost/x.git",
        ] {
            assert!(
                matches!(p.check(bad).await, Err(ProjectError::Refused(_))),
                "{bad} not refused"
            );
        }
        assert!(matches!(
            p.check("https://user:secret@example.com/x.git").await,
            Err(ProjectError::InvalidInput(_))
        ));
    }

    #[tokio::test]
    async fn allow_listed_hosts_pass() {
        let p = policy(&["127.0.0.1", "[::1]"], false);
        let Ok(Source::Git(git)) = p.check("http://127.0.0.1:8080/repo.git/").await else {
            panic!("allow-listed host refused");
        };
        assert_eq!(git.key, "https://127.0.0.1:8080/repo");
        assert!(git.pin.is_none());
        assert!(p.check("https://[::1]/r.git").await.is_ok());
        let ssh = policy(&["127.0.0.1"], true);
        assert!(ssh.check("git@127.0.0.1:o/r.git").await.is_ok());
    }

    #[test]
    fn local_folders_only_under_roots() {
        let root = tempfile::tempdir().unwrap();
        let p = SourcePolicy {
            local_roots: vec![root.path().canonicalize().unwrap()],
            ..policy(&[], false)
        };
        let inside = root.path().join("proj");
        std::fs::create_dir_all(inside.join(".ssh")).unwrap();
        let found = p.check_local(inside.to_str().unwrap()).unwrap();
        assert!(p.local_roots.iter().any(|r| found.starts_with(r)));
        assert!(matches!(
            p.check_local("/etc"),
            Err(ProjectError::Refused(_))
        ));
        assert!(matches!(
            p.check_local("relative/dir"),
            Err(ProjectError::InvalidPath(_))
        ));
        let sneaky = format!("{}/../../etc", inside.display());
        assert!(matches!(
            p.check_local(&sneaky),
            Err(ProjectError::Refused(_))
        ));
        let hidden = format!("{}/.ssh", inside.display());
        assert!(matches!(
            p.check_local(&hidden),
            Err(ProjectError::Refused(_))
        ));
    }

    #[test]
    fn refusals_outside_the_roots_do_not_tell_what_exists() {
        let root = tempfile::tempdir().unwrap();
        let p = SourcePolicy {
            local_roots: vec![root.path().canonicalize().unwrap()],
            ..policy(&[], false)
        };
        let message = |path: &str| match p.check_local(path) {
            Err(ProjectError::Refused(m)) => m.replace(path, "PATH"),
            other => panic!("{path}: {other:?}"),
        };
        assert_eq!(message("/etc"), message("/no/such/folder/anywhere"));
        assert_eq!(message("/etc/passwd"), message("/etc/no-such-file"));
    }

    /// Non-public IPv4 networks an attacker would aim a clone at.
    const PRIVATE_V4: [(u32, u8); 11] = [
        (0x7f00_0000, 8),  // loopback
        (0x0a00_0000, 8),  // private
        (0xac10_0000, 12), // private
        (0xc0a8_0000, 16), // private
        (0xa9fe_0000, 16), // link-local, cloud metadata
        (0x6440_0000, 10), // shared (carrier-grade NAT)
        (0xc612_0000, 15), // benchmarking
        (0x0000_0000, 8),  // "this network"
        (0xe000_0000, 4),  // multicast
        (0xf000_0000, 4),  // reserved
        (0xc000_0000, 24), // IETF protocol assignments
    ];

    /// One address of `PRIVATE_V4`, written in one of the many ways a URL may spell it.
    fn spelled_private_host() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        (0..PRIVATE_V4.len(), any::<u32>(), 0..9u8).prop_map(|(net, bits, style)| {
            let (base, prefix) = PRIVATE_V4[net];
            let host_mask = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let ip = match base | (bits & host_mask) {
                // The two globally reachable addresses of 192.0.0.0/24 (IANA).
                0xc000_0009 | 0xc000_000a => 0xc000_0008,
                ip => ip,
            };
            let [a, b, c, d] = ip.to_be_bytes();
            let v6 = std::net::Ipv4Addr::from(ip).to_ipv6_mapped().segments();
            match style {
                0 => format!("{a}.{b}.{c}.{d}"),
                1 => format!("{ip}"),
                2 => format!("0x{ip:x}"),
                3 => format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
                4 => format!("0x{a:x}.{b}.0{c:o}.{d}"),
                5 => format!("[::ffff:{a}.{b}.{c}.{d}]"),
                6 => format!("[::ffff:{:x}:{:x}]", v6[6], v6[7]),
                7 => format!("[64:ff9b::{:x}:{:x}]", v6[6], v6[7]),
                _ => format!("[2002:{:x}:{:x}::1]", v6[6], v6[7]),
            }
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// However a non-public address is spelled, and with whatever scheme, port or
        /// path, no clone URL naming it passes without the allow-list.
        #[test]
        fn no_spelling_of_a_private_address_is_accepted(
            host in spelled_private_host(),
            scheme in proptest::sample::select(vec!["https", "http", "HTTPS", "git", "ssh", "file"]),
            port in proptest::option::of(1u16..),
            path in "(/[a-z]{1,8}){0,3}(\\.git)?",
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let url = format!("{scheme}://{host}{port}{path}");
            let outcome = runtime.block_on(policy(&[], false).check(&url));
            proptest::prop_assert!(
                matches!(outcome, Err(ProjectError::Refused(_) | ProjectError::InvalidInput(_))),
                "{url} accepted: {outcome:?}"
            );
        }
    }
}
