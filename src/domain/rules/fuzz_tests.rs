//! The rule language's parser against what it was never meant to read: random text and the shipped rule files
//! mutated byte range by byte range. Every input ends in a parse result or a parse error naming an offset inside
//! the input — never a panic, never an endless loop.

use std::{
    path::Path,
    sync::{Arc, OnceLock},
};

use proptest::prelude::*;

use super::parser::{DefinitionTable, parse_expression, parse_file};
use crate::domain::taxonomy::{Taxonomy, test_support};

/// The shipped 2024 rule files, in order (definitions first, as the loader reads them), read once.
fn shipped_rules() -> &'static [String] {
    static FILES: OnceLock<Vec<String>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy/2024/rules");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    })
}

fn taxonomy() -> &'static Arc<Taxonomy> {
    static TAXONOMY: OnceLock<Arc<Taxonomy>> = OnceLock::new();
    TAXONOMY.get_or_init(|| test_support::year(2024))
}

/// Parses a text as a rule file after the shipped definitions, as the loader would; the outcome must be sane.
fn parse_after_definitions(text: &str) {
    let taxonomy = taxonomy();
    let mut definitions = DefinitionTable::default();
    let shipped = shipped_rules();
    // The definitions file parses on its own.
    parse_file(
        &shipped[0],
        "00-definitions.rules",
        taxonomy,
        &mut definitions,
    )
    .unwrap_or_else(|e| panic!("the shipped definitions: {}", e.message));
    if let Err(error) = parse_file(text, "fuzz.rules", taxonomy, &mut definitions) {
        assert!(
            error.offset <= text.len(),
            "offset {} beyond {} bytes",
            error.offset,
            text.len()
        );
        assert!(!error.message.is_empty());
    }
    let _ = parse_expression(text, "fuzz.rules", taxonomy, &mut definitions);
}

/// A mutation of a text, on character boundaries so that it stays a string.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| {
        if chars.is_empty() {
            0
        } else {
            i % (chars.len() + 1)
        }
    };
    match mutation {
        Mutation::Delete(from, len) => {
            let from = at(*from);
            let to = (from + len % 64).min(chars.len());
            chars[..from].iter().chain(&chars[to..]).collect()
        }
        Mutation::Insert(position, inserted) => {
            let position = at(*position);
            let mut out: String = chars[..position].iter().collect();
            out.push_str(inserted);
            out.extend(&chars[position..]);
            out
        }
        Mutation::Duplicate(from, len) => {
            let from = at(*from);
            let to = (from + len % 200).min(chars.len());
            let mut out: String = chars[..to].iter().collect();
            out.extend(&chars[from..]);
            out
        }
        Mutation::Truncate(position) => chars[..at(*position)].iter().collect(),
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Pieces of the language, so that mutations reach deep into the grammar, and some that it has not.
    let pieces = prop::sample::select(vec![
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "=",
        "==",
        "<=",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "sum",
        "rule",
        "define",
        "generate",
        "for",
        "in",
        "when",
        "check",
        "rows",
        "columns",
        "matching",
        "\"",
        "'",
        "#",
        "\n",
        "T01",
        "T99",
        "income_total",
        "*",
        "..",
        "1e999",
        "99999999999999999999999999999999",
        "0.000000001",
        "本年收入",
        "\u{0}",
        "\u{feff}",
        "\\",
        "abs(",
        "min(",
        "max(",
        "if",
        "then",
        "else",
        "severity",
    ]);
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(f, l)| Mutation::Delete(f, l)),
        (any::<usize>(), pieces).prop_map(|(p, s)| Mutation::Insert(p, s.to_owned())),
        (any::<usize>(), "\\PC{0,12}").prop_map(|(p, s)| Mutation::Insert(p, s)),
        (any::<usize>(), any::<usize>()).prop_map(|(f, l)| Mutation::Duplicate(f, l)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_rule_files_parse_or_fail_cleanly(
        file in 1usize..6,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let shipped = shipped_rules();
        let mut text = shipped[file % shipped.len()].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        parse_after_definitions(&text);
    }

    #[test]
    fn random_text_parses_or_fails_cleanly(text in "\\PC{0,400}") {
        parse_after_definitions(&text);
    }

    #[test]
    fn random_tokens_parse_or_fail_cleanly(tokens in proptest::collection::vec(prop::sample::select(vec![
        "rule", "R-1", "\"msg\"", "severity", "error", "check", "T01[income_total, amount]", "==", "sum(", ")",
        "for", "r", "in", "rows(T02)", "when", "(", ",", "+", "-", "1.5", "[", "]", "define", "x", "=", ":",
    ]), 0..60)) {
        parse_after_definitions(&tokens.join(" "));
    }
}

#[test]
fn the_shipped_files_still_parse() {
    for text in shipped_rules().iter().skip(1) {
        let mut definitions = DefinitionTable::default();
        parse_file(&shipped_rules()[0], "00", taxonomy(), &mut definitions).unwrap();
        assert!(parse_file(text, "f", taxonomy(), &mut definitions).is_ok());
    }
}

#[test]
fn explained_takes_a_known_section_and_words() {
    let parse = |text: &str| {
        let mut definitions = DefinitionTable::default();
        parse_expression(text, "f", taxonomy(), &mut definitions).map_err(|e| e.message)
    };
    assert!(parse("explained(\"three_public\", \"保有量\", \"车辆\")").is_ok());
    assert!(
        parse("explained(\"three_publik\", \"保有量\")")
            .unwrap_err()
            .contains("no narrative section \"three_publik\"")
    );
    assert!(
        parse("explained(\"three_public\")")
            .unwrap_err()
            .contains("at least one word")
    );
    assert!(
        parse("explained(\"three_public\", 8)")
            .unwrap_err()
            .contains("strings only")
    );
}
