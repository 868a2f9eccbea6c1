//! How retrieved sources are written into a prompt, and read back out of one. Real models
//! read the text; the offline provider, which has no model, reads it back with [`parse`]
//! to assemble its extractive answer. Both sides live here so they cannot drift apart.

/// One numbered source as the prompt shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroundingSource {
    /// The number answers cite it by: `[n]`.
    pub n: usize,
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub text: String,
}

const HEADER: &str = "Sources (cite them as [n]):";
const FENCE: &str = "~~~~~~~~";

/// The system instructions for an answer grounded in `sources`.
pub fn instructions(sources: &[GroundingSource]) -> String {
    if sources.is_empty() {
        return "You are RepoWiki, an assistant that answers questions about a code \
                repository. No sources were retrieved for this question: say so when the \
                answer depends on the repository's content, rather than guessing."
            .to_owned();
    }
    let mut text = String::from(
        "You are RepoWiki, an assistant that answers questions about a code repository. \
         Answer from the numbered sources below; cite every claim that rests on them with \
         its number in square brackets, like [1] or [2][3]. If the sources do not answer \
         the question, say so. Use Markdown; name files and functions in code spans.\n\n",
    );
    text.push_str(HEADER);
    for source in sources {
        // A fence of tildes: source code is full of backticks, rarely of eight tildes.
        text.push_str(&format!(
            "\n\n[{}] {} (lines {}-{})\n{FENCE}\n{}\n{FENCE}",
            source.n,
            source.path,
            source.start_line,
            source.end_line,
            source.text.trim_end()
        ));
    }
    text
}

/// The sources written by [`instructions`], read back from a system message.
pub fn parse(system: &str) -> Vec<GroundingSource> {
    let Some((_, listing)) = system.split_once(HEADER) else {
        return Vec::new();
    };
    let mut sources = Vec::new();
    let mut lines = listing.lines();
    while let Some(line) = lines.next() {
        let Some(source) = parse_title(line) else {
            continue;
        };
        if lines.next() != Some(FENCE) {
            continue;
        }
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != FENCE).collect();
        sources.push(GroundingSource {
            text: body.join("\n"),
            ..source
        });
    }
    sources
}

/// `[n] path (lines a-b)`
fn parse_title(line: &str) -> Option<GroundingSource> {
    let rest = line.strip_prefix('[')?;
    let (n, rest) = rest.split_once("] ")?;
    let (path, lines) = rest.rsplit_once(" (lines ")?;
    let (start, end) = lines.strip_suffix(')')?.split_once('-')?;
    Some(GroundingSource {
        n: n.parse().ok()?,
        path: path.to_owned(),
        start_line: start.parse().ok()?,
        end_line: end.parse().ok()?,
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_back_as_written() {
        let sources = vec![
            GroundingSource {
                n: 1,
                path: "src/my file.rs".into(),
                start_line: 3,
                end_line: 9,
                text: "fn parse_config() {\n    // `quoted` (lines 1-2)\n}".into(),
            },
            GroundingSource {
                n: 2,
                path: "README.md".into(),
                start_line: 1,
                end_line: 1,
                text: "# Title".into(),
            },
        ];
        assert_eq!(parse(&instructions(&sources)), sources);
        assert!(parse(&instructions(&[])).is_empty());
    }
}
