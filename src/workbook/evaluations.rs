//! The performance self-evaluations on two sheets: 整体绩效自评 (the unit's, one block) and 项目绩效自评 (one block
//! per project, one after another). A block is its fields by label in column A, its funds under a 资金来源 header
//! and its indicators under a 一级指标 header. Figures are written as text, so that their precision survives
//! ("10" and "10.00" are different statements); a measure is written as printed ("≥248期") and read back through
//! the same parser that reads every self-evaluation.

use calamine::{Data, Range};
use rust_xlsxwriter::{Format, Worksheet, XlsxError};

use super::layout::{
    FUNDS_SOURCE_NAMES, SCORING_RULE_NAMES, address, enum_code, enum_from, enum_name, text_of,
};
use crate::{
    domain::evaluation::{Comparator, Measure, MeasureValue},
    pb,
};

pub(super) const UNIT_SHEET: &str = "整体绩效自评";
pub(super) const PROJECTS_SHEET: &str = "项目绩效自评";

const FUNDS_HEADERS: [&str; 8] = [
    "资金来源",
    "年初预算数",
    "全年预算数",
    "全年执行数",
    "分值",
    "执行率",
    "得分",
    "来源类别",
];
const INDICATOR_HEADERS: [&str; 13] = [
    "一级指标",
    "二级指标",
    "三级指标",
    "分值",
    "年度指标值",
    "实际完成值",
    "完成率",
    "得分",
    "评分规则",
    "指标值设定依据",
    "上年指标值",
    "佐证材料",
    "偏差原因",
];

fn decimal_text(value: &Option<pb::Decimal>) -> String {
    value.as_ref().map_or_else(String::new, |d| d.value.clone())
}

/// Where a block's cells went, by the names findings give them: ("funds.total", "executed") →
/// (row, column), ("indicator.3", "score"), ("summary", "score").
pub(super) type Placed = std::collections::HashMap<(String, String), (u32, u16)>;

/// The funds columns of findings, by the column they are written in.
const FUNDS_PLACES: [(&str, u16); 6] = [
    ("initial_budget", 1),
    ("full_year_budget", 2),
    ("executed", 3),
    ("weight", 4),
    ("execution_rate", 5),
    ("score", 6),
];
const INDICATOR_PLACES: [(&str, u16); 5] = [
    ("weight", 3),
    ("target", 4),
    ("actual", 5),
    ("completion_rate", 6),
    ("score", 7),
];

/// Writes one block from `row`; returns the row after it (a blank row follows each block).
#[allow(clippy::too_many_arguments)]
fn write_block(
    sheet: &mut Worksheet,
    mut row: u32,
    fields: &[(&str, String)],
    funds: &[pb::FundsRow],
    indicators: &[pb::Indicator],
    header: &Format,
    placed: &mut Placed,
) -> Result<u32, XlsxError> {
    for (label, value) in fields {
        sheet.write_string_with_format(row, 0, *label, header)?;
        sheet.write_string(row, 1, value)?;
        let summary = match *label {
            "项目分值" => Some("weight"),
            "总得分" => Some("score"),
            _ => None,
        };
        if let Some(column) = summary {
            placed.insert(("summary".to_owned(), column.to_owned()), (row, 1));
        }
        row += 1;
    }
    for (column, name) in FUNDS_HEADERS.iter().enumerate() {
        sheet.write_string_with_format(row, column as u16, *name, header)?;
    }
    row += 1;
    for funds_row in funds {
        let cells = [
            funds_row.label.clone(),
            decimal_text(&funds_row.initial_budget),
            decimal_text(&funds_row.full_year_budget),
            decimal_text(&funds_row.executed),
            decimal_text(&funds_row.weight),
            decimal_text(&funds_row.execution_rate),
            decimal_text(&funds_row.score),
            enum_name(&FUNDS_SOURCE_NAMES, funds_row.source()).to_owned(),
        ];
        for (column, text) in cells.iter().enumerate() {
            sheet.write_string(row, column as u16, text)?;
        }
        let key = format!(
            "funds.{}",
            enum_code(funds_row.source().as_str_name(), "FUNDS_SOURCE_")
        );
        for (name, column) in FUNDS_PLACES {
            placed.insert((key.clone(), name.to_owned()), (row, column));
        }
        row += 1;
    }
    for (column, name) in INDICATOR_HEADERS.iter().enumerate() {
        sheet.write_string_with_format(row, column as u16, *name, header)?;
    }
    row += 1;
    for (index, indicator) in indicators.iter().enumerate() {
        let measure =
            |m: &Option<pb::Measure>| m.as_ref().map_or_else(String::new, |m| m.raw.clone());
        let scoring = match indicator.scoring_rule() {
            pb::ScoringRule::Unspecified => String::new(),
            rule => enum_name(&SCORING_RULE_NAMES, rule).to_owned(),
        };
        let cells = [
            indicator.level1.clone(),
            indicator.level2.clone(),
            indicator.name.clone(),
            decimal_text(&indicator.weight),
            measure(&indicator.target),
            measure(&indicator.actual),
            decimal_text(&indicator.completion_rate),
            decimal_text(&indicator.score),
            scoring,
            indicator.basis.clone(),
            indicator.last_year.clone(),
            indicator.evidence.clone(),
            indicator.deviation_reason.clone(),
        ];
        for (column, text) in cells.iter().enumerate() {
            sheet.write_string(row, column as u16, text)?;
        }
        for (name, column) in INDICATOR_PLACES {
            placed.insert(
                (format!("indicator.{}", index + 1), name.to_owned()),
                (row, column),
            );
        }
        row += 1;
    }
    Ok(row + 1)
}

/// The two evaluation sheets, blank (headers only) when there is no disclosure.
pub(super) fn write(
    unit_sheet: &mut Worksheet,
    disclosure: Option<&pb::Disclosure>,
    header: &Format,
) -> Result<Placed, XlsxError> {
    let mut placed = Placed::new();
    unit_sheet.set_name(UNIT_SHEET)?;
    unit_sheet.set_column_width(0, 16)?;
    unit_sheet.set_column_width(1, 20)?;
    let unit = disclosure.and_then(|d| d.unit_evaluation.as_ref());
    let empty = pb::UnitEvaluation::default();
    let evaluation = unit.unwrap_or(&empty);
    write_block(
        unit_sheet,
        0,
        &[
            ("年度目标", evaluation.goal_expected.clone()),
            ("实际完成情况", evaluation.goal_actual.clone()),
            ("总得分", decimal_text(&evaluation.total_score)),
        ],
        &evaluation.funds,
        &evaluation.indicators,
        header,
        &mut placed,
    )?;
    Ok(placed)
}

/// Writes every project's block; returns where each project's cells went, in the projects' order.
pub(super) fn write_projects(
    sheet: &mut Worksheet,
    disclosure: Option<&pb::Disclosure>,
    header: &Format,
) -> Result<Vec<Placed>, XlsxError> {
    let mut all = Vec::new();
    sheet.set_name(PROJECTS_SHEET)?;
    sheet.set_column_width(0, 16)?;
    sheet.set_column_width(1, 20)?;
    sheet.set_column_width(2, 24)?;
    let projects = disclosure.map_or(&[][..], |d| d.project_evaluations.as_slice());
    let blank = [pb::ProjectEvaluation::default()];
    let projects = if projects.is_empty() {
        &blank[..]
    } else {
        projects
    };
    let mut row = 0;
    for project in projects {
        let mut placed = Placed::new();
        row = write_block(
            sheet,
            row,
            &[
                ("项目名称", project.name.clone()),
                ("主管部门", project.supervising_department.clone()),
                ("实施单位", project.implementing_unit.clone()),
                ("年度目标", project.goal_expected.clone()),
                ("实际完成情况", project.goal_actual.clone()),
                ("项目分值", decimal_text(&project.total_weight)),
                ("总得分", decimal_text(&project.total_score)),
            ],
            &project.funds,
            &project.indicators,
            header,
            &mut placed,
        )?;
        all.push(placed);
    }
    Ok(all)
}

/// A block as read: its fields by label, funds rows and indicators.
#[derive(Default)]
struct Block {
    fields: Vec<(String, String)>,
    funds: Vec<pb::FundsRow>,
    indicators: Vec<pb::Indicator>,
}

impl Block {
    fn field(&self, label: &str) -> String {
        self.fields
            .iter()
            .find(|(l, _)| l == label)
            .map_or_else(String::new, |(_, v)| v.clone())
    }
}

fn cell(range: &Range<Data>, row: u32, column: u16) -> String {
    text_of(range, row, column)
}

fn optional_decimal(
    text: &str,
    at: String,
    problems: &mut Vec<(String, String)>,
) -> Option<pb::Decimal> {
    if text.is_empty() {
        return None;
    }
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | '%'))
        .collect();
    match cleaned.parse::<crate::domain::money::Value>() {
        Ok(value) => Some(pb::Decimal {
            value: value.to_string(),
        }),
        Err(e) => {
            problems.push((at, e.to_string()));
            None
        }
    }
}

/// A source of funds by its printed label ("其中：当年财政拨款" too); unspecified when it is none of them.
pub fn funds_source(label: &str) -> pb::FundsSource {
    let label = label
        .trim()
        .trim_start_matches("其中")
        .trim_start_matches(['：', ':']);
    enum_from(
        &FUNDS_SOURCE_NAMES,
        label,
        pb::FundsSource::from_str_name,
        "FUNDS_SOURCE_",
    )
    .unwrap_or(pb::FundsSource::Unspecified)
}

/// A scoring rule by its printed name; unspecified when it is none of them.
pub fn scoring_rule(text: &str) -> pb::ScoringRule {
    enum_from(
        &SCORING_RULE_NAMES,
        text.trim(),
        pb::ScoringRule::from_str_name,
        "SCORING_RULE_",
    )
    .unwrap_or(pb::ScoringRule::Unspecified)
}

/// A measure as the self-evaluation parser reads its printed form.
pub fn measure_of(raw: &str) -> Option<pb::Measure> {
    if raw.is_empty() {
        return None;
    }
    let parsed = Measure::parse(raw);
    let comparator = match parsed.comparator {
        Some(Comparator::Ge) => pb::Comparator::Ge,
        Some(Comparator::Le) => pb::Comparator::Le,
        Some(Comparator::Eq) => pb::Comparator::Eq,
        Some(Comparator::Gt) => pb::Comparator::Gt,
        Some(Comparator::Lt) => pb::Comparator::Lt,
        Some(Comparator::Qualitative) => pb::Comparator::Qualitative,
        None => pb::Comparator::Unspecified,
    };
    let mut measure = pb::Measure {
        raw: raw.to_owned(),
        comparator: comparator as i32,
        ..Default::default()
    };
    let number = |value: crate::domain::money::Value| {
        Some(pb::Decimal {
            value: value.to_string(),
        })
    };
    match parsed.value {
        Some(MeasureValue::Number { value, unit }) => {
            measure.kind = pb::MeasureKind::Number as i32;
            measure.number = number(value);
            measure.unit = unit;
        }
        Some(MeasureValue::Percent(value)) => {
            measure.kind = pb::MeasureKind::Percent as i32;
            measure.number = number(value);
            measure.unit = "%".into();
        }
        Some(MeasureValue::Duration { value, unit }) => {
            measure.kind = pb::MeasureKind::Duration as i32;
            measure.number = number(value);
            measure.unit = unit;
        }
        Some(MeasureValue::Date(date)) => {
            measure.kind = pb::MeasureKind::Date as i32;
            measure.date = match date.day {
                Some(day) => format!("{:04}-{:02}-{:02}", date.year, date.month, day),
                None => format!("{:04}-{:02}", date.year, date.month),
            };
        }
        Some(MeasureValue::Text(text)) => {
            measure.kind = pb::MeasureKind::Text as i32;
            measure.text = text;
        }
        None => {}
    }
    Some(measure)
}

/// The blocks of an evaluation sheet, each starting at `first_label`.
fn read_blocks(
    range: &Range<Data>,
    sheet: &str,
    first_label: &str,
    problems: &mut Vec<(String, String)>,
) -> Vec<Block> {
    let Some((last_row, _)) = range.end() else {
        return Vec::new();
    };
    let mut blocks: Vec<Block> = Vec::new();
    #[derive(PartialEq)]
    enum Part {
        Fields,
        Funds,
        Indicators,
    }
    let mut part = Part::Fields;
    for row in 0..=last_row {
        let first = cell(range, row, 0);
        let at = |column: u16| address(sheet, row, column);
        if first == first_label || blocks.is_empty() && !first.is_empty() {
            blocks.push(Block::default());
            part = Part::Fields;
        }
        let Some(block) = blocks.last_mut() else {
            continue;
        };
        if first == FUNDS_HEADERS[0] {
            part = Part::Funds;
            continue;
        }
        if first == INDICATOR_HEADERS[0] {
            part = Part::Indicators;
            continue;
        }
        let texts: Vec<String> = (0..13).map(|c| cell(range, row, c)).collect();
        if texts.iter().all(String::is_empty) {
            continue;
        }
        match part {
            Part::Fields => block.fields.push((first, texts[1].clone())),
            Part::Funds => {
                let source = enum_from(
                    &FUNDS_SOURCE_NAMES,
                    &texts[7],
                    pb::FundsSource::from_str_name,
                    "FUNDS_SOURCE_",
                );
                if source.is_none() && !texts[7].is_empty() {
                    problems.push((at(7), format!("{} is not a source of funds", texts[7])));
                }
                block.funds.push(pb::FundsRow {
                    source: source.unwrap_or(pb::FundsSource::Unspecified) as i32,
                    label: texts[0].clone(),
                    initial_budget: optional_decimal(&texts[1], at(1), problems),
                    full_year_budget: optional_decimal(&texts[2], at(2), problems),
                    executed: optional_decimal(&texts[3], at(3), problems),
                    weight: optional_decimal(&texts[4], at(4), problems),
                    execution_rate: optional_decimal(&texts[5], at(5), problems),
                    score: optional_decimal(&texts[6], at(6), problems),
                });
            }
            Part::Indicators => {
                let scoring = if texts[8].is_empty() {
                    Some(pb::ScoringRule::Unspecified)
                } else {
                    enum_from(
                        &SCORING_RULE_NAMES,
                        &texts[8],
                        pb::ScoringRule::from_str_name,
                        "SCORING_RULE_",
                    )
                };
                if scoring.is_none() {
                    problems.push((at(8), format!("{} is not a scoring rule", texts[8])));
                }
                block.indicators.push(pb::Indicator {
                    level1: texts[0].clone(),
                    level2: texts[1].clone(),
                    name: texts[2].clone(),
                    weight: optional_decimal(&texts[3], at(3), problems),
                    target: measure_of(&texts[4]),
                    actual: measure_of(&texts[5]),
                    completion_rate: optional_decimal(&texts[6], at(6), problems),
                    score: optional_decimal(&texts[7], at(7), problems),
                    scoring_rule: scoring.unwrap_or(pb::ScoringRule::Unspecified) as i32,
                    basis: texts[9].clone(),
                    last_year: texts[10].clone(),
                    evidence: texts[11].clone(),
                    deviation_reason: texts[12].clone(),
                });
            }
        }
    }
    blocks
}

/// The unit's evaluation, when its sheet states anything.
pub(super) fn read_unit(
    range: &Range<Data>,
    problems: &mut Vec<(String, String)>,
) -> Option<pb::UnitEvaluation> {
    let block = read_blocks(range, UNIT_SHEET, "年度目标", problems)
        .into_iter()
        .next()?;
    let mut total = Vec::new();
    let evaluation = pb::UnitEvaluation {
        goal_expected: block.field("年度目标"),
        goal_actual: block.field("实际完成情况"),
        total_score: optional_decimal(&block.field("总得分"), UNIT_SHEET.to_owned(), &mut total),
        funds: block.funds,
        indicators: block.indicators,
    };
    problems.extend(total);
    let empty = evaluation == pb::UnitEvaluation::default();
    (!empty).then_some(evaluation)
}

/// The projects' evaluations: each block with a project name.
pub(super) fn read_projects(
    range: &Range<Data>,
    problems: &mut Vec<(String, String)>,
) -> Vec<pb::ProjectEvaluation> {
    read_blocks(range, PROJECTS_SHEET, "项目名称", problems)
        .into_iter()
        .filter(|b| !b.field("项目名称").is_empty())
        .map(|block| {
            let mut found = Vec::new();
            let project = pb::ProjectEvaluation {
                name: block.field("项目名称"),
                supervising_department: block.field("主管部门"),
                implementing_unit: block.field("实施单位"),
                goal_expected: block.field("年度目标"),
                goal_actual: block.field("实际完成情况"),
                total_weight: optional_decimal(
                    &block.field("项目分值"),
                    PROJECTS_SHEET.to_owned(),
                    &mut found,
                ),
                total_score: optional_decimal(
                    &block.field("总得分"),
                    PROJECTS_SHEET.to_owned(),
                    &mut found,
                ),
                funds: block.funds,
                indicators: block.indicators,
            };
            problems.extend(found);
            project
        })
        .collect()
}
