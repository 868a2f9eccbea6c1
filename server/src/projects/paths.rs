//! Document paths as the API accepts them: relative, `/`-separated, inside the project.
//! Anything that could name a file outside it (`..`, an absolute path, a drive letter, a
//! NUL) is refused rather than cleaned up, so a caller never reads something unexpected.

use super::ProjectError;

const MAX_PATH_CHARS: usize = 1024;

/// The path in its one stored form (`./a//b` becomes `a/b`), or `InvalidPath`.
pub fn normalize(path: &str) -> Result<String, ProjectError> {
    let refuse = |why: &str| Err(ProjectError::InvalidPath(format!("path {why}")));
    if path.is_empty() || path.chars().count() > MAX_PATH_CHARS {
        return refuse("must have 1 to 1024 characters");
    }
    if path.contains('\0') || path.chars().any(char::is_control) {
        return refuse("contains control characters");
    }
    let path = path.replace('\\', "/");
    if path.starts_with('/') || path.starts_with('~') || has_drive_letter(&path) {
        return refuse("must be relative to the project");
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => continue,
            ".." => return refuse("must not contain `..`"),
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return refuse("names no file");
    }
    let clean = parts.join("/");
    // Judged again once `./` prefixes are gone: `./~x` and `./C:/x` are `~x` and `C:/x`.
    if clean.starts_with('~') || has_drive_letter(&clean) {
        return refuse("must be relative to the project");
    }
    Ok(clean)
}

fn has_drive_letter(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_kept_in_one_form() {
        assert_eq!(normalize("src/lib.rs").unwrap(), "src/lib.rs");
        assert_eq!(normalize("./src//lib.rs").unwrap(), "src/lib.rs");
        assert_eq!(normalize("docs\\a.md").unwrap(), "docs/a.md");
    }

    #[test]
    fn escapes_are_refused() {
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "/etc/passwd",
            "~/x",
            "C:/x",
            // Found by the property test: the prefix hid what the path became.
            "./~x",
            ".\\~..",
            "./C:/x",
            "a\0b",
            "",
            ".",
        ] {
            assert!(
                matches!(normalize(bad), Err(ProjectError::InvalidPath(_))),
                "{bad:?} accepted"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Whatever is asked for, an accepted path is relative, clean and inside the
        /// project: no `..`, no empty or `.` part, no leading `/`, `\\`, `~` or drive.
        #[test]
        fn accepted_paths_stay_inside_the_project(
            path in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                "([a-zA-Z.~:/\\\\]{0,4}(\\.\\.|\\.|[a-z]{1,5})){0,6}",
            ],
        ) {
            if let Ok(clean) = normalize(&path) {
                proptest::prop_assert!(!clean.is_empty());
                proptest::prop_assert!(!clean.starts_with('/') && !clean.starts_with('~'), "{clean}");
                proptest::prop_assert!(!clean.contains('\\') && !clean.contains('\0'), "{clean}");
                proptest::prop_assert!(!has_drive_letter(&clean), "{clean}");
                for part in clean.split('/') {
                    proptest::prop_assert!(!part.is_empty() && part != "." && part != "..", "{clean}");
                }
                proptest::prop_assert_eq!(normalize(&clean).ok(), Some(clean.clone()), "normal form is stable");
            }
        }
    }
}
