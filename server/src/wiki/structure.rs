//! Phase 1: the wiki's structure. The model is shown the file tree and the README and
//! asked for JSON; its answer is parsed tolerantly (code fences, prose around the JSON,
//! camelCase keys, sections that list page ids or hold the pages themselves). When
//! nothing usable comes back, the structure is derived from the repository's layout.

use std::collections::{BTreeMap, HashMap, HashSet};

use app::protocol::Importance;
use app::protocol::rest::{WikiFilters, WikiSection, WikiStructure};
use serde::Deserialize;
use serde_json::Value;

use crate::storage::wiki_pages::NewWikiPage;

/// Paths shown to the model; a larger tree is cut (the layout fallback sees it all).
const MAX_TREE_PATHS: usize = 600;
const MAX_README_CHARS: usize = 6_000;
const MAX_PAGES: usize = 64;
const MAX_FILES_PER_PAGE: usize = 10;

/// A structure ready to store: what clients see, and the pages to generate.
#[derive(Debug, Clone)]
pub struct Planned {
    pub structure: WikiStructure,
    pub pages: Vec<NewWikiPage>,
}

/// The paths the filters keep.
pub fn apply_filters(paths: Vec<String>, filters: &WikiFilters) -> Vec<String> {
    let in_dir = |path: &str, dir: &str| {
        let dir = dir.trim().trim_matches('/').trim_start_matches("./");
        !dir.is_empty() && (path == dir || path.starts_with(&format!("{dir}/")))
    };
    let file_matches = |path: &str, pattern: &str| {
        let pattern = pattern.trim();
        let name = path.rsplit('/').next().unwrap_or(path);
        match pattern.strip_prefix('*') {
            Some(suffix) => !suffix.is_empty() && name.ends_with(suffix),
            None => !pattern.is_empty() && (name == pattern || path == pattern),
        }
    };
    paths
        .into_iter()
        .filter(|p| !filters.excluded_dirs.iter().any(|d| in_dir(p, d)))
        .filter(|p| !filters.excluded_files.iter().any(|f| file_matches(p, f)))
        .filter(|p| {
            let any_include =
                !filters.included_dirs.is_empty() || !filters.included_files.is_empty();
            !any_include
                || filters.included_dirs.iter().any(|d| in_dir(p, d))
                || filters.included_files.iter().any(|f| file_matches(p, f))
        })
        .collect()
}

/// The README at the top of the tree, if any (`README.md` preferred).
pub fn readme_path(paths: &[String]) -> Option<&String> {
    paths
        .iter()
        .filter(|p| !p.contains('/') && p.to_lowercase().starts_with("readme"))
        .min_by_key(|p| (!p.to_lowercase().ends_with(".md"), p.len()))
}

pub fn system_prompt(language: &str) -> String {
    format!(
        "You are an expert technical writer who plans documentation wikis for software \
         repositories. Answer with one JSON object and nothing else. Write titles in the \
         language whose code is `{language}`."
    )
}

pub fn user_prompt(paths: &[String], readme: &str, comprehensive: bool) -> String {
    let mut tree: String = paths
        .iter()
        .take(MAX_TREE_PATHS)
        .map(|p| format!("{p}\n"))
        .collect();
    if paths.len() > MAX_TREE_PATHS {
        tree.push_str(&format!(
            "… and {} more files\n",
            paths.len() - MAX_TREE_PATHS
        ));
    }
    let readme: String = readme.chars().take(MAX_README_CHARS).collect();
    let size = if comprehensive {
        "Create a comprehensive wiki of 8 to 12 pages in 3 to 5 sections, covering the \
         overview, architecture, main components, data flow, configuration and deployment"
    } else {
        "Create a concise wiki of 4 to 6 pages in 1 or 2 sections, covering only the most \
         important parts"
    };
    format!(
        "Plan the wiki of this repository.\n\n<file_tree>\n{tree}</file_tree>\n\n\
         <readme>\n{readme}\n</readme>\n\n{size}. Each page lists the repository files it \
         is about (exact paths from the file tree) and the ids of related pages.\n\n\
         Answer with JSON of exactly this shape:\n\
         {{\"title\": \"…\", \"description\": \"…\", \"sections\": [{{\"id\": \"section-1\", \
         \"title\": \"…\", \"pages\": [{{\"id\": \"page-1\", \"title\": \"…\", \
         \"importance\": \"high|medium|low\", \"relevant_files\": [\"path\"], \
         \"related_pages\": [\"page-2\"]}}]}}]}}"
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawStructure {
    #[serde(alias = "name")]
    title: String,
    #[serde(alias = "summary")]
    description: String,
    sections: Vec<RawSection>,
    pages: Vec<RawPage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawSection {
    id: Option<String>,
    #[serde(alias = "name")]
    title: String,
    pages: Vec<PageOrRef>,
    #[serde(alias = "subsections")]
    sections: Vec<RawSection>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PageOrRef {
    Ref(String),
    Page(RawPage),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPage {
    id: Option<String>,
    #[serde(alias = "name")]
    title: String,
    #[serde(deserialize_with = "lenient_string")]
    importance: Option<String>,
    #[serde(
        alias = "relevantFiles",
        alias = "filePaths",
        alias = "file_paths",
        alias = "files"
    )]
    relevant_files: Vec<String>,
    #[serde(alias = "relatedPages", alias = "related")]
    related_pages: Vec<String>,
    #[serde(alias = "parent_section", alias = "parentSection")]
    section: Option<String>,
}

fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The model's structure, or None when its answer holds no usable one.
pub fn parse(answer: &str, paths: &[String]) -> Option<Planned> {
    candidates(answer).into_iter().find_map(|value| {
        let raw: RawStructure = serde_json::from_value(unwrap_single(value)).ok()?;
        normalize(raw, paths)
    })
}

/// Every JSON object in the text, outermost first, from the first `{` on. Code fences
/// and prose around the object are skipped over this way.
fn candidates(answer: &str) -> Vec<Value> {
    let mut found = Vec::new();
    for (i, _) in answer.match_indices('{') {
        let mut stream = serde_json::Deserializer::from_str(&answer[i..]).into_iter::<Value>();
        if let Some(Ok(value @ Value::Object(_))) = stream.next() {
            found.push(value);
            if found.len() >= 4 {
                break;
            }
        }
    }
    found
}

/// `{"wiki": {...}}` or `{"wiki_structure": {...}}`: the object inside.
fn unwrap_single(value: Value) -> Value {
    if let Value::Object(map) = &value
        && map.len() == 1
        && let Some(inner @ Value::Object(_)) = map.values().next()
    {
        return inner.clone();
    }
    value
}

fn normalize(raw: RawStructure, paths: &[String]) -> Option<Planned> {
    let known: HashSet<&str> = paths.iter().map(String::as_str).collect();
    let mut by_ref: HashMap<String, RawPage> = HashMap::new();
    let mut loose: Vec<RawPage> = Vec::new();
    for page in raw.pages {
        match &page.id {
            Some(id) => {
                by_ref.insert(id.clone(), page);
            }
            None => loose.push(page),
        }
    }
    // (section title, section id hint, pages)
    let mut sections: Vec<(String, Option<String>, Vec<RawPage>)> = Vec::new();
    let mut flat = Vec::new();
    flatten(raw.sections, &mut flat);
    for section in flat {
        let mut pages = Vec::new();
        for item in section.pages {
            match item {
                PageOrRef::Page(page) => pages.push(page),
                PageOrRef::Ref(id) => {
                    if let Some(page) = by_ref.remove(&id) {
                        pages.push(page);
                    }
                }
            }
        }
        sections.push((section.title, section.id, pages));
    }
    // Top-level pages no section claimed go to the section they name, else to one more.
    let mut rest: Vec<RawPage> = by_ref.into_values().chain(loose).collect();
    rest.sort_by(|a, b| a.id.cmp(&b.id));
    for page in rest {
        let target = page.section.as_deref().and_then(|s| {
            sections
                .iter()
                .position(|(title, id, _)| id.as_deref() == Some(s) || title == s)
        });
        match target {
            Some(i) => sections[i].2.push(page),
            None => match sections.iter_mut().find(|(title, _, _)| title == "Pages") {
                Some(section) => section.2.push(page),
                None => sections.push(("Pages".into(), None, vec![page])),
            },
        }
    }

    let mut ids = Ids::default();
    let mut planned_sections = Vec::new();
    let mut pages: Vec<(NewWikiPage, Vec<String>, Option<String>)> = Vec::new();
    for (title, id_hint, raw_pages) in sections {
        let title = clean_title(&title).unwrap_or_else(|| "Pages".into());
        let section_id = ids.section(id_hint.as_deref().unwrap_or(&title));
        let mut section_pages = Vec::new();
        for page in raw_pages {
            if pages.len() >= MAX_PAGES {
                break;
            }
            let Some(page_title) = clean_title(&page.title) else {
                continue;
            };
            let page_id = ids.page(page.id.as_deref().unwrap_or(&page_title));
            let files: Vec<String> = page
                .relevant_files
                .iter()
                .filter_map(|f| {
                    let f = f.trim().trim_start_matches("./").trim_start_matches('/');
                    (known.is_empty() || known.contains(f)).then(|| f.to_owned())
                })
                .take(MAX_FILES_PER_PAGE)
                .collect();
            section_pages.push(page_id.clone());
            pages.push((
                NewWikiPage {
                    page_id,
                    section: section_id.clone(),
                    title: page_title,
                    importance: importance(page.importance.as_deref()),
                    relevant_files: json_list(&files),
                    related_pages: String::new(),
                },
                page.related_pages,
                page.id,
            ));
        }
        if !section_pages.is_empty() {
            planned_sections.push(WikiSection {
                id: section_id,
                title,
                pages: section_pages,
            });
        }
    }
    if pages.is_empty() {
        return None;
    }
    // Related pages may be named by the model's id or by title; keep those that exist.
    let mut lookup: HashMap<String, String> = HashMap::new();
    for (page, _, model_id) in &pages {
        lookup.insert(page.page_id.clone(), page.page_id.clone());
        lookup.insert(page.title.to_lowercase(), page.page_id.clone());
        if let Some(model_id) = model_id {
            lookup.insert(model_id.clone(), page.page_id.clone());
        }
    }
    let pages = pages
        .into_iter()
        .map(|(mut page, related, _)| {
            let mut resolved: Vec<String> = Vec::new();
            for r in related {
                let id = lookup
                    .get(&r)
                    .or_else(|| lookup.get(&r.to_lowercase()))
                    .cloned();
                if let Some(id) = id
                    && id != page.page_id
                    && !resolved.contains(&id)
                {
                    resolved.push(id);
                }
            }
            page.related_pages = json_list(&resolved);
            page
        })
        .collect();
    let title = clean_title(&raw.title).unwrap_or_else(|| "Wiki".into());
    Some(Planned {
        structure: WikiStructure {
            title,
            description: raw.description.trim().to_owned(),
            sections: planned_sections,
        },
        pages,
    })
}

fn flatten(sections: Vec<RawSection>, out: &mut Vec<RawSection>) {
    for mut section in sections {
        let children = std::mem::take(&mut section.sections);
        out.push(section);
        flatten(children, out);
    }
}

/// A structure from the repository's layout: an overview from the README and top-level
/// files, then one page per top-level folder (the largest first).
pub fn from_layout(project_name: &str, paths: &[String], comprehensive: bool) -> Planned {
    let max_dirs = if comprehensive { 15 } else { 4 };
    let mut dirs: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    let mut top_files = Vec::new();
    for path in paths {
        match path.split_once('/') {
            Some((dir, _)) => dirs.entry(dir).or_default().push(path),
            None => top_files.push(path),
        }
    }
    let mut dirs: Vec<(&str, Vec<&String>)> = dirs.into_iter().collect();
    dirs.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    dirs.truncate(max_dirs);

    let mut ids = Ids::default();
    let overview_id = ids.page("overview");
    let mut overview_files: Vec<&String> = top_files.clone();
    overview_files.sort_by_key(|p| (!p.to_lowercase().starts_with("readme"), p.len()));
    let mut pages = vec![NewWikiPage {
        page_id: overview_id.clone(),
        section: "overview".into(),
        title: "Overview".into(),
        importance: Importance::High,
        relevant_files: json_list(
            &overview_files
                .into_iter()
                .take(MAX_FILES_PER_PAGE)
                .cloned()
                .collect::<Vec<_>>(),
        ),
        related_pages: String::new(),
    }];
    let mut component_ids = Vec::new();
    for (dir, files) in &dirs {
        let id = ids.page(dir);
        let mut files: Vec<&String> = files.clone();
        // Entry points and docs say the most about a folder; then the shallowest files.
        files.sort_by_key(|p| {
            let name = p.rsplit('/').next().unwrap_or(p).to_lowercase();
            let key = ["readme", "mod.rs", "lib.rs", "main", "index", "__init__"]
                .iter()
                .position(|k| name.starts_with(k))
                .unwrap_or(9);
            (key, p.matches('/').count(), p.len())
        });
        pages.push(NewWikiPage {
            page_id: id.clone(),
            section: "components".into(),
            title: format!("The {dir} folder"),
            importance: if component_ids.len() < 3 {
                Importance::High
            } else {
                Importance::Medium
            },
            relevant_files: json_list(
                &files
                    .into_iter()
                    .take(MAX_FILES_PER_PAGE)
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            related_pages: json_list(std::slice::from_ref(&overview_id)),
        });
        component_ids.push(id);
    }
    pages[0].related_pages = json_list(&component_ids);
    let mut sections = vec![WikiSection {
        id: "overview".into(),
        title: "Overview".into(),
        pages: vec![overview_id],
    }];
    if !component_ids.is_empty() {
        sections.push(WikiSection {
            id: "components".into(),
            title: "Components".into(),
            pages: component_ids,
        });
    }
    Planned {
        structure: WikiStructure {
            title: format!("{project_name} wiki"),
            description: "Derived from the repository's layout.".into(),
            sections,
        },
        pages,
    }
}

/// Models answer importance in many spellings; anything unclear is medium.
fn importance(value: Option<&str>) -> Importance {
    match value.map(|v| v.trim().to_lowercase()).as_deref() {
        Some("high" | "1" | "critical") => Importance::High,
        Some("low" | "3") => Importance::Low,
        _ => Importance::Medium,
    }
}

fn clean_title(title: &str) -> Option<String> {
    let title: String = title.trim().chars().take(200).collect();
    (!title.is_empty()).then_some(title)
}

pub(crate) fn json_list(items: &[impl serde::Serialize]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Ids safe in URLs and anchors, unique within a wiki.
#[derive(Default)]
struct Ids {
    pages: HashSet<String>,
    sections: HashSet<String>,
}

impl Ids {
    fn page(&mut self, hint: &str) -> String {
        unique(&mut self.pages, slug(hint, "page"))
    }

    fn section(&mut self, hint: &str) -> String {
        unique(&mut self.sections, slug(hint, "section"))
    }
}

fn unique(taken: &mut HashSet<String>, base: String) -> String {
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

pub fn slug(text: &str, fallback: &str) -> String {
    let mut out = String::new();
    for ch in text.trim().chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() { fallback.into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Vec<String> {
        ["README.md", "src/main.rs", "src/lib.rs", "docs/guide.md"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn parses_fenced_json_with_camel_case_and_prose() {
        let answer = "Here is the plan:\n```json\n{\"title\": \"Demo\", \"sections\": [{\"title\": \"Core\", \
             \"pages\": [{\"id\": \"p1\", \"title\": \"Main\", \"importance\": \"HIGH\", \
             \"filePaths\": [\"./src/main.rs\", \"nope.rs\"], \"relatedPages\": [\"p2\"]}, \
             {\"id\": \"p2\", \"title\": \"Library\", \"relevant_files\": [\"src/lib.rs\"]}]}]}\n```\nDone.";
        let planned = parse(answer, &paths()).expect("parses");
        assert_eq!(planned.structure.title, "Demo");
        assert_eq!(planned.pages.len(), 2);
        assert_eq!(planned.pages[0].importance, Importance::High);
        assert_eq!(planned.pages[0].relevant_files, "[\"src/main.rs\"]");
        assert_eq!(planned.pages[0].related_pages, "[\"p2\"]");
        assert_eq!(planned.structure.sections[0].pages, vec!["p1", "p2"]);
    }

    #[test]
    fn sections_may_reference_top_level_pages() {
        let answer = r#"{"wiki": {"title": "W", "pages": [{"id": "a", "title": "A"}, {"id": "b", "title": "B", "section": "s2"}],
            "sections": [{"id": "s1", "title": "One", "pages": ["a"]}, {"id": "s2", "title": "Two"}]}}"#;
        let planned = parse(answer, &paths()).expect("parses");
        assert_eq!(planned.structure.sections.len(), 2);
        assert_eq!(planned.structure.sections[1].pages, vec!["b"]);
    }

    #[test]
    fn no_pages_is_no_structure() {
        assert!(parse("I cannot do that.", &paths()).is_none());
        assert!(parse("{\"title\": \"x\", \"sections\": []}", &paths()).is_none());
    }

    #[test]
    fn layout_gives_an_overview_and_a_page_per_folder() {
        let planned = from_layout("demo", &paths(), true);
        let titles: Vec<_> = planned.pages.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(
            titles,
            vec!["Overview", "The src folder", "The docs folder"]
        );
        assert!(planned.pages[0].relevant_files.contains("README.md"));
        let concise = from_layout("demo", &paths(), false);
        assert!(concise.pages.len() <= 5);
    }

    #[test]
    fn filters_keep_and_drop_paths() {
        let filters = WikiFilters {
            excluded_dirs: vec!["docs".into()],
            excluded_files: vec!["*.md".into()],
            ..Default::default()
        };
        assert_eq!(
            apply_filters(paths(), &filters),
            vec!["src/main.rs", "src/lib.rs"]
        );
    }
}
