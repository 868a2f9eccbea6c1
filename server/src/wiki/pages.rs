//! Phase 2, one page: the excerpts it is written from (retrieval over its relevant files
//! and title, then the files' openings for any relevant file retrieval missed), the
//! prompt, and the tidying of the model's Markdown (an H1, a "Relevant source files"
//! list) so every page has the same frame whatever the model did.

use std::sync::Arc;

use app::protocol::Importance;

use crate::rag::{Rag, RetrievalRequest};
use crate::wiki::inputs::WikiInputs;

/// Excerpts in one prompt, and their total size: enough context for a page, well inside
/// any model's window.
const MAX_EXCERPTS: usize = 10;
const EXCERPT_BUDGET_CHARS: usize = 14_000;
/// Lines of a relevant file shown when retrieval found nothing in it.
const OPENING_LINES: usize = 60;
/// Passages asked of retrieval: more than fit, so the page's own files can go first.
const CANDIDATES: usize = 40;

/// A piece of a file the page may cite.
#[derive(Debug, Clone, PartialEq)]
pub struct Excerpt {
    pub path: String,
    pub start_line: u64,
    pub end_line: u64,
    pub text: String,
}

/// What a page is about, as stored with the structure.
pub struct PagePlan<'a> {
    pub title: &'a str,
    pub relevant_files: &'a [String],
    pub related_titles: &'a [String],
    pub importance: Importance,
}

pub async fn excerpts(
    rag: &Arc<Rag>,
    inputs: &dyn WikiInputs,
    project_id: &str,
    plan: &PagePlan<'_>,
) -> Vec<Excerpt> {
    let mut query = plan.title.to_owned();
    for file in plan.relevant_files {
        query.push(' ');
        query.push_str(file.rsplit('/').next().unwrap_or(file));
    }
    // The retrieval chat answers use (dense vectors fused in when configured, touching
    // chunks merged), with a budget that leaves the choice below to this page.
    let request = RetrievalRequest {
        project_id,
        query: &query,
        k: CANDIDATES,
        token_budget: u32::try_from(CANDIDATES * EXCERPT_BUDGET_CHARS / 4).unwrap_or(u32::MAX),
    };
    let passages = match rag.retrieve(request).await {
        Ok(passages) => passages,
        Err(e) => {
            tracing::warn!(error = %e, "wiki page retrieval failed; using file openings");
            Vec::new()
        }
    };
    // Passages of the page's own files first, each group in retrieval order.
    let (mut mine, others): (Vec<_>, Vec<_>) = passages
        .into_iter()
        .partition(|p| plan.relevant_files.iter().any(|f| f == &p.source.path));
    mine.extend(others);
    let mut chosen: Vec<Excerpt> = Vec::new();
    let mut used = 0;
    for passage in mine {
        if chosen.len() >= MAX_EXCERPTS || used + passage.text.len() > EXCERPT_BUDGET_CHARS {
            continue;
        }
        used += passage.text.len();
        chosen.push(Excerpt {
            path: passage.source.path,
            start_line: u64::from(passage.source.start_line),
            end_line: u64::from(passage.source.end_line),
            text: passage.text,
        });
    }
    for file in plan.relevant_files {
        if chosen.len() >= MAX_EXCERPTS || used >= EXCERPT_BUDGET_CHARS {
            break;
        }
        if chosen.iter().any(|e| &e.path == file) {
            continue;
        }
        let Ok(Some(content)) = inputs.read_document(project_id, file).await else {
            continue;
        };
        let lines: Vec<&str> = content.lines().take(OPENING_LINES).collect();
        if lines.is_empty() {
            continue;
        }
        let mut text = lines.join("\n");
        let room = EXCERPT_BUDGET_CHARS - used;
        if text.len() > room {
            let mut cut = room;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        used += text.len();
        chosen.push(Excerpt {
            path: file.clone(),
            start_line: 1,
            end_line: text.lines().count().max(1) as u64,
            text,
        });
    }
    chosen
}

pub fn system_prompt(language: &str) -> String {
    format!(
        "You are an expert technical writer and software engineer writing one page of a \
         wiki about a software repository. Write in the language whose code is \
         `{language}`. Answer with the page's Markdown only. Base every statement on the \
         source excerpts you are given and cite them; never invent files or APIs."
    )
}

pub fn user_prompt(plan: &PagePlan<'_>, excerpts: &[Excerpt]) -> String {
    let files: String = plan
        .relevant_files
        .iter()
        .map(|f| format!("- {f}\n"))
        .collect();
    let related = if plan.related_titles.is_empty() {
        "none".to_owned()
    } else {
        plan.related_titles.join(", ")
    };
    let sources: String = excerpts
        .iter()
        .map(|e| {
            format!(
                "<source path=\"{}\" lines=\"{}-{}\">\n{}\n</source>\n\n",
                e.path, e.start_line, e.end_line, e.text
            )
        })
        .collect();
    format!(
        "Write the wiki page \"{title}\" (importance: {importance}; related pages: \
         {related}).\n\nRelevant files:\n{files}\nSource excerpts:\n\n{sources}\
         Requirements:\n\
         1. Start with the heading `# {title}`.\n\
         2. Then a \"Relevant source files\" section listing the files above as a bullet list.\n\
         3. Explain purpose, architecture, main components and how they interact, with \
         ## and ### headings.\n\
         4. Where they help, add Mermaid diagrams (```mermaid fenced blocks; `graph TD` or \
         `sequenceDiagram`) of flows, components or data.\n\
         5. Use tables for options, fields or endpoints when the sources list them.\n\
         6. Cite sources after each claim as `Sources: path:start-end`, with the line ranges \
         of the excerpts.\n\
         7. End with a short summary.",
        title = plan.title,
        importance = plan.importance,
    )
}

/// The model's Markdown with the page's frame guaranteed: a wrapping code fence removed,
/// an H1 with the title, and the "Relevant source files" list.
pub fn tidy(answer: &str, plan: &PagePlan<'_>) -> String {
    let mut text = answer.trim().to_owned();
    for fence in ["```markdown", "```md", "```"] {
        if let Some(inner) = text.strip_prefix(fence)
            && let Some(inner) = inner.trim_end().strip_suffix("```")
            && !inner.contains("\n```")
        {
            text = inner.trim().to_owned();
            break;
        }
    }
    if !text.lines().any(|l| l.starts_with("# ")) {
        text = format!("# {}\n\n{text}", plan.title);
    }
    if !text.to_lowercase().contains("relevant source files") && !plan.relevant_files.is_empty() {
        let list = relevant_list(plan.relevant_files);
        text = match text.split_once('\n') {
            Some((h1, rest)) if h1.starts_with("# ") => {
                format!("{h1}\n\n{list}\n{}", rest.trim_start())
            }
            _ => format!("{list}\n{text}"),
        };
    }
    text.push('\n');
    text
}

fn relevant_list(files: &[String]) -> String {
    let items: String = files.iter().map(|f| format!("- `{f}`\n")).collect();
    format!("## Relevant source files\n\n{items}")
}

/// The page the offline provider gives: no model, so the excerpts themselves, cited,
/// with a diagram of how the page relates to the others. Says plainly what it is.
pub fn extractive(plan: &PagePlan<'_>, excerpts: &[Excerpt]) -> String {
    let mut page = format!(
        "# {}\n\n> Assembled by RepoWiki's built-in offline provider: no language model is \
         configured, so this page quotes the repository instead of explaining it.\n\n",
        plan.title
    );
    if !plan.relevant_files.is_empty() {
        page.push_str(&relevant_list(plan.relevant_files));
        page.push('\n');
    }
    if !plan.related_titles.is_empty() {
        page.push_str("## Related pages\n\n```mermaid\ngraph LR\n");
        page.push_str(&format!("    this[\"{}\"]\n", mermaid_label(plan.title)));
        for (i, title) in plan.related_titles.iter().enumerate() {
            page.push_str(&format!(
                "    this --> r{i}[\"{}\"]\n",
                mermaid_label(title)
            ));
        }
        page.push_str("```\n\n");
    }
    if excerpts.is_empty() {
        page.push_str("No source excerpts were found for this page.\n");
    }
    for e in excerpts {
        let lang = e
            .path
            .rsplit('.')
            .next()
            .filter(|ext| ext.len() <= 5 && *ext != e.path)
            .unwrap_or("");
        page.push_str(&format!(
            "### {} (lines {}–{})\n\n```{lang}\n{}\n```\n\nSources: {}:{}-{}\n\n",
            e.path,
            e.start_line,
            e.end_line,
            e.text.trim_end(),
            e.path,
            e.start_line,
            e.end_line
        ));
    }
    page
}

fn mermaid_label(text: &str) -> String {
    text.replace('"', "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan<'a>(files: &'a [String], related: &'a [String]) -> PagePlan<'a> {
        PagePlan {
            title: "Server",
            relevant_files: files,
            related_titles: related,
            importance: Importance::High,
        }
    }

    #[test]
    fn tidy_adds_the_frame_and_removes_a_wrapping_fence() {
        let files = vec!["src/main.rs".to_owned()];
        let page = tidy("```markdown\nSome text.\n```", &plan(&files, &[]));
        assert!(page.starts_with("# Server\n\n## Relevant source files\n\n- `src/main.rs`\n"));
        assert!(page.contains("Some text."));
        assert!(!page.contains("```"));
        let kept = tidy(
            "# Mine\n\n## Relevant source files\n- x\n\nBody",
            &plan(&files, &[]),
        );
        assert!(kept.starts_with("# Mine\n"));
    }

    #[test]
    fn extractive_page_cites_line_ranges() {
        let files = vec!["src/main.rs".to_owned()];
        let related = vec!["Overview".to_owned()];
        let excerpt = Excerpt {
            path: "src/main.rs".into(),
            start_line: 3,
            end_line: 9,
            text: "fn main() {}".into(),
        };
        let page = extractive(&plan(&files, &related), &[excerpt]);
        assert!(page.starts_with("# Server"));
        assert!(page.contains("```mermaid"));
        assert!(page.contains("Sources: src/main.rs:3-9"));
        assert!(page.contains("```rs\nfn main() {}"));
    }
}
