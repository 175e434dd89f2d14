//! The compiled form of rules: every table, column and definition already resolved against the taxonomy, so that
//! evaluation does no name lookups but row codes.

use rust_decimal::Decimal;

use crate::domain::validation::Severity;

/// A table a rule reads: one of the taxonomy's, or a part of the evaluation in scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableRef {
    Table(usize),
    /// `FUNDS`: the evaluation's funds rows (rows by source, columns `FUNDS_COLUMNS`).
    Funds,
    /// `IND`: the evaluation's indicators (rows by `$i`, columns `INDICATOR_COLUMNS`).
    Indicators,
    /// `SUMMARY`: the evaluation's 总分 row ("total"; columns `SUMMARY_COLUMNS`).
    Summary,
    /// `UNIT_FUNDS`: the unit's overall evaluation's funds rows, usable anywhere.
    UnitFunds,
    /// `PROJECTS`: the total funds row of every project evaluation (rows `*` only, in aggregates).
    Projects,
}

/// Which rows a reference selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowSel {
    /// One row by code (a line code, a classification code, a funds source).
    Code(String),
    /// The row bound to a variable.
    Var(usize),
    /// Rows whose code matches digits with '?' wildcards, e.g. `301??`.
    Pattern(String),
    /// Rows with codes from..=to of the same length, e.g. `30101..30199`.
    Range(String, String),
    /// Every row given.
    All,
    /// The given rows of the nearest level below the row bound to a variable.
    Children(usize),
}

impl RowSel {
    pub fn is_single(&self) -> bool {
        matches!(self, RowSel::Code(_) | RowSel::Var(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColSel {
    Index(usize),
    /// The column bound to a variable (matched by code when the variable ranges over another table).
    Var(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CellRef {
    pub table: TableRef,
    pub rows: RowSel,
    pub col: ColSel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    /// Σ of the given cells (blank cells are zero; unknown cells of a partial table are left out).
    Sum,
    /// Number of cells given.
    Count,
    /// Whether any cell is given.
    Present,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
        }
    }
}

/// Facts of the cover a condition can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// "单户表", "汇总表" or "调整表".
    ReportType,
    /// "行政单位", "公益一类", … or "" when not given.
    UnitType,
    /// "元" or "万元".
    AmountUnit,
}

/// Functions; the argument kinds are checked when rules are compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Abs,
    Min,
    Max,
    /// `given(cell)`: the cell is stated (not blank, not unknown).
    Given,
    /// `level($r)`: 1 for 类, 2 for 款 …; 0 for a line.
    Level,
    /// `has_children($r)`: some row of a lower level under this code is given.
    HasChildren,
    /// `completion($i)`: the completion rate (percent) the scoring policy computes from target and actual.
    Completion,
    /// `expected_score($i)`: the indicator's score under the scoring policy.
    ExpectedScore,
    /// `kinds_match($i)`: target and actual are of the same kind (no date where days were promised).
    KindsMatch,
    /// `comparable($i)`: target and actual are both numbers, percentages, dates or durations.
    Comparable,
    /// `execution_score()`: the execution score the policy gives for the evaluation's 执行率.
    ExecutionScore,
    /// `execution_weight()`: the execution score's weight (分值) the scoring policy declares.
    ExecutionWeight,
    /// `is_project()`: the evaluation in scope is a project's.
    IsProject,
    /// `last_year(expr)`: the expression evaluated on last year's accepted disclosure of the unit.
    LastYear,
    /// `budget(cell)`: the budget figure (年初预算数) of a cell, as the budget system gave it.
    Budget,
    /// `explained("section", "word", …)`: the narrative section has a sentence that names every word and gives a
    /// reason (原因, 由于, 因为, 系): a difference the rule would ask about is already explained there.
    Explained,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(Decimal),
    Str(String),
    Cell(CellRef),
    Agg(Agg, CellRef),
    Def(usize),
    Attr(Attr),
    /// A variable as a function argument.
    Var(usize),
    Call(Func, Vec<Expr>),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// Which evaluations a rule ranges over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluationSet {
    All,
    Projects,
    Unit,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// The rows given in a table, optionally only those matching a pattern.
    Rows {
        table: usize,
        pattern: Option<String>,
    },
    /// The columns of a table's layout.
    Columns {
        table: usize,
    },
    Evaluations(EvaluationSet),
    Indicators,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    For(usize, Domain),
    When(Expr),
}

/// What a rule variable holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    Row { table: usize },
    Column { table: usize },
    Evaluation,
    Indicator,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Provided,
    Expected,
    Difference,
    VarCode(usize),
    VarName(usize),
    Project,
    Indicator,
    Target,
    Actual,
    AmountUnit,
}

/// A message with placeholders, e.g. "本年收入合计{provided}与各项收入之和{expected}不符".
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub source: String,
    pub pieces: Vec<Piece>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeveritySpec {
    Fixed(Severity),
    /// The severity the scoring policy gives a recomputed value that differs from the stated one.
    Policy,
}

/// Where a rule comes from, for `rules show` and the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOrigin {
    /// Path relative to the taxonomy's directory.
    pub file: String,
    pub line: usize,
    /// The rule's text as written (for a generated rule, the directive it came from).
    pub text: String,
    /// Whether the rule was generated from a directive rather than declared.
    pub generated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub severity: SeveritySpec,
    pub message: Template,
    pub vars: Vec<(String, VarKind)>,
    pub clauses: Vec<Clause>,
    pub check: Expr,
    pub origin: RuleOrigin,
}

/// A named expression rules can use (`define fiscal_income = …`).
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub expr: Expr,
}
