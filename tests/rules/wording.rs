//! The narrative checks on generated wordings. A section of the corrected reference's 公开说明 (收入, 支出, "三公") is
//! rewritten from independent choices units make: how the total is led in (with 合计 or 决算), the connector,
//! thousands separators, 万元 or 元, full- or half-width punctuation, how the comparison with last year is worded,
//! how a share is given, whether zero lines are listed, which name a line goes by. With the tables' figures no
//! narrative check may say anything; with one figure changed (a line's amount, the total, a share, the rate of
//! change) the check of that figure must fire. The corpus in `taxonomy/2024/examples.toml` holds single wordings;
//! this holds their combinations.

use std::path::Path;

use juesuan::{
    api::convert,
    domain::{submission::validate_offline, validation::Report},
    pb,
};
use proptest::{prelude::*, sample::select};

use crate::support as test_support;

/// A section to reword: its lead-ins for the total, the total, its lines (label, amount in hundredths of 万元,
/// share of the total as stated) and the tables' figures it is checked against.
struct Section {
    key: &'static str,
    leads: [&'static str; 5],
    /// A word every finding about the total names.
    total_name: &'static str,
    total: i64,
    lines: &'static [(&'static str, i64, &'static str)],
    /// Another name the first line goes by, with the same figure.
    first_line_alias: Option<&'static str>,
    /// How "占…的X%" names the base.
    share_base: &'static str,
    /// The total's change on last year and its rate as stated, for a rise and for a fall (the change's size).
    changes: [(i64, &'static str); 2],
    /// Sets the tables' cells the section states, where the reference's are not already them.
    tables: fn(&mut pb::Disclosure),
}

const SECTIONS: [Section; 3] = [
    Section {
        key: "income",
        leads: [
            "本年收入",
            "本年收入合计",
            "2024年度本年收入",
            "本年收入决算",
            "本年收入决算数",
        ],
        total_name: "本年收入",
        total: 819_084,
        lines: &[
            ("财政拨款收入", 707_064, "86.32"),
            ("上级补助收入", 0, "0.00"),
            ("事业收入", 89_266, "10.90"),
            ("经营收入", 0, "0.00"),
            ("附属单位上缴收入", 0, "0.00"),
            ("其他收入", 22_753, "2.78"),
        ],
        // The reference's appropriation is all 一般公共预算.
        first_line_alias: Some("一般公共预算财政拨款收入"),
        share_base: "本年收入",
        // Against 7,000.00 and 9,000.00 last year.
        changes: [(119_084, "17.01"), (80_916, "8.99")],
        tables: |_| {},
    },
    Section {
        key: "expenditure",
        leads: [
            "本年支出",
            "本年支出合计",
            "2024年度本年支出",
            "本年支出决算",
            "本年支出决算数",
        ],
        total_name: "本年支出",
        total: 797_319,
        lines: &[
            ("基本支出", 445_046, "55.82"),
            ("项目支出", 352_273, "44.18"),
            ("上缴上级支出", 0, "0.00"),
            ("经营支出", 0, "0.00"),
            ("对附属单位补助支出", 0, "0.00"),
        ],
        first_line_alias: None,
        share_base: "本年支出合计",
        // Against 7,000.00 and 9,000.00 last year.
        changes: [(97_319, "13.90"), (102_681, "11.41")],
        tables: |_| {},
    },
    Section {
        key: "three_public",
        leads: [
            "“三公”经费支出",
            "2024年度财政拨款“三公”经费支出",
            "“三公”经费",
            "三公经费支出合计",
            "“三公”经费支出决算数",
        ],
        total_name: "三公经费",
        total: 400,
        lines: &[
            ("因公出国(境)费", 0, "0.00"),
            ("公务用车购置及运行维护费", 300, "75.00"),
            ("公务接待费", 100, "25.00"),
        ],
        first_line_alias: None,
        share_base: "“三公”经费",
        // Against 2.00 and 5.00 last year.
        changes: [(200, "100.00"), (100, "20.00")],
        // The reference spent nothing on 三公; here it spends 3.00 on running its vehicles and 1.00 on reception.
        tables: |d| {
            for (row, value) in [
                ("total", "4.00"),
                ("vehicles", "3.00"),
                ("vehicle_operation", "3.00"),
                ("reception", "1.00"),
            ] {
                test_support::set_cell(d, "T09", row, "final", value);
            }
        },
    },
];

#[derive(Debug, Clone)]
struct Wording {
    section: usize,
    lead: usize,
    connector: &'static str,
    separators: bool,
    in_yuan: bool,
    full_width: bool,
    list_intro: &'static str,
    between: &'static str,
    /// How a share is given, "{}" for the figure and "{base}" for the total's name; empty for no shares.
    share: &'static str,
    zero_lines: bool,
    first_line_alias: bool,
    /// How the comparison with last year is led in; empty for none.
    comparison: &'static str,
    /// Whether the total fell rather than rose, and whether the rate is given as 增幅/降幅 rather than 增长/下降.
    fell: bool,
    rate_noun: bool,
    /// The figure changed by 1.00 万元 in the mutated text: one of the lines with a figure, or the total (3).
    changed: usize,
}

fn wording() -> impl Strategy<Value = Wording> {
    (
        (
            0..SECTIONS.len(),
            0..5usize,
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
                ",占{base}的{}%",
                "",
            ]),
            any::<bool>(),
            any::<bool>(),
            0..4usize,
        ),
        (
            select(vec![
                "",
                ",与上年相比,",
                ",较上年",
                ",比上年",
                ",同比",
                ",与上年度相比",
            ]),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (section, lead, connector, separators, in_yuan, full_width),
                (list_intro, between, share, zero_lines, first_line_alias, changed),
                (comparison, fell, rate_noun),
            )| Wording {
                section,
                lead,
                connector,
                separators,
                in_yuan,
                full_width,
                list_intro,
                between,
                share,
                zero_lines,
                first_line_alias,
                comparison,
                fell,
                rate_noun,
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

/// What a generated text states differently from the tables.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    /// A line's amount (an index into the section's lines), 1.00 万元 higher.
    Amount(usize),
    /// The total, 1.00 万元 higher.
    Total,
    /// A line's share, one point higher.
    Share(usize),
    /// The total's rate of change on last year, one point higher.
    Rate,
}

impl Wording {
    fn section(&self) -> &'static Section {
        &SECTIONS[self.section]
    }

    /// The name the wording gives line `i`.
    fn label(&self, i: usize) -> &'static str {
        match self.section().first_line_alias {
            Some(alias) if i == 0 && self.first_line_alias => alias,
            _ => self.section().lines[i].0,
        }
    }

    /// The lines with a figure: the ones a change can be made to.
    fn lines_with_figures(&self) -> Vec<usize> {
        let lines = self.section().lines;
        (0..lines.len()).filter(|&i| lines[i].1 != 0).collect()
    }

    /// The section's text, with one figure changed when given.
    fn text(&self, change: Option<Change>) -> String {
        let section = self.section();
        let total = section.total
            + if change == Some(Change::Total) {
                100
            } else {
                0
            };
        let mut text = format!(
            "{}{}{}",
            section.leads[self.lead],
            self.connector,
            amount(self, total)
        );
        if !self.comparison.is_empty() {
            let (difference, rate) = section.changes[usize::from(self.fell)];
            let rate = if change == Some(Change::Rate) {
                one_point_more(rate)
            } else {
                rate.to_owned()
            };
            let (verb, rate_word) = match (self.fell, self.rate_noun) {
                (false, false) => ("增加", "增长"),
                (false, true) => ("增加", "增幅"),
                (true, false) => ("减少", "下降"),
                (true, true) => ("减少", "降幅"),
            };
            text.push_str(self.comparison);
            text.push_str(verb);
            text.push_str(&amount(self, difference));
            text.push(',');
            text.push_str(rate_word);
            text.push_str(&rate);
            text.push('%');
        }
        text.push_str(self.list_intro);
        let mut first = true;
        for (i, &(_, hundredths, share)) in section.lines.iter().enumerate() {
            if hundredths == 0 && !self.zero_lines {
                continue;
            }
            if !first {
                text.push_str(self.between);
            }
            first = false;
            let stated = hundredths
                + if change == Some(Change::Amount(i)) {
                    100
                } else {
                    0
                };
            text.push_str(self.label(i));
            text.push_str(&amount(self, stated));
            let share = if change == Some(Change::Share(i)) {
                one_point_more(share)
            } else {
                share.to_owned()
            };
            text.push_str(
                &self
                    .share
                    .replace("{base}", section.share_base)
                    .replace("{}", &share),
            );
        }
        text.push('。');
        if self.full_width {
            // Punctuation only: the figures' separators and points stay as units type them.
            text = full_width_punctuation(&text);
        }
        text
    }
}

/// A percentage as stated ("86.32"), one point higher.
fn one_point_more(percent: &str) -> String {
    let (whole, fraction) = percent.split_once('.').unwrap();
    format!("{}.{fraction}", whole.parse::<u32>().unwrap() + 1)
}

/// Replaces the ASCII punctuation between words (not inside figures) by its full-width form.
fn full_width_punctuation(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() * 2);
    for (i, &c) in chars.iter().enumerate() {
        let in_figure = c == ','
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        out.push(match c {
            ',' if !in_figure => '，',
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

/// The narrative findings of the corrected reference with the section's tables set and its text replaced.
fn narrative_findings(section: &Section, text: &str) -> Vec<String> {
    let mut disclosure = corrected_reference();
    (section.tables)(&mut disclosure);
    disclosure
        .narrative
        .iter_mut()
        .find(|s| s.key == section.key)
        .unwrap_or_else(|| panic!("the reference has no section {}", section.key))
        .text = text.to_owned();
    let draft = convert::disclosure_draft(disclosure).unwrap();
    let report: Report = validate_offline(&test_support::shipped(), draft).unwrap().2;
    report
        .findings
        .iter()
        .filter(|f| f.rule_id.starts_with("NAR-"))
        .map(|f| format!("{}: {}", f.rule_id, f.message))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 36, ..ProptestConfig::default() })]

    #[test]
    fn a_consistent_wording_says_nothing_and_a_changed_figure_fires(wording in wording()) {
        let section = wording.section();
        let consistent = wording.text(None);
        prop_assert_eq!(narrative_findings(section, &consistent), Vec::<String>::new(), "{}", consistent);

        // One figure 1.00 万元 higher (a line with a figure, or the total): it no longer matches the table.
        let lines = wording.lines_with_figures();
        let (change, name) = match wording.changed {
            3 => (Change::Total, section.total_name),
            n => {
                let line = lines[n % lines.len()];
                (Change::Amount(line), wording.label(line))
            }
        };
        let mutated = wording.text(Some(change));
        let findings = narrative_findings(section, &mutated);
        prop_assert!(
            findings.iter().any(|f| f.starts_with("NAR-AMOUNT") && f.contains(name)),
            "{} gave {:?}",
            mutated,
            findings
        );

        // The total's rate of change one point higher, where the wording compares with last year: the change and
        // the rate no longer agree.
        if !wording.comparison.is_empty() {
            let mutated = wording.text(Some(Change::Rate));
            let findings = narrative_findings(section, &mutated);
            prop_assert!(
                findings.iter().any(|f| f.starts_with("NAR-CHANGE") && f.contains(section.total_name)),
                "{} gave {:?}",
                mutated,
                findings
            );
        }

        // The last line with a figure, its share one point higher, where the wording gives shares.
        if !wording.share.is_empty() {
            let line = *lines.last().unwrap();
            let mutated = wording.text(Some(Change::Share(line)));
            let findings = narrative_findings(section, &mutated);
            prop_assert!(
                findings.iter().any(|f| f.starts_with("NAR-SHARE") && f.contains(wording.label(line))),
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
        section: 0,
        lead: 0,
        connector: "",
        separators: true,
        in_yuan: false,
        full_width: true,
        list_intro: ",其中:",
        between: ";",
        share: ",占{}%",
        zero_lines: false,
        first_line_alias: false,
        comparison: "",
        fell: false,
        rate_noun: false,
        changed: 0,
    };
    assert_eq!(
        plain.text(None),
        "本年收入8,190.84万元，其中：财政拨款收入7,070.64万元，占86.32％；事业收入892.66万元，占10.90％；\
         其他收入227.53万元，占2.78％。"
    );
    let in_yuan = Wording {
        in_yuan: true,
        separators: false,
        full_width: false,
        ..plain.clone()
    };
    assert_eq!(
        in_yuan.text(Some(Change::Amount(2))),
        "本年收入81908400.00元,其中:财政拨款收入70706400.00元,占86.32%;事业收入8936600.00元,占10.90%;\
         其他收入2275300.00元,占2.78%。"
    );
    let three_public = Wording {
        section: 2,
        lead: 1,
        share: "(占{}%)",
        zero_lines: true,
        comparison: ",较上年",
        fell: true,
        ..plain
    };
    assert_eq!(
        three_public.text(Some(Change::Share(2))),
        "2024年度财政拨款“三公”经费支出4.00万元，较上年减少1.00万元，下降20.00％，其中：因公出国（境）费0.00万元\
         （占0.00％）；\
         公务用车购置及运行维护费3.00万元（占75.00％）；公务接待费1.00万元（占26.00％）。"
    );
}
