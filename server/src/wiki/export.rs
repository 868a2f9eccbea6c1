//! A wiki as one file: Markdown with a table of contents and an anchor per page (page
//! headings moved one level down so the wiki's title is the only H1), or JSON.

use app::protocol::rest::Wiki;

use super::structure::slug;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
}

impl Format {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "markdown" | "md" => Some(Self::Markdown),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Markdown => "text/markdown; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    /// A file name safe in a `Content-Disposition` header.
    pub fn file_name(self, wiki: &Wiki) -> String {
        let ext = match self {
            Self::Markdown => "md",
            Self::Json => "json",
        };
        format!(
            "{}-wiki-{}.{ext}",
            slug(&wiki.project_id, "project"),
            slug(&wiki.language, "en")
        )
    }
}

pub fn render(wiki: &Wiki, format: Format) -> String {
    match format {
        Format::Markdown => markdown(wiki),
        Format::Json => serde_json::to_string_pretty(wiki).unwrap_or_else(|_| "{}".into()),
    }
}

pub fn markdown(wiki: &Wiki) -> String {
    let mut out = format!("# {}\n\n", wiki.structure.title);
    if !wiki.structure.description.is_empty() {
        out.push_str(&format!("{}\n\n", wiki.structure.description));
    }
    out.push_str("## Contents\n\n");
    let page = |id: &str| wiki.pages.iter().find(|p| p.id == id);
    for section in &wiki.structure.sections {
        out.push_str(&format!("- {}\n", section.title));
        for id in &section.pages {
            if let Some(p) = page(id) {
                out.push_str(&format!("  - [{}](#{})\n", p.title, anchor(&p.id)));
            }
        }
    }
    // Pages no section lists still belong in the file.
    let listed = |id: &str| {
        wiki.structure
            .sections
            .iter()
            .any(|s| s.pages.iter().any(|p| p == id))
    };
    let unlisted: Vec<_> = wiki.pages.iter().filter(|p| !listed(&p.id)).collect();
    for p in &unlisted {
        out.push_str(&format!("- [{}](#{})\n", p.title, anchor(&p.id)));
    }
    out.push('\n');
    let ordered = wiki
        .structure
        .sections
        .iter()
        .flat_map(|s| s.pages.iter().filter_map(|id| page(id)))
        .chain(unlisted);
    for p in ordered {
        out.push_str(&format!("---\n\n<a id=\"{}\"></a>\n\n", anchor(&p.id)));
        if p.content.trim().is_empty() {
            out.push_str(&format!(
                "## {}\n\n_This page could not be generated._\n\n",
                p.title
            ));
            continue;
        }
        out.push_str(&demote_headings(&p.content));
        out.push_str("\n\n");
    }
    out
}

fn anchor(page_id: &str) -> String {
    format!("page-{}", slug(page_id, "page"))
}

/// `#` → `##` and so on, outside code fences.
fn demote_headings(markdown: &str) -> String {
    let mut fenced = false;
    markdown
        .trim_end()
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            if !fenced && line.starts_with('#') && line.len() < 500 {
                format!("#{line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use app::protocol::rest::{WikiPage, WikiSection, WikiStructure};

    use super::*;

    #[test]
    fn markdown_has_contents_anchors_and_one_h1() {
        let wiki = Wiki {
            project_id: "p".into(),
            language: "en".into(),
            job_id: "j".into(),
            generated_at: 0,
            structure: WikiStructure {
                title: "Demo".into(),
                description: "About.".into(),
                sections: vec![WikiSection {
                    id: "s".into(),
                    title: "Core".into(),
                    pages: vec!["intro".into()],
                }],
            },
            pages: vec![WikiPage {
                id: "intro".into(),
                title: "Intro".into(),
                section: "s".into(),
                content: "# Intro\n\n```sh\n# not a heading\n```\n## Part".into(),
                importance: app::protocol::Importance::High,
                relevant_files: vec![],
                related_pages: vec![],
                status: app::protocol::PageStatus::Completed,
            }],
            languages: vec!["en".into()],
        };
        let md = markdown(&wiki);
        assert!(md.contains("  - [Intro](#page-intro)"));
        assert!(md.contains("<a id=\"page-intro\"></a>"));
        assert!(md.contains("## Intro\n"));
        assert!(md.contains("### Part"));
        assert!(md.contains("# not a heading"));
        assert_eq!(md.lines().filter(|l| l.starts_with("# ")).count(), 2);
    }
}
