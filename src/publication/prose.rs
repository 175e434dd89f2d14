//! The 决算情况说明 written as prose: the year's sentence templates (`[prose]` of `publication.toml`) filled with
//! the figures the narrative checks read (the same phrases, evaluated the same way), so that what is written
//! passes those checks by construction. Each change on last year and each budget variance is followed by the
//! reason a person must write, as a visible 【请填写：…】.

use rust_decimal::Decimal;

use super::with_thousands;
use crate::domain::{
    disclosure::Disclosure,
    rules::{
        Context,
        draft::{StatedFigure, generated_figures, phrase_figure, variance_figures},
    },
    taxonomy::Taxonomy,
};

/// What a person writes after a change or a variance.
pub const REASON: &str = "主要原因是：【请填写：变动的主要原因】";
/// Said where last year's figures are not given.
pub const NO_LAST_YEAR: &str = "【请填写：与上年相比的增减额、增减率及主要原因】";

/// The figures of one section, for filling its templates.
pub struct Filler<'a> {
    pub taxonomy: &'a Taxonomy,
    pub disclosure: &'a Disclosure,
    pub context: Context<'a>,
    pub section: &'a str,
}

/// Why a template could not be filled: a placeholder the year does not define (a defect of the data, found by the
/// taxonomy's tests), or a figure the disclosure cannot give (the paragraph is left out).
#[derive(Debug, PartialEq, Eq)]
pub enum Unfilled {
    Unknown(String),
    NoFigure,
}

impl Filler<'_> {
    /// The paragraphs of `templates`, each filled; a paragraph whose figures are missing is left out.
    pub fn paragraphs(&self, templates: &[String]) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for template in templates {
            match self.fill(template) {
                Ok(paragraphs) => out.extend(paragraphs),
                Err(Unfilled::NoFigure) => {}
                Err(Unfilled::Unknown(name)) => {
                    return Err(format!(
                        "the prose of {} names {{{name}}}, which the year's narrative phrases do not define",
                        self.section
                    ));
                }
            }
        }
        Ok(out)
    }

    /// One template filled: one paragraph, or several for the code-list placeholders.
    pub fn fill(&self, template: &str) -> Result<Vec<String>, Unfilled> {
        match template.trim() {
            "{类结构}" => return Ok(self.class_lines()),
            "{项目明细}" => return Ok(self.item_lines()),
            _ => {}
        }
        let mut out = String::with_capacity(template.len() * 2);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| Unfilled::Unknown(after.to_owned()))?;
            out.push_str(&self.placeholder(&after[..close])?);
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(vec![out])
    }

    fn placeholder(&self, name: &str) -> Result<String, Unfilled> {
        match name {
            "year" => return Ok(self.taxonomy.fiscal_year.get().to_string()),
            "unit" => return Ok(self.disclosure.cover.unit_name.clone()),
            _ => {}
        }
        let (label, mode) = name.split_once(':').unwrap_or((name, ""));
        if mode == "预决算" {
            let variance = variance_figures(
                self.taxonomy,
                self.disclosure,
                self.context,
                self.section,
                label,
            )
            .ok_or_else(|| self.missing_or_unknown(label, true))?;
            let mut text = format!(
                "{}万元，决算数{}万元",
                with_thousands(&variance.budget.to_string()),
                with_thousands(&variance.actual.to_string())
            );
            match variance.rate() {
                Some(rate) => {
                    text.push_str(&format!("，预决算差异率{rate}%"));
                    if !rate.is_zero() {
                        text.push('，');
                        text.push_str(REASON);
                    }
                }
                None if !variance.actual.is_zero() => {
                    text.push_str("，年初未安排预算，");
                    text.push_str(REASON);
                }
                None => {}
            }
            return Ok(text);
        }
        let figure = phrase_figure(
            self.taxonomy,
            self.disclosure,
            self.context,
            self.section,
            label,
        )
        .ok_or_else(|| self.missing_or_unknown(label, false))?;
        match mode {
            "" => Ok(stated(&figure)),
            "比例" => share(&figure).ok_or(Unfilled::NoFigure),
            "增减" => Ok(change(&figure, "")),
            _ => Err(Unfilled::Unknown(name.to_owned())),
        }
    }

    /// A label the year defines whose figure is missing leaves its paragraph out; a label it does not define is
    /// a defect of the templates.
    fn missing_or_unknown(&self, label: &str, variance: bool) -> Unfilled {
        if is_defined(self.taxonomy, self.section, label, variance) {
            Unfilled::NoFigure
        } else {
            Unfilled::Unknown(label.to_owned())
        }
    }

    /// "1.文化旅游体育与传媒支出(类)7,057.75万元，占99.82%。" for each 类 the section names.
    fn class_lines(&self) -> Vec<String> {
        generated_figures(self.taxonomy, self.disclosure, self.context, self.section)
            .into_iter()
            .filter(|line| line.level == 1 && !line.figure.value.is_zero())
            .enumerate()
            .map(|(i, line)| {
                let mut text = format!("{}.{}{}", i + 1, line.label, stated(&line.figure));
                if let Some(share) = share(&line.figure) {
                    text.push_str(&format!("，占{share}"));
                }
                text.push('。');
                text
            })
            .collect()
    }

    /// "1.X(类)Y(款)Z(项):支出决算数为A万元，比上年决算增加B万元，增长C%，主要原因是：…。" for each of the
    /// section's lines at the deepest level.
    fn item_lines(&self) -> Vec<String> {
        let lines = generated_figures(self.taxonomy, self.disclosure, self.context, self.section);
        let deepest = lines.iter().map(|l| l.level).max().unwrap_or(0);
        lines
            .into_iter()
            .filter(|line| line.level == deepest)
            .enumerate()
            .map(|(i, line)| {
                format!(
                    "{}.{}:支出决算数为{}，{}。",
                    i + 1,
                    line.label,
                    stated(&line.figure),
                    change(&line.figure, "决算")
                )
            })
            .collect()
    }
}

/// Whether the year's narrative checks define the phrase (or, for `variance`, the budget variance) `label` in
/// `section`.
fn is_defined(taxonomy: &Taxonomy, section: &str, label: &str, variance: bool) -> bool {
    let normalized = crate::domain::rules::narrative::normalize(label);
    taxonomy.rules.narrative.as_ref().is_some_and(|n| {
        if variance {
            n.budget_variances
                .iter()
                .any(|v| v.section == section && v.label == normalized)
        } else {
            n.phrases
                .iter()
                .any(|p| p.section == section && p.label == normalized)
        }
    })
}

/// The placeholders of the year's prose that name no phrase, no variance and no mode it knows, as
/// "section: {placeholder}": empty for a year whose templates are sound.
pub fn undefined_placeholders(taxonomy: &Taxonomy) -> Vec<String> {
    let Some(publication) = &taxonomy.publication else {
        return Vec::new();
    };
    let mut undefined = Vec::new();
    for (section, templates) in &publication.prose {
        for template in templates {
            let mut rest = template.as_str();
            while let Some(open) = rest.find('{') {
                let after = &rest[open + 1..];
                let Some(close) = after.find('}') else {
                    undefined.push(format!("{section}: an unclosed {{"));
                    break;
                };
                let name = &after[..close];
                rest = &after[close + 1..];
                let (label, mode) = name.split_once(':').unwrap_or((name, ""));
                let known = match (label, mode) {
                    ("year" | "unit" | "类结构" | "项目明细", "") => true,
                    (_, "预决算") => is_defined(taxonomy, section, label, true),
                    (_, "" | "比例" | "增减") => is_defined(taxonomy, section, label, false),
                    _ => false,
                };
                if !known {
                    undefined.push(format!("{section}: {{{name}}}"));
                }
            }
        }
    }
    undefined
}

/// "8,190.84万元", "269人".
fn stated(figure: &StatedFigure) -> String {
    format!(
        "{}{}",
        with_thousands(&figure.value.to_string()),
        figure.unit
    )
}

/// "86.32%"; a zero figure of a zero base is 0.00%.
fn share(figure: &StatedFigure) -> Option<String> {
    match figure.share {
        Some(share) => Some(format!("{share}%")),
        None if figure.value.is_zero() => Some("0.00%".to_owned()),
        None => None,
    }
}

/// "比上年{noun}增加X万元，增长Y%，主要原因是：…", "与上年持平"; without last year's figure, a placeholder.
/// `noun` is what is compared ("决算" in "比上年决算增加"); empty, the sentence's own "与上年相比，" leads.
fn change(figure: &StatedFigure, noun: &str) -> String {
    let lead = if noun.is_empty() {
        String::new()
    } else {
        format!("比上年{noun}")
    };
    let Some(last) = figure.last_year else {
        return NO_LAST_YEAR.to_owned();
    };
    let difference = figure.value - last;
    if difference.is_zero() {
        return if noun.is_empty() {
            "持平".to_owned()
        } else {
            format!("与上年{noun}持平")
        };
    }
    let (more, grew) = if difference > Decimal::ZERO {
        ("增加", "增长")
    } else {
        ("减少", "下降")
    };
    let mut text = format!(
        "{lead}{more}{}{}",
        with_thousands(&difference.abs().to_string()),
        figure.unit
    );
    if !last.is_zero() {
        let rate = crate::domain::money::round_for_display(
            difference.abs() / last.abs() * Decimal::from(100),
            2,
        );
        text.push_str(&format!("，{grew}{rate}%"));
    }
    text.push('，');
    text.push_str(REASON);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(value: &str, last: Option<&str>) -> StatedFigure {
        StatedFigure {
            value: value.parse().unwrap(),
            unit: "万元".to_owned(),
            share: None,
            last_year: last.map(|l| l.parse().unwrap()),
        }
    }

    #[test]
    fn a_change_names_its_direction_and_rate_and_asks_for_the_reason() {
        assert_eq!(
            change(&figure("8597.83", Some("7377.16")), ""),
            format!("增加1,220.67万元，增长16.55%，{REASON}")
        );
        assert_eq!(
            change(&figure("438.05", Some("1008.66")), "决算"),
            format!("比上年决算减少570.61万元，下降56.57%，{REASON}")
        );
        assert_eq!(change(&figure("5.00", Some("5.00")), ""), "持平");
        assert_eq!(
            change(&figure("5.00", Some("0.00")), ""),
            format!("增加5.00万元，{REASON}"),
            "no rate on a zero base"
        );
        assert_eq!(change(&figure("5.00", None), ""), NO_LAST_YEAR);
    }

    #[test]
    fn every_placeholder_of_every_year_names_a_phrase_the_checks_read() {
        for year in [2024, 2025] {
            let taxonomy = crate::domain::taxonomy::test_support::year(year);
            let prose = &taxonomy.publication.as_ref().expect("publication").prose;
            assert!(prose.len() >= 12, "{year}: every section with figures");
            assert_eq!(undefined_placeholders(&taxonomy), Vec::<String>::new());
        }
    }

    #[test]
    fn a_share_of_a_zero_base_is_zero_only_for_a_zero_figure() {
        assert_eq!(share(&figure("0.00", None)).as_deref(), Some("0.00%"));
        assert_eq!(share(&figure("1.00", None)), None);
    }
}
