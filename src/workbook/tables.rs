//! Finding the year's tables in a workbook by what they are — their titles and headers — and reading each one's
//! figures, whatever the layout: headers over several rows with merged cells, 栏次 and 行次, two tables side by
//! side on one sheet (收入 | 支出, 人员经费 | 公用经费), a 公开09 laid out in one row, 类/款/项 in three columns or
//! one, labels with their numbering, 合计 at the top or the bottom, notes below. A sheet's name is only a hint.
//!
//! Figures are kept as printed (in the unit the table states); the caller decides the unit for the whole
//! workbook, since a workbook that states two units must be refused before anything is converted.

use std::collections::HashMap;

use calamine::Data;
use rust_decimal::Decimal;

use super::{
    grid::Grid,
    layout::{address, short_name},
    problem::Problems,
    words::{MoneyUnit, is_note, normalise, says_empty, stated_units},
};
use crate::domain::{
    money::excerpt,
    taxonomy::{ColumnKind, RowCodeProblem, RowStatus, TableDef, Taxonomy},
};

/// A table found on a sheet: from `start` (its title row, or the sheet's first row when only the sheet's name
/// says what it is) to `end` (the next table's title, or the sheet's end).
pub(super) struct Found<'t> {
    pub table: &'t TableDef,
    pub sheet: usize,
    pub title_row: Option<u32>,
    pub start: u32,
    pub end: u32,
}

/// The words of a table's title: its name, its other titles and its long aliases, normalised, longest first
/// (so that 一般公共预算财政拨款支出决算表 is not taken for 支出决算表).
struct Titles<'t> {
    full: Vec<(String, &'t TableDef)>,
    short: Vec<(String, &'t TableDef)>,
}

impl<'t> Titles<'t> {
    fn new(taxonomy: &'t Taxonomy) -> Titles<'t> {
        let mut full = Vec::new();
        let mut short = Vec::new();
        for table in &taxonomy.tables {
            for title in std::iter::once(&table.name)
                .chain(&table.titles)
                .chain(&table.aliases)
            {
                let title = normalise(title);
                if is_short_alias(&title) {
                    short.push((title, table));
                } else if !full.iter().any(|(t, _)| *t == title) {
                    full.push((title, table));
                }
            }
            short.push((normalise(&table.code), table));
        }
        full.sort_by_key(|(t, _)| std::cmp::Reverse(t.chars().count()));
        Titles { full, short }
    }

    /// The table a cell's text titles: it contains a table's title (one of the nine, whose titles end in 表) or is
    /// a section table's name, and is not much longer (a note that names a table is not its title).
    fn titled(&self, text: &str) -> Option<&'t TableDef> {
        let text = normalise(text);
        if text.is_empty() || is_note(&text) {
            return None;
        }
        self.full.iter().find_map(|(title, table)| {
            let fits = if table.section.is_some() {
                text == *title
            } else {
                text.contains(title.as_str()) && text.chars().count() <= title.chars().count() + 24
            };
            fits.then_some(*table)
        })
    }

    /// The table a sheet's name suggests: a title in it, or a short name (公开05, T05) at its start.
    fn hinted(&self, sheet: &str) -> Option<&'t TableDef> {
        let name = normalise(sheet);
        if let Some((_, table)) = self
            .full
            .iter()
            .find(|(title, table)| table.section.is_none() && name.contains(title.as_str()))
        {
            return Some(table);
        }
        self.short
            .iter()
            .filter(|(short, _)| {
                name.starts_with(short.as_str())
                    && !name[short.len()..].starts_with(|c: char| c.is_ascii_digit())
            })
            .max_by_key(|(short, _)| short.len())
            .map(|(_, table)| *table)
    }
}

/// 公开05 and the like: a number, not a title.
fn is_short_alias(title: &str) -> bool {
    title.starts_with("公开") && title.chars().count() <= 6
}

/// Every table of `taxonomy` found on `grids`, and the names of sheets that hold figures but none of the tables.
/// Hidden sheets are read last and only for tables no visible sheet has: a hidden sheet often keeps an old copy
/// or working figures, and what the accountant sees is what they meant.
pub(super) fn find<'t>(
    grids: &[Grid],
    taxonomy: &'t Taxonomy,
    skip: impl Fn(&str) -> bool,
) -> (Vec<Found<'t>>, Vec<String>) {
    let titles = Titles::new(taxonomy);
    let mut found: Vec<Found<'t>> = Vec::new();
    let mut unknown = Vec::new();
    for hidden in [false, true] {
        let before = found.len();
        for (index, grid) in grids.iter().enumerate() {
            if grid.hidden != hidden || skip(&grid.name) {
                continue;
            }
            let (on_sheet, looks_like_one) = find_on(grid, index, &titles);
            if on_sheet.is_empty() && looks_like_one && !hidden {
                unknown.push(grid.name.clone());
            }
            for table in on_sheet {
                if hidden
                    && found[..before]
                        .iter()
                        .any(|f| f.table.code == table.table.code)
                {
                    continue;
                }
                found.push(table);
            }
        }
    }
    (found, unknown)
}

/// The tables on one sheet, and whether a sheet without any looks like a table.
fn find_on<'t>(grid: &Grid, index: usize, titles: &Titles<'t>) -> (Vec<Found<'t>>, bool) {
    let mut found = Vec::new();
    {
        let (rows, columns) = grid.size();
        let mut starts: Vec<(u32, &TableDef)> = Vec::new();
        for row in 0..rows {
            let texts: Vec<String> = (0..columns)
                .map(|c| grid.own_text(row, c))
                .filter(|t| !t.is_empty())
                .collect();
            if texts.is_empty() || texts.len() > 3 {
                continue;
            }
            if let Some(table) = texts.iter().find_map(|t| titles.titled(t)) {
                // The same title again right below (a title and a subtitle) does not start another table.
                if starts
                    .last()
                    .is_some_and(|(at, last)| last.code == table.code && row <= at + 2)
                {
                    continue;
                }
                starts.push((row, table));
            }
        }
        if starts.is_empty() {
            if let Some(table) = titles.hinted(&grid.name) {
                found.push(Found {
                    table,
                    sheet: index,
                    title_row: None,
                    start: 0,
                    end: rows,
                });
                return (found, false);
            }
            return (found, looks_like_a_table(grid));
        }
        for (i, (row, table)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(rows, |next| next.0);
            found.push(Found {
                table,
                sheet: index,
                title_row: Some(*row),
                start: *row,
                end,
            });
        }
    }
    (found, false)
}

/// Figures in three rows or more: a sheet that is meant to be a table.
fn looks_like_a_table(grid: &Grid) -> bool {
    let (rows, columns) = grid.size();
    (0..rows)
        .filter(|&r| (0..columns).any(|c| is_numeric(grid.value(r, c))))
        .count()
        >= 3
}

/// A figure as printed, in the unit its table states.
pub(super) struct Figure {
    /// The row code (a line's code or a classification code).
    pub row: String,
    /// The row's own label, kept when it differs from the code's name.
    pub label: String,
    pub column: usize,
    pub value: Decimal,
    /// Where it was read, and the text it was read from.
    pub at: String,
    pub text: String,
}

/// What one table's block holds.
pub(super) struct Block {
    pub figures: Vec<Figure>,
    /// Each money unit the block states, with where.
    pub units: Vec<(MoneyUnit, String)>,
    /// The block says its table is empty (本单位无…, 本表无数据).
    pub says_empty: bool,
    /// Figures printed but not kept, with where and why (a printed sum of kept lines, a class row of a table that
    /// keeps none): listed in the report, never dropped unseen.
    pub not_kept: Vec<(String, String)>,
    /// Class rows of a table that keeps none (公开04's classes by fund), to be compared with the tables that keep
    /// them once the whole workbook is read.
    pub class_rows: Vec<ClassRow>,
}

/// A printed class figure not kept: where, the class, the line its column names (a fund, or 合计), the figure.
pub(super) struct ClassRow {
    pub at: String,
    pub class: String,
    pub line: Option<String>,
    pub value: Decimal,
}

/// A column's role, from the words of its header.
#[derive(Debug, Clone, PartialEq)]
enum Role {
    Blank,
    Ordinal,
    Code(Part),
    Label,
    /// Figures: of this column of the table, and of this line when the header names one (a table laid out
    /// in one row, or a side whose columns are lines).
    Value {
        column: Option<usize>,
        line: Option<usize>,
    },
    /// A header that names nothing of the table.
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Whole,
    Class,
    Kuan,
    Xiang,
}

const CODE_WORDS: [&str; 4] = ["编码", "代码", "科目编码", "科目代码"];
const LABEL_WORDS: [&str; 3] = ["项目", "名称", "科目名称"];
const ORDINAL_WORDS: [&str; 2] = ["栏次", "行次"];

/// One side of a table: its code and label columns and the value columns to their right.
#[derive(Default)]
struct Side {
    codes: Vec<(u32, Part)>,
    label: Option<u32>,
    values: Vec<(u32, Option<usize>, Option<usize>)>,
    /// A heading row without figures that names a column (一、本年收入): the column of the rows below.
    context: Option<usize>,
    /// The last class and 款 read, for codes printed in parts and for names that several codes share.
    class: String,
    kuan: String,
}

/// Reads one table's block.
pub(super) fn read_block(
    grid: &Grid,
    found: &Found<'_>,
    taxonomy: &Taxonomy,
    names: &mut NameIndex,
    problems: &mut Problems,
) -> Block {
    let table = found.table;
    let (_, columns) = grid.size();
    let sheet = grid.name.as_str();
    let mut block = Block {
        figures: Vec::new(),
        units: Vec::new(),
        says_empty: false,
        not_kept: Vec::new(),
        class_rows: Vec::new(),
    };
    let first = found.title_row.map_or(found.start, |t| t + 1);
    let Some((header_start, header_end)) = header_rows(grid, table, first, found.end) else {
        // No header: only an empty table (a title and a statement) reads.
        for row in first..found.end {
            for column in 0..columns {
                let text = grid.own_text(row, column);
                block.units.extend(
                    stated_units(&text, false)
                        .into_iter()
                        .map(|u| (u, address(sheet, row, column as u16))),
                );
                if says_empty(&text) {
                    block.says_empty = true;
                }
                if is_numeric(grid.value(row, column)) {
                    problems.add(
                        address(sheet, row, column as u16),
                        format!(
                            "a figure of {} {} above or without its header (项目, 科目编码, the column names)",
                            short_name(table),
                            table.name
                        ),
                    );
                }
            }
        }
        return block;
    };
    // The unit lines: anywhere from the title to the header's last row.
    for row in found.start..=header_end {
        for column in 0..columns {
            let text = grid.own_text(row, column);
            let in_header = row >= header_start;
            for unit in stated_units(&text, in_header) {
                block.units.push((unit, address(sheet, row, column as u16)));
            }
        }
    }
    let roles: Vec<Role> = (0..columns)
        .map(|column| role_of(&header_path(grid, header_start, header_end, column), table))
        .collect();
    let mut sides = sides_of(&roles);
    let mut notes_from: Option<u32> = None;
    for row in header_end + 1..found.end {
        if is_ordinal_row(grid, row, columns) {
            continue;
        }
        let texts: Vec<String> = (0..columns).map(|c| grid.own_text(row, c)).collect();
        if texts.iter().any(|t| says_empty(t)) {
            block.says_empty = true;
        }
        if notes_from.is_none()
            && texts
                .iter()
                .find(|t| !t.is_empty())
                .is_some_and(|t| is_note(t))
        {
            notes_from = Some(row);
        }
        if notes_from.is_some() {
            // Below the notes nothing is a figure of the table; a number there is reported, not guessed at.
            for column in 0..columns {
                if is_numeric(grid.value(row, column)) {
                    problems.add(
                        address(sheet, row, column as u16),
                        format!("a figure below the notes of {}", table.name),
                    );
                }
            }
            continue;
        }
        // Figures under a header that names nothing of the table, or under no header.
        for (column, role) in roles.iter().enumerate() {
            let column = column as u32;
            if !matches!(role, Role::Other(_) | Role::Blank) || !is_numeric(grid.value(row, column))
            {
                continue;
            }
            let why = match role {
                Role::Other(header) => format!(
                    "{} is under {}, which is not a column of {}",
                    excerpt(&grid.own_text(row, column)),
                    excerpt(header),
                    table.name
                ),
                _ => format!(
                    "{} is under no column header of {}",
                    excerpt(&grid.own_text(row, column)),
                    table.name
                ),
            };
            problems.add(address(sheet, row, column as u16), why);
        }
        // Without merged regions, a label written once across both sides (合计 over 人员经费 | 公用经费) is in
        // the first side's cells only: a side without a label takes that of a side to its left without figures.
        let mut inherited: Option<String> = None;
        for side in &mut sides {
            let own = side
                .label
                .map(|c| grid.text(row, c))
                .filter(|t| !t.is_empty())
                .or_else(|| {
                    side.codes
                        .iter()
                        .map(|&(c, _)| grid.text(row, c))
                        .find(|t| !t.is_empty())
                });
            let borrowed = if own.is_none() && !grid.knows_merges() {
                inherited.clone()
            } else {
                None
            };
            let had_values = read_side_row(
                grid,
                row,
                side,
                borrowed.as_deref(),
                table,
                taxonomy,
                names,
                &mut block,
                problems,
            );
            inherited = if had_values { None } else { own.or(borrowed) };
        }
    }
    block
}

/// The rows of a block's header: from the first row that names a column (项目, 科目编码, a column of the table) to
/// the 栏次 row when there is one, else through the rows below it that are header words too.
fn header_rows(grid: &Grid, table: &TableDef, from: u32, end: u32) -> Option<(u32, u32)> {
    let (_, columns) = grid.size();
    let words = |row: u32| -> (usize, usize) {
        let mut header = 0;
        let mut other = 0;
        for column in 0..columns {
            let text = header_word(&grid.own_text(row, column));
            if text.is_empty() {
                continue;
            }
            if is_header_word(&text, table) {
                header += 1;
            } else {
                other += 1;
            }
        }
        (header, other)
    };
    let has_figures = |row: u32| (0..columns).any(|c| is_numeric(grid.value(row, c)));
    let start = (from..end).find(|&row| {
        !has_figures(row) && {
            let (header, _) = words(row);
            header > 0
                && (0..columns).any(|c| {
                    let text = header_word(&grid.own_text(row, c));
                    is_structural_word(&text)
                        || column_match(std::slice::from_ref(&text), table).is_some()
                        || table
                            .lines
                            .iter()
                            .any(|line| line_names(line).any(|name| name == text))
                })
        }
    })?;
    // Group headers above it (收入 | 支出, 人员经费 | 公用经费, 全年预算数 | 决算数): header words only.
    let mut start = start;
    while start > from && !has_figures(start - 1) && {
        let (header, other) = words(start - 1);
        header > 0 && other == 0
    } {
        start -= 1;
    }
    if let Some(ordinal) =
        (start..end.min(start + 8)).find(|&row| is_ordinal_row(grid, row, columns))
    {
        return Some((start, ordinal));
    }
    let label_columns: Vec<u32> = (0..columns)
        .filter(|&c| {
            let text = normalise(&grid.text(start, c));
            LABEL_WORDS.contains(&text.as_str()) || CODE_WORDS.iter().any(|w| text.ends_with(w))
        })
        .collect();
    let mut last = start;
    for row in start + 1..end.min(start + 6) {
        let (header, other) = words(row);
        // A heading in a label column (一、本年收入) is a row of the table, not of its header.
        let labelled = label_columns.iter().any(|&c| {
            let text = normalise(&grid.own_text(row, c));
            !text.is_empty() && !is_structural_word(&text)
        });
        if has_figures(row) || other > 0 || header == 0 || labelled {
            break;
        }
        last = row;
    }
    Some((start, last))
}

/// A header cell's word: normalised, without the unit it states (金额（万元） is 金额; the unit is read with the unit
/// lines).
fn header_word(text: &str) -> String {
    let mut word = normalise(text);
    for unit in ["(万元)", "(千元)", "(元)"] {
        word = word.replace(unit, "");
    }
    word
}

/// Words of a header: structural (项目, 科目编码, 类, 栏次 …), a column of the table, or one of its lines (the
/// headers of a table laid out in one row).
fn is_header_word(text: &str, table: &TableDef) -> bool {
    is_structural_word(text)
        || matches!(
            text,
            "收入" | "支出" | "小计" | "金额" | "决算数" | "预算数"
        )
        || column_match(&[text.to_owned()], table).is_some()
        || table
            .lines
            .iter()
            .any(|line| line_names(line).any(|name| name == text))
}

fn is_structural_word(text: &str) -> bool {
    CODE_WORDS.iter().any(|w| text.ends_with(w))
        || LABEL_WORDS.contains(&text)
        || text.starts_with("项目(")
        || text.ends_with("科目名称")
        || ORDINAL_WORDS.contains(&text)
        || matches!(text, "类" | "款" | "项")
}

/// A row of column numbers: 栏次 (or 甲, 乙) and small whole numbers only.
fn is_ordinal_row(grid: &Grid, row: u32, columns: u32) -> bool {
    let mut marked = false;
    let mut any = false;
    for column in 0..columns {
        let text = normalise(&grid.own_text(row, column));
        if text.is_empty() {
            continue;
        }
        any = true;
        if ORDINAL_WORDS.contains(&text.as_str())
            || matches!(text.as_str(), "甲" | "乙" | "丙" | "丁")
        {
            marked = true;
        } else if !(text.len() <= 2 && text.bytes().all(|b| b.is_ascii_digit())) {
            return false;
        }
    }
    any && marked
}

/// The words over a column, top to bottom: each header row's text (a merged cell names every column it spans),
/// normalised, without repeats of the one above.
fn header_path(grid: &Grid, start: u32, end: u32, column: u32) -> Vec<String> {
    let mut path: Vec<String> = Vec::new();
    for row in start..=end {
        if is_ordinal_row(grid, row, grid.size().1) {
            continue;
        }
        let mut text = header_word(&grid.text(row, column));
        // Without the merged regions, a group header (收入 over 项目 | 行次 | 金额) is written in its first column
        // only: a blank above a header word takes the group's name from the left.
        if text.is_empty()
            && !grid.knows_merges()
            && (row + 1..=end).any(|below| {
                !is_ordinal_row(grid, below, grid.size().1)
                    && !grid.own_text(below, column).is_empty()
            })
        {
            text = (0..column)
                .rev()
                .map(|c| grid.own_text(row, c))
                .find(|t| !t.is_empty())
                .map(|t| header_word(&t))
                .unwrap_or_default();
        }
        if !text.is_empty() && path.last() != Some(&text) {
            path.push(text);
        }
    }
    path
}

fn role_of(path: &[String], table: &TableDef) -> Role {
    if path.is_empty() {
        return Role::Blank;
    }
    if path.iter().any(|w| ORDINAL_WORDS.contains(&w.as_str())) {
        return Role::Ordinal;
    }
    let last = path.last().map(String::as_str).unwrap_or_default();
    let coded = path
        .iter()
        .any(|w| CODE_WORDS.iter().any(|c| w.ends_with(c)));
    match last {
        "类" => return Role::Code(Part::Class),
        "款" => return Role::Code(Part::Kuan),
        "项" if coded || path.len() == 1 => return Role::Code(Part::Xiang),
        _ => {}
    }
    if coded {
        return Role::Code(Part::Whole);
    }
    if path.iter().any(|w| {
        LABEL_WORDS.contains(&w.as_str()) || w.starts_with("项目(") || w.ends_with("科目名称")
    }) {
        return Role::Label;
    }
    let column = column_match(path, table);
    let used = column.map(|(_, from, to)| (from, to));
    let line = line_match(path, table, used);
    match (column, line) {
        (None, None) if table.columns.len() == 1 && path.iter().any(|w| w == "金额") => {
            Role::Value {
                column: Some(0),
                line: None,
            }
        }
        (None, None) => Role::Other(path.join("·")),
        (column, line) => Role::Value {
            column: column.map(|(c, _, _)| c),
            line,
        },
    }
}

/// The names a column goes by, each as its parts' concatenation (本年支出·基本支出 → 本年支出基本支出).
fn column_names(column: &crate::domain::taxonomy::ColumnDef) -> impl Iterator<Item = String> + '_ {
    std::iter::once(&column.name)
        .chain(&column.aliases)
        .map(|n| normalise(n))
}

fn line_names(line: &crate::domain::taxonomy::LineDef) -> impl Iterator<Item = String> + '_ {
    std::iter::once(&line.name)
        .chain(&line.aliases)
        .map(|n| normalise(n))
}

/// The column a run of header words names: the longest run (then the lowest) whose words, joined, are a name of
/// the column. Returns (column, first word, one past the last).
fn column_match(path: &[String], table: &TableDef) -> Option<(usize, usize, usize)> {
    let mut best: Option<(usize, usize, usize)> = None;
    for (index, column) in table.columns.iter().enumerate() {
        for name in column_names(column) {
            for from in 0..path.len() {
                let mut joined = String::new();
                for (to, word) in path.iter().enumerate().skip(from) {
                    joined.push_str(word);
                    if !name.starts_with(&joined) {
                        break;
                    }
                    if joined == name {
                        let span = to + 1 - from;
                        let better = best.is_none_or(|(_, f, t)| span > t - f);
                        if better {
                            best = Some((index, from, to + 1));
                        }
                    }
                }
            }
        }
    }
    best
}

/// The line a header word names, among the words a column match did not use.
fn line_match(path: &[String], table: &TableDef, used: Option<(usize, usize)>) -> Option<usize> {
    // The lowest word first: 公务用车购置费 under 公务用车购置及运行维护费 is the former.
    path.iter()
        .enumerate()
        .rev()
        .filter(|(i, _)| used.is_none_or(|(from, to)| *i < from || *i >= to))
        .find_map(|(_, word)| {
            table
                .lines
                .iter()
                .position(|line| line_names(line).any(|name| name == *word))
        })
}

/// The sides of a table: a new side starts at a code or label column after value columns.
fn sides_of(roles: &[Role]) -> Vec<Side> {
    let mut sides = vec![Side::default()];
    for (column, role) in roles.iter().enumerate() {
        let column = column as u32;
        let current_has_values = sides.last().is_some_and(|s| !s.values.is_empty());
        match role {
            Role::Code(_) | Role::Label if current_has_values => sides.push(Side::default()),
            _ => {}
        }
        let side = sides.last_mut().expect("one side at least");
        match role {
            Role::Code(part) => side.codes.push((column, *part)),
            Role::Label if side.label.is_none() => side.label = Some(column),
            Role::Value { column: c, line } => side.values.push((column, *c, *line)),
            _ => {}
        }
    }
    sides.retain(|s| !s.values.is_empty());
    sides
}

/// What a row's label or code says it is, on one side.
enum Target {
    /// A row of the table (a line or a classification code) with its own label when it differs from the name.
    Row(String, String),
    /// A column's name in the label column: the figures are of that column (a heading without figures sets it
    /// for the rows below).
    AsColumn(usize),
    /// Printed but not kept, and why.
    NotKept(String),
    /// A classification row of a table that keeps none: not kept, compared with the tables that keep it.
    Class(String),
    Empty,
    Unknown(String, u32),
}

/// A figure read on a side: its column, the table column and line its header names, the value and its text.
type ReadValue = (u32, Option<usize>, Option<usize>, Decimal, String);

/// Reads one row of one side; returns whether it had figures.
#[allow(clippy::too_many_arguments)]
fn read_side_row(
    grid: &Grid,
    row: u32,
    side: &mut Side,
    inherited: Option<&str>,
    table: &TableDef,
    taxonomy: &Taxonomy,
    names: &mut NameIndex,
    block: &mut Block,
    problems: &mut Problems,
) -> bool {
    let sheet = grid.name.as_str();
    // The figures first: a row without any says nothing, except a heading that names a column.
    let mut values: Vec<ReadValue> = Vec::new();
    for &(column, of_column, of_line) in &side.values {
        let kind = of_column.map_or(ColumnKind::Amount, |c| table.columns[c].kind);
        match value_of(grid, row, column, kind) {
            Ok(Some((value, text))) => values.push((column, of_column, of_line, value, text)),
            Ok(None) => {}
            Err(reason) => problems.add(address(sheet, row, column as u16), reason),
        }
    }
    let target = target_of(grid, row, side, inherited, table, taxonomy, names, problems);
    // A row that names a column (一、本年收入; 年初财政拨款结转和结余) holds that column's total when it has figures,
    // and its column is the one of the lines below it either way.
    if let Target::AsColumn(column) = target {
        side.context = Some(column);
    }
    if values.is_empty() {
        return false;
    }
    for (column, of_column, of_line, value, text) in values {
        let at = address(sheet, row, column as u16);
        let (row_code, label, as_column) = match &target {
            Target::Row(code, label) => (Some(code.clone()), label.clone(), None),
            Target::AsColumn(c) => (None, String::new(), Some(*c)),
            Target::NotKept(why) => {
                block.not_kept.push((at, format!("{text}: {why}")));
                continue;
            }
            Target::Class(code) => {
                block.not_kept.push((
                    at.clone(),
                    format!(
                        "{text}: {} does not keep classification rows; 公开05, 07 and 08 hold them",
                        table.name
                    ),
                ));
                block.class_rows.push(ClassRow {
                    at,
                    class: code.clone(),
                    line: of_line.map(|l| table.lines[l].code.clone()),
                    value,
                });
                continue;
            }
            Target::Empty => (None, String::new(), None),
            Target::Unknown(label, label_column) => {
                problems.add(
                    address(sheet, row, *label_column as u16),
                    format!(
                        "{} is neither a line of {} nor a classification code it lists",
                        excerpt(label),
                        table.name
                    ),
                );
                continue;
            }
        };
        let row_code = row_code
            .or_else(|| of_line.map(|l| table.lines[l].code.clone()))
            .or_else(|| {
                // A heading with its figures (一、本年收入 1,000.00) is that column's total.
                as_column.and_then(|_| table.line("total").map(|l| l.code.clone()))
            });
        let Some(row_code) = row_code else {
            problems.add(
                at,
                format!(
                    "{text} is in a row that names no line or code of {}",
                    table.name
                ),
            );
            continue;
        };
        let column_index = as_column
            .or(side.context)
            .or(of_column)
            .or((table.columns.len() == 1).then_some(0));
        let Some(column_index) = column_index else {
            problems.add(
                at,
                format!(
                    "{text} is under no column of {} that its header names",
                    table.name
                ),
            );
            continue;
        };
        block.figures.push(Figure {
            row: row_code,
            label,
            column: column_index,
            value,
            at,
            text,
        });
    }
    true
}

#[allow(clippy::too_many_arguments)]
fn target_of(
    grid: &Grid,
    row: u32,
    side: &mut Side,
    inherited: Option<&str>,
    table: &TableDef,
    taxonomy: &Taxonomy,
    names: &mut NameIndex,
    problems: &mut Problems,
) -> Target {
    let sheet = grid.name.as_str();
    // A label merged across the row (合计 over the code and name columns of both sides) labels each side it covers.
    let mut label_text = side
        .label
        .map(|c| grid.text(row, c))
        .filter(|t| !t.is_empty())
        .or_else(|| inherited.map(str::to_owned))
        .unwrap_or_default();
    let mut code = code_of(grid, row, side);
    // A label written across the code columns (合计, 人员经费合计 merged over 科目编码 and 科目名称) is a label.
    if let Some((text, _)) = &code
        && !text.chars().all(|c| c.is_ascii_digit())
        && !text.is_ascii()
    {
        if label_text.is_empty() {
            label_text = text.clone();
        }
        code = None;
    }
    if let Some((code, at_column)) = code {
        let at = address(sheet, row, at_column as u16);
        match taxonomy.row_code_status(table, &code) {
            Ok(RowStatus::Line) => return Target::Row(code, String::new()),
            Ok(status) => {
                remember(side, &code, taxonomy, table);
                let name = taxonomy.row_name(table, &code).unwrap_or_default();
                let label = if status == RowStatus::Listed
                    && (label_text.is_empty() || normalise(&label_text) == normalise(name))
                {
                    String::new()
                } else {
                    label_text.trim().to_owned()
                };
                return Target::Row(code, label);
            }
            Err(RowCodeProblem::LevelNotReported(level)) => {
                problems.add(
                    at,
                    format!(
                        "{code} is a level-{level} code, which {} does not list",
                        table.name
                    ),
                );
            }
            Err(_) => problems.add(
                at,
                format!(
                    "{} is not a classification code of {}",
                    excerpt(&code),
                    table.name
                ),
            ),
        }
        return Target::NotKept("its code is refused above".to_owned());
    }
    let label = normalise(&label_text);
    if label.is_empty() {
        return Target::Empty;
    }
    if let Some(line) = table
        .lines
        .iter()
        .find(|l| line_names(l).any(|n| n == label))
    {
        return Target::Row(line.code.clone(), String::new());
    }
    if let Some(column) = table
        .columns
        .iter()
        .position(|c| column_names(c).any(|n| n == label))
    {
        return Target::AsColumn(column);
    }
    if table.sums.iter().any(|s| normalise(s) == label) {
        return Target::NotKept(format!("{label_text} is a sum of the lines kept"));
    }
    match names.find(taxonomy, table, &label, side) {
        Ok(Some(code)) => {
            if table.codes.is_some() {
                remember(side, &code, taxonomy, table);
                Target::Row(code, String::new())
            } else {
                Target::Class(code)
            }
        }
        Ok(None) => Target::Unknown(label_text, side.label.unwrap_or_default()),
        Err(codes) => {
            problems.add(
                address(sheet, row, side.label.unwrap_or_default() as u16),
                format!(
                    "{} names several codes ({}); print the code beside it",
                    excerpt(&label_text),
                    codes.join(", ")
                ),
            );
            Target::NotKept("its name is ambiguous".to_owned())
        }
    }
}

/// Keeps the class and 款 a code is under, for codes printed in parts and names shared by several codes.
fn remember(side: &mut Side, code: &str, taxonomy: &Taxonomy, table: &TableDef) {
    let digits = taxonomy
        .code_list_of(table)
        .map_or(vec![3, 5, 7], |l| l.level_digits.clone());
    if code.len() >= digits[0] {
        side.class = code[..digits[0]].to_owned();
    }
    side.kuan = match digits.get(1) {
        Some(&d) if code.len() >= d => code[..d].to_owned(),
        _ => String::new(),
    };
}

/// The row's code from its code columns: one column with the whole code, or 类/款/项 in three (a part left blank
/// is the one above it, as printed tables leave the class blank on its 款 rows). Returns the code and the column
/// to name when it is wrong.
fn code_of(grid: &Grid, row: u32, side: &Side) -> Option<(String, u32)> {
    let mut class = String::new();
    let mut kuan = String::new();
    let mut xiang = String::new();
    let mut whole = String::new();
    let mut last_column = 0;
    for &(column, part) in &side.codes {
        let text: String = grid
            .text(row, column)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        // A dash in a code column says "no code", as it says "nothing" in a figure's.
        if text.is_empty() || matches!(text.as_str(), "-" | "—" | "－" | "--" | "——") {
            continue;
        }
        last_column = column;
        match part {
            Part::Whole => whole = text,
            Part::Class => class = text,
            Part::Kuan => kuan = text,
            Part::Xiang => xiang = text,
        }
    }
    if !whole.is_empty() {
        return Some((whole, last_column));
    }
    if class.is_empty() && kuan.is_empty() && xiang.is_empty() {
        return None;
    }
    let class = if class.is_empty() {
        side.class.clone()
    } else {
        class
    };
    // A part may be printed alone (01) or as the whole code so far (20101).
    let kuan_code = if kuan.is_empty() {
        String::new()
    } else if kuan.starts_with(&class) && kuan.len() > class.len() {
        kuan
    } else {
        format!("{class}{kuan}")
    };
    if xiang.is_empty() {
        return Some((
            if kuan_code.is_empty() {
                class
            } else {
                kuan_code
            },
            last_column,
        ));
    }
    let kuan_code = if kuan_code.is_empty() {
        side.kuan.clone()
    } else {
        kuan_code
    };
    let code = if xiang.starts_with(&kuan_code) && xiang.len() > kuan_code.len() {
        xiang
    } else {
        format!("{kuan_code}{xiang}")
    };
    Some((code, last_column))
}

/// The codes of each code list by normalised name, built when first asked.
#[derive(Default)]
pub(super) struct NameIndex {
    by_list: HashMap<String, HashMap<String, Vec<String>>>,
}

impl NameIndex {
    /// The code a name stands for in `table`'s list (the functional 类 for a table without one): the only code
    /// of that name at a level the table lists, or the one under the class and 款 read last. `Err` lists the
    /// candidates when the name stays ambiguous.
    fn find(
        &mut self,
        taxonomy: &Taxonomy,
        table: &TableDef,
        name: &str,
        side: &Side,
    ) -> Result<Option<String>, Vec<String>> {
        let (key, levels) = match &table.codes {
            Some(rows) => (rows.list.clone(), rows.levels.clone()),
            None => ("functional".to_owned(), vec![1]),
        };
        let Some(list) = taxonomy.code_lists.get(&key) else {
            return Ok(None);
        };
        let index = self.by_list.entry(key).or_insert_with(|| {
            let mut index: HashMap<String, Vec<String>> = HashMap::new();
            for (code, entry) in list.entries() {
                index
                    .entry(normalise(&entry.name))
                    .or_default()
                    .push(code.clone());
            }
            index
        });
        let candidates: Vec<&String> = index
            .get(name)
            .into_iter()
            .flatten()
            .filter(|code| list.get(code).is_some_and(|e| levels.contains(&e.level)))
            .collect();
        match candidates.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one).clone())),
            several => {
                let under: Vec<&&String> = several
                    .iter()
                    .filter(|code| {
                        let parent = list.parent_of(code).unwrap_or_default();
                        (!side.kuan.is_empty() && parent == side.kuan)
                            || (!side.class.is_empty() && parent == side.class)
                    })
                    .collect();
                match under.as_slice() {
                    [one] => Ok(Some((**one).clone())),
                    _ => Err(several.iter().take(4).map(|c| (*c).clone()).collect()),
                }
            }
        }
    }
}

/// Whether a cell holds a number (or text that reads as one).
pub(super) fn is_numeric(value: &Data) -> bool {
    match value {
        Data::Float(_) | Data::Int(_) => true,
        Data::String(s) => {
            let cleaned = clean_number(s);
            !cleaned.is_empty()
                && cleaned.parse::<Decimal>().is_ok()
                && cleaned.chars().any(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

fn clean_number(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '\u{a0}' | '\u{3000}'))
        .collect()
}

/// A figure of a cell as printed, with the text it was read from; `None` for a blank cell or a dash.
pub(super) fn value_of(
    grid: &Grid,
    row: u32,
    column: u32,
    kind: ColumnKind,
) -> Result<Option<(Decimal, String)>, String> {
    let text = match grid.value(row, column) {
        Data::Empty => {
            return match grid.formula(row, column) {
                Some(formula) => Err(format!(
                    "the formula ={} has no saved value: open and save the workbook in Excel, or type the value",
                    excerpt(formula)
                )),
                None => Ok(None),
            };
        }
        // The double's shortest text is the figure written; more than 15 significant digits cannot be exact.
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        Data::String(s) => {
            let cleaned = clean_number(s);
            if cleaned.is_empty() || matches!(cleaned.as_str(), "-" | "—" | "－" | "--" | "——")
            {
                return Ok(None);
            }
            if cleaned.ends_with('%') {
                return Err(format!(
                    "{} is a percentage, not an amount",
                    excerpt(&cleaned)
                ));
            }
            cleaned
        }
        Data::Error(error) => return Err(format!("holds the error value {error}")),
        Data::Bool(_) => return Err("holds TRUE or FALSE, not a number".to_owned()),
        Data::DateTime(_) | Data::DateTimeIso(_) | Data::DurationIso(_) => {
            return Err("holds a date, not a number (the cell is formatted as a date)".to_owned());
        }
    };
    let value = text
        .parse::<crate::domain::money::Value>()
        .map(|v| v.decimal())
        .map_err(|_| format!("{} is not a number", excerpt(&text)))?;
    if matches!(kind, ColumnKind::Count | ColumnKind::Change) {
        if !value.fract().is_zero() {
            return Err(format!("{text} is not a whole number"));
        }
        if kind == ColumnKind::Count && value.is_sign_negative() {
            return Err(format!("{text} is negative"));
        }
    }
    Ok(Some((value, text)))
}
