//! `juesuan taxonomy codes …`: a year's classification code lists loaded from the lists finance departments
//! distribute (`import`), compared between years (`diff`) and written in their layout (`export`).

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Subcommand, ValueEnum};

use super::{TaxonomyArgs, sayln};
use crate::{
    domain::{
        ids::FiscalYear,
        taxonomy::{
            Taxonomies, Taxonomy,
            codes::{CodeList, ListDiff, build_list, diff},
            files::TaxonomyFiles,
        },
    },
    workbook::code_list,
};

#[derive(Subcommand)]
pub enum TaxonomyCommand {
    /// The classification code lists of a year: load the ministry's, compare two years, write one out.
    #[command(subcommand)]
    Codes(CodesCommand),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// 支出功能分类科目 (类 3 digits, 款 5, 项 7).
    Functional,
    /// 部门预算支出经济分类科目 (类 3 digits, 款 5).
    Economic,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Functional => "functional",
            Kind::Economic => "economic",
        }
    }
}

#[derive(Subcommand)]
pub enum CodesCommand {
    /// Read a code list as the ministry or a provincial finance department distributes it (an Excel or CSV sheet
    /// of 科目编码 and 科目名称, or the code split in 类/款/项 columns; indentation and "其中" are read), check it
    /// (every code well formed, given once, under a parent), print what it adds, removes and renames against the
    /// year's list, and write a taxonomy tree with it to use with --taxonomy-dir. Nothing is written when the
    /// list has a problem.
    Import {
        /// The list: .xlsx, .xls, .ods, .csv or .tsv.
        file: PathBuf,
        #[arg(long)]
        year: u32,
        #[arg(long, value_enum, default_value_t = Kind::Functional)]
        kind: Kind,
        /// Where to write the taxonomy tree (every year of the source tree, this year's list replaced).
        #[arg(short = 'o', long, default_value = "taxonomy-imported")]
        output: PathBuf,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
    /// What changed between two years' lists: codes added, removed (with what replaced them) and renamed.
    Diff {
        from: u32,
        to: u32,
        #[arg(long, value_enum, default_value_t = Kind::Functional)]
        kind: Kind,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
    /// Write a year's list in the ministry's layout (.xlsx; --split for 类/款/项 columns).
    Export {
        #[arg(long)]
        year: u32,
        #[arg(long, value_enum, default_value_t = Kind::Functional)]
        kind: Kind,
        #[arg(long)]
        split: bool,
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
}

pub fn run(command: TaxonomyCommand) -> Result<ExitCode, String> {
    let TaxonomyCommand::Codes(command) = command;
    match command {
        CodesCommand::Import {
            file,
            year,
            kind,
            output,
            taxonomy,
        } => import(&file, year, kind, &output, &taxonomy),
        CodesCommand::Diff {
            from,
            to,
            kind,
            taxonomy,
        } => {
            let taxonomies = taxonomy.load()?;
            let (old, new) = (
                list_of(&taxonomies, from, kind)?,
                list_of(&taxonomies, to, kind)?,
            );
            let changes = diff(old, new);
            sayln!("{} {from} → {to}:", new.name);
            print_diff(&changes);
            Ok(ExitCode::SUCCESS)
        }
        CodesCommand::Export {
            year,
            kind,
            split,
            output,
            taxonomy,
        } => {
            let taxonomies = taxonomy.load()?;
            let list = list_of(&taxonomies, year, kind)?;
            let bytes = code_list::write_list(list, split)
                .map_err(|e| format!("cannot write the list: {e}"))?;
            std::fs::write(&output, bytes)
                .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            sayln!(
                "{} of {year}: {} codes written to {}",
                list.name,
                list.entries().len(),
                output.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn year_of(year: u32) -> Result<FiscalYear, String> {
    FiscalYear::new(year).map_err(|e| e.to_string())
}

fn taxonomy_of(taxonomies: &Taxonomies, year: u32) -> Result<&Taxonomy, String> {
    taxonomies
        .get(year_of(year)?)
        .map(|t| t.as_ref())
        .ok_or_else(|| {
            format!(
                "there is no taxonomy for {year} (years: {})",
                taxonomies.years_list()
            )
        })
}

fn list_of(taxonomies: &Taxonomies, year: u32, kind: Kind) -> Result<&CodeList, String> {
    taxonomy_of(taxonomies, year)?
        .code_lists
        .get(kind.key())
        .ok_or_else(|| format!("the {year} taxonomy has no {} code list", kind.key()))
}

fn print_diff(changes: &ListDiff) {
    sayln!(
        "  {} added, {} removed, {} renamed",
        changes.added.len(),
        changes.removed.len(),
        changes.renamed.len()
    );
    for (code, name) in &changes.added {
        sayln!("  + {code} {name}");
    }
    for (code, name, replacement) in &changes.removed {
        match replacement {
            Some(r) => sayln!("  - {code} {name} (replaced by {r})"),
            None => sayln!("  - {code} {name}"),
        }
    }
    for (code, old, new) in &changes.renamed {
        sayln!("  ~ {code} {old} → {new}");
    }
}

fn import(
    file: &Path,
    year: u32,
    kind: Kind,
    output: &Path,
    source: &TaxonomyArgs,
) -> Result<ExitCode, String> {
    let taxonomies = source.load()?;
    let current = list_of(&taxonomies, year, kind)?;
    let sheets = code_list::read_sheets(file)?;
    // The first sheet with a header is the list.
    let mut lines = None;
    let mut tried = Vec::new();
    for sheet in &sheets {
        match code_list::code_lines(sheet, &current.level_digits) {
            Ok(found) if !found.is_empty() => {
                lines = Some(found);
                break;
            }
            Ok(_) => tried.push(format!("sheet {}: no code under its header", sheet.name)),
            Err(e) => tried.push(e),
        }
    }
    let Some(lines) = lines else {
        return Err(format!(
            "{}: no code list found ({})",
            file.display(),
            tried.join("; ")
        ));
    };
    let imported = match build_list(kind.key(), &current.name, &current.level_digits, &lines) {
        Ok(list) => list,
        Err(problems) => {
            for problem in problems.iter().take(50) {
                eprintln!("{problem}");
            }
            return Err(format!(
                "{}: {} problem(s) in the list; nothing written",
                file.display(),
                problems.len()
            ));
        }
    };
    sayln!(
        "{}: {} codes of the {} ({} 类, {} below)",
        file.display(),
        imported.entries().len(),
        current.name,
        imported.entries().values().filter(|e| e.level == 1).count(),
        imported.entries().values().filter(|e| e.level > 1).count()
    );
    sayln!("against the {year} list in use:");
    let changes = diff(current, &imported);
    print_diff(&changes);
    write_tree(&taxonomies, source, year, kind, &imported, output)?;
    // What was written loads, and holds exactly the imported list.
    let written =
        Taxonomies::load(output).map_err(|e| format!("the written taxonomy does not load: {e}"))?;
    let check = list_of(&written, year, kind)?;
    if !diff(check, &imported).is_empty() {
        return Err("the written taxonomy does not hold the imported list".into());
    }
    sayln!(
        "written: {} (use it with --taxonomy-dir {})",
        output.display(),
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Copies the source tree to `output` and puts the imported list in the year: over the list file a year
/// declares, or as the changes a year that extends another applies to that year's list.
fn write_tree(
    taxonomies: &Taxonomies,
    source: &TaxonomyArgs,
    year: u32,
    kind: Kind,
    imported: &CodeList,
    output: &Path,
) -> Result<(), String> {
    let files = TaxonomyFiles::read_or_built_in(source.taxonomy_dir.as_deref())
        .map_err(|e| format!("the taxonomy cannot be read: {e}"))?;
    if output.exists() {
        return Err(format!(
            "{} exists; give another -o (nothing is overwritten)",
            output.display()
        ));
    }
    let mut written: std::collections::BTreeMap<PathBuf, String> = files
        .relative_files()
        .map(|(path, text)| (path.to_owned(), text.to_owned()))
        .collect();
    let year_dir = PathBuf::from(year.to_string());
    let main_path = year_dir.join("taxonomy.toml");
    let main = written
        .get(&main_path)
        .cloned()
        .ok_or_else(|| format!("the source tree has no {}", main_path.display()))?;
    let parsed: toml::Table =
        toml::from_str(&main).map_err(|e| format!("{}: {e}", main_path.display()))?;
    let declared = parsed
        .get("code_lists")
        .and_then(|l| l.get(kind.key()))
        .and_then(|l| l.get("file"))
        .and_then(|f| f.as_str());
    if let Some(file) = declared {
        let header = format!(
            "# {} of {year}, imported by `juesuan taxonomy codes import`.\n",
            imported.name
        );
        let body: String = imported
            .entries()
            .iter()
            .map(|(code, entry)| format!("{code}\t{}\n", entry.name))
            .collect();
        written.insert(year_dir.join(file), header + &body);
    } else {
        // The year extends another: the list is that year's with these changes; replacements the year's changes
        // named are kept.
        let extended = parsed
            .get("extends")
            .and_then(|e| e.as_integer())
            .ok_or_else(|| {
                format!(
                    "{} neither declares a {} list nor extends a year",
                    main_path.display(),
                    kind.key()
                )
            })?;
        let base = list_of(taxonomies, extended as u32, kind)?;
        let current = list_of(taxonomies, year, kind)?;
        let mut changes = diff(base, imported);
        for (code, _, replacement) in &mut changes.removed {
            if replacement.is_none() {
                *replacement = current
                    .removal(code)
                    .flatten()
                    .filter(|r| imported.contains(r))
                    .map(str::to_owned);
            }
        }
        let file = parsed
            .get("code_list_changes")
            .and_then(|c| c.get(kind.key()))
            .and_then(|f| f.as_str())
            .map(str::to_owned);
        let header = format!(
            "# Changes of the {} from {extended} to {year}, imported by `juesuan taxonomy codes import`.\n",
            imported.name
        );
        match file {
            Some(file) => {
                written.insert(year_dir.join(file), header + &changes.as_changes());
            }
            None => {
                let file = format!("codes/{}-changes.tsv", kind.key());
                written.insert(year_dir.join(&file), header + &changes.as_changes());
                let line = format!("{} = \"{file}\"\n", kind.key());
                let main = if main.contains("[code_list_changes]") {
                    main.replacen(
                        "[code_list_changes]\n",
                        &format!("[code_list_changes]\n{line}"),
                        1,
                    )
                } else {
                    format!("{main}\n[code_list_changes]\n{line}")
                };
                written.insert(main_path, main);
            }
        }
    }
    for (path, text) in &written {
        let target = output.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, text)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
}
