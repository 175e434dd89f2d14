//! The narrative checks on generated wordings of one section. The corrected reference's 收入决算情况说明 is rewritten
//! from independent choices units make (how the total is led in, the connector, thousands separators, 万元 or 元,
//! full- or half-width punctuation, how a share is given, which lines are listed and in which fund-type detail):
//! with the reference's figures, no narrative check may say anything; with one figure changed (a line's amount,
//! the total, a share), the check of that figure must fire. The corpus in `taxonomy/2024/examples.toml` holds single wordings; this holds their
//! combinations.

use std::path::Path;

use juesuan::{
    api::convert,
    domain::{submission::validate_offline, validation::Report},
    pb,
};
use proptest::{prelude::*, sample::select};

use crate::support as test_support;

/// The corrected reference's income lines: label, amount in 万元 (hundredths) and share of 本年收入 as stated.
const LINES: [(&str, i64, &str); 6] = [
    ("财政拨款收入", 707_064, "86.32"),
    ("上级补助收入", 0, "0.00"),
    ("事业收入", 89_266, "10.90"),
    ("经营收入", 0, "0.00"),
    ("附属单位上缴收入", 0, "0.00"),
    ("其他收入", 22_753, "2.78"),
];
const TOTAL: i64 = 819_084;

#[derive(Debug, Clone)]
struct Wording {
    lead: &'static str,
    connector: &'static str,
    separators: bool,
    in_yuan: bool,
    full_width: bool,
    list_intro: &'static str,
    between: &'static str,
    share: &'static str,
    zero_lines: bool,
    fund_type_label: bool,
    /// The figure changed by 1.00 万元 in the mutated text: one of the lines with a figure, or the total.
    changed: usize,
}

fn wording() -> impl Strategy<Value = Wording> {
    (
        (
            select(vec![
                "本年收入",
                "本年收入合计",
                "2024年度本年收入",
                "本年收入决算",
                "本年收入决算数",
            ]),
            select(vec!["", "为", ":", "共计", " "]),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            select(vec![",其中:", "。其中:", ",其中"]),
            select(vec![";", ",", "。"]),
            select(vec![
                ",占{}%",
                ",占比{}%",
                "(占{}%)",
                ",所占比重为{}%",
                ",占本年收入的{}%",
                "",
            ]),
            any::<bool>(),
            any::<bool>(),
            0..4usize,
        ),
    )
        .prop_map(
            |(
                (lead, connector, separators, in_yuan, full_width),
                (list_intro, between, share, zero_lines, fund_type_label, changed),
            )| Wording {
                lead,
                connector,
                separators,
                in_yuan,
                full_width,
                list_intro,
                between,
                share,
                zero_lines,
                fund_type_label,
                changed,
            },
        )
}

/// An amount of hundredths of 万元 as the wording writes it.
fn amount(wording: &Wording, hundredths: i64) -> String {
    let (digits, unit) = if wording.in_yuan {
        // 1 万元 = 10,000 元: hundredths of 万元 are whole 元 times 100.
        (format!("{}.00", hundredths * 100), "元")
    } else {
        (
            format!("{}.{:02}", hundredths / 100, hundredths % 100),
            "万元",
        )
    };
    let (whole, fraction) = digits.split_once('.').unwrap();
    let whole = if wording.separators {
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        grouped
    } else {
        whole.to_owned()
    };
    format!("{whole}.{fraction}{unit}")
}

/// What a generated text states differently from the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    /// A line's amount (an index into `LINES`), 1.00 万元 higher.
    Amount(usize),
    /// The total, 1.00 万元 higher.
    Total,
    /// A line's share, one point higher.
    Share(usize),
}

/// The section's text, with one figure changed when given.
fn income_text(wording: &Wording, change: Option<Change>) -> String {
    let total = TOTAL
        + if change == Some(Change::Total) {
            100
        } else {
            0
        };
    let mut text = format!(
        "{}{}{}",
        wording.lead,
        wording.connector,
        amount(wording, total)
    );
    text.push_str(wording.list_intro);
    let mut first = true;
    for (i, &(label, hundredths, share)) in LINES.iter().enumerate() {
        if hundredths == 0 && !wording.zero_lines {
            continue;
        }
        if !first {
            text.push_str(wording.between);
        }
        first = false;
        // The reference's appropriation is all 一般公共预算: either name states the same figure.
        let label = if i == 0 && wording.fund_type_label {
            "一般公共预算财政拨款收入"
        } else {
            label
        };
        let stated = hundredths
            + if change == Some(Change::Amount(i)) {
                100
            } else {
                0
            };
        text.push_str(label);
        text.push_str(&amount(wording, stated));
        let share = if change == Some(Change::Share(i)) {
            let (whole, fraction) = share.split_once('.').unwrap();
            format!("{}.{fraction}", whole.parse::<u32>().unwrap() + 1)
        } else {
            share.to_owned()
        };
        text.push_str(&wording.share.replace("{}", &share));
    }
    text.push('。');
    if wording.full_width {
        // Punctuation only: the figures' separators and points stay as units type them.
        text = full_width_punctuation(&text);
    }
    text
}

/// Replaces the ASCII punctuation between words (not inside figures) by its full-width form.
fn full_width_punctuation(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() * 2);
    for (i, &c) in chars.iter().enumerate() {
        let in_figure = |c: char| {
            c == ','
                && i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
        };
        out.push(match c {
            ',' if !in_figure(c) => '，',
            ';' => '；',
            ':' => '：',
            '(' => '（',
            ')' => '）',
            '%' => '％',
            other => other,
        });
    }
    out
}

fn corrected_reference() -> pb::Disclosure {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference-2024-corrected.json");
    juesuan::cli::json::from_json("Disclosure", &std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validate_with_income(base: &pb::Disclosure, text: &str) -> Report {
    let mut disclosure = base.clone();
    disclosure
        .narrative
        .iter_mut()
        .find(|s| s.key == "income")
        .expect("the reference has an income section")
        .text = text.to_owned();
    let draft = convert::disclosure_draft(disclosure).unwrap();
    validate_offline(&test_support::shipped(), draft).unwrap().2
}

fn narrative_findings(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.rule_id.starts_with("NAR-"))
        .map(|f| format!("{}: {}", f.rule_id, f.message))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn a_consistent_wording_says_nothing_and_a_changed_figure_fires(wording in wording()) {
        let base = corrected_reference();
        let consistent = income_text(&wording, None);
        let report = validate_with_income(&base, &consistent);
        prop_assert_eq!(narrative_findings(&report), Vec::<String>::new(), "{}", consistent);

        // One figure 1.00 万元 higher (a line with a figure, or the total): it no longer matches the table.
        let (change, label) = match wording.changed {
            3 => (Change::Total, "本年收入"),
            0 if wording.fund_type_label => (Change::Amount(0), "一般公共预算财政拨款收入"),
            n => {
                let line = [0, 2, 5][n];
                (Change::Amount(line), LINES[line].0)
            }
        };
        let mutated = income_text(&wording, Some(change));
        let findings = narrative_findings(&validate_with_income(&base, &mutated));
        prop_assert!(
            findings.iter().any(|f| f.starts_with("NAR-AMOUNT") && f.contains(label)),
            "{} gave {:?}",
            mutated,
            findings
        );

        // 事业收入's share one point higher, where the wording gives shares.
        if !wording.share.is_empty() {
            let mutated = income_text(&wording, Some(Change::Share(2)));
            let findings = narrative_findings(&validate_with_income(&base, &mutated));
            prop_assert!(
                findings.iter().any(|f| f.starts_with("NAR-SHARE") && f.contains("事业收入")),
                "{} gave {:?}",
                mutated,
                findings
            );
        }
    }
}

#[test]
fn the_generated_text_is_what_units_write() {
    let plain = Wording {
        lead: "本年收入",
        connector: "",
        separators: true,
        in_yuan: false,
        full_width: true,
        list_intro: ",其中:",
        between: ";",
        share: ",占{}%",
        zero_lines: false,
        fund_type_label: false,
        changed: 0,
    };
    assert_eq!(
        income_text(&plain, None),
        "本年收入8,190.84万元，其中：财政拨款收入7,070.64万元，占86.32％；事业收入892.66万元，占10.90％；\
         其他收入227.53万元，占2.78％。"
    );
    let in_yuan = Wording {
        in_yuan: true,
        separators: false,
        full_width: false,
        ..plain
    };
    assert_eq!(
        income_text(&in_yuan, Some(Change::Amount(2))),
        "本年收入81908400.00元,其中:财政拨款收入70706400.00元,占86.32%;事业收入8936600.00元,占10.90%;\
         其他收入2275300.00元,占2.78%。"
    );
}
