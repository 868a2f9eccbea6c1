//! Splits a document into retrievable chunks with 1-based inclusive line ranges for
//! citations: code along its syntax tree (tree-sitter), Markdown by headings and
//! paragraphs, anything else by paragraphs and sentences.
//!
//! Parsing is most of what indexing costs, so code can also be cut without a syntax
//! tree ([`Depth::Lines`]): at the lines where items most likely start, found from
//! indentation alone. A large first index answers from those while the syntax chunks
//! are made in the background.

use std::path::Path;

use text_splitter::{Characters, ChunkConfig, CodeSplitter, MarkdownSplitter, TextSplitter};
use tree_sitter_language::LanguageFn;

use super::RagError;
use super::segments::segments;

/// Default target chunk size, in characters: a few functions, small enough that several
/// chunks fit in a prompt.
pub const DEFAULT_CHUNK_CHARS: usize = 1_500;

/// Chunks' worth of text the splitter sees at once (see `segments` for why).
const SEGMENT_CHUNKS: usize = 4;

/// One retrievable piece of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub path: String,
    /// First line of the chunk, 1-based.
    pub start_line: u64,
    /// Last line of the chunk, 1-based and inclusive.
    pub end_line: u64,
    pub text: String,
    /// Chunks cut from one long line (or the same few lines) share their line range; the
    /// second and later of them are told apart by this, 0 for the first.
    pub part: u32,
}

impl Chunk {
    /// Stable within a project as long as the file does not change, so re-indexing an
    /// unchanged file produces the same ids; unique within the file, so no chunk's
    /// vector or index entry overwrites another's.
    pub fn id(&self) -> String {
        if self.part == 0 {
            format!("{}#L{}-L{}", self.path, self.start_line, self.end_line)
        } else {
            let part = u64::from(self.part) + 1;
            format!(
                "{}#L{}-L{}~{part}",
                self.path, self.start_line, self.end_line
            )
        }
    }
}

/// How code is cut into chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Along its syntax tree: the chunks an index keeps.
    Syntax,
    /// At likely item starts, from indentation alone: several times cheaper, for a first
    /// pass that syntax chunks replace. Other documents are cut as at `Syntax`.
    Lines,
}

/// Chunks documents to a target size in characters.
#[derive(Clone, Debug)]
pub struct Chunker {
    max_chars: usize,
}

impl Default for Chunker {
    fn default() -> Self {
        Self::new(DEFAULT_CHUNK_CHARS)
    }
}

enum Kind {
    Code(LanguageFn),
    Markdown,
    Text,
}

fn kind_for(path: &str) -> Kind {
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "rs" => Kind::Code(tree_sitter_rust::LANGUAGE),
        "py" | "pyi" => Kind::Code(tree_sitter_python::LANGUAGE),
        "js" | "mjs" | "cjs" | "jsx" => Kind::Code(tree_sitter_javascript::LANGUAGE),
        "ts" | "mts" | "cts" => Kind::Code(tree_sitter_typescript::LANGUAGE_TYPESCRIPT),
        "tsx" => Kind::Code(tree_sitter_typescript::LANGUAGE_TSX),
        "go" => Kind::Code(tree_sitter_go::LANGUAGE),
        "java" => Kind::Code(tree_sitter_java::LANGUAGE),
        "c" | "h" => Kind::Code(tree_sitter_c::LANGUAGE),
        "cc" | "cpp" | "cxx" | "hh" | "hpp" | "hxx" => Kind::Code(tree_sitter_cpp::LANGUAGE),
        "md" | "markdown" | "mdx" => Kind::Markdown,
        _ => Kind::Text,
    }
}

impl Chunker {
    /// `max_chars` is clamped to at least 1, since text-splitter needs a positive size.
    pub fn new(max_chars: usize) -> Self {
        Self {
            max_chars: max_chars.max(1),
        }
    }

    /// Chunks `text`, the content of `path`; the extension picks the splitter.
    pub fn chunk(&self, path: &str, text: &str) -> Result<Vec<Chunk>, RagError> {
        self.chunk_at(Depth::Syntax, path, text)
    }

    /// [`chunk`](Self::chunk), cutting code as deep as asked.
    pub fn chunk_at(&self, depth: Depth, path: &str, text: &str) -> Result<Vec<Chunk>, RagError> {
        if depth == Depth::Lines && is_code(path) {
            let pieces = segments(text, self.max_chars)
                .into_iter()
                .filter_map(|segment| trimmed(segment.start, &text[segment]));
            return Ok(assemble(path, text, pieces));
        }
        let splitter = Splitter::for_path(path, self.max_chars)?;
        let pieces = segments(text, self.max_chars * SEGMENT_CHUNKS)
            .into_iter()
            .flat_map(|segment| {
                let base = segment.start;
                splitter
                    .chunk_indices(&text[segment])
                    .into_iter()
                    .map(move |(offset, piece)| (base + offset, piece))
            });
        Ok(assemble(path, text, pieces))
    }
}

/// Whether `path` is code, which the two depths cut differently.
pub fn is_code(path: &str) -> bool {
    matches!(kind_for(path), Kind::Code(_))
}

/// The piece without its surrounding whitespace, as the splitters give theirs, with its
/// byte offset in the document; none if it is all whitespace.
fn trimmed(offset: usize, piece: &str) -> Option<(usize, &str)> {
    let kept = piece.trim();
    (!kept.is_empty()).then_some((offset + piece.len() - piece.trim_start().len(), kept))
}

/// Chunks from the pieces of `text` (byte offset, piece), given in file order.
fn assemble<'t>(
    path: &str,
    text: &str,
    pieces: impl Iterator<Item = (usize, &'t str)>,
) -> Vec<Chunk> {
    let lines = LineIndex::new(text);
    let mut chunks: Vec<Chunk> = Vec::new();
    for (offset, piece) in pieces {
        let start_line = lines.line_of(offset);
        let end_line = lines.line_of(offset + piece.len().saturating_sub(1));
        // Chunks come in file order, so those sharing a range are neighbours.
        let part = match chunks.last() {
            Some(Chunk {
                start_line: s,
                end_line: e,
                part,
                ..
            }) if (*s, *e) == (start_line, end_line) => part + 1,
            _ => 0,
        };
        chunks.push(Chunk {
            path: path.to_owned(),
            start_line,
            end_line,
            text: piece.to_owned(),
            part,
        });
    }
    chunks
}

/// The splitter for one kind of document, built once per document.
enum Splitter {
    Code(CodeSplitter<Characters>),
    Markdown(MarkdownSplitter<Characters>),
    Text(TextSplitter<Characters>),
}

impl Splitter {
    fn for_path(path: &str, max_chars: usize) -> Result<Self, RagError> {
        let config = ChunkConfig::new(max_chars);
        Ok(match kind_for(path) {
            Kind::Code(language) => Self::Code(CodeSplitter::new(language, config)?),
            Kind::Markdown => Self::Markdown(MarkdownSplitter::new(config)),
            Kind::Text => Self::Text(TextSplitter::new(config)),
        })
    }

    fn chunk_indices<'t>(&self, text: &'t str) -> Vec<(usize, &'t str)> {
        match self {
            Self::Code(s) => s.chunk_indices(text).collect(),
            Self::Markdown(s) => s.chunk_indices(text).collect(),
            Self::Text(s) => s.chunk_indices(text).collect(),
        }
    }
}

/// Byte offsets where lines start, to turn chunk offsets into line numbers.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self(starts)
    }

    fn line_of(&self, byte: usize) -> u64 {
        self.0.partition_point(|&start| start <= byte).max(1) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(text: &str, chunk: &Chunk) -> String {
        text.lines()
            .skip(chunk.start_line as usize - 1)
            .take((chunk.end_line - chunk.start_line + 1) as usize)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn assert_ranges_hold(text: &str, chunks: &[Chunk]) {
        assert!(!chunks.is_empty());
        for chunk in chunks {
            assert!(chunk.start_line <= chunk.end_line, "{chunk:?}");
            let span = lines_of(text, chunk);
            assert!(span.contains(&chunk.text), "{chunk:?} not within {span:?}");
            let first = chunk.text.lines().next().unwrap_or_default();
            let last = chunk.text.lines().last().unwrap_or_default();
            assert!(span.lines().next().unwrap_or_default().contains(first));
            assert!(span.lines().last().unwrap_or_default().contains(last));
        }
    }

    const RUST: &str = "fn parse_config(input: &str) -> usize {\n    let words = input.split(' ');\n    words.count()\n}\n\nfn load_file(path: &str) -> String {\n    let text = std::fs::read_to_string(path);\n    text.unwrap_or_default()\n}\n\nfn render_page(title: &str) -> String {\n    let page = format!(\"<h1>{title}</h1>\");\n    page.to_uppercase()\n}\n";

    #[test]
    fn rust_functions_start_chunks_at_their_fn_lines() {
        let chunks = Chunker::new(130).chunk("src/lib.rs", RUST).unwrap();
        assert_ranges_hold(RUST, &chunks);
        let fn_lines: Vec<u64> = RUST
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("fn "))
            .map(|(i, _)| i as u64 + 1)
            .collect();
        assert_eq!(fn_lines, [1, 6, 11]);
        let starts: Vec<u64> = chunks.iter().map(|c| c.start_line).collect();
        for line in fn_lines {
            assert!(
                starts.contains(&line),
                "no chunk starts at {line}: {chunks:#?}"
            );
        }
        assert_eq!(chunks.last().map(|c| c.end_line), Some(14));
        assert_eq!(chunks.len(), 3, "{chunks:#?}");
    }

    #[test]
    fn every_language_chunks_with_exact_ranges() {
        let samples = [
            (
                "a.py",
                "import os\n\ndef parse_config(x):\n    return x\n\n\nclass Loader:\n    def load(self):\n        return 1\n",
            ),
            (
                "a.js",
                "function parseConfig(x) {\n  return x;\n}\n\nclass Loader {\n  load() { return 1; }\n}\n",
            ),
            (
                "a.ts",
                "export function parseConfig(x: string): string {\n  return x;\n}\n\ninterface Config { name: string }\n",
            ),
            (
                "a.tsx",
                "export const App = () => <div>hi</div>;\n\nfunction parseConfig(x: number) { return x; }\n",
            ),
            (
                "a.go",
                "package main\n\nfunc parseConfig(x int) int {\n\treturn x\n}\n\nfunc main() {\n\tparseConfig(1)\n}\n",
            ),
            (
                "A.java",
                "class A {\n  int parseConfig(int x) {\n    return x;\n  }\n\n  void load() {}\n}\n",
            ),
            (
                "a.c",
                "#include <stdio.h>\n\nint parse_config(int x) {\n  return x;\n}\n\nint main(void) { return 0; }\n",
            ),
            (
                "a.cpp",
                "namespace ns {\nint parseConfig(int x) {\n  return x;\n}\n}\n\nclass Loader { public: void load(); };\n",
            ),
        ];
        for (path, text) in samples {
            let chunks = Chunker::new(40).chunk(path, text).unwrap();
            assert_ranges_hold(text, &chunks);
            assert!(chunks.len() > 1, "{path}: {chunks:#?}");
        }
    }

    #[test]
    fn long_files_are_split_in_segments_without_cutting_items() {
        let function =
            |i: usize| format!("fn f{i}(x: u32) -> u32 {{\n    let y = x * {i};\n    y + 1\n}}");
        let text: String = (0..400).map(|i| function(i) + "\n\n").collect();
        assert!(text.len() > DEFAULT_CHUNK_CHARS * SEGMENT_CHUNKS);
        let chunks = Chunker::default().chunk("src/big.rs", &text).unwrap();
        assert_ranges_hold(&text, &chunks);
        for i in 0..400 {
            assert!(
                chunks.iter().any(|c| c.text.contains(&function(i))),
                "f{i} was cut"
            );
        }
        assert!(chunks.windows(2).all(|w| w[0].end_line < w[1].start_line));
        assert_eq!(chunks.last().map(|c| c.end_line), Some(1_999));
    }

    #[test]
    fn markdown_splits_by_headings() {
        let text = "# Title\n\nIntro paragraph here.\n\n## Install\n\nRun the installer.\n\n## Usage\n\nCall parse_config.\n";
        let chunks = Chunker::new(45).chunk("README.md", text).unwrap();
        assert_ranges_hold(text, &chunks);
        assert!(
            chunks
                .iter()
                .any(|c| c.start_line == 5 && c.text.starts_with("## Install"))
        );
        assert!(
            chunks
                .iter()
                .any(|c| c.start_line == 9 && c.text.starts_with("## Usage"))
        );
    }

    #[test]
    fn unknown_extension_falls_back_to_text() {
        let text = "first paragraph\nstill first\n\nsecond paragraph\n\n\nthird one\n";
        let chunks = Chunker::new(30).chunk("notes.weird", text).unwrap();
        assert_ranges_hold(text, &chunks);
        assert_eq!(chunks[0].start_line, 1);
        assert_eq!(chunks.last().map(|c| c.end_line), Some(7));
    }

    #[test]
    fn empty_text_has_no_chunks() {
        assert!(Chunker::default().chunk("a.rs", "").unwrap().is_empty());
        assert!(Chunker::default().chunk("a.md", "\n\n").unwrap().is_empty());
    }

    #[test]
    fn ids_name_path_and_lines() {
        let chunk = Chunk {
            path: "src/a.rs".into(),
            start_line: 3,
            end_line: 9,
            text: String::new(),
            part: 0,
        };
        assert_eq!(chunk.id(), "src/a.rs#L3-L9");
    }

    #[test]
    fn chunks_of_one_long_line_get_ids_of_their_own() {
        let line = "const table = [".to_owned() + &"1, 2, 3, 4, 5, ".repeat(400) + "];\n";
        let chunks = Chunker::new(500).chunk("dist/table.js", &line).unwrap();
        assert!(chunks.len() > 2, "{}", chunks.len());
        assert!(chunks.iter().all(|c| (c.start_line, c.end_line) == (1, 1)));
        let ids: std::collections::HashSet<String> = chunks.iter().map(Chunk::id).collect();
        assert_eq!(ids.len(), chunks.len());
        assert_eq!(chunks[0].id(), "dist/table.js#L1-L1");
        assert_eq!(chunks[1].id(), "dist/table.js#L1-L1~2");
    }

    #[test]
    fn cutting_by_lines_keeps_small_files_whole_and_cuts_long_ones_at_items() {
        let small = Chunker::default();
        for (path, text) in [
            ("src/lib.rs", RUST),
            ("a.go", "package main\n\nfunc main() {}\n"),
        ] {
            assert_eq!(
                small.chunk_at(Depth::Lines, path, text).unwrap(),
                small.chunk(path, text).unwrap(),
                "{path}"
            );
        }
        let chunks = Chunker::new(130)
            .chunk_at(Depth::Lines, "src/lib.rs", RUST)
            .unwrap();
        assert_ranges_hold(RUST, &chunks);
        let starts: Vec<u64> = chunks.iter().map(|c| c.start_line).collect();
        assert_eq!(starts, [1, 6, 11], "{chunks:#?}");
        assert!(chunks.iter().all(|c| c.text.starts_with("fn ")));
    }

    #[test]
    fn only_code_is_cut_differently_by_lines() {
        let text = "# Title\n\nIntro paragraph here.\n\n## Install\n\nRun the installer.\n";
        let chunker = Chunker::new(45);
        assert_eq!(
            chunker.chunk_at(Depth::Lines, "README.md", text).unwrap(),
            chunker.chunk("README.md", text).unwrap()
        );
        assert!(is_code("src/main.rs") && is_code("lib/a.tsx"));
        assert!(!is_code("README.md") && !is_code("Cargo.toml"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any UTF-8, any file kind, any size: no panic, and every chunk is a piece of the
        /// file whose line range lies inside it.
        #[test]
        fn chunks_are_pieces_of_the_file_with_lines_inside_it(
            text in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                r"([^\n]{0,60}\n){0,80}",
                r"(fn [a-z]{1,8}\(\) \{\n( {4}[a-z]{1,10};\n){0,6}\}\n\n){0,12}",
            ],
            extension in proptest::sample::select(vec!["rs", "py", "js", "ts", "go", "md", "txt", "java", "c", "cpp"]),
            max_chars in 1usize..600,
            depth in proptest::sample::select(vec![Depth::Syntax, Depth::Lines]),
        ) {
            let path = format!("src/file.{extension}");
            let chunks = Chunker::new(max_chars).chunk_at(depth, &path, &text).expect("chunking never fails on text");
            let last_line = text.matches('\n').count() as u64 + 1;
            let ids: std::collections::HashSet<String> = chunks.iter().map(Chunk::id).collect();
            proptest::prop_assert_eq!(ids.len(), chunks.len(), "chunk ids repeat");
            for chunk in &chunks {
                proptest::prop_assert!(1 <= chunk.start_line, "{chunk:?}");
                proptest::prop_assert!(chunk.start_line <= chunk.end_line, "{chunk:?}");
                proptest::prop_assert!(chunk.end_line <= last_line, "{chunk:?} past line {last_line}");
                proptest::prop_assert!(text.contains(&chunk.text), "{chunk:?}");
                proptest::prop_assert_eq!(&chunk.path, &path);
            }
        }
    }
}
