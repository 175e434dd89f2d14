//! The performance self-evaluations a published document carries as attachments (单位整体支出绩效自评表, 项目支出
//! 绩效自评表), read back from its tables: each table found by its title, its funds, goals and indicators by their
//! column headers (provinces word and order the columns differently), merged 一级/二级指标 carried down. What is
//! read goes through the same conversion and rules as a submitted self-evaluation.

use crate::{
    domain::{
        evaluation::{Evaluation, ScoringRule},
        money::Value,
    },
    pb,
    workbook::evaluations::{funds_source, measure_of, scoring_rule},
};

/// A self-evaluation as units attach it to the document, in the layout [`read`] reads: the title and the year,
/// the unit or project, the funds, the goals, the indicators and the 总分.
pub fn sheet(evaluation: &Evaluation, unit_name: &str, year: u32) -> Vec<Vec<String>> {
    let shown = |value: Option<Value>| value.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |cells: &[&str]| rows.push(cells.iter().map(|c| (*c).to_owned()).collect());
    match &evaluation.project {
        Some(name) => {
            row(&["项目支出绩效自评表"]);
            row(&[&format!("（{year}年度）")]);
            row(&["项目名称", name]);
            row(&["实施单位", unit_name]);
        }
        None => {
            row(&["单位整体支出绩效自评表"]);
            row(&[&format!("（{year}年度）")]);
            row(&["单位名称", unit_name]);
        }
    }
    row(&[
        "资金（万元）",
        "资金来源",
        "年初预算数",
        "全年预算数",
        "全年执行数",
        "分值权重",
        "执行率",
        "得分",
    ]);
    for funds in &evaluation.funds {
        rows.push(vec![
            String::new(),
            funds.label.clone(),
            shown(funds.initial_budget),
            shown(funds.full_year_budget),
            shown(funds.executed),
            shown(funds.weight),
            funds
                .execution_rate
                .map_or_else(|| "-".to_owned(), |v| format!("{v}%")),
            shown(funds.score),
        ]);
    }
    let mut row = |cells: Vec<String>| rows.push(cells);
    row(vec![
        "年度总体目标".into(),
        "预期目标".into(),
        "实际完成情况".into(),
    ]);
    row(vec![
        String::new(),
        evaluation.goal_expected.clone(),
        evaluation.goal_actual.clone(),
    ]);
    row([
        "一级指标",
        "二级指标",
        "三级指标",
        "分值权重",
        "预期指标值",
        "实际完成指标值",
        "完成率",
        "得分",
        "赋分规则",
        "偏差原因分析及改进措施",
    ]
    .map(str::to_owned)
    .to_vec());
    for indicator in &evaluation.indicators {
        row(vec![
            indicator.level1.clone(),
            indicator.level2.clone(),
            indicator.name.clone(),
            shown(indicator.weight),
            indicator
                .target
                .as_ref()
                .map_or_else(String::new, |m| m.raw.clone()),
            indicator
                .actual
                .as_ref()
                .map_or_else(String::new, |m| m.raw.clone()),
            indicator
                .completion_rate
                .map_or_else(String::new, |v| format!("{v}%")),
            shown(indicator.score),
            match indicator.scoring_rule {
                Some(ScoringRule::Proportional) => "按照完成比例赋分",
                Some(ScoringRule::Graded) => "按评判等级赋分",
                Some(ScoringRule::Direct) => "直接赋分",
                Some(ScoringRule::Satisfaction) => "满意度赋分",
                None => "",
            }
            .to_owned(),
            indicator.deviation_reason.clone(),
        ]);
    }
    if evaluation.total_weight.is_some() || evaluation.total_score.is_some() {
        let mut total = vec!["总分".to_owned()];
        total.extend(evaluation.total_weight.map(|v| v.to_string()));
        total.extend(evaluation.total_score.map(|v| v.to_string()));
        row(total);
    }
    rows
}

/// The unit's evaluation and the projects', in document order.
#[derive(Debug, Default, PartialEq)]
pub struct ReadEvaluations {
    pub unit: Option<pb::UnitEvaluation>,
    pub projects: Vec<pb::ProjectEvaluation>,
}

/// What part of an evaluation the rows being read belong to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Fields,
    Funds,
    Goals,
    Indicators,
}

/// One evaluation being read.
#[derive(Default)]
struct Block {
    project: bool,
    fields: Vec<(String, String)>,
    funds: Vec<pb::FundsRow>,
    goal_expected: String,
    goal_actual: String,
    indicators: Vec<pb::Indicator>,
    total_weight: Option<pb::Decimal>,
    total_score: Option<pb::Decimal>,
}

/// A printed figure as a decimal: "5,526.10" → 5526.10, "92.73%" → 92.73, "99.79分" → 99.79; "-", "—" and
/// blanks are nothing.
fn decimal(text: &str) -> Option<pb::Decimal> {
    let cleaned: String = text
        .trim()
        .trim_end_matches(['%', '分'])
        .chars()
        .filter(|c| *c != ',')
        .collect();
    cleaned
        .parse::<rust_decimal::Decimal>()
        .ok()
        .map(|_| pb::Decimal { value: cleaned })
}

/// The column whose header is one of `names`.
fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.replace(' ', "") == *n))
}

/// The self-evaluations in `tables` (each a table's rows, in document order).
pub fn read(tables: &[&Vec<Vec<String>>]) -> ReadEvaluations {
    let mut blocks: Vec<Block> = Vec::new();
    let mut part = Part::Fields;
    let mut header: Vec<String> = Vec::new();
    let (mut level1, mut level2) = (String::new(), String::new());
    for row in tables.iter().flat_map(|t| t.iter()) {
        let joined: String = row.concat();
        if joined.contains("支出绩效自评表") {
            blocks.push(Block {
                project: joined.contains("项目"),
                ..Default::default()
            });
            part = Part::Fields;
            continue;
        }
        let Some(block) = blocks.last_mut() else {
            continue;
        };
        let has = |word: &str| row.iter().any(|c| c.replace(' ', "") == word);
        if has("全年预算数") && has("全年执行数") {
            part = Part::Funds;
            header = row.clone();
            continue;
        }
        if has("预期目标") && has("实际完成情况") {
            part = Part::Goals;
            header = row.clone();
            continue;
        }
        if has("一级指标") && has("三级指标") {
            part = Part::Indicators;
            header = row.clone();
            level1.clear();
            level2.clear();
            continue;
        }
        let first = row
            .iter()
            .find(|c| !c.is_empty())
            .cloned()
            .unwrap_or_default();
        if first.starts_with("总分") || first == "总得分" {
            let figures: Vec<pb::Decimal> = row.iter().skip(1).filter_map(|c| decimal(c)).collect();
            match figures.as_slice() {
                [weight, score, ..] => {
                    block.total_weight = Some(weight.clone());
                    block.total_score = Some(score.clone());
                }
                [score] => block.total_score = Some(score.clone()),
                [] => {}
            }
            part = Part::Fields;
            continue;
        }
        let cell = |names: &[&str]| {
            column(&header, names)
                .and_then(|i| row.get(i))
                .cloned()
                .unwrap_or_default()
        };
        match part {
            Part::Fields => {
                // Label and value pairs: 项目名称 | X, 主管部门 | Y | 实施单位 | Z.
                let mut cells = row.iter();
                while let Some(label) = cells.next() {
                    if matches!(
                        label.as_str(),
                        "单位名称" | "项目名称" | "主管部门" | "实施单位"
                    ) && let Some(value) = cells.next()
                    {
                        block.fields.push((label.clone(), value.clone()));
                    }
                }
            }
            Part::Funds => {
                // The label is in the column under 资金来源, else the first non-empty one after the first.
                let label = match column(&header, &["资金来源"]) {
                    Some(i) => row.get(i).cloned().unwrap_or_default(),
                    None => row
                        .iter()
                        .skip(1)
                        .find(|c| !c.is_empty())
                        .cloned()
                        .unwrap_or_default(),
                };
                if label.is_empty() {
                    continue;
                }
                block.funds.push(pb::FundsRow {
                    source: funds_source(&label) as i32,
                    label,
                    initial_budget: decimal(&cell(&["年初预算数"])),
                    full_year_budget: decimal(&cell(&["全年预算数"])),
                    executed: decimal(&cell(&["全年执行数"])),
                    weight: decimal(&cell(&["分值权重", "分值", "权重"])),
                    execution_rate: decimal(&cell(&["执行率"])),
                    score: decimal(&cell(&["得分"])),
                });
            }
            Part::Goals => {
                let expected = cell(&["预期目标"]);
                let actual = cell(&["实际完成情况"]);
                if !expected.is_empty() || !actual.is_empty() {
                    block.goal_expected = expected;
                    block.goal_actual = actual;
                }
            }
            Part::Indicators => {
                let name = cell(&["三级指标"]);
                if name.is_empty() {
                    continue;
                }
                let one = cell(&["一级指标"]);
                let two = cell(&["二级指标"]);
                if !one.is_empty() {
                    level1 = one;
                }
                if !two.is_empty() {
                    level2 = two;
                }
                block.indicators.push(pb::Indicator {
                    level1: level1.clone(),
                    level2: level2.clone(),
                    name,
                    weight: decimal(&cell(&["分值权重", "权重", "分值"])),
                    target: measure_of(&cell(&["预期指标值", "目标值", "年度指标值"])),
                    actual: measure_of(&cell(&["实际完成指标值", "业绩值", "实际完成值"])),
                    completion_rate: decimal(&cell(&["完成率"])),
                    score: decimal(&cell(&["得分", "指标得分"])),
                    scoring_rule: scoring_rule(&cell(&["赋分规则", "评分规则"])) as i32,
                    basis: cell(&["指标值设定依据"]),
                    last_year: cell(&["上年完成情况", "上年指标值"]),
                    evidence: cell(&["佐证资料", "佐证材料"]),
                    deviation_reason: cell(&["偏差原因分析及改进措施", "偏差原因"]),
                });
            }
        }
    }
    let mut read = ReadEvaluations::default();
    for block in blocks {
        let field = |name: &str| {
            block
                .fields
                .iter()
                .find(|(label, _)| label == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        if block.project {
            read.projects.push(pb::ProjectEvaluation {
                name: field("项目名称"),
                supervising_department: field("主管部门"),
                implementing_unit: field("实施单位"),
                funds: block.funds,
                goal_expected: block.goal_expected,
                goal_actual: block.goal_actual,
                indicators: block.indicators,
                total_weight: block.total_weight,
                total_score: block.total_score,
            });
        } else if read.unit.is_none() {
            read.unit = Some(pb::UnitEvaluation {
                funds: block.funds,
                goal_expected: block.goal_expected,
                goal_actual: block.goal_actual,
                indicators: block.indicators,
                total_score: block.total_score,
            });
        }
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[&[&str]]) -> Vec<Vec<String>> {
        text.iter()
            .map(|r| r.iter().map(|c| (*c).to_owned()).collect())
            .collect()
    }

    #[test]
    fn a_project_sheet_is_read_by_its_headers_with_levels_carried_down() {
        let table = rows(&[
            &["项目支出绩效自评表"],
            &["项目名称", "为民办实事"],
            &["主管部门", "宣传部", "实施单位", "融媒体中心"],
            &[
                "项目资金（万元）",
                "",
                "年初预算数",
                "全年预算数",
                "全年执行数",
                "分值",
                "执行率",
                "得分",
            ],
            &[
                "",
                "年度资金总额",
                "7.09",
                "7.09",
                "7.09",
                "10",
                "100.00%",
                "10.00",
            ],
            &[
                "",
                "其中：当年财政拨款",
                "7.09",
                "7.09",
                "7.09",
                "—",
                "—",
                "—",
            ],
            &["年度总体目标", "预期目标", "实际完成情况"],
            &["", "慰问不少于20人", "已完成"],
            &[
                "",
                "一级指标",
                "二级指标",
                "三级指标",
                "权重",
                "目标值",
                "业绩值",
                "完成率",
                "指标得分",
                "赋分规则",
            ],
            &[
                "年度绩效指标",
                "产出指标",
                "数量指标",
                "办事数量",
                "10",
                ">=10件",
                "=10件",
                "100%",
                "10",
                "按照完成比例赋分",
            ],
            &[
                "",
                "",
                "",
                "联络办公室",
                "10",
                "=1个",
                "=1个",
                "100%",
                "10",
                "按照完成比例赋分",
            ],
            &["总分", "100", "", "", "", "99.79分"],
        ]);
        let read = read(&[&table]);
        assert!(read.unit.is_none());
        let project = &read.projects[0];
        assert_eq!(project.name, "为民办实事");
        assert_eq!(project.implementing_unit, "融媒体中心");
        assert_eq!(project.funds.len(), 2);
        assert_eq!(project.funds[0].source, pb::FundsSource::Total as i32);
        assert_eq!(
            project.funds[1].source,
            pb::FundsSource::CurrentAppropriation as i32
        );
        assert_eq!(
            project.funds[0].execution_rate.as_ref().unwrap().value,
            "100.00"
        );
        assert_eq!(project.funds[1].weight, None);
        assert_eq!(project.goal_expected, "慰问不少于20人");
        assert_eq!(project.indicators.len(), 2);
        assert_eq!(project.indicators[1].level2, "数量指标", "carried down");
        assert_eq!(project.indicators[0].target.as_ref().unwrap().raw, ">=10件");
        assert_eq!(
            project.indicators[0].scoring_rule,
            pb::ScoringRule::Proportional as i32
        );
        assert_eq!(project.total_score.as_ref().unwrap().value, "99.79");
        assert_eq!(project.total_weight.as_ref().unwrap().value, "100");
    }
}
