//! `juesuan rules`: the rules of a fiscal year's taxonomy, listed or shown one by one.

use std::process::ExitCode;

use clap::Subcommand;

use super::{TaxonomyArgs, say, sayln};
use crate::domain::{
    catalogue::{self, EntryKind},
    ids::FiscalYear,
    taxonomy::Taxonomy,
};

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
                let entries = catalogue::entries(taxonomy);
                sayln!(
                    "# {} — {}",
                    taxonomy.fiscal_year,
                    catalogue::summary(&entries)
                );
                // Ids are as wide as the longest, so that severities line up.
                let width = entries.iter().map(|e| e.id.len()).max().unwrap_or(0);
                for entry in &entries {
                    sayln!(
                        "{:<width$} {:<9} {}{}",
                        entry.id,
                        entry.severity,
                        entry.message,
                        entry
                            .inherited_from
                            .map(|y| format!("  (from {y})"))
                            .unwrap_or_default()
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
                let entries = catalogue::entries(taxonomy);
                for entry in catalogue::lookup(&entries, &id) {
                    found = true;
                    let root = taxonomy.dir.parent().unwrap_or(&taxonomy.dir);
                    let location = if matches!(entry.kind, EntryKind::BuiltIn) {
                        entry.location()
                    } else {
                        root.join(entry.location()).display().to_string()
                    };
                    sayln!(
                        "{} ({}, {}, {}) — {}{}",
                        entry.id,
                        taxonomy.fiscal_year,
                        entry.severity,
                        entry.kind.name(),
                        location,
                        entry
                            .inherited_from
                            .map(|y| format!(" (inherited from {y})"))
                            .unwrap_or_default()
                    );
                    if !matches!(entry.kind, EntryKind::Declared | EntryKind::Generated) {
                        sayln!("message: {}", entry.message);
                    }
                    sayln!("{}\n", entry.check);
                }
            }
            if found {
                Ok(ExitCode::SUCCESS)
            } else {
                Err(format!(
                    "no check {id} (`juesuan rules list` lists every id)"
                ))
            }
        }
    }
}

/// Escapes text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The checks of a year as a Markdown catalogue: counts, then every rule by file with its id, severity, message and
/// check, then the narrative checks, the self-evaluation text checks, the eliminations, the built-in checks and the
/// scoring policy. Counted from the one catalogue (`domain::catalogue`).
pub fn catalogue(taxonomy: &Taxonomy) -> String {
    use std::fmt::Write;
    let rules = &taxonomy.rules;
    let entries = catalogue::entries(taxonomy);
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
    let summary = catalogue::summary(&entries);
    let (count, rest) = summary.split_once(' ').unwrap_or((&summary, ""));
    let _ = writeln!(
        out,
        "**{count} {rest}**. Every id a finding can carry is one of them; `juesuan rules show ID` shows any (a family name such as `HIER` shows the family).\n"
    );
    let mut by_severity = std::collections::BTreeMap::new();
    for entry in &entries {
        *by_severity.entry(entry.severity.clone()).or_insert(0) += 1;
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
    for entry in entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Declared | EntryKind::Generated))
    {
        if entry.file != current_file {
            current_file = &entry.file;
            let inherited = entry
                .inherited_from
                .map(|y| format!(" — inherited from {y}"))
                .unwrap_or_default();
            let _ = writeln!(out, "\n## `{current_file}`{inherited}\n");
            let _ = writeln!(out, "| id | severity | message | check |");
            let _ = writeln!(out, "|---|---|---|---|");
        }
        let check = if entry.kind == EntryKind::Generated {
            format!(
                "generated: `{}` · every given code equals the sum of the given codes of the nearest level below it, in every column",
                cell(entry.check.lines().next().unwrap_or(""))
            )
        } else {
            let body: Vec<&str> = entry.check.lines().skip(1).map(str::trim).collect();
            format!("`{}`", cell(&body.join(" ")))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            entry.id,
            entry.severity,
            cell(&entry.message),
            check
        );
    }
    let section = |out: &mut String, kind: EntryKind, title: &str, intro: &str| {
        let of_kind: Vec<&catalogue::Entry> = entries.iter().filter(|e| e.kind == kind).collect();
        let Some(first) = of_kind.first() else {
            return;
        };
        let inherited = first
            .inherited_from
            .map(|y| format!(" — inherited from {y}"))
            .unwrap_or_default();
        // Checks in code live in several places: each says where.
        let built_in = kind == EntryKind::BuiltIn;
        if built_in {
            let _ = writeln!(out, "\n## {title}\n");
        } else {
            let _ = writeln!(out, "\n## {title} (`{}`){inherited}\n", first.file);
        }
        if !intro.is_empty() {
            let _ = writeln!(out, "{intro}\n");
        }
        if built_in {
            let _ = writeln!(out, "| id | severity | what | message | where |");
            let _ = writeln!(out, "|---|---|---|---|---|");
        } else {
            let _ = writeln!(out, "| id | severity | what | message |");
            let _ = writeln!(out, "|---|---|---|---|");
        }
        for entry in of_kind {
            let _ = write!(
                out,
                "| {} | {} | {} | {} |",
                entry.id,
                entry.severity,
                cell(&entry.check),
                cell(&entry.message)
            );
            if built_in {
                let _ = write!(out, " {} |", cell(&entry.file));
            }
            out.push('\n');
        }
    };
    let narrative_intro = rules.narrative.as_ref().map(|n| {
        format!(
            "The figures the 公开说明 states are read from {} phrases, {} budget-variance statements and phrases generated from the code list ({} labels), and checked as follows.",
            n.phrases.len(),
            n.budget_variances.len(),
            n.generated.iter().map(|g| g.labels.len()).sum::<usize>()
        )
    });
    section(
        &mut out,
        EntryKind::Narrative,
        "Narrative checks",
        narrative_intro.as_deref().unwrap_or(""),
    );
    section(
        &mut out,
        EntryKind::Text,
        "Self-evaluation texts against their tables",
        "The quantities, rates, durations, dates and amounts the 年度目标 and 实际完成情况 texts and the deviation notes state are read and checked where they can be placed with certainty; a figure that cannot be is counted as not evaluated.",
    );
    section(
        &mut out,
        EntryKind::Elimination,
        "Eliminations of consolidation",
        "Found when a consolidation is read, at each payer: a department (or unit) whose transfers with the units it pays disagree.",
    );
    section(
        &mut out,
        EntryKind::BuiltIn,
        "Built in",
        "Checks written in code rather than in a year's files.",
    );
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
    fn the_catalogue_counts_every_check() {
        for year in [2024, 2025] {
            let taxonomy = test_support::year(year);
            let text = catalogue(&taxonomy);
            let entries = crate::domain::catalogue::entries(&taxonomy);
            assert!(
                text.contains(&format!("**{} checks:", entries.len())),
                "{}",
                &text[..300]
            );
            for entry in &entries {
                assert!(
                    text.contains(&format!("| {} |", entry.id)),
                    "{} missing",
                    entry.id
                );
            }
        }
    }

    /// The README states each year's count; it is the catalogue's.
    #[test]
    fn the_readme_states_the_catalogues_counts() {
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"),
        )
        .unwrap();
        for year in [2024, 2025] {
            let count = crate::domain::catalogue::entries(&test_support::year(year)).len();
            let stated = format!("{count} checks for {year}");
            assert!(
                readme.contains(&stated),
                "README.md should say \"{stated}\" (the catalogue's count)"
            );
        }
    }
}
