//! `juesuan rules`: the rules of a fiscal year's taxonomy, listed or shown one by one.

use std::process::ExitCode;

use clap::Subcommand;

use super::{TaxonomyArgs, say, sayln};
use crate::domain::{ids::FiscalYear, rules::SeveritySpec, taxonomy::Taxonomy};

#[derive(Subcommand)]
pub enum RulesCommand {
    /// List the rules (id, severity, message) of every year, or of one.
    List {
        /// Only this fiscal year.
        #[arg(long)]
        year: Option<u32>,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
    /// Print the rules catalogue of a year as Markdown (docs/rules-<year>.md is this output).
    Catalogue {
        #[arg(long)]
        year: u32,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
    /// Show a rule: where it is defined and its text.
    Show {
        /// The rule's id, e.g. T01-BAL-001.
        id: String,
        /// The fiscal year (default: every year that has the rule).
        #[arg(long)]
        year: Option<u32>,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
}

pub fn severity_name(taxonomy: &Taxonomy, spec: SeveritySpec) -> String {
    match spec {
        SeveritySpec::Fixed(severity) => severity.name().to_owned(),
        SeveritySpec::Policy => format!(
            "{} (scoring policy)",
            taxonomy.rules.scoring.mismatch_severity.name()
        ),
    }
}

fn years(
    taxonomies: &crate::domain::taxonomy::Taxonomies,
    year: Option<u32>,
) -> Result<Vec<&Taxonomy>, String> {
    match year {
        None => Ok(taxonomies.iter().map(|t| t.as_ref()).collect()),
        Some(year) => {
            let year = FiscalYear::new(year).map_err(|e| e.to_string())?;
            let taxonomy = taxonomies.get(year).ok_or_else(|| {
                format!(
                    "there is no taxonomy for {year} (years: {})",
                    taxonomies.years_list()
                )
            })?;
            Ok(vec![taxonomy.as_ref()])
        }
    }
}

pub fn run(command: RulesCommand) -> Result<ExitCode, String> {
    match command {
        RulesCommand::List { year, taxonomy } => {
            let taxonomies = taxonomy.load()?;
            for taxonomy in years(&taxonomies, year)? {
                sayln!(
                    "# {} — {} rules",
                    taxonomy.fiscal_year,
                    taxonomy.rules.rules.len()
                );
                for rule in &taxonomy.rules.rules {
                    sayln!(
                        "{:<14} {:<9} {}",
                        rule.id,
                        severity_name(taxonomy, rule.severity),
                        rule.message.source
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Catalogue { year, taxonomy } => {
            let taxonomies = taxonomy.load()?;
            let selected = years(&taxonomies, Some(year))?;
            say!("{}", catalogue(selected[0]));
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Show { id, year, taxonomy } => {
            let taxonomies = taxonomy.load()?;
            let mut found = false;
            for taxonomy in years(&taxonomies, year)? {
                if let Some(rule) = taxonomy.rules.rule(&id) {
                    found = true;
                    sayln!(
                        "{} ({}, {}) — {}:{}{}",
                        rule.id,
                        taxonomy.fiscal_year,
                        severity_name(taxonomy, rule.severity),
                        taxonomy
                            .dir
                            .parent()
                            .unwrap_or(&taxonomy.dir)
                            .join(&rule.origin.file)
                            .display(),
                        rule.origin.line,
                        if rule.origin.generated {
                            " (generated)"
                        } else {
                            ""
                        }
                    );
                    sayln!("{}\n", rule.origin.text);
                }
            }
            if found {
                Ok(ExitCode::SUCCESS)
            } else {
                Err(format!("no rule {id}"))
            }
        }
    }
}

/// Escapes text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The rules of a year as a Markdown catalogue: counts, then every rule by file with its id, severity, message and
/// check, then the narrative checks and the scoring policy.
pub fn catalogue(taxonomy: &Taxonomy) -> String {
    use std::fmt::Write;
    let rules = &taxonomy.rules;
    let generated = rules.rules.iter().filter(|r| r.origin.generated).count();
    let declared = rules.rules.len() - generated;
    let narrative = rules.narrative.as_ref();
    let narrative_kinds = narrative.map_or(0, |n| n.kinds().len());
    let texts = rules.texts.as_ref();
    let text_kinds = texts.map_or(0, |t| t.kinds().len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Rules of fiscal year {} — {}\n",
        taxonomy.fiscal_year, taxonomy.name
    );
    let _ = writeln!(
        out,
        "Generated by `juesuan rules catalogue --year {}` from `taxonomy/{}/`; do not edit by hand (a test compares).\n",
        taxonomy.fiscal_year, taxonomy.fiscal_year
    );
    let _ = writeln!(
        out,
        "**{} rules**: {declared} declared, {generated} generated from the code lists (one per coded table), {narrative_kinds} kinds of narrative check and {text_kinds} checks of self-evaluation texts.\n",
        declared + generated + narrative_kinds + text_kinds
    );
    let mut by_severity = std::collections::BTreeMap::new();
    for rule in &rules.rules {
        *by_severity
            .entry(severity_name(taxonomy, rule.severity))
            .or_insert(0) += 1;
    }
    let kinds = narrative
        .map(|n| n.kinds().to_vec())
        .unwrap_or_default()
        .into_iter()
        .chain(texts.map(|t| t.kinds().to_vec()).unwrap_or_default());
    for kind in kinds {
        *by_severity
            .entry(kind.severity.name().to_owned())
            .or_insert(0) += 1;
    }
    let counts: Vec<String> = by_severity
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let _ = writeln!(out, "By severity: {}.\n", counts.join(", "));
    let _ = writeln!(
        out,
        "Severities: **error** blocks acceptance; **warning** needs a written explanation; **info** is advice; \
         *policy* is the scoring policy's `mismatch_severity`. Checks compare rounded figures by the intervals they \
         stand for (docs/rule-language.md).\n"
    );
    let mut current_file = "";
    for rule in &rules.rules {
        if rule.origin.file != current_file {
            current_file = &rule.origin.file;
            let _ = writeln!(out, "\n## `{current_file}`\n");
            let _ = writeln!(out, "| id | severity | message | check |");
            let _ = writeln!(out, "|---|---|---|---|");
        }
        let check = if rule.origin.generated {
            format!(
                "generated: `{}` · every given code equals the sum of the given codes of the nearest level below it, in every column",
                cell(rule.origin.text.lines().next().unwrap_or(""))
            )
        } else {
            let body: Vec<&str> = rule.origin.text.lines().skip(1).map(str::trim).collect();
            format!("`{}`", cell(&body.join(" ")))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            rule.id,
            severity_name(taxonomy, rule.severity),
            cell(&rule.message.source),
            check
        );
    }
    if let Some(n) = narrative {
        let _ = writeln!(out, "\n## Narrative checks (`narrative.toml`)\n");
        let _ = writeln!(
            out,
            "The figures the 公开说明 states are read from {} phrases, {} budget-variance statements and phrases generated from the code list ({} labels), and checked as follows.\n",
            n.phrases.len(),
            n.budget_variances.len(),
            n.generated.iter().map(|g| g.labels.len()).sum::<usize>()
        );
        let _ = writeln!(out, "| id | severity | what | message |");
        let _ = writeln!(out, "|---|---|---|---|");
        for kind in n.kinds() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                kind.id,
                kind.severity.name(),
                cell(&kind.description),
                cell(&kind.message)
            );
        }
    }
    if let Some(t) = texts {
        let _ = writeln!(
            out,
            "\n## Self-evaluation texts against their tables (`evaluation-texts.toml`)\n"
        );
        let _ = writeln!(
            out,
            "The quantities, rates, durations, dates and amounts the 年度目标 and 实际完成情况 texts and the deviation notes state are read and checked where they can be placed with certainty; a figure that cannot be is counted as not evaluated.\n"
        );
        let _ = writeln!(out, "| id | severity | what | message |");
        let _ = writeln!(out, "|---|---|---|---|");
        for kind in t.kinds() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                kind.id,
                kind.severity.name(),
                cell(&kind.description),
                cell(&kind.message)
            );
        }
    }
    let policy = &rules.scoring;
    let _ = writeln!(out, "\n## Scoring policy (`scoring.toml`)\n");
    let _ = writeln!(
        out,
        "- recomputed values that differ from the stated ones: **{}**",
        policy.mismatch_severity.name()
    );
    let _ = writeln!(
        out,
        "- scores are read to at least {} decimals",
        policy.score_decimals
    );
    let _ = writeln!(
        out,
        "- execution score out of {}: {:?}",
        policy.execution_weight, policy.execution
    );
    let _ = writeln!(
        out,
        "- a completion rate above the target is stated {:?}",
        policy.above_target
    );
    if !policy.equivalent_units.is_empty() {
        let groups: Vec<String> = policy
            .equivalent_units
            .iter()
            .map(|g| g.join(" = "))
            .collect();
        let _ = writeln!(out, "- units of the same measure: {}", groups.join("; "));
    }
    let _ = writeln!(
        out,
        "- 按照完成比例赋分: completion counted up to {}%; over a ≤ limit: {:?}",
        policy.completion_cap, policy.over_limit
    );
    let grades: Vec<String> = policy
        .grades
        .iter()
        .map(|(g, p)| format!("{g} {p}%"))
        .collect();
    let _ = writeln!(out, "- 按评判等级赋分 grades: {}", grades.join(", "));
    let _ = writeln!(
        out,
        "- 直接赋分 when not met: {}% of the weight",
        policy.direct_unmet
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::taxonomy::test_support;

    #[test]
    fn the_published_catalogues_are_up_to_date() {
        for year in [2024, 2025] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("docs/rules-{year}.md"));
            let published = std::fs::read_to_string(&path).unwrap_or_default();
            let current = catalogue(&test_support::year(year));
            assert!(
                published == current,
                "{} is stale: run `cargo run -- rules catalogue --year {year} > docs/rules-{year}.md`",
                path.display()
            );
        }
    }

    #[test]
    fn the_catalogue_counts_every_rule() {
        let taxonomy = test_support::year(2024);
        let text = catalogue(&taxonomy);
        let total = taxonomy.rules.ids().len();
        assert!(
            text.contains(&format!("**{total} rules**")),
            "{}",
            &text[..300]
        );
        for id in taxonomy.rules.ids() {
            assert!(text.contains(&format!("| {id} |")), "{id} missing");
        }
    }
}
