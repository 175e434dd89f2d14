//! The 公开说明 drafted from the figures: for each narrative section of the year, every figure the section's
//! phrases name (`narrative.toml`), written as the narrative checks read it — label, figure and unit, its share
//! when the phrase has a base, and its change on last year's accepted figures with the rate when they are known —
//! its budget variances (年初预算数, 决算数, 预决算差异率) when the budget is known, and a marked placeholder where a
//! person must write the reasons. The figures come from the same expressions
//! the checks evaluate, so a draft passes them by construction (a test holds it to that).

use rust_decimal::Decimal;

use super::{
    RuleSet,
    ast::{CellRef, ColSel, Expr, RowSel, TableRef},
    eval::{Context, evaluate_last_year, evaluate_number},
    narrative::{Phrase, normalize},
};
use crate::domain::{
    disclosure::{AmountUnit, Disclosure, NarrativeSection},
    money::{Interval, round_for_display},
    taxonomy::Taxonomy,
};

/// Where a person must write: the drafter states figures, never reasons.
pub const PLACEHOLDER: &str = "【请填写：变动的主要原因】";

/// Units stated as whole numbers (people, trips, batches, vehicles, offices).
const WHOLE_UNITS: [&str; 6] = ["人", "人次", "批次", "辆", "个", "台(套)"];

/// A figure a narrative phrase names, as a drafter states it: rounded to its unit's places (whole people, trips
/// and vehicles; two places otherwise), in the unit the phrase states (万元 of a disclosure kept in 元 divided).
#[derive(Debug, Clone, PartialEq)]
pub struct StatedFigure {
    pub value: Decimal,
    pub unit: String,
    /// The share of the phrase's base in per cent, two places; `None` without a base or on a zero base.
    pub share: Option<Decimal>,
    /// Last year's figure, rounded the same way, when last year's disclosure is known.
    pub last_year: Option<Decimal>,
}

/// A budget variance's two figures, in 万元 to two places.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatedVariance {
    pub budget: Decimal,
    pub actual: Decimal,
}

impl StatedVariance {
    /// (决算数 − 预算数) ÷ 预算数 in per cent, two places; `None` on a zero budget.
    pub fn rate(&self) -> Option<Decimal> {
        (!self.budget.is_zero()).then(|| {
            round_for_display(
                (self.actual - self.budget) / self.budget * Decimal::from(100),
                2,
            )
        })
    }
}

/// The figure of the phrase of `section` labelled `label` (compared after normalizing punctuation), or `None`
/// when the year has no such phrase or the disclosure cannot give its figure.
pub fn phrase_figure(
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    context: Context<'_>,
    section: &str,
    label: &str,
) -> Option<StatedFigure> {
    let rules: &RuleSet = &taxonomy.rules;
    let label = normalize(label);
    let phrase = rules
        .narrative
        .as_ref()?
        .phrases
        .iter()
        .find(|p| p.section == section && p.label == label)?;
    stated_figure(taxonomy, disclosure, context, phrase)
}

/// The budget and final figures of the budget variance of `section` labelled `label`.
pub fn variance_figures(
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    context: Context<'_>,
    section: &str,
    label: &str,
) -> Option<StatedVariance> {
    let rules: &RuleSet = &taxonomy.rules;
    let label = normalize(label);
    let variance = rules
        .narrative
        .as_ref()?
        .budget_variances
        .iter()
        .find(|v| v.section == section && v.label == label)?;
    let figure = |expr| {
        evaluate_number(rules, taxonomy, disclosure, context, expr, false)
            .0
            .and_then(|v| in_stated_unit(disclosure, v, "万元"))
            .map(|v| round_for_display(v.nominal(), 2))
    };
    Some(StatedVariance {
        budget: figure(&variance.budget)?,
        actual: figure(&variance.actual)?,
    })
}

/// A line of a code list a section states by name ("文化旅游体育与传媒支出(类)新闻出版电影(款)出版发行(项)"),
/// with its figure from the table the narrative checks read it against.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedFigure {
    /// As the checks read it: every level from 类 down, each with its marker.
    pub label: String,
    pub code: String,
    /// 1 for 类, 2 for 款, 3 for 项.
    pub level: u8,
    pub figure: StatedFigure,
}

/// The lines of `section` named from a code list, in code order: those whose figure, or last year's, is not
/// zero (a line with nothing this year or last has nothing to say).
pub fn generated_figures(
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    context: Context<'_>,
    section: &str,
) -> Vec<GeneratedFigure> {
    let Some(checks) = &taxonomy.rules.narrative else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for generated in checks.generated.iter().filter(|g| g.section == section) {
        let Some(list) = taxonomy.code_list_of(&taxonomy.tables[generated.table]) else {
            continue;
        };
        for (label, code) in &generated.labels {
            let Some(entry) = list.get(code) else {
                continue;
            };
            let phrase = Phrase {
                section: section.to_owned(),
                label: label.clone(),
                value: Expr::Cell(CellRef {
                    table: TableRef::Table(generated.table),
                    rows: RowSel::Code(code.clone()),
                    col: ColSel::Index(generated.column),
                }),
                unit: "万元".to_owned(),
                share_of: generated.share_of.clone(),
                budget: None,
                line: 0,
            };
            let Some(figure) = stated_figure(taxonomy, disclosure, context, &phrase) else {
                continue;
            };
            if figure.value.is_zero() && figure.last_year.is_none_or(|last| last.is_zero()) {
                continue;
            }
            lines.push(GeneratedFigure {
                label: label.clone(),
                code: code.clone(),
                level: entry.level,
                figure,
            });
        }
    }
    lines.sort_by(|a, b| a.code.cmp(&b.code));
    lines
}

/// A figure in the unit a phrase states: amounts kept in 元 are stated in 万元.
fn in_stated_unit(disclosure: &Disclosure, value: Interval, unit: &str) -> Option<Interval> {
    if unit == "万元" && disclosure.cover.amount_unit == AmountUnit::Yuan {
        value.checked_div(&Interval::exact(Decimal::from(10_000)))
    } else {
        Some(value)
    }
}

fn stated_figure(
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    context: Context<'_>,
    phrase: &Phrase,
) -> Option<StatedFigure> {
    let rules: &RuleSet = &taxonomy.rules;
    let (value, _) = evaluate_number(rules, taxonomy, disclosure, context, &phrase.value, false);
    let value = in_stated_unit(disclosure, value?, &phrase.unit)?;
    let scale = if WHOLE_UNITS.contains(&phrase.unit.as_str()) {
        0
    } else {
        2
    };
    let share = phrase.share_of.as_ref().and_then(|base| {
        let (base, _) = evaluate_number(rules, taxonomy, disclosure, context, base, false);
        let base = in_stated_unit(disclosure, base?, &phrase.unit)?;
        if base.nominal().is_zero() {
            return None;
        }
        (value.nominal() * Decimal::from(100))
            .checked_div(base.nominal())
            .map(|share| round_for_display(share, 2))
    });
    let last_year = evaluate_last_year(rules, taxonomy, context, &phrase.value)
        .and_then(|v| in_stated_unit(disclosure, v, &phrase.unit))
        .map(|last| round_for_display(last.nominal(), scale));
    Some(StatedFigure {
        value: round_for_display(value.nominal(), scale),
        unit: phrase.unit.clone(),
        share,
        last_year,
    })
}

/// The narrative sections of the disclosure's year, drafted from its figures (and last year's accepted figures in
/// `context`, for the changes). Sections whose phrases name no figure the disclosure has are left out.
pub fn draft_narrative(
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    context: Context<'_>,
) -> Vec<NarrativeSection> {
    let rules: &RuleSet = &taxonomy.rules;
    let Some(checks) = &rules.narrative else {
        return Vec::new();
    };
    let mut sections = Vec::new();
    for section in &taxonomy.narrative {
        let mut sentences = Vec::new();
        let mut changed = false;
        let mut stated: Vec<&super::ast::Expr> = Vec::new();
        for phrase in checks.phrases.iter().filter(|p| p.section == section.key) {
            // Other labels of a figure already stated (a phrase list names each figure in every wording the
            // checks accept) would only repeat it.
            if stated.contains(&&phrase.value) {
                continue;
            }
            let Some(stated_figure) = stated_figure(taxonomy, disclosure, context, phrase) else {
                continue;
            };
            let StatedFigure {
                value: figure,
                unit,
                share,
                last_year,
            } = stated_figure;
            let mut sentence = format!("{}{}{}", phrase.label, figure, unit);
            if let Some(share) = share {
                sentence.push_str(&format!("，占{share}%"));
            }
            if let Some(last) = last_year {
                let change = figure - last;
                if change.is_zero() {
                    sentence.push_str("，与上年持平");
                } else {
                    changed = true;
                    sentence.push_str(&format!(
                        "，比上年{}{}{}",
                        if change > Decimal::ZERO {
                            "增加"
                        } else {
                            "减少"
                        },
                        change.abs(),
                        unit
                    ));
                    if !last.is_zero() {
                        let rate = round_for_display(change / last * Decimal::from(100), 2);
                        sentence.push_str(&format!(
                            "，{}{}%",
                            if rate > Decimal::ZERO {
                                "增长"
                            } else {
                                "下降"
                            },
                            rate.abs()
                        ));
                    }
                }
            }
            stated.push(&phrase.value);
            sentences.push(sentence);
        }
        // 预决算差异: the budget (the budget system's, or the table's budget column) against the final figure.
        for variance in checks
            .budget_variances
            .iter()
            .filter(|v| v.section == section.key)
        {
            let Some(StatedVariance { budget, actual }) =
                variance_figures(taxonomy, disclosure, context, &section.key, &variance.label)
            else {
                continue;
            };
            let mut sentence = format!("{}{}万元，决算数{}万元", variance.label, budget, actual);
            if let Some(rate) = (StatedVariance { budget, actual }).rate() {
                sentence.push_str(&format!("，预决算差异率{rate}%"));
                if !rate.is_zero() {
                    changed = true;
                }
            }
            sentences.push(sentence);
        }
        if sentences.is_empty() {
            continue;
        }
        let mut text = sentences.join("；");
        text.push('。');
        if changed {
            text.push_str(PLACEHOLDER);
            text.push('。');
        }
        sections.push(NarrativeSection {
            key: section.key.clone(),
            title: section.title.clone(),
            text,
        });
    }
    sections
}
