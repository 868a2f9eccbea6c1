//! Which files of a tree are indexed: the user's include/exclude globs on top of defaults
//! that leave out vendored and generated trees, lock files and minified bundles.
//!
//! Globs match relative, `/`-separated paths with `*` not crossing `/`. A pattern without
//! a `/` matches at any depth (`tests`, `*.md`), one with a `/` from the root
//! (`docs/api`, `src/*.rs`); a trailing `/**` or `/` on a directory pattern is implied.

use app::protocol::rest::ProjectFilters;
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use super::ProjectError;

/// Directories never worth indexing: dependencies, build output, caches, VCS data.
pub const DEFAULT_EXCLUDED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "bower_components",
    "vendor",
    "third_party",
    "target",
    "dist",
    "build",
    "out",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    ".next",
    ".nuxt",
    ".gradle",
    ".idea",
    "coverage",
];

/// Files that are generated or carry no meaning for a reader.
pub const DEFAULT_EXCLUDED_FILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
    "flake.lock",
    "*.min.js",
    "*.min.css",
    "*.map",
];

/// Patterns a user may give per list; more is a mistake, not a filter.
const MAX_PATTERNS: usize = 200;

/// Compiled filters.
#[derive(Debug, Clone)]
pub struct Filters {
    included_dirs: Option<GlobSet>,
    excluded_dirs: GlobSet,
    included_files: Option<GlobSet>,
    excluded_files: GlobSet,
}

impl Filters {
    pub fn new(user: &ProjectFilters) -> Result<Self, ProjectError> {
        let with_defaults = |defaults: &[&str], extra: &[String]| {
            defaults
                .iter()
                .map(|s| (*s).to_owned())
                .chain(extra.iter().cloned())
                .collect::<Vec<_>>()
        };
        Ok(Self {
            included_dirs: optional(dir_set(&user.included_dirs)?),
            excluded_dirs: dir_set(&with_defaults(DEFAULT_EXCLUDED_DIRS, &user.excluded_dirs))?,
            included_files: optional(file_set(&user.included_files)?),
            excluded_files: file_set(&with_defaults(DEFAULT_EXCLUDED_FILES, &user.excluded_files))?,
        })
    }

    /// Checks the user's patterns without keeping them, to refuse a request early.
    pub fn validate(user: &ProjectFilters) -> Result<(), ProjectError> {
        Self::new(user).map(|_| ())
    }

    /// Whether the walk should descend into this directory (relative path).
    pub fn enter_dir(&self, dir: &str) -> bool {
        !self.excluded_dirs.is_match(dir)
    }

    /// Whether this file (relative path) is indexed.
    pub fn keep_file(&self, path: &str) -> bool {
        if let Some(included) = &self.included_dirs
            && !ancestors_of(path).any(|dir| included.is_match(dir))
        {
            return false;
        }
        if ancestors_of(path).any(|dir| self.excluded_dirs.is_match(dir)) {
            return false;
        }
        if let Some(included) = &self.included_files
            && !included.is_match(path)
        {
            return false;
        }
        !self.excluded_files.is_match(path)
    }
}

/// `a/b/c.rs` → `a`, `a/b`.
fn ancestors_of(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

fn optional(set: GlobSet) -> Option<GlobSet> {
    (!set.is_empty()).then_some(set)
}

fn clean(pattern: &str) -> String {
    let mut p = pattern.trim().replace('\\', "/");
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_owned();
    }
    p
}

fn glob(pattern: &str) -> Result<Glob, ProjectError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| ProjectError::InvalidInput(format!("bad glob `{pattern}`: {e}")))
}

fn check_count(patterns: &[String]) -> Result<(), ProjectError> {
    if patterns.len() > MAX_PATTERNS + DEFAULT_EXCLUDED_DIRS.len() + DEFAULT_EXCLUDED_FILES.len() {
        return Err(ProjectError::InvalidInput(format!(
            "at most {MAX_PATTERNS} patterns per filter"
        )));
    }
    Ok(())
}

/// Directory patterns, matched against each directory on a file's path.
fn dir_set(patterns: &[String]) -> Result<GlobSet, ProjectError> {
    glob_set(patterns, true)
}

/// File patterns, matched against the file's whole relative path.
fn file_set(patterns: &[String]) -> Result<GlobSet, ProjectError> {
    glob_set(patterns, false)
}

/// For directories, `docs/`, `docs/**` and `docs` all mean the directory itself.
fn glob_set(patterns: &[String], dirs: bool) -> Result<GlobSet, ProjectError> {
    check_count(patterns)?;
    let mut builder = GlobSetBuilder::new();
    for raw in patterns {
        let mut p = clean(raw);
        while dirs && let Some(rest) = p.strip_suffix("/**").or_else(|| p.strip_suffix('/')) {
            p = rest.to_owned();
        }
        let p = p.trim_start_matches('/');
        if p.is_empty() {
            continue;
        }
        add_anywhere_or_rooted(&mut builder, p)?;
    }
    builder
        .build()
        .map_err(|e| ProjectError::InvalidInput(format!("bad glob: {e}")))
}

fn add_anywhere_or_rooted(builder: &mut GlobSetBuilder, p: &str) -> Result<(), ProjectError> {
    builder.add(glob(p)?);
    if !p.contains('/') {
        builder.add(glob(&format!("**/{p}"))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(f: impl FnOnce(&mut ProjectFilters)) -> Filters {
        let mut user = ProjectFilters::default();
        f(&mut user);
        Filters::new(&user).unwrap()
    }

    #[test]
    fn defaults_skip_vendored_trees_and_lock_files() {
        let f = filters(|_| {});
        assert!(f.keep_file("src/lib.rs"));
        assert!(!f.keep_file("node_modules/x/index.js"));
        assert!(!f.keep_file("web/node_modules/x/index.js"));
        assert!(!f.keep_file("Cargo.lock"));
        assert!(!f.keep_file("app/package-lock.json"));
        assert!(!f.keep_file("static/app.min.js"));
        assert!(!f.enter_dir("target"));
        assert!(!f.enter_dir("crates/x/target"));
        assert!(f.enter_dir("src"));
    }

    #[test]
    fn user_globs_include_and_exclude() {
        let f = filters(|u| {
            u.included_dirs = vec!["src".into(), "docs/**".into()];
            u.excluded_dirs = vec!["src/generated".into()];
            u.excluded_files = vec!["*_test.go".into()];
        });
        assert!(f.keep_file("src/main.go"));
        assert!(f.keep_file("docs/guide/intro.md"));
        assert!(!f.keep_file("README.md"));
        assert!(!f.keep_file("src/generated/api.go"));
        assert!(!f.keep_file("src/parse_test.go"));

        let md = filters(|u| u.included_files = vec!["*.md".into()]);
        assert!(md.keep_file("README.md"));
        assert!(md.keep_file("docs/a/b.md"));
        assert!(!md.keep_file("src/lib.rs"));

        let rooted = filters(|u| u.included_files = vec!["src/*.rs".into()]);
        assert!(rooted.keep_file("src/lib.rs"));
        assert!(!rooted.keep_file("src/deep/lib.rs"));
    }

    #[test]
    fn a_bad_glob_is_refused() {
        let user = ProjectFilters {
            excluded_files: vec!["a[".into()],
            ..ProjectFilters::default()
        };
        assert!(matches!(
            Filters::new(&user),
            Err(ProjectError::InvalidInput(_))
        ));
    }
}
