//! Reads a tree (a clone or a local folder) into the files to index, as git would see
//! it: `.gitignore` respected, hidden files skipped, filters applied. Binaries, files over
//! the size limit and symlinks leading out of the tree are skipped, never followed.

use std::path::{Path, PathBuf};

use ignore::WalkBuilder;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::ProjectError;
use super::filters::Filters;

/// One text file of the tree.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Relative to the root, `/`-separated.
    pub path: String,
    pub content: String,
    pub size: u64,
    pub content_hash: String,
}

#[derive(Debug, Default)]
pub struct Walked {
    pub files: Vec<SourceFile>,
    /// Binary, too large, unreadable, or a symlink out of the tree.
    pub skipped: u64,
}

/// Bytes looked at for a NUL, the usual sign of a binary file.
const SNIFF_BYTES: usize = 8 * 1024;

pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// Text of a file's bytes, or `None` for a binary.
pub fn text_of(bytes: Vec<u8>) -> Option<String> {
    if bytes[..bytes.len().min(SNIFF_BYTES)].contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

pub fn walk(root: &Path, filters: &Filters, max_file_bytes: u64) -> Result<Walked, ProjectError> {
    let root = root
        .canonicalize()
        .map_err(|e| ProjectError::internal("opening the project folder", e))?;
    let filter_root = root.clone();
    let dir_filters = filters.clone();
    let walker = WalkBuilder::new(&root)
        .hidden(true)
        .git_ignore(true)
        .git_exclude(false)
        .git_global(false)
        .ignore(true)
        .parents(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |entry| {
            if !entry.file_type().is_some_and(|t| t.is_dir()) || entry.depth() == 0 {
                return true;
            }
            relative(&filter_root, entry.path()).is_some_and(|dir| dir_filters.enter_dir(&dir))
        })
        .build();
    let mut walked = Walked::default();
    // (path relative to the root, the file to read): a symlink's target.
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for entry in walker {
        let Ok(entry) = entry else {
            walked.skipped += 1;
            continue;
        };
        let Some(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            continue;
        }
        let Some(rel) = relative(&root, entry.path()) else {
            continue;
        };
        if !filters.keep_file(&rel) {
            continue;
        }
        let target = if kind.is_symlink() {
            match inside(&root, entry.path()) {
                Some(target) => target,
                None => {
                    tracing::debug!(path = rel, "symlink out of the tree refused");
                    walked.skipped += 1;
                    continue;
                }
            }
        } else if kind.is_file() {
            entry.path().to_owned()
        } else {
            continue;
        };
        found.push((rel, target));
    }
    // Reading and hashing is most of a walk's time: every core takes part.
    let read: Vec<Option<SourceFile>> = found
        .into_par_iter()
        .map(|(path, target)| {
            let (content, size, content_hash) = read_text(&target, max_file_bytes)?;
            Some(SourceFile {
                path,
                content,
                size,
                content_hash,
            })
        })
        .collect();
    for file in read {
        match file {
            Some(file) => walked.files.push(file),
            None => walked.skipped += 1,
        }
    }
    walked.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(walked)
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// A symlink's target when it is a regular file inside `root`.
fn inside(root: &Path, link: &Path) -> Option<PathBuf> {
    let target = link.canonicalize().ok()?;
    (target.starts_with(root) && target.is_file()).then_some(target)
}

fn read_text(path: &Path, max_bytes: u64) -> Option<(String, u64, String)> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > max_bytes {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let size = bytes.len() as u64;
    let hash = content_hash(&bytes);
    Some((text_of(bytes)?, size, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::rest::ProjectFilters;

    #[test]
    fn walks_text_files_and_refuses_what_it_should() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |p: &str, bytes: &[u8]| {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        write("src/lib.rs", b"fn parse_config() {}\n");
        write("README.md", b"# Hello\n");
        write("logo.png", b"\x89PNG\0\0\0binary");
        write("Cargo.lock", b"# lock\n");
        write("node_modules/x/index.js", b"x\n");
        write("big.txt", &vec![b'a'; 2048]);
        write("ignored.txt", b"no\n");
        write(".gitignore", b"ignored.txt\n");
        write(".hidden/secret.txt", b"hidden\n");
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("passwd"), b"root:x\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("passwd"), root.join("escape.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("README.md"), root.join("readme-link.md")).unwrap();

        let filters = Filters::new(&ProjectFilters::default()).unwrap();
        let walked = walk(root, &filters, 1024).unwrap();
        let paths: Vec<&str> = walked.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["README.md", "readme-link.md", "src/lib.rs"]);
        // logo.png, big.txt, escape.txt
        assert_eq!(walked.skipped, 3);
    }
}
