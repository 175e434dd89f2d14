//! The 公开说明 drafted from the figures: for each narrative section of the year, every figure the section's
//! phrases name (`narrative.toml`), written as the narrative checks read it — label, figure and unit, its share
//! when the phrase has a base, and its change on last year's accepted figures with the rate when they are known —
//! its budget variances (年初预算数, 决算数, 预决算差异率) when the budget is known, and a marked placeholder where a
//! person must write the reasons. The figures come from the same expressions
//! the checks evaluate, so a draft passes them by construction (a test holds it to that).

use rust_decimal::Decimal;

use super::{
    RuleSet,
    eval::{Context, evaluate_last_year, evaluate_number},
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
    let in_stated_unit = |value: Interval, unit: &str| -> Option<Interval> {
        if unit == "万元" && disclosure.cover.amount_unit == AmountUnit::Yuan {
            value.checked_div(&Interval::exact(Decimal::from(10_000)))
        } else {
            Some(value)
        }
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
            let (value, _) =
                evaluate_number(rules, taxonomy, disclosure, context, &phrase.value, false);
            let Some(value) = value.and_then(|v| in_stated_unit(v, &phrase.unit)) else {
                continue;
            };
            let scale = if WHOLE_UNITS.contains(&phrase.unit.as_str()) {
                0
            } else {
                2
            };
            let figure = round_for_display(value.nominal(), scale);
            let mut sentence = format!("{}{}{}", phrase.label, figure, phrase.unit);
            if let Some(base) = &phrase.share_of
                && let (Some(base), _) =
                    evaluate_number(rules, taxonomy, disclosure, context, base, false)
                && let Some(base) = in_stated_unit(base, &phrase.unit)
                && !base.nominal().is_zero()
                && let Some(share) =
                    (value.nominal() * Decimal::from(100)).checked_div(base.nominal())
            {
                sentence.push_str(&format!("，占{}%", round_for_display(share, 2)));
            }
            if let Some(last) = evaluate_last_year(rules, taxonomy, context, &phrase.value)
                .and_then(|v| in_stated_unit(v, &phrase.unit))
            {
                let last = round_for_display(last.nominal(), scale);
                let change = figure - last;
                if change.is_zero() {
                    sentence.push_str("，与上年持平");
                } else {
                    changed = true;
                    let (more, less) = ("增加", "减少");
                    sentence.push_str(&format!(
                        "，比上年{}{}{}",
                        if change > Decimal::ZERO { more } else { less },
                        change.abs(),
                        phrase.unit
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
            let figure = |expr| {
                evaluate_number(rules, taxonomy, disclosure, context, expr, false)
                    .0
                    .and_then(|v| in_stated_unit(v, "万元"))
                    .map(|v| round_for_display(v.nominal(), 2))
            };
            let (Some(budget), Some(actual)) = (figure(&variance.budget), figure(&variance.actual))
            else {
                continue;
            };
            let mut sentence = format!("{}{}万元，决算数{}万元", variance.label, budget, actual);
            if !budget.is_zero() {
                let rate = round_for_display((actual - budget) / budget * Decimal::from(100), 2);
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
