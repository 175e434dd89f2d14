//! Evaluating compiled rules on a disclosure. Values are intervals (rounding-aware), truth values, text, or
//! unknown — a cell a partial table does not give makes the whole check "not evaluated" rather than wrong.

use std::borrow::Cow;

use rust_decimal::Decimal;

use super::{RuleSet, ast::*};
use crate::domain::{
    budget::BudgetFigures,
    disclosure::{CellState, Disclosure, RowData, TableData},
    evaluation::{
        Evaluation, FUNDS_COLUMNS, FundsSource, INDICATOR_COLUMNS, Indicator, SUMMARY_COLUMNS,
    },
    money::{Interval, Value, round_for_display},
    scoring,
    taxonomy::{CodeList, Taxonomy},
    validation::{CellRef as FoundCell, Finding, Report, Severity, dedup_cells},
};

#[derive(Debug, Clone, PartialEq)]
enum V<'a> {
    Num(Interval),
    Bool(bool),
    Str(Cow<'a, str>),
    Unknown,
}

#[derive(Debug, Clone, Copy)]
enum Binding<'a> {
    Unbound,
    Row(RowAt<'a>),
    Column {
        table: usize,
        index: usize,
    },
    Evaluation {
        evaluation: &'a Evaluation,
        position: usize,
    },
    Indicator {
        indicator: &'a Indicator,
        position: usize,
    },
}

/// A row a rule reads: its code, and, when a walk over a table bound it, where the walk found it. Reading that
/// table's cells then needs no search by code.
#[derive(Debug, Clone, Copy)]
struct RowAt<'a> {
    code: &'a str,
    walked: Option<Walked<'a>>,
}

#[derive(Debug, Clone, Copy)]
struct Walked<'a> {
    /// The table walked: a row bound over this year's table is looked up by code in last year's.
    of: &'a TableData,
    row: &'a RowData,
    /// The row's position among the table's rows, in code order.
    position: usize,
}

impl<'a> RowAt<'a> {
    fn code(code: &'a str) -> RowAt<'a> {
        RowAt { code, walked: None }
    }

    /// Every row of a table, in code order, as a walk over it finds them.
    fn walk(of: &'a TableData) -> impl Iterator<Item = RowAt<'a>> {
        of.rows
            .iter()
            .enumerate()
            .map(move |(position, (code, row))| RowAt {
                code,
                walked: Some(Walked { of, row, position }),
            })
    }

    /// The row's data in `table`: from the walk when it walked that table, else by its code.
    fn in_table(&self, table: &'a TableData) -> Option<&'a RowData> {
        match self.walked {
            Some(walked) if std::ptr::eq(walked.of, table) => Some(walked.row),
            _ => table.rows.get(self.code),
        }
    }
}

/// A table's rows as the hierarchy rules walk them, made once per run: what `level(r)`, `has_children(r)` and
/// `children(r)` used to search the code list and the table for at every call.
struct TableRows<'a> {
    of: &'a TableData,
    rows: Vec<(&'a str, &'a RowData)>,
    /// Each row's level in the code list (0: not a listed code).
    levels: Vec<u8>,
    /// Row `i`'s nearest descendants are the rows at `descendants[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    descendants: Vec<usize>,
}

impl<'a> TableRows<'a> {
    fn new(taxonomy: &Taxonomy, table: usize, of: &'a TableData) -> TableRows<'a> {
        let rows: Vec<(&'a str, &'a RowData)> = of
            .rows
            .iter()
            .map(|(code, row)| (code.as_str(), row))
            .collect();
        // The code list is found once for the table, not once for each row.
        let list = code_list(taxonomy, table);
        let mut levels = Vec::with_capacity(rows.len());
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        let mut descendants = Vec::new();
        offsets.push(0);
        for (position, (code, _)) in rows.iter().enumerate() {
            // By shape: a code the year's list lacks (read, and named by the codes check) still has its place
            // in the hierarchy, so the hierarchy sums still hold it.
            levels.push(list.and_then(|list| list.level_of_shape(code)).unwrap_or(0));
            if let Some(list) = list {
                let after = rows[position + 1..]
                    .iter()
                    .enumerate()
                    .map(|(i, (code, _))| (*code, position + 1 + i));
                nearest_descendants(list, code, after, &mut descendants);
            }
            offsets.push(descendants.len());
        }
        TableRows {
            of,
            levels,
            rows,
            offsets,
            descendants,
        }
    }

    fn level(&self, position: usize) -> u8 {
        self.levels[position]
    }

    fn descendants(&self, position: usize) -> impl Iterator<Item = RowAt<'a>> + '_ {
        self.descendants[self.offsets[position]..self.offsets[position + 1]]
            .iter()
            .map(|&at| {
                let (code, row) = self.rows[at];
                RowAt {
                    code,
                    walked: Some(Walked {
                        of: self.of,
                        row,
                        position: at,
                    }),
                }
            })
    }
}

/// The walk index of a disclosure's tables, by the taxonomy's table index.
struct RowIndex<'a> {
    tables: Vec<Option<TableRows<'a>>>,
}

impl<'a> RowIndex<'a> {
    fn new(taxonomy: &Taxonomy, disclosure: &'a Disclosure) -> RowIndex<'a> {
        RowIndex {
            tables: (0..taxonomy.tables.len())
                .map(|table| {
                    disclosure
                        .table(table)
                        .map(|data| TableRows::new(taxonomy, table, data))
                })
                .collect(),
        }
    }

    /// No tables: expressions evaluated outside a run look rows up by code.
    fn none() -> RowIndex<'a> {
        RowIndex { tables: Vec::new() }
    }

    /// The index of `data`, the table being read, when the row was walked in that same table and the index is
    /// of it. Inside `last_year(…)` the table read is last year's while the row was walked in this year's: the
    /// index (this year's descendants) does not answer for it.
    fn of(&self, table: usize, data: &TableData, walked: &Walked<'a>) -> Option<&TableRows<'a>> {
        self.tables
            .get(table)?
            .as_ref()
            .filter(|rows| std::ptr::eq(rows.of, data) && std::ptr::eq(walked.of, data))
    }
}

/// The level of a row code by its shape in its table's code list (listed or not: only well-formed codes at a
/// level the table reports are read); 0 for a line.
fn level_of(taxonomy: &Taxonomy, table: usize, code: &str) -> u8 {
    code_list(taxonomy, table)
        .and_then(|list| list.level_of_shape(code))
        .unwrap_or(0)
}

fn code_list(taxonomy: &Taxonomy, table: usize) -> Option<&CodeList> {
    taxonomy.code_list_of(&taxonomy.tables[table])
}

/// The scoring policy's assessments of a disclosure's indicators, made on first use: slot `offsets[e] + i` is
/// indicator `i` (from 1) of evaluation `e` (0 = the unit's, then the projects).
struct Assessments {
    offsets: Vec<usize>,
    slots: Vec<Option<scoring::Assessment>>,
}

impl Assessments {
    fn new(disclosure: &Disclosure) -> Assessments {
        let mut offsets = vec![0];
        let unit = disclosure
            .unit_evaluation
            .as_ref()
            .map_or(0, |e| e.indicators.len());
        let mut next = unit;
        for project in &disclosure.project_evaluations {
            offsets.push(next);
            next += project.indicators.len();
        }
        Assessments {
            offsets,
            slots: vec![None; next],
        }
    }

    /// No slots: expressions outside rules (narrative values) do not read indicators.
    fn none() -> Assessments {
        Assessments {
            offsets: Vec::new(),
            slots: Vec::new(),
        }
    }

    fn slot(&self, evaluation: usize, indicator: usize) -> Option<usize> {
        Some(self.offsets.get(evaluation)? + indicator.checked_sub(1)?)
    }
}

/// What the validation of one disclosure can see besides the disclosure itself.
#[derive(Default, Clone, Copy)]
pub struct Context<'a> {
    /// Last year's accepted disclosure of the same unit, resolved against this year's taxonomy (by codes).
    pub last_year: Option<&'a Disclosure>,
    /// The budget figures (年初预算数) of the unit for the year, as the budget system gave them.
    pub budget: Option<&'a BudgetFigures>,
    /// How far a rounded figure of a table may be from its stated value beyond its own rounding, by table index,
    /// row code and column index: a consolidated figure adds up many rounded figures, and may be off by the sum of
    /// their roundings. `None` for a unit's own disclosure, whose figures are each rounded once.
    pub tolerance: Option<&'a Tolerance<'a>>,
}

/// How far a figure may be from its stated value beyond its own rounding: (table index, row code, column index) →
/// the extra half-width, `None` for none.
pub type Tolerance<'f> = dyn Fn(usize, &str, usize) -> Option<Decimal> + 'f;

/// A running Σ and count for an aggregation over cells.
struct Tally {
    total: Interval,
    count: u32,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            total: Interval::zero(),
            count: 0,
        }
    }

    /// Adds a figure; `None` when the sum leaves the representable range (the aggregation is then unknown).
    fn add(&mut self, value: &Interval, counted: bool) -> Option<()> {
        self.total = self.total.checked_add(value)?;
        if counted {
            self.count += 1;
        }
        Some(())
    }

    /// Adds an evaluation's figure. A figure not given is skipped by a count, but makes a sum unknown (`None`).
    fn add_evaluation_value(&mut self, value: V<'_>, agg: Agg) -> Option<()> {
        match value {
            V::Num(value) => self.add(&value, true),
            _ if agg == Agg::Sum => None,
            _ => Some(()),
        }
    }

    fn finish<'a>(self, agg: Agg) -> V<'a> {
        match agg {
            Agg::Sum => V::Num(self.total),
            Agg::Count => V::Num(Interval::exact(Decimal::from(self.count))),
            Agg::Present => V::Bool(self.count > 0),
        }
    }
}

struct Env<'a> {
    disclosure: &'a Disclosure,
    taxonomy: &'a Taxonomy,
    rules: &'a RuleSet,
    /// The variables of the rule being run.
    vars: &'a [(String, VarKind)],
    context: Context<'a>,
    bindings: Vec<Binding<'a>>,
    /// Cells read, when a failing check is re-run to explain itself.
    record: Option<Vec<FoundCell>>,
    /// The scoring policy's assessment of each indicator, by (evaluation, indicator) position, shared by every
    /// rule of a run.
    assessments: &'a std::cell::RefCell<Assessments>,
    /// The disclosure's tables indexed for walks over rows (empty outside a run).
    walks: &'a RowIndex<'a>,
    /// Whether comparisons must hold for every value the figures may stand for (conditions), rather than for
    /// some value (checks). A check fails only when no rounding could make it hold; a condition holds only when
    /// no rounding could make it fail — so `when X > 0` is false for a stated 0.00.
    strict: bool,
    /// The row the last cell was read from: a check reads several columns of one row, and each lookup by code
    /// is a search of the table's rows. Known by the table's data rather than its index, because `last_year(…)`
    /// reads the same tables of another disclosure.
    last_row: Option<(&'a TableData, &'a str, &'a RowData)>,
    /// The rows an aggregate reads, kept between aggregates so that each does not allocate its own list.
    selected: Vec<RowAt<'a>>,
}

/// Runs the given rules of a rule set (all of them, or one when testing or explaining a rule).
pub(super) fn run<'r>(
    rules: &'r RuleSet,
    selected: impl IntoIterator<Item = &'r Rule>,
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    context: Context<'_>,
) -> Report {
    let mut report = Report::new(disclosure.cover.fiscal_year);
    let assessments = std::cell::RefCell::new(Assessments::new(disclosure));
    let walks = RowIndex::new(taxonomy, disclosure);
    // One environment for the run, its variables rebound for each rule: its buffers and the last row read carry
    // over from one rule to the next (consecutive rules can read the same row).
    let mut env = Env::new(rules, taxonomy, disclosure, context, &assessments, &walks);
    for rule in selected {
        env.vars = &rule.vars;
        env.bindings.clear();
        env.bindings.resize(rule.vars.len(), Binding::Unbound);
        env.clauses(rule, 0, &mut report);
    }
    report
}

/// Evaluates a standalone expression (no rule variables) to a number: its interval, and the cells it read.
/// `None` when it is unknown or not a number.
pub(super) fn evaluate_number(
    rules: &RuleSet,
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    context: Context<'_>,
    expr: &Expr,
    record: bool,
) -> (Option<Interval>, Vec<FoundCell>) {
    let assessments = std::cell::RefCell::new(Assessments::none());
    let walks = RowIndex::none();
    let mut env = Env::new(rules, taxonomy, disclosure, context, &assessments, &walks);
    env.record = record.then(Vec::new);
    let value = match env.eval(expr) {
        V::Num(interval) => Some(interval),
        _ => None,
    };
    let mut cells = env.record.take().unwrap_or_default();
    dedup_cells(&mut cells);
    (value, cells)
}

/// The same expression on last year's figures, when there are any.
pub(super) fn evaluate_last_year(
    rules: &RuleSet,
    taxonomy: &Taxonomy,
    context: Context<'_>,
    expr: &Expr,
) -> Option<Interval> {
    let last_year = context.last_year?;
    evaluate_number(rules, taxonomy, last_year, Context::default(), expr, false).0
}

impl<'a> Env<'a> {
    /// An environment with no rule's variables bound and no cells recorded.
    fn new(
        rules: &'a RuleSet,
        taxonomy: &'a Taxonomy,
        disclosure: &'a Disclosure,
        context: Context<'a>,
        assessments: &'a std::cell::RefCell<Assessments>,
        walks: &'a RowIndex<'a>,
    ) -> Env<'a> {
        Env {
            disclosure,
            taxonomy,
            rules,
            vars: &[],
            context,
            bindings: Vec::new(),
            record: None,
            assessments,
            walks,
            strict: false,
            last_row: None,
            selected: Vec::new(),
        }
    }

    fn clauses(&mut self, rule: &'a Rule, index: usize, report: &mut Report) {
        let Some(clause) = rule.clauses.get(index) else {
            self.check(rule, report);
            return;
        };
        match clause {
            Clause::When(condition) => {
                self.strict = true;
                let holds = self.eval(condition);
                self.strict = false;
                match holds {
                    V::Bool(true) => self.clauses(rule, index + 1, report),
                    V::Bool(false) => {}
                    _ => report.checks_not_evaluated += 1,
                }
            }
            Clause::For(slot, domain) => {
                let slot = *slot;
                match domain {
                    Domain::Rows { table, pattern } => {
                        let Some(data) = self.disclosure.table(*table) else {
                            return;
                        };
                        for row in RowAt::walk(data) {
                            if pattern
                                .as_ref()
                                .is_some_and(|p| !matches_pattern(row.code, p))
                            {
                                continue;
                            }
                            self.bindings[slot] = Binding::Row(row);
                            self.clauses(rule, index + 1, report);
                        }
                    }
                    Domain::Columns { table } => {
                        for column in 0..self.taxonomy.tables[*table].columns.len() {
                            self.bindings[slot] = Binding::Column {
                                table: *table,
                                index: column,
                            };
                            self.clauses(rule, index + 1, report);
                        }
                    }
                    Domain::Evaluations(set) => {
                        let unit = self.disclosure.unit_evaluation.iter().map(|e| (e, 0));
                        let projects = self.disclosure.project_evaluations.iter().zip(1..);
                        let chosen: Vec<(&'a Evaluation, usize)> = match set {
                            EvaluationSet::All => unit.chain(projects).collect(),
                            EvaluationSet::Projects => projects.collect(),
                            EvaluationSet::Unit => unit.collect(),
                        };
                        for (evaluation, position) in chosen {
                            self.bindings[slot] = Binding::Evaluation {
                                evaluation,
                                position,
                            };
                            self.clauses(rule, index + 1, report);
                        }
                    }
                    Domain::Indicators => {
                        let Some((evaluation, _)) = self.evaluation() else {
                            return;
                        };
                        for (position, indicator) in evaluation.indicators.iter().enumerate() {
                            self.bindings[slot] = Binding::Indicator {
                                indicator,
                                position: position + 1,
                            };
                            self.clauses(rule, index + 1, report);
                        }
                    }
                }
                self.bindings[slot] = Binding::Unbound;
            }
        }
    }

    fn check(&mut self, rule: &'a Rule, report: &mut Report) {
        match self.eval(&rule.check) {
            V::Bool(true) => report.checks_evaluated += 1,
            V::Bool(false) => {
                report.checks_evaluated += 1;
                report.findings.push(self.explain(rule));
            }
            _ => report.checks_not_evaluated += 1,
        }
    }

    /// Builds the finding of a failed check: re-evaluates it, recording the cells it reads.
    fn explain(&mut self, rule: &'a Rule) -> Finding {
        self.record = Some(Vec::new());
        let (provided, expected, display_scale) = match &rule.check {
            Expr::Cmp(_, left, right) => {
                let left_value = self.eval(left);
                let right_value = self.eval(right);
                let scale = self.display_scale(left);
                match (left_value, right_value) {
                    (V::Num(l), V::Num(r)) => (Some(l.nominal()), Some(r.nominal()), scale),
                    _ => (None, None, scale),
                }
            }
            other => {
                self.eval(other);
                (None, None, 2)
            }
        };
        let mut cells = self.record.take().unwrap_or_default();
        dedup_cells(&mut cells);

        let provided = provided.map(|p| round_for_display(p, display_scale));
        let expected = expected.map(|e| round_for_display(e, display_scale));
        let difference = match (provided, expected) {
            (Some(p), Some(e)) => p.checked_sub(e),
            _ => None,
        };
        let severity = match rule.severity {
            SeveritySpec::Fixed(severity) => severity,
            SeveritySpec::Policy => self.rules.scoring.mismatch_severity,
        };
        let (project, indicator) = self.scope_names();
        let message = self.render(&rule.message, provided, expected, difference);
        Finding {
            rule_id: rule.id.clone(),
            severity,
            message,
            cells,
            provided,
            expected,
            difference,
            project,
            indicator,
            key: String::new(),
            explanation: None,
        }
    }

    /// The precision to show an expected value at: that of the stated value it is compared with (at least two
    /// decimals, the precision of disclosed amounts).
    fn display_scale(&self, left: &'a Expr) -> u32 {
        match left {
            Expr::Cell(cell) => match (self.cell_value(cell), cell.table) {
                // Counts show as whole numbers; amounts, rates and scores with at least two decimals.
                (Some(value), TableRef::Table(table))
                    if self.column_index(table, &cell.col).is_some_and(|c| {
                        self.taxonomy.tables[table].columns[c].kind.is_exact()
                    }) =>
                {
                    value.scale()
                }
                (Some(value), _) => value.scale().max(2),
                (None, _) => 2,
            },
            _ => 2,
        }
    }

    fn cell_value(&self, cell: &'a CellRef) -> Option<Value> {
        match cell.table {
            TableRef::Table(table) => {
                let row = self.row_code(&cell.rows)?;
                let column = self.column_index(table, &cell.col)?;
                match self.disclosure.cell(table, row, column) {
                    CellState::Given(value) => Some(value),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn scope_names(&self) -> (Option<(usize, String)>, Option<String>) {
        let mut project = None;
        let mut indicator = None;
        for binding in &self.bindings {
            match binding {
                Binding::Evaluation {
                    evaluation,
                    position,
                } if *position > 0 => {
                    project = Some((*position, evaluation.project.clone().unwrap_or_default()));
                }
                Binding::Indicator { indicator: i, .. } => indicator = Some(i.name.clone()),
                _ => {}
            }
        }
        (project, indicator)
    }

    fn current_indicator(&self) -> Option<&'a Indicator> {
        self.bindings.iter().find_map(|b| match b {
            Binding::Indicator { indicator, .. } => Some(*indicator),
            _ => None,
        })
    }

    fn render(
        &self,
        template: &Template,
        provided: Option<Decimal>,
        expected: Option<Decimal>,
        difference: Option<Decimal>,
    ) -> String {
        let mut out = String::new();
        let number =
            |value: Option<Decimal>| value.map_or_else(|| "?".to_owned(), |v| v.to_string());
        for piece in &template.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Provided => out.push_str(&number(provided)),
                Piece::Expected => out.push_str(&number(expected)),
                Piece::Difference => out.push_str(&number(difference)),
                Piece::VarCode(slot) => out.push_str(&self.binding_code(*slot)),
                Piece::VarName(slot) => out.push_str(&self.binding_name(*slot)),
                Piece::Project => {
                    let (project, _) = self.scope_names();
                    out.push_str(
                        project
                            .as_ref()
                            .map_or("单位整体", |(_, name)| name.as_str()),
                    );
                }
                Piece::Indicator => {
                    out.push_str(self.current_indicator().map_or("", |i| i.name.as_str()))
                }
                Piece::Target => out.push_str(
                    self.current_indicator()
                        .and_then(|i| i.target.as_ref())
                        .map_or("", |m| m.raw.as_str()),
                ),
                Piece::Actual => out.push_str(
                    self.current_indicator()
                        .and_then(|i| i.actual.as_ref())
                        .map_or("", |m| m.raw.as_str()),
                ),
                Piece::AmountUnit => out.push_str(self.disclosure.cover.amount_unit.name()),
            }
        }
        out
    }

    fn binding_code(&self, slot: usize) -> String {
        match self.bindings[slot] {
            Binding::Row(row) => row.code.to_owned(),
            Binding::Column { table, index } => {
                self.taxonomy.tables[table].columns[index].code.clone()
            }
            Binding::Evaluation { evaluation, .. } => evaluation
                .project
                .clone()
                .unwrap_or_else(|| "单位整体".into()),
            Binding::Indicator { indicator, .. } => indicator.name.clone(),
            Binding::Unbound => String::new(),
        }
    }

    fn binding_name(&self, slot: usize) -> String {
        match (
            self.bindings[slot],
            self.vars.get(slot).map(|(_, kind)| *kind),
        ) {
            (Binding::Row(row), Some(VarKind::Row { table })) => self
                .taxonomy
                .row_name(&self.taxonomy.tables[table], row.code)
                .unwrap_or(row.code)
                .to_owned(),
            (Binding::Column { table, index }, _) => {
                self.taxonomy.tables[table].columns[index].name.clone()
            }
            _ => self.binding_code(slot),
        }
    }

    fn evaluation(&self) -> Option<(&'a Evaluation, usize)> {
        self.bindings.iter().find_map(|b| match b {
            Binding::Evaluation {
                evaluation,
                position,
            } => Some((*evaluation, *position)),
            _ => None,
        })
    }

    fn row_code(&self, rows: &'a RowSel) -> Option<&'a str> {
        self.row_at(rows).map(|row| row.code)
    }

    /// The one row a selector names: a code, or a row variable's binding.
    fn row_at(&self, rows: &'a RowSel) -> Option<RowAt<'a>> {
        match rows {
            RowSel::Code(code) => Some(RowAt::code(code)),
            RowSel::Var(slot) => match self.bindings[*slot] {
                Binding::Row(row) => Some(row),
                _ => None,
            },
            _ => None,
        }
    }

    fn column_index(&self, table: usize, col: &ColSel) -> Option<usize> {
        match col {
            ColSel::Index(index) => Some(*index),
            ColSel::Var(slot) => match self.bindings[*slot] {
                Binding::Column {
                    table: var_table,
                    index,
                } if var_table == table => Some(index),
                Binding::Column {
                    table: var_table,
                    index,
                } => {
                    let code = &self.taxonomy.tables[var_table].columns[index].code;
                    self.taxonomy.tables[table].column_index(code)
                }
                _ => None,
            },
        }
    }

    /// Records a cell read, when a failing check is being explained; the cell is only built then.
    fn note(&mut self, cell: impl FnOnce() -> FoundCell) {
        if let Some(record) = &mut self.record {
            record.push(cell());
        }
    }

    fn eval(&mut self, expr: &'a Expr) -> V<'a> {
        match expr {
            Expr::Num(n) => V::Num(Interval::exact(*n)),
            Expr::Str(s) => V::Str(Cow::Borrowed(s)),
            Expr::Cell(cell) => self.cell(cell),
            Expr::Agg(agg, cells) => self.aggregate(*agg, cells),
            Expr::Def(slot) => {
                let rules = self.rules;
                self.eval(&rules.definitions[*slot].expr)
            }
            Expr::Attr(attr) => {
                let cover = &self.disclosure.cover;
                V::Str(Cow::Borrowed(match attr {
                    Attr::ReportType => cover.report_type.name(),
                    Attr::UnitType => cover.unit_type.map_or("", |t| t.name()),
                    Attr::AmountUnit => cover.amount_unit.name(),
                }))
            }
            Expr::Var(slot) => V::Str(Cow::Owned(self.binding_code(*slot))),
            Expr::Call(func, args) => self.call(*func, args),
            Expr::Neg(inner) => match self.eval(inner) {
                V::Num(i) => V::Num(i.neg()),
                _ => V::Unknown,
            },
            Expr::Bin(op, left, right) => {
                let (V::Num(l), V::Num(r)) = (self.eval(left), self.eval(right)) else {
                    return V::Unknown;
                };
                let result = match op {
                    BinOp::Add => l.checked_add(&r),
                    BinOp::Sub => l.checked_sub(&r),
                    BinOp::Mul => l.checked_mul(&r),
                    BinOp::Div => l.checked_div(&r),
                };
                result.map_or(V::Unknown, V::Num)
            }
            Expr::Cmp(op, left, right) => {
                let (l, r) = (self.eval(left), self.eval(right));
                match (l, r) {
                    (V::Num(l), V::Num(r)) if self.strict => V::Bool(match op {
                        CmpOp::Eq => l.is_point() && r.is_point() && l == r,
                        CmpOp::Ne => !l.overlaps(&r),
                        CmpOp::Le => l.surely_le(&r),
                        CmpOp::Ge => r.surely_le(&l),
                        CmpOp::Lt => l.surely_lt(&r),
                        CmpOp::Gt => r.surely_lt(&l),
                    }),
                    (V::Num(l), V::Num(r)) => V::Bool(match op {
                        CmpOp::Eq => l.overlaps(&r),
                        CmpOp::Ne => !l.overlaps(&r),
                        CmpOp::Le => l.may_be_le(&r),
                        CmpOp::Ge => r.may_be_le(&l),
                        CmpOp::Lt => l.may_be_lt(&r),
                        CmpOp::Gt => r.may_be_lt(&l),
                    }),
                    (V::Str(l), V::Str(r)) => match op {
                        CmpOp::Eq => V::Bool(l == r),
                        CmpOp::Ne => V::Bool(l != r),
                        _ => V::Unknown,
                    },
                    (V::Bool(l), V::Bool(r)) => match op {
                        CmpOp::Eq => V::Bool(l == r),
                        CmpOp::Ne => V::Bool(l != r),
                        _ => V::Unknown,
                    },
                    _ => V::Unknown,
                }
            }
            Expr::And(left, right) => match (self.eval(left), self.eval(right)) {
                (V::Bool(false), _) | (_, V::Bool(false)) => V::Bool(false),
                (V::Bool(true), V::Bool(true)) => V::Bool(true),
                _ => V::Unknown,
            },
            Expr::Or(left, right) => match (self.eval(left), self.eval(right)) {
                (V::Bool(true), _) | (_, V::Bool(true)) => V::Bool(true),
                (V::Bool(false), V::Bool(false)) => V::Bool(false),
                _ => V::Unknown,
            },
            Expr::Not(inner) => {
                // not(holds for every value) = fails for some value: negation flips strictness.
                self.strict = !self.strict;
                let value = self.eval(inner);
                self.strict = !self.strict;
                match value {
                    V::Bool(b) => V::Bool(!b),
                    _ => V::Unknown,
                }
            }
        }
    }

    fn cell(&mut self, cell: &'a CellRef) -> V<'a> {
        match cell.table {
            TableRef::Table(table) => {
                let (Some(row), Some(column)) =
                    (self.row_at(&cell.rows), self.column_index(table, &cell.col))
                else {
                    return V::Unknown;
                };
                self.table_cell_read(table, row, column).0
            }
            TableRef::Funds | TableRef::UnitFunds => {
                let scope = if cell.table == TableRef::UnitFunds {
                    self.disclosure.unit_evaluation.as_ref().map(|e| (e, 0))
                } else {
                    self.evaluation()
                };
                let Some((evaluation, position)) = scope else {
                    return V::Unknown;
                };
                let RowSel::Code(code) = &cell.rows else {
                    return V::Unknown;
                };
                let Some(source) = FundsSource::from_code(code) else {
                    return V::Unknown;
                };
                let ColSel::Index(column) = cell.col else {
                    return V::Unknown;
                };
                self.note(|| {
                    evaluation_cell(position, format!("funds.{code}"), FUNDS_COLUMNS[column])
                });
                match evaluation.funds_row(source) {
                    Some(row) => self.evaluation_value(row.column(column), FUNDS_COLUMNS[column]),
                    // A funds table lists the sources it has; a source it does not list has nothing.
                    None if !evaluation.funds.is_empty() => V::Num(Interval::zero()),
                    None => V::Unknown,
                }
            }
            TableRef::Indicators => {
                let Some((_, position)) = self.evaluation() else {
                    return V::Unknown;
                };
                let RowSel::Var(slot) = cell.rows else {
                    return V::Unknown;
                };
                let Binding::Indicator {
                    indicator,
                    position: i,
                } = self.bindings[slot]
                else {
                    return V::Unknown;
                };
                let ColSel::Index(column) = cell.col else {
                    return V::Unknown;
                };
                self.note(|| {
                    evaluation_cell(
                        position,
                        format!("indicator.{i}"),
                        INDICATOR_COLUMNS[column],
                    )
                });
                self.evaluation_value(indicator.column(column), INDICATOR_COLUMNS[column])
            }
            TableRef::Summary => {
                let Some((evaluation, position)) = self.evaluation() else {
                    return V::Unknown;
                };
                let ColSel::Index(column) = cell.col else {
                    return V::Unknown;
                };
                self.note(|| evaluation_cell(position, "summary".into(), SUMMARY_COLUMNS[column]));
                self.evaluation_value(evaluation.summary(column), SUMMARY_COLUMNS[column])
            }
            // The parser allows PROJECTS only in aggregates.
            TableRef::Projects => V::Unknown,
        }
    }

    /// Evaluation facts are optional: not stated means unknown. Weights are exact (they are assigned, not
    /// measured); scores are stated to at least the policy's decimals; the rest are rounded figures.
    fn evaluation_value(&self, value: Option<Value>, column: &str) -> V<'a> {
        match value {
            None => V::Unknown,
            Some(value) => V::Num(match column {
                "weight" => value.exact_interval(),
                "score" => self.rules.scoring.score_interval(value),
                _ => value.rounded_interval(),
            }),
        }
    }

    /// A table cell's value, and whether the disclosure states it (a blank reads as zero), from one lookup.
    fn table_cell_read(&mut self, table: usize, row: RowAt<'a>, column: usize) -> (V<'a>, bool) {
        let def = &self.taxonomy.tables[table];
        self.note(|| FoundCell {
            table: def.code.clone(),
            row: row.code.to_owned(),
            column: def.columns[column].code.clone(),
            unit: None,
        });
        let Some(data) = self.disclosure.table(table) else {
            return (V::Unknown, false);
        };
        let row_data = match (row.walked, self.last_row) {
            (Some(walked), _) if std::ptr::eq(walked.of, data) => Some(walked.row),
            (_, Some((of, code, row_data))) if std::ptr::eq(of, data) && code == row.code => {
                Some(row_data)
            }
            _ => {
                let found = data.rows.get(row.code);
                if let Some(row_data) = found {
                    self.last_row = Some((data, row.code, row_data));
                }
                found
            }
        };
        match data.cell_of(row_data, column) {
            CellState::Given(value) => (
                V::Num(if def.columns[column].kind.is_exact() {
                    value.exact_interval()
                } else {
                    let interval = value.rounded_interval();
                    match self
                        .context
                        .tolerance
                        .and_then(|tolerance| tolerance(table, row.code, column))
                    {
                        Some(more) => Interval::from_bounds(
                            interval.lo() - more,
                            interval.nominal(),
                            interval.hi() + more,
                        ),
                        None => interval,
                    }
                }),
                true,
            ),
            CellState::Blank => (V::Num(Interval::zero()), false),
            CellState::Unknown => (V::Unknown, false),
        }
    }

    /// Adds to `out` the rows a multi-row selector picks among the rows given, each with where it was found.
    fn select_rows(&self, table: usize, rows: &'a RowSel, out: &mut Vec<RowAt<'a>>) {
        let Some(data) = self.disclosure.table(table) else {
            return;
        };
        let given = RowAt::walk(data);
        match rows {
            RowSel::Code(_) | RowSel::Var(_) => out.extend(self.row_at(rows)),
            RowSel::All => out.extend(given),
            RowSel::Pattern(pattern) => {
                out.extend(given.filter(|row| matches_pattern(row.code, pattern)))
            }
            RowSel::Range(from, to) => out.extend(given.filter(|row| {
                row.code.len() == from.len() && row.code >= from.as_str() && row.code <= to.as_str()
            })),
            RowSel::Children(slot) => {
                let Binding::Row(parent) = self.bindings[*slot] else {
                    return;
                };
                if let Some(walked) = parent.walked
                    && let Some(index) = self.walks.of(table, data, &walked)
                {
                    out.extend(index.descendants(walked.position));
                    return;
                }
                if let Some(list) = code_list(self.taxonomy, table) {
                    let after = rows_after(data, parent.code).map(|code| (code, RowAt::code(code)));
                    nearest_descendants(list, parent.code, after, out);
                }
            }
        }
    }

    fn aggregate(&mut self, agg: Agg, cells: &'a CellRef) -> V<'a> {
        let TableRef::Table(table) = cells.table else {
            // IND[*, column]: over the evaluation's indicators.
            return self.aggregate_indicators(agg, cells);
        };
        let Some(column) = self.column_index(table, &cells.col) else {
            return V::Unknown;
        };
        let Some(data) = self.disclosure.table(table) else {
            return match agg {
                Agg::Present => V::Bool(false),
                _ => V::Unknown,
            };
        };
        let complete = data.completeness == crate::domain::disclosure::Completeness::Complete;
        // The run's list of rows, lent to this aggregate (reading cells evaluates nothing, so no other aggregate
        // can ask for it meanwhile) and given back emptied.
        let mut rows = std::mem::take(&mut self.selected);
        self.select_rows(table, &cells.rows, &mut rows);
        let mut tally = Tally::new();
        let mut unknown = false;
        for &row in &rows {
            match self.table_cell_read(table, row, column) {
                (V::Num(value), given) => {
                    if tally.add(&value, given).is_none() {
                        unknown = true;
                        break;
                    }
                }
                // A partial table's unknown cell is left out of a sum: the sum is of what the table gives.
                _ if !complete => {}
                _ => {
                    unknown = true;
                    break;
                }
            }
        }
        rows.clear();
        self.selected = rows;
        if unknown {
            return V::Unknown;
        }
        tally.finish(agg)
    }

    fn aggregate_indicators(&mut self, agg: Agg, cells: &'a CellRef) -> V<'a> {
        if cells.table == TableRef::Projects {
            return self.aggregate_projects(agg, cells);
        }
        let Some((evaluation, position)) = self.evaluation() else {
            return V::Unknown;
        };
        let ColSel::Index(column) = cells.col else {
            return V::Unknown;
        };
        if cells.table != TableRef::Indicators {
            return V::Unknown;
        }
        let mut tally = Tally::new();
        for (i, indicator) in evaluation.indicators.iter().enumerate() {
            self.note(|| {
                evaluation_cell(
                    position,
                    format!("indicator.{}", i + 1),
                    INDICATOR_COLUMNS[column],
                )
            });
            let value = self.evaluation_value(indicator.column(column), INDICATOR_COLUMNS[column]);
            if tally.add_evaluation_value(value, agg).is_none() {
                return V::Unknown;
            }
        }
        tally.finish(agg)
    }

    /// Σ / count over the total funds row of every project evaluation.
    fn aggregate_projects(&mut self, agg: Agg, cells: &'a CellRef) -> V<'a> {
        let ColSel::Index(column) = cells.col else {
            return V::Unknown;
        };
        let disclosure = self.disclosure;
        let mut tally = Tally::new();
        for (i, project) in disclosure.project_evaluations.iter().enumerate() {
            self.note(|| evaluation_cell(i + 1, "funds.total".into(), FUNDS_COLUMNS[column]));
            let value = project
                .funds_row(FundsSource::Total)
                .and_then(|row| row.column(column));
            let value = self.evaluation_value(value, FUNDS_COLUMNS[column]);
            if tally.add_evaluation_value(value, agg).is_none() {
                return V::Unknown;
            }
        }
        tally.finish(agg)
    }

    fn call(&mut self, func: Func, args: &'a [Expr]) -> V<'a> {
        let assessment = |env: &mut Self| -> Option<scoring::Assessment> {
            let Some(Expr::Var(slot)) = args.first() else {
                return None;
            };
            let Binding::Indicator {
                indicator,
                position,
            } = env.bindings[*slot]
            else {
                return None;
            };
            let (_, evaluation) = env.evaluation()?;
            // The policy reads the indicator's target and actual value: those are the cells a finding names.
            env.note(|| evaluation_cell(evaluation, format!("indicator.{position}"), "target"));
            env.note(|| evaluation_cell(evaluation, format!("indicator.{position}"), "actual"));
            let slot = env.assessments.borrow().slot(evaluation, position);
            if let Some(cached) =
                slot.and_then(|s| env.assessments.borrow().slots.get(s).copied().flatten())
            {
                return Some(cached);
            }
            let assessed = env.rules.scoring.assess(indicator);
            if let Some(s) = slot
                && let Some(entry) = env.assessments.borrow_mut().slots.get_mut(s)
            {
                *entry = Some(assessed);
            }
            Some(assessed)
        };
        let num = |value: Option<Interval>| value.map_or(V::Unknown, V::Num);
        match func {
            Func::Abs => match self.eval(&args[0]) {
                V::Num(i) => V::Num(i.abs()),
                _ => V::Unknown,
            },
            Func::Min | Func::Max => match (self.eval(&args[0]), self.eval(&args[1])) {
                (V::Num(a), V::Num(b)) => V::Num(if func == Func::Min {
                    a.min(&b)
                } else {
                    a.max(&b)
                }),
                _ => V::Unknown,
            },
            Func::Given => match &args[0] {
                Expr::Cell(cell) => match cell.table {
                    TableRef::Table(table) => {
                        let (Some(row), Some(column)) =
                            (self.row_at(&cell.rows), self.column_index(table, &cell.col))
                        else {
                            return V::Unknown;
                        };
                        V::Bool(self.disclosure.table(table).is_some_and(|data| {
                            matches!(
                                data.cell_of(row.in_table(data), column),
                                CellState::Given(_)
                            )
                        }))
                    }
                    _ => V::Bool(matches!(self.cell(cell), V::Num(_))),
                },
                _ => V::Unknown,
            },
            Func::Level | Func::HasChildren => {
                let Some(Expr::Var(slot)) = args.first() else {
                    return V::Unknown;
                };
                let (Binding::Row(row), Some(&(_, VarKind::Row { table }))) =
                    (self.bindings[*slot], self.vars.get(*slot))
                else {
                    return V::Unknown;
                };
                let data = self.disclosure.table(table);
                let index = match (row.walked, data) {
                    (Some(walked), Some(data)) => self
                        .walks
                        .of(table, data, &walked)
                        .map(|index| (index, walked.position)),
                    _ => None,
                };
                let level = match index {
                    Some((index, position)) => index.level(position),
                    None => level_of(self.taxonomy, table, row.code),
                };
                if func == Func::Level {
                    return V::Num(Interval::exact(Decimal::from(level)));
                }
                if let Some((index, position)) = index {
                    return V::Bool(level > 0 && index.descendants(position).next().is_some());
                }
                let Some(data) = data else {
                    return V::Bool(false);
                };
                let Some(list) = code_list(self.taxonomy, table).filter(|_| level > 0) else {
                    return V::Bool(false);
                };
                let after = rows_after(data, row.code).map(|code| (code, ()));
                let mut found = Vec::new();
                nearest_descendants(list, row.code, after, &mut found);
                V::Bool(!found.is_empty())
            }
            Func::Completion => num(assessment(self).and_then(|a| a.completion)),
            Func::ExpectedScore => num(assessment(self).and_then(|a| a.expected_score)),
            Func::KindsMatch => assessment(self)
                .and_then(|a| a.kinds_match)
                .map_or(V::Unknown, V::Bool),
            Func::Comparable => assessment(self).map_or(V::Unknown, |a| V::Bool(a.comparable)),
            Func::ExecutionScore => num(self
                .evaluation()
                .and_then(|(e, _)| self.rules.scoring.execution_score(e))),
            Func::Explained => {
                let [Expr::Str(section), words @ ..] = args else {
                    return V::Unknown;
                };
                let words: Vec<&str> = words
                    .iter()
                    .filter_map(|w| match w {
                        Expr::Str(w) => Some(w.as_str()),
                        _ => None,
                    })
                    .collect();
                V::Bool(
                    self.disclosure
                        .narrative
                        .iter()
                        .any(|s| s.key == *section && super::narrative::explains(&s.text, &words)),
                )
            }
            Func::ExecutionWeight => {
                num(Some(Interval::exact(self.rules.scoring.execution_weight)))
            }
            Func::IsProject => V::Bool(self.evaluation().is_some_and(|(_, position)| position > 0)),
            Func::LastYear => {
                let Some(disclosure) = self.context.last_year else {
                    return V::Unknown;
                };
                let saved = std::mem::replace(&mut self.disclosure, disclosure);
                let value = self.eval(&args[0]);
                self.disclosure = saved;
                value
            }
            Func::Budget => {
                let (Some(budget), Some(Expr::Cell(cell))) = (self.context.budget, args.first())
                else {
                    return V::Unknown;
                };
                let TableRef::Table(table) = cell.table else {
                    return V::Unknown;
                };
                let (Some(row), Some(column)) = (
                    self.row_code(&cell.rows),
                    self.column_index(table, &cell.col),
                ) else {
                    return V::Unknown;
                };
                let def = &self.taxonomy.tables[table];
                match budget.get(&def.code, row, &def.columns[column].code) {
                    Some(value) => V::Num(value.rounded_interval()),
                    None => V::Unknown,
                }
            }
        }
    }
}

fn evaluation_cell(position: usize, row: String, column: &str) -> FoundCell {
    FoundCell {
        unit: None,
        table: if position == 0 {
            "EVAL".into()
        } else {
            "PROJ".into()
        },
        row,
        column: column.to_owned(),
    }
}

/// Whether a code matches digits with '?' wildcards of the same length.
pub fn matches_pattern(code: &str, pattern: &str) -> bool {
    code.len() == pattern.len()
        && code
            .bytes()
            .zip(pattern.bytes())
            .all(|(c, p)| p == b'?' || c == p)
}

/// The codes of a table's rows after `code`, in code order.
fn rows_after<'r>(data: &'r TableData, code: &str) -> impl Iterator<Item = &'r str> + Clone {
    data.rows
        .range::<str, _>((std::ops::Bound::Excluded(code), std::ops::Bound::Unbounded))
        .map(|(code, _)| code.as_str())
}

/// Adds to `out`, among the rows after `parent` (in code order, each with what the caller wants back), those of
/// `parent`'s descendants at the nearest level below it that has any.
///
/// The rows are in code order, so a parent's descendants (the codes that start with its code) are one
/// contiguous range after it: this reads that range, not every row of the table, which made the hierarchy
/// families quadratic in a table's rows.
fn nearest_descendants<'r, T>(
    list: &CodeList,
    parent: &str,
    after: impl Iterator<Item = (&'r str, T)> + Clone,
    out: &mut Vec<T>,
) {
    let Some(level) = list.level_of_shape(parent) else {
        return;
    };
    let descendants = || {
        after
            .clone()
            .take_while(|(code, _)| code.starts_with(parent))
    };
    for digits in list.level_digits.iter().skip(level as usize) {
        let before = out.len();
        out.extend(
            descendants()
                .filter(|(code, _)| code.len() == *digits)
                .map(|(_, item)| item),
        );
        if out.len() > before {
            return;
        }
    }
}

impl Severity {
    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_are_the_nearest_level_below_the_parent_that_has_any() {
        let taxonomy = crate::domain::taxonomy::test_support::year(2024);
        let table = taxonomy.table_index("T02").unwrap();
        let data = TableData {
            completeness: crate::domain::disclosure::Completeness::Complete,
            declared_empty: false,
            rows: [
                "201", "2010101", "2010102", "20102", "2011", "20110", "202", "2020101", "208",
                "2080101x",
            ]
            .into_iter()
            .map(|code| {
                (
                    code.to_owned(),
                    RowData {
                        label: String::new(),
                        cells: Vec::new(),
                    },
                )
            })
            .collect(),
        };
        let index = TableRows::new(&taxonomy, table, &data);
        let of = |parent: &str| -> Vec<&str> {
            let after = rows_after(&data, parent).map(|code| (code, code));
            let mut found = Vec::new();
            nearest_descendants(
                code_list(&taxonomy, table).unwrap(),
                parent,
                after,
                &mut found,
            );
            // A row's descendants found once for the run are the same as those found when asked.
            if let Some(position) = index.rows.iter().position(|(code, _)| *code == parent) {
                let indexed: Vec<&str> = index.descendants(position).map(|row| row.code).collect();
                assert_eq!(indexed, found, "the index's descendants of {parent}");
            }
            found
        };
        // 201's 款 level: 20102 and 20110, not the stray 4-digit 2011 nor the 项 rows below 20101.
        assert_eq!(of("201"), ["20102", "20110"]);
        // No 款 under 202: its 项 rows are the nearest.
        assert_eq!(of("202"), ["2020101"]);
        assert_eq!(of("20101"), ["2010101", "2010102"]);
        // Below 208 only a code of no level's length.
        assert!(of("208").is_empty());
        assert!(of("2010101").is_empty());
        assert!(of("205").is_empty());
        // A parent that is not itself a row still has its descendants.
        assert_eq!(of("20201"), ["2020101"]);
    }

    #[test]
    fn inside_last_year_a_walked_rows_children_are_last_years() {
        use crate::domain::disclosure::{
            Completeness::Complete,
            test_support::{draft, table},
        };
        let taxonomy = crate::domain::taxonomy::test_support::year(2024);
        let mut definitions = super::super::parser::DefinitionTable::default();
        let parsed = super::super::parser::parse_file(
            "rule LY-CHILDREN error \"x\"\n  for $r in rows T02\n  when level($r) == 1\n  \
             check last_year(sum(T02[children($r), total])) == 7\n",
            "test.rules",
            &taxonomy,
            &mut definitions,
        )
        .unwrap();
        let income = |cells: &[(&str, &str, &str)]| {
            draft(2024, vec![table("T02", Complete, cells)]).resolve_unchecked(&taxonomy)
        };
        // This year 201's 款 is 20101; last year it was 20102 alone.
        let this_year = income(&[("201", "total", "10"), ("20101", "total", "10")]);
        let last_year = income(&[("201", "total", "7"), ("20102", "total", "7")]);
        let report = run(
            &taxonomy.rules,
            &parsed.rules,
            &taxonomy,
            &this_year,
            Context {
                last_year: Some(&last_year),
                budget: None,
                ..Default::default()
            },
        );
        // Last year's 20102 sums to 7; this year's 20101 read in last year's table would be 0.
        assert_eq!(report.checks_evaluated, 1);
        assert!(report.findings.is_empty(), "{:?}", report.findings);
    }

    #[test]
    fn patterns_match_by_length_and_digits() {
        assert!(matches_pattern("30101", "301??"));
        assert!(!matches_pattern("301", "301??"));
        assert!(!matches_pattern("30201", "301??"));
    }
}
