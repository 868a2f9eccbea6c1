//! A tantivy tokenizer for source code: identifiers are indexed whole and split into their
//! words, so `parse_config`, `parseConfig`, `ParseConfig` and "parse config" meet.

use std::sync::LazyLock;

use tantivy::tokenizer::{
    RemoveLongFilter, StopWordFilter, TextAnalyzer, Token, TokenStream, Tokenizer, TokenizerManager,
};

/// The name under which [`register`] puts the analyzer into a [`TokenizerManager`].
pub const CODE_TOKENIZER: &str = "code";

/// Longer tokens are minified data or hashes, never something a person types.
const MAX_TOKEN_BYTES: usize = 64;

/// Splits text into identifiers (runs of letters, digits and `_`); everything else, such as
/// `/`, `.`, `::`, `-` or spaces, separates them. Each identifier yields itself lowercased
/// and, when it has several, its words: split at `_`, lower-to-upper case changes, the end
/// of an acronym (`HTTPServer` → `http`, `server`) and letter/digit boundaries.
#[derive(Clone, Debug, Default)]
pub struct CodeTokenizer;

/// Adds the code analyzer (with overlong tokens dropped) under [`CODE_TOKENIZER`].
pub fn register(manager: &TokenizerManager) {
    manager.register(CODE_TOKENIZER, analyzer());
}

/// The analyzer used both to index chunk text and to tokenize queries.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CodeTokenizer)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .build()
}

/// Words that carry no meaning in a question about code: Lucene's English stop words plus
/// the words questions are made of. They occur in most chunks, so a query that keeps them
/// scores nearly the whole index for almost no change in ranking (BM25 gives them next to
/// no weight): "How is the configuration parsed?" looks up `configuration` and `parsed`.
const QUESTION_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "how", "what", "where", "which", "who", "why",
    "when", "does", "do", "did", "can", "could", "should", "would", "i", "we", "you", "me", "my",
    "our", "your", "get", "got",
];

/// Built once: every question uses it, and clones share the stop-word set.
static QUESTION_ANALYZER: LazyLock<TextAnalyzer> = LazyLock::new(|| {
    TextAnalyzer::builder(CodeTokenizer)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(StopWordFilter::remove(
            QUESTION_STOP_WORDS.iter().map(|w| (*w).to_owned()),
        ))
        .build()
});

/// The analyzer for the words of a question: the index's, without [`QUESTION_STOP_WORDS`].
/// A question made only of them is looked up with [`analyzer`] instead.
pub fn question_analyzer() -> TextAnalyzer {
    QUESTION_ANALYZER.clone()
}

/// Tokens are computed eagerly: chunks are small, and it keeps the splitting logic plain.
pub struct CodeTokenStream {
    tokens: Vec<Token>,
    next: usize,
    // Returned if `token` is called before `advance`, instead of panicking.
    none: Token,
}

impl Tokenizer for CodeTokenizer {
    type TokenStream<'a> = CodeTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CodeTokenStream {
        CodeTokenStream {
            tokens: tokenize(text),
            next: 0,
            none: Token::default(),
        }
    }
}

impl TokenStream for CodeTokenStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        let current = self.next.checked_sub(1).and_then(|i| self.tokens.get(i));
        current.unwrap_or(&self.none)
    }

    fn token_mut(&mut self) -> &mut Token {
        let current = self
            .next
            .checked_sub(1)
            .and_then(|i| self.tokens.get_mut(i));
        current.unwrap_or(&mut self.none)
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut position = 0;
    let mut rest = text.char_indices().peekable();
    while let Some((start, c)) = rest.next() {
        if !is_ident_char(c) {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, c)) = rest.peek() {
            if !is_ident_char(c) {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        let ident = &text[start..end];
        let words = split_words(ident);
        let whole_is_a_word = words.len() == 1 && words[0] == (0, ident.len());
        if !whole_is_a_word && !ident.chars().all(|c| c == '_') {
            push(&mut tokens, ident, start, position);
        }
        for (from, to) in words {
            push(&mut tokens, &ident[from..to], start + from, position);
            position += 1;
        }
    }
    tokens
}

fn push(tokens: &mut Vec<Token>, word: &str, offset: usize, position: usize) {
    tokens.push(Token {
        offset_from: offset,
        offset_to: offset + word.len(),
        position,
        text: word.to_lowercase(),
        position_length: 1,
    });
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Lower,
    Upper,
    Digit,
}

fn class(c: char) -> Class {
    if c.is_uppercase() {
        Class::Upper
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Lower
    }
}

/// Byte ranges of the words of one identifier.
fn split_words(ident: &str) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let chars: Vec<(usize, char)> = ident.char_indices().collect();
    for (n, &(i, c)) in chars.iter().enumerate() {
        if c == '_' {
            if let Some(s) = start.take() {
                words.push((s, i));
            }
            continue;
        }
        let Some(s) = start else {
            start = Some(i);
            continue;
        };
        let (_, prev) = chars[n - 1];
        let next = chars.get(n + 1).map(|&(_, c)| class(c));
        let boundary = match (class(prev), class(c)) {
            (Class::Lower, Class::Upper) => true,
            (Class::Upper, Class::Upper) => next == Some(Class::Lower),
            (a, b) => (a == Class::Digit) != (b == Class::Digit),
        };
        if boundary {
            words.push((s, i));
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push((s, ident.len()));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        let mut analyzer = analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push(token.text.clone());
        }
        out
    }

    #[test]
    fn questions_lose_their_stop_words_but_not_their_identifiers() {
        let mut analyzer = question_analyzer();
        let mut stream = analyzer.token_stream("How does parseConfig handle THE input?");
        let mut words = Vec::new();
        while let Some(token) = stream.next() {
            words.push(token.text.clone());
        }
        assert_eq!(words, ["parseconfig", "parse", "config", "handle", "input"]);
    }

    #[test]
    fn snake_case_keeps_whole_and_words() {
        assert_eq!(
            texts("fn parse_config"),
            ["fn", "parse_config", "parse", "config"]
        );
    }

    #[test]
    fn camel_and_pascal_case() {
        assert_eq!(texts("parseConfig"), ["parseconfig", "parse", "config"]);
        assert_eq!(texts("ParseConfig"), ["parseconfig", "parse", "config"]);
    }

    #[test]
    fn acronyms_and_digits() {
        assert_eq!(
            texts("HTTPServer utf8Decode"),
            [
                "httpserver",
                "http",
                "server",
                "utf8decode",
                "utf",
                "8",
                "decode"
            ]
        );
    }

    #[test]
    fn kebab_case_and_paths_separate() {
        assert_eq!(
            texts("src/my-crate/lib.rs std::io::Read"),
            ["src", "my", "crate", "lib", "rs", "std", "io", "read"]
        );
    }

    #[test]
    fn plain_words_and_punctuation() {
        assert_eq!(texts("parse config"), ["parse", "config"]);
        assert_eq!(
            texts("foo(bar) \"x\" __ _init_"),
            ["foo", "bar", "x", "_init_", "init"]
        );
        assert!(texts("()[]{}'\"").is_empty());
    }

    #[test]
    fn offsets_point_into_the_text() {
        let text = "let parseConfig = 1;";
        let mut analyzer = analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut spans = Vec::new();
        while let Some(t) = stream.next() {
            spans.push((&text[t.offset_from..t.offset_to], t.position));
        }
        assert_eq!(
            spans,
            [
                ("let", 0),
                ("parseConfig", 1),
                ("parse", 1),
                ("Config", 2),
                ("1", 3)
            ]
        );
    }

    #[test]
    fn token_before_advance_does_not_panic() {
        let mut tokenizer = CodeTokenizer;
        let mut stream = tokenizer.token_stream("");
        assert_eq!(stream.token().text, "");
        assert!(!stream.advance());
        stream.token_mut().text.push('x');
    }
}
