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
