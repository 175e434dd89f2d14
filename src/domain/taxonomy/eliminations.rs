//! A year's consolidation data (`eliminations.toml`): the elimination pairs and the recomputed cells, checked
//! against the year's layouts when loaded.

use serde::Deserialize;

use super::{
    Taxonomy, TaxonomyError,
    load::{SourceFile, Sources},
};
use crate::domain::{
    rules::{ast::Expr, parse_standalone_expression},
    validation::Severity,
};

/// A cell address of the consolidation data: a table, a row (a code, or "*"), a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellPattern {
    pub table: usize,
    /// `None` for "*": every row (as a source), the same row (as a target).
    pub row: Option<String>,
    pub column: usize,
}

/// One removal of the adjustment layer: the amount of `from` in a unit's own figures is subtracted from each of
/// `remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub from: CellPattern,
    pub remove: Vec<CellPattern>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EliminationPair {
    pub id: String,
    /// Line of its `id` in the file.
    pub line: usize,
    pub name: String,
    pub severity: Severity,
    /// Placeholders: {parent} {provided} {expected} {difference}.
    pub message: String,
    /// What each child reports (e.g. its 上级补助收入).
    pub child: CellPattern,
    /// What the parent reports (e.g. its 对附属单位补助支出).
    pub parent: CellPattern,
    pub child_removes: Vec<Removal>,
    pub parent_removes: Vec<Removal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Eliminations {
    /// The file, relative to the taxonomy root ("2024/eliminations.toml").
    pub origin: String,
    pub pairs: Vec<EliminationPair>,
    /// Cells recomputed from consolidated figures rather than summed.
    pub recompute: Vec<(CellPattern, Expr)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    pair: Vec<RawPair>,
    #[serde(default)]
    recompute: std::collections::BTreeMap<String, toml::Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPair {
    id: toml::Spanned<String>,
    name: String,
    severity: toml::Spanned<String>,
    message: String,
    child: toml::Spanned<String>,
    parent: toml::Spanned<String>,
    child_removes: Vec<RawRemoval>,
    parent_removes: Vec<RawRemoval>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoval {
    from: toml::Spanned<String>,
    remove: Vec<toml::Spanned<String>>,
}

/// Parses "T02[*, superior_subsidy]" or "T01[income_total]".
fn pattern(
    taxonomy: &Taxonomy,
    file: &SourceFile,
    text: &toml::Spanned<String>,
) -> Result<CellPattern, TaxonomyError> {
    let error = |message: String| file.error_at(text.span(), message);
    let raw = text.get_ref().trim();
    let (table, rest) = raw.split_once('[').ok_or_else(|| {
        error(format!(
            "\"{raw}\" is not a cell such as T01[income_total] or T02[*, total]"
        ))
    })?;
    let inside = rest
        .strip_suffix(']')
        .ok_or_else(|| error(format!("\"{raw}\" lacks its closing ']'")))?;
    let index = taxonomy
        .table_index(table.trim())
        .ok_or_else(|| error(format!("unknown table \"{}\"", table.trim())))?;
    let def = &taxonomy.tables[index];
    let (row, column) = match inside.split_once(',') {
        Some((row, column)) => (row.trim(), Some(column.trim())),
        None => (inside.trim(), None),
    };
    let column = match column {
        Some(code) => def
            .column_index(code)
            .ok_or_else(|| error(format!("table {} has no column \"{code}\"", def.code)))?,
        None if def.columns.len() == 1 => 0,
        None => {
            return Err(error(format!(
                "table {} has several columns: name one",
                def.code
            )));
        }
    };
    if !def.columns[column].kind.is_additive() {
        return Err(error(format!(
            "{}[…, {}] is not summed in consolidation (a {:?} column)",
            def.code, def.columns[column].code, def.columns[column].kind
        )));
    }
    let row = if row == "*" {
        None
    } else {
        taxonomy
            .check_row_code(def, row)
            .map_err(|_| error(format!("table {} has no row \"{row}\"", def.code)))?;
        Some(row.to_owned())
    };
    Ok(CellPattern {
        table: index,
        row,
        column,
    })
}

pub(super) fn load(
    taxonomy: &Taxonomy,
    sources: &Sources,
) -> Result<Option<Eliminations>, TaxonomyError> {
    let Some(path) = sources.find("eliminations.toml") else {
        return Ok(None);
    };
    let file = sources.read(&path)?;
    let raw: RawFile = file.parse_toml()?;
    let mut pairs = Vec::new();
    for p in raw.pair {
        if pairs
            .iter()
            .any(|q: &EliminationPair| &q.id == p.id.get_ref())
        {
            return Err(file.error_at(
                p.id.span(),
                format!("pair {} is defined twice", p.id.get_ref()),
            ));
        }
        let severity = Severity::parse(p.severity.get_ref()).ok_or_else(|| {
            file.error_at(p.severity.span(), "severity is error, warning or info")
        })?;
        let removals = |raw: &[RawRemoval]| -> Result<Vec<Removal>, TaxonomyError> {
            raw.iter()
                .map(|r| {
                    Ok(Removal {
                        from: pattern(taxonomy, &file, &r.from)?,
                        remove: r
                            .remove
                            .iter()
                            .map(|t| pattern(taxonomy, &file, t))
                            .collect::<Result<_, _>>()?,
                    })
                })
                .collect()
        };
        let child = pattern(taxonomy, &file, &p.child)?;
        let parent = pattern(taxonomy, &file, &p.parent)?;
        for (side, cell) in [(&p.child, &child), (&p.parent, &parent)] {
            if cell.row.is_none() {
                return Err(file.error_at(side.span(), "the matched cell names one row, not \"*\""));
            }
        }
        pairs.push(EliminationPair {
            line: file.position(p.id.span().start).0,
            id: p.id.into_inner(),
            name: p.name,
            severity,
            message: p.message,
            child,
            parent,
            child_removes: removals(&p.child_removes)?,
            parent_removes: removals(&p.parent_removes)?,
        });
    }
    let mut recompute = Vec::new();
    for (cell, formula) in &raw.recompute {
        let spanned_cell = toml::Spanned::new(formula.span(), cell.clone());
        let index_text = cell.split_once('[').map(|(t, _)| t).unwrap_or("");
        let table = taxonomy
            .table_index(index_text)
            .ok_or_else(|| file.error_at(formula.span(), format!("unknown table in \"{cell}\"")))?;
        let def = &taxonomy.tables[table];
        let inside = cell
            .split_once('[')
            .map(|(_, r)| r.trim_end_matches(']'))
            .unwrap_or("");
        let (row, column) = inside
            .split_once(',')
            .map(|(r, c)| (r.trim(), c.trim()))
            .ok_or_else(|| {
                file.error_at(
                    spanned_cell.span(),
                    format!("\"{cell}\" must name a row and a column"),
                )
            })?;
        let column = def.column_index(column).ok_or_else(|| {
            file.error_at(
                formula.span(),
                format!("table {} has no column \"{column}\"", def.code),
            )
        })?;
        taxonomy.check_row_code(def, row).map_err(|_| {
            file.error_at(
                formula.span(),
                format!("table {} has no row \"{row}\"", def.code),
            )
        })?;
        let expr = parse_standalone_expression(formula.get_ref(), taxonomy).map_err(
            |(offset, message)| {
                file.error_at(
                    formula.span().start + 1 + offset..formula.span().end,
                    message,
                )
            },
        )?;
        recompute.push((
            CellPattern {
                table,
                row: Some(row.to_owned()),
                column,
            },
            expr,
        ));
    }
    Ok(Some(Eliminations {
        origin: taxonomy.relative_path(&path),
        pairs,
        recompute,
    }))
}
