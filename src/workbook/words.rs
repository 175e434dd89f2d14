//! How printed labels and header words compare, and what a line of a table's header says about its amount unit.
//! Accountants number their lines ("一、", "（一）", "1."), pad them with full-width spaces, quote 三公 in four
//! ways and write parentheses in two widths; none of that changes what a line is.

use rust_decimal::Decimal;

/// A label as it is compared: no whitespace, no numbering in front, no quotes or middle dots, ASCII parentheses,
/// colons and digits, no trailing colon.
pub(super) fn normalise(text: &str) -> String {
    let mut out: String = text
        .chars()
        .filter(|c| {
            !c.is_whitespace()
                && !matches!(
                    c,
                    '“' | '”'
                        | '"'
                        | '‘'
                        | '’'
                        | '\''
                        | '「'
                        | '」'
                        | '『'
                        | '』'
                        | '·'
                        | '•'
                        | '・'
                )
        })
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '：' => ':',
            '．' => '.',
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            other => other,
        })
        .collect();
    loop {
        let stripped = strip_numbering(&out);
        if stripped.len() == out.len() {
            break;
        }
        out = stripped.to_owned();
    }
    while out.ends_with(':') {
        out.pop();
    }
    out
}

const CHINESE_NUMERALS: &str = "一二三四五六七八九十";

/// The label without one numbering prefix: "一、", "(一)", "(1)", "1.", "1、", "①", "其中:".
fn strip_numbering(text: &str) -> &str {
    if let Some(rest) = text
        .strip_prefix("其中:")
        .or_else(|| text.strip_prefix("其中"))
    {
        return rest;
    }
    let numeral = |c: char| CHINESE_NUMERALS.contains(c);
    // (一) and (1)
    if let Some(inner) = text.strip_prefix('(')
        && let Some(close) = inner.find(')')
    {
        let number = &inner[..close];
        if !number.is_empty() && number.chars().all(|c| numeral(c) || c.is_ascii_digit()) {
            let rest = &inner[close + 1..];
            return rest.strip_prefix('、').unwrap_or(rest);
        }
    }
    // 一、 and 1. and 1、 (a number followed by its separator; "1.5" is not numbering)
    let number_end = text
        .char_indices()
        .find(|(_, c)| !(numeral(*c) || c.is_ascii_digit()))
        .map_or(text.len(), |(i, _)| i);
    if number_end > 0 {
        let rest = &text[number_end..];
        for separator in ['、', '.', ')'] {
            if let Some(after) = rest.strip_prefix(separator)
                && !after.starts_with(|c: char| c.is_ascii_digit())
            {
                return after;
            }
        }
    }
    // ①…⑳
    if let Some(first) = text.chars().next()
        && ('①'..='⑳').contains(&first)
    {
        return &text[first.len_utf8()..];
    }
    text
}

/// The money units a table's figures may be stated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MoneyUnit {
    Yuan,
    ThousandYuan,
    TenThousandYuan,
}

impl MoneyUnit {
    pub fn name(self) -> &'static str {
        match self {
            MoneyUnit::Yuan => "元",
            MoneyUnit::ThousandYuan => "千元",
            MoneyUnit::TenThousandYuan => "万元",
        }
    }

    pub fn parse(text: &str) -> Option<MoneyUnit> {
        match text.trim() {
            "元" | "yuan" => Some(MoneyUnit::Yuan),
            "千元" | "thousand" => Some(MoneyUnit::ThousandYuan),
            "万元" | "wan" | "ten-thousand" => Some(MoneyUnit::TenThousandYuan),
            _ => None,
        }
    }

    /// What a figure in this unit is divided by to be in 万元 (exact in decimal).
    pub fn per_ten_thousand(self) -> Decimal {
        match self {
            MoneyUnit::Yuan => Decimal::from(10_000),
            MoneyUnit::ThousandYuan => Decimal::from(10),
            MoneyUnit::TenThousandYuan => Decimal::ONE,
        }
    }
}

/// The money units a cell states: "金额单位：元", "单位:万元" anywhere in the text, also after 编制单位 on the same
/// line; and "（万元）" when `in_header` (a column printed as 金额（万元）). "编制单位：元宝区财政局" states none.
pub(super) fn stated_units(text: &str, in_header: bool) -> Vec<MoneyUnit> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("单位") {
        let before = &rest[..at];
        let after = rest[at + "单位".len()..].trim_start();
        rest = &rest[at + "单位".len()..];
        if before.ends_with("编制") || before.ends_with("填报") {
            continue;
        }
        let Some(after) = after
            .strip_prefix('：')
            .or_else(|| after.strip_prefix(':'))
            .map(str::trim_start)
        else {
            continue;
        };
        if let Some(unit) = unit_word_at(after) {
            found.push(unit);
        }
    }
    if in_header {
        for (open, close) in [('（', '）'), ('(', ')')] {
            let mut rest = text;
            while let Some(at) = rest.find(open) {
                let inner = &rest[at + open.len_utf8()..];
                if let Some(end) = inner.find(close)
                    && let Some(unit) = MoneyUnit::parse(&inner[..end])
                {
                    found.push(unit);
                }
                rest = inner;
            }
        }
    }
    found
}

/// The money unit a text starts with, when the word ends there (元 of 元宝区 is not a unit).
fn unit_word_at(text: &str) -> Option<MoneyUnit> {
    for (word, unit) in [
        ("万元", MoneyUnit::TenThousandYuan),
        ("千元", MoneyUnit::ThousandYuan),
        ("元", MoneyUnit::Yuan),
    ] {
        if let Some(after) = text.strip_prefix(word) {
            let ends = after
                .chars()
                .next()
                .is_none_or(|c| !is_ideograph(c) || "、，,。；;".contains(c));
            return ends.then_some(unit);
        }
    }
    None
}

fn is_ideograph(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

/// A four-digit year a title states ("2024年度…", "…（2024年）").
pub(super) fn stated_year(text: &str) -> Option<u32> {
    let chars: Vec<char> = text.chars().collect();
    chars.windows(5).find_map(|w| {
        (w[..4].iter().all(char::is_ascii_digit) && w[4] == '年')
            .then(|| w[..4].iter().collect::<String>().parse().ok())
            .flatten()
    })
}

/// Whether a text says its table is empty ("本单位无政府性基金预算财政拨款收入、支出", "本表无数据", "空表").
pub(super) fn says_empty(text: &str) -> bool {
    let text = normalise(text);
    text.contains("无数据")
        || text.contains("空表")
        || text.contains("本表无")
        || (text.starts_with("本单位") || text.starts_with("本部门"))
            && (text.contains("无") || text.contains("没有"))
            && (text.contains("故") || text.contains("收入") || text.contains("支出"))
}

/// Whether a label begins the notes below a table (注：, 说明：, 备注).
pub(super) fn is_note(text: &str) -> bool {
    let text = text.trim_start();
    ["注", "说明", "备注", "填报说明", "附注"]
        .iter()
        .any(|word| text.starts_with(word))
        && !text.starts_with("注销")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_spaces_quotes_and_widths_do_not_change_a_label() {
        for (printed, meant) in [
            ("一、一般公共预算财政拨款收入", "一般公共预算财政拨款收入"),
            ("（一）一般公共预算财政拨款", "一般公共预算财政拨款"),
            ("(二)政府性基金预算财政拨款", "政府性基金预算财政拨款"),
            ("1.因公出国（境）费", "因公出国(境)费"),
            ("2、公务用车购置费", "公务用车购置费"),
            ("　　其中：公务用车购置费", "公务用车购置费"),
            ("十一、其他收入", "其他收入"),
            ("财政拨款“三公”经费支出决算表", "财政拨款三公经费支出决算表"),
            ("本年支出·基本支出", "本年支出基本支出"),
            ("合 计", "合计"),
            ("收入总计：", "收入总计"),
            ("①公务接待费", "公务接待费"),
        ] {
            assert_eq!(normalise(printed), meant, "{printed}");
        }
        // A decimal is not numbering.
        assert_eq!(normalise("1.5"), "1.5");
    }

    #[test]
    fn a_unit_line_is_found_wherever_it_is_written() {
        use MoneyUnit::*;
        for (text, header, units) in [
            ("金额单位：万元", false, vec![TenThousandYuan]),
            ("单位:元", false, vec![Yuan]),
            ("编制单位：某某县财政局      单位：元", false, vec![Yuan]),
            ("编制单位：元宝区财政局", false, vec![]),
            ("公开01表  金额单位： 千元", false, vec![ThousandYuan]),
            ("单位：万元、人、辆", false, vec![TenThousandYuan]),
            ("金额（万元）", true, vec![TenThousandYuan]),
            ("金额（万元）", false, vec![]),
            ("填报单位：元氏县教育局", false, vec![]),
        ] {
            assert_eq!(stated_units(text, header), units, "{text}");
        }
        assert_eq!(stated_year("2024年度部门决算"), Some(2024));
        assert_eq!(stated_year("收入支出决算总表"), None);
    }

    #[test]
    fn statements_of_an_empty_table_and_notes_are_told_apart() {
        assert!(says_empty(
            "本单位2024年度无政府性基金预算财政拨款收入，也没有使用政府性基金预算财政拨款安排的支出，故本表无数据。"
        ));
        assert!(says_empty("注：本表为空表。"));
        assert!(!says_empty("一般公共服务支出"));
        assert!(is_note("注：本表反映部门本年度的总收支。"));
        assert!(!is_note("注销登记费"));
    }
}
