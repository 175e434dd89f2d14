//! Tokens of the rule language. Every token keeps its byte span so that errors point at a line and column.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A word: keyword, table code, line code, definition or function name.
    Word(String),
    /// `$name`.
    Var(String),
    /// Digits, optionally with one '.', kept as written ("2070605", "100", "0.5").
    Number(String),
    /// Digits and '?' wildcards, at least one '?' ("301??").
    Pattern(String),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    DotDot,
    Assign,
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("\"{w}\""),
            Tok::Var(v) => format!("${v}"),
            Tok::Number(n) => format!("number {n}"),
            Tok::Pattern(p) => format!("pattern {p}"),
            Tok::Str(_) => "a string".to_owned(),
            other => format!("\"{}\"", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::DotDot => "..",
            Tok::Assign => "=",
            Tok::Eq => "==",
            Tok::Ne => "!=",
            Tok::Le => "<=",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Gt => ">",
            _ => "?",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub offset: usize,
    pub message: String,
}

pub fn lex(source: &str) -> Result<Vec<Token>, LexError> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                let mut text = String::new();
                loop {
                    let Some(ch) = source[i..].chars().next() else {
                        return Err(LexError {
                            offset: start,
                            message: "string not closed: add a '\"'".into(),
                        });
                    };
                    i += ch.len_utf8();
                    match ch {
                        '"' => break,
                        '\n' => {
                            return Err(LexError {
                                offset: start,
                                message: "string not closed before the end of the line".into(),
                            });
                        }
                        '\\' => {
                            let escaped = source[i..].chars().next();
                            match escaped {
                                Some('"') | Some('\\') => {
                                    text.push(escaped.unwrap());
                                    i += 1;
                                }
                                _ => {
                                    return Err(LexError {
                                        offset: i - 1,
                                        message: "unknown escape: only \\\" and \\\\ are allowed"
                                            .into(),
                                    });
                                }
                            }
                        }
                        other => text.push(other),
                    }
                }
                tokens.push(Token {
                    tok: Tok::Str(text),
                    span: start..i,
                });
            }
            b'$' => {
                i += 1;
                let name_start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if i == name_start {
                    return Err(LexError {
                        offset: start,
                        message: "'$' must be followed by a variable name".into(),
                    });
                }
                tokens.push(Token {
                    tok: Tok::Var(source[name_start..i].to_owned()),
                    span: start..i,
                });
            }
            b'0'..=b'9' | b'?' => {
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'?') {
                    i += 1;
                }
                let mut text = source[start..i].to_owned();
                if text.contains('?') {
                    tokens.push(Token {
                        tok: Tok::Pattern(text),
                        span: start..i,
                    });
                    continue;
                }
                // A decimal point followed by a digit continues the number; ".." is a range.
                if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    text = source[start..i].to_owned();
                }
                tokens.push(Token {
                    tok: Tok::Number(text),
                    span: start..i,
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                tokens.push(Token {
                    tok: Tok::Word(source[start..i].to_owned()),
                    span: start..i,
                });
            }
            _ => {
                let two = source.get(i..i + 2).unwrap_or("");
                let (tok, len) = match two {
                    "==" => (Tok::Eq, 2),
                    "!=" => (Tok::Ne, 2),
                    "<=" => (Tok::Le, 2),
                    ">=" => (Tok::Ge, 2),
                    ".." => (Tok::DotDot, 2),
                    _ => match c {
                        b'(' => (Tok::LParen, 1),
                        b')' => (Tok::RParen, 1),
                        b'[' => (Tok::LBracket, 1),
                        b']' => (Tok::RBracket, 1),
                        b',' => (Tok::Comma, 1),
                        b'+' => (Tok::Plus, 1),
                        b'-' => (Tok::Minus, 1),
                        b'*' => (Tok::Star, 1),
                        b'/' => (Tok::Slash, 1),
                        b'=' => (Tok::Assign, 1),
                        b'<' => (Tok::Lt, 1),
                        b'>' => (Tok::Gt, 1),
                        _ => {
                            let ch = source[i..].chars().next().unwrap_or('?');
                            return Err(LexError {
                                offset: i,
                                message: format!("unexpected character '{ch}'"),
                            });
                        }
                    },
                };
                i += len;
                tokens.push(Token {
                    tok,
                    span: start..i,
                });
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(source: &str) -> Vec<Tok> {
        lex(source).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_cell_references_and_patterns() {
        assert_eq!(
            toks("sum(T06[301??, amount]) >= 0.5 # note"),
            [
                Tok::Word("sum".into()),
                Tok::LParen,
                Tok::Word("T06".into()),
                Tok::LBracket,
                Tok::Pattern("301??".into()),
                Tok::Comma,
                Tok::Word("amount".into()),
                Tok::RBracket,
                Tok::RParen,
                Tok::Ge,
                Tok::Number("0.5".into()),
            ]
        );
        assert_eq!(
            toks("T06[30101..30199]"),
            [
                Tok::Word("T06".into()),
                Tok::LBracket,
                Tok::Number("30101".into()),
                Tok::DotDot,
                Tok::Number("30199".into()),
                Tok::RBracket
            ]
        );
    }

    #[test]
    fn strings_keep_chinese_text_and_escapes() {
        assert_eq!(
            toks(r#""本年收入\"合计\"""#),
            [Tok::Str("本年收入\"合计\"".into())]
        );
    }

    #[test]
    fn errors_point_at_the_offending_byte() {
        assert_eq!(lex("a ~ b").unwrap_err().offset, 2);
        assert_eq!(lex("x \"open").unwrap_err().offset, 2);
        assert_eq!(lex("$ x").unwrap_err().offset, 0);
    }
}
