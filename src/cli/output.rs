//! Printing findings for people: one block per finding (severity, rule, cell, figures; then the message), and a
//! summary line.

use std::fmt::Write;

use crate::pb;

/// Display width of text in a terminal: CJK characters take two columns.
pub fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

fn pad(text: &str, width: usize) -> String {
    align(text, width, false)
}

fn severity_name(severity: i32) -> &'static str {
    match pb::Severity::try_from(severity) {
        Ok(pb::Severity::Error) => "ERROR",
        Ok(pb::Severity::Warning) => "WARNING",
        Ok(pb::Severity::Info) => "INFO",
        _ => "?",
    }
}

fn decimal(value: &Option<pb::Decimal>) -> &str {
    value.as_ref().map_or("", |d| d.value.as_str())
}

/// Where a finding is: the project and indicator, or the first cell.
fn place(finding: &pb::Finding) -> String {
    if finding.project_index > 0 {
        let mut place = format!("项目{} {}", finding.project_index, finding.project);
        if !finding.indicator.is_empty() {
            let _ = write!(place, " ·「{}」", finding.indicator);
        }
        return place;
    }
    if !finding.indicator.is_empty() {
        return format!("单位整体 ·「{}」", finding.indicator);
    }
    finding
        .cells
        .first()
        .map(|c| {
            let cell = format!("{}[{}, {}]", c.table, c.row, c.column);
            if c.unit_code.is_empty() {
                cell
            } else {
                format!("{} {cell}", c.unit_code)
            }
        })
        .unwrap_or_default()
}

pub fn report(report: &pb::ValidationReport) -> String {
    let mut out = findings(&report.findings);
    let _ = writeln!(
        out,
        "{} error(s), {} warning(s) ({} unexplained), {} info; {} checks evaluated, {} not evaluated (figures not given — partial tables, no last year, no budget — or wording not read with certainty)",
        report.error_count,
        report.warning_count,
        report.unexplained_warning_count,
        report.info_count,
        report.checks_evaluated,
        report.checks_not_evaluated
    );
    out
}

/// Findings, one block each, without a summary.
pub fn findings(findings: &[pb::Finding]) -> String {
    let mut out = String::new();
    if findings.is_empty() {
        out.push_str("no findings\n");
    } else {
        let rule_width = findings
            .iter()
            .map(|f| f.rule_id.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "{}  {}  {:>12}  {:>12}  {:>10}  WHERE",
            pad("SEVERITY", 8),
            pad("RULE", rule_width),
            "PROVIDED",
            "EXPECTED",
            "DIFF"
        );
        for finding in findings {
            let _ = writeln!(
                out,
                "{}  {}  {:>12}  {:>12}  {:>10}  {}",
                pad(severity_name(finding.severity), 8),
                pad(&finding.rule_id, rule_width),
                decimal(&finding.provided),
                decimal(&finding.expected),
                decimal(&finding.difference),
                place(finding)
            );
            if finding.key.is_empty() {
                let _ = writeln!(out, "          {}", finding.message);
            } else {
                let _ = writeln!(out, "          {}  [key {}]", finding.message, finding.key);
            }
            if !finding.explanation.is_empty() {
                let _ = writeln!(out, "          explained: {}", finding.explanation);
            }
        }
    }
    out
}

/// Pads to a display width (CJK characters take two columns), on the left (`right_align`) or the right.
pub fn align(text: &str, width: usize, right_align: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(display_width(text)));
    if right_align {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

/// A timestamp as UTC date and time, to the second.
pub fn timestamp(t: &prost_types::Timestamp) -> String {
    let days = t.seconds.div_euclid(86_400);
    let second_of_day = t.seconds.rem_euclid(86_400);
    let (year, month, day) = crate::domain::audit::civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        second_of_day / 3_600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Grouped thousands, for counts people read.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_takes_two_columns() {
        assert_eq!(display_width("ab"), 2);
        assert_eq!(display_width("本年收入"), 8);
        assert_eq!(pad("收入", 6), "收入  ");
    }

    #[test]
    fn timestamps_are_utc_dates() {
        let at = |seconds| timestamp(&prost_types::Timestamp { seconds, nanos: 0 });
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_795_696_923), "2026-11-26 12:42:03 UTC");
        assert_eq!(at(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn alignment_counts_chinese_as_two_columns() {
        assert_eq!(align("收入", 6, true), "  收入");
        assert_eq!(align("ab", 4, false), "ab  ");
        assert_eq!(align("toolong", 3, true), "toolong");
    }

    #[test]
    fn a_report_prints_its_figures_and_summary() {
        let report = pb::ValidationReport {
            fiscal_year: 2024,
            findings: vec![pb::Finding {
                rule_id: "T01-BAL-001".into(),
                severity: pb::Severity::Error as i32,
                message: "本年收入合计不符".into(),
                cells: vec![pb::CellRef {
                    table: "T01".into(),
                    row: "income_total".into(),
                    column: "amount".into(),
                    ..Default::default()
                }],
                provided: Some(pb::Decimal {
                    value: "8190.84".into(),
                }),
                expected: Some(pb::Decimal {
                    value: "8189.84".into(),
                }),
                difference: Some(pb::Decimal {
                    value: "1.00".into(),
                }),
                ..Default::default()
            }],
            error_count: 1,
            checks_evaluated: 10,
            ..Default::default()
        };
        let text = super::report(&report);
        assert!(text.contains("ERROR     T01-BAL-001"), "{text}");
        assert!(
            text.contains("8190.84") && text.contains("T01[income_total, amount]"),
            "{text}"
        );
        assert!(
            text.contains("1 error(s), 0 warning(s) (0 unexplained)"),
            "{text}"
        );
    }
}
