//! Consolidation as a use case: each fiscal year's state built from the store on first use, kept current as
//! versions are submitted and units move, and read as consolidated tables, explained cells, completeness and
//! comparisons with what a node reported.
//!
//! Which version counts is a declared policy: [`POLICY`]: each unit's accepted 单户表, as the review chain
//! decides it (see `review`).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rust_decimal::Decimal;
use tokio::sync::{Mutex, Notify, RwLock};

use crate::domain::consolidation::{
    layout::{CellId, CellLayout, factor, from_units, half_ulp, to_units},
    snapshot,
    state::{NodeId, OwnData, Removals, Side, Sparse, YearState},
};
use crate::service::error::ServiceError;
use crate::{
    domain::{
        access::{Ask, Principal, decide},
        audit::Action,
        disclosure::{AmountUnit, Completeness, Disclosure, ReportType, RowData, TableData},
        facts::Facts,
        ids::{FiscalYear, UnitCode},
        money::{Value, round_for_display},
        rules::evaluate_standalone,
        submission::SubmissionState,
        taxonomy::{Taxonomies, Taxonomy},
        unit::Unit,
        validation::{CellRef, Finding, Report},
    },
    store::{EventFilter, Store},
};

/// The name a consolidated row under a code the year's list lacks is shown with: units may use such codes (with
/// a CODE-UNLISTED warning), and the names they gave are theirs, not the 汇总表's.
const UNLISTED_ROW_LABEL: &str = "（未列入当年科目表）";

/// Which version of each unit counts in consolidation.
pub const POLICY: &str = "accepted 单户表: each unit's accepted version of report type SINGLE (审核通过; a revert \
                          makes an earlier accepted version count again)";

/// A table of consolidated figures, in a display unit.
#[derive(Debug, Clone, PartialEq)]
pub struct TableView {
    pub code: String,
    /// Rows in layout order (fixed lines, then codes 类 → 款 → 项), each with its (column code, value) cells in
    /// layout order.
    pub rows: Vec<(String, Vec<(String, Decimal)>)>,
    /// Row code → the row's name in the layout or code list.
    pub labels: BTreeMap<String, String>,
}

impl TableView {
    fn new(code: &str) -> TableView {
        TableView {
            code: code.to_owned(),
            rows: Vec::new(),
            labels: BTreeMap::new(),
        }
    }

    /// The cells of a row, added at the end when the row is new. Cells arrive in layout order, so the row asked
    /// for is almost always the last one.
    fn row_mut(&mut self, code: &str) -> &mut Vec<(String, Decimal)> {
        let index = match self.rows.iter().rposition(|(c, _)| c == code) {
            Some(index) => index,
            None => {
                self.rows.push((code.to_owned(), Vec::new()));
                self.rows.len() - 1
            }
        };
        &mut self.rows[index].1
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsolidatedView {
    pub node: Unit,
    pub fiscal_year: FiscalYear,
    pub amount_unit: AmountUnit,
    pub tables: Vec<TableView>,
    /// The eliminations made at the node (调整表), as the negative amounts they subtract.
    pub adjustments: Vec<TableView>,
    /// Elimination pairs whose two sides disagree, in the node's subtree.
    pub findings: Vec<Finding>,
    /// Transfers inside the subtree not eliminated in full (未抵销差额), as lines of the 调整表.
    pub unmatched: Vec<UnmatchedLine>,
    /// The table and cross-table rules run on the consolidated tables, and a warning for each 未抵销差额 beyond
    /// rounding.
    pub table_findings: Vec<Finding>,
    /// Whether some unit that should count has no valid version, or a counted version gives a table only partly.
    pub partial: bool,
    pub units_expected: u32,
    pub units_counted: u32,
    /// Tables that some counted version gives only partly.
    pub partial_tables: Vec<String>,
    /// Figures finer than a fen, rounded to the fen.
    pub inexact_figures: u32,
    pub policy: &'static str,
}

/// Why part of a transfer inside the group was not eliminated (未抵销差额).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnmatchedReason {
    /// The payer's own figures do not count yet: there is nothing to match the payees' side against.
    PayerNotCounted,
    /// Some payee's figures do not count yet (not submitted, not accepted, returned).
    PayeeNotCounted,
    /// The payee meets its payer (a supervising department elsewhere in the tree) only above this node.
    MeetsAbove,
    /// Everyone counts, and the two sides state different amounts.
    AmountsDiffer,
}

impl UnmatchedReason {
    /// The reason in accountants' words.
    pub fn describe(self) -> &'static str {
        match self {
            UnmatchedReason::PayerNotCounted => "付款单位的决算尚未计入",
            UnmatchedReason::PayeeNotCounted => {
                "有收款单位的决算尚未计入（未报送、待审核或已退回）"
            }
            UnmatchedReason::MeetsAbove => "收款单位与付款单位在上级汇总时才抵销",
            UnmatchedReason::AmountsDiffer => "双方填报的金额不一致",
        }
    }
}

/// One payee of an unmatched transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct UnmatchedPayee {
    pub unit: Unit,
    /// Whether its figures count in this consolidation.
    pub counted: bool,
    /// What it states: its counted figure, or for a payee that does not count, what its latest valid version
    /// states (`None` when it has none, or when the view looked up enough payees already).
    pub amount: Option<Decimal>,
}

/// A transfer inside the group whose two sides were not matched in full, as far as they meet at the node: the
/// part matched is eliminated from both sides, the rest stays in the consolidated figures (a line of the 调整表).
#[derive(Debug, Clone, PartialEq)]
pub struct UnmatchedLine {
    pub pair_id: String,
    pub pair_name: String,
    pub payer: Unit,
    /// What the payer states (its 对附属单位补助支出, or 附属单位上缴收入).
    pub payer_amount: Decimal,
    pub payees: Vec<UnmatchedPayee>,
    /// What the counted payees state together.
    pub counted_amount: Decimal,
    /// What was eliminated from each side.
    pub matched: Decimal,
    /// What stays on the payer's side.
    pub payer_unmatched: Decimal,
    /// What stays on the payees' side.
    pub payees_unmatched: Decimal,
    pub reason: UnmatchedReason,
    /// Whether the difference is beyond what rounding explains (then it is also a finding).
    pub beyond_rounding: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChildContribution {
    pub unit: Unit,
    pub value: Decimal,
    pub has_children: bool,
    pub counted_version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EliminationEntry {
    pub pair_id: String,
    pub pair_name: String,
    pub unit: UnitCode,
    /// "parent", "child", or "unmatched" (未抵销差额: what the two sides did not match, given back by the
    /// payer's node).
    pub side: &'static str,
    /// What it removes from the cell (negative when it lowers it).
    pub amount: Decimal,
}

/// A consolidated cell: the node's own figure, each child's consolidated figure, and the eliminations, which add
/// up to the value.
#[derive(Debug, Clone, PartialEq)]
pub struct CellExplanation {
    pub node: Unit,
    pub cell: CellRef,
    pub value: Decimal,
    pub own: Decimal,
    pub own_version: Option<u32>,
    pub children: Vec<ChildContribution>,
    pub eliminations: Vec<EliminationEntry>,
}

/// Where a unit of a subtree stands: its current 单户表's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A fiscal region node: no disclosure of its own is expected.
    NotExpected,
    NeverSubmitted,
    /// Its current version has ERROR findings (an earlier accepted version may still count).
    RejectedByRules,
    /// Its current version waits for review (an earlier accepted version may still count).
    PendingReview,
    /// Its current version was returned (an earlier accepted version may still count).
    Returned,
    /// Its current version is accepted and counts.
    Accepted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnitProgress {
    pub unit: Unit,
    pub depth: u32,
    pub progress: Progress,
    pub versions: u32,
    pub latest_version: Option<u32>,
    pub counted_version: Option<u32>,
    pub last_change_ms: Option<i64>,
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompletenessView {
    pub node: Unit,
    pub fiscal_year: FiscalYear,
    pub units: Vec<UnitProgress>,
    pub expected: u32,
    pub counted: u32,
    pub missing: u32,
    pub pending: u32,
    pub returned: u32,
    pub accepted: u32,
}

/// A cell named by its table, row and column codes, as a caller asks for it.
#[derive(Debug, Clone, Copy)]
pub struct CellAddress<'a> {
    pub table: &'a str,
    pub row: &'a str,
    pub column: &'a str,
}

/// A year's state with what it was built from.
pub struct YearData {
    pub taxonomy: Arc<Taxonomy>,
    pub state: YearState,
    /// The registry record of each node.
    pub units: Vec<Unit>,
    /// Whether the counted figures came from a snapshot rather than from every counted version.
    pub from_snapshot: bool,
    /// The last audit event whose change the state is known to hold: changes made through this server are
    /// applied as they happen; on a shared store, those of other replicas are applied from the events after this
    /// one before the state is read (`catch_up`).
    pub applied_seq: u64,
    /// The marker of the last checkpoint written of this state (or read at its start): no checkpoint is written
    /// while `applied_seq` has not moved past it.
    pub checkpointed_seq: u64,
    /// The units whose versions were replayed on top of a checkpoint at the build.
    pub replayed: usize,
    /// How long each part of building the state took (for the log and the benchmark).
    pub build_phases: BuildPhases,
}

/// Where the time of building a year's state went.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildPhases {
    /// Reading the registry and linking the tree.
    pub tree: Duration,
    /// Reading the counted figures: the snapshot (read, checked, decoded) and the replay after it, or every
    /// counted version.
    pub figures: Duration,
    /// Of `figures`, the replay of the versions counted after the snapshot (reading the events after it, then
    /// the versions they name).
    pub replay: Duration,
    /// The full rollup over them.
    pub rollup: Duration,
}

/// The cells an elimination pair's two sides state the transfer in.
struct KeyCells {
    payer: CellRef,
    payee: CellRef,
}

/// Payees that do not count whose amounts one consolidated view looks up in the store.
const PAYEE_LOOKUPS: usize = 50;

/// A WARNING for each 未抵销差额 beyond rounding (CONS-ELIM-001), naming the payer's and each payee's cell.
fn unmatched_findings(
    lines: &[UnmatchedLine],
    key_cells: &HashMap<String, KeyCells>,
) -> Vec<Finding> {
    let check = &crate::domain::catalogue::UNMATCHED_ELIMINATION;
    lines
        .iter()
        .filter(|line| line.beyond_rounding)
        .map(|line| {
            let difference = line.payer_amount - line.counted_amount;
            let mut cells = Vec::new();
            if let Some(key) = key_cells.get(&line.pair_id) {
                cells.push(CellRef {
                    unit: Some(line.payer.code.to_string()),
                    ..key.payer.clone()
                });
                cells.extend(line.payees.iter().map(|p| CellRef {
                    unit: Some(p.unit.code.to_string()),
                    ..key.payee.clone()
                }));
            }
            Finding {
                rule_id: check.id.into(),
                severity: check.severity,
                message: check
                    .message
                    .replace(
                        "{payer}",
                        &format!("{} {}", line.payer.code, line.payer.name),
                    )
                    .replace("{pair}", &line.pair_name)
                    .replace("{provided}", &line.payer_amount.to_string())
                    .replace("{expected}", &line.counted_amount.to_string())
                    .replace("{difference}", &difference.to_string())
                    .replace("{reason}", line.reason.describe()),
                cells,
                provided: Some(line.payer_amount),
                expected: Some(line.counted_amount),
                difference: Some(difference),
                project: None,
                indicator: None,
                key: String::new(),
                explanation: None,
            }
        })
        .collect()
}

/// Events read at a time when a replica catches up.
const CATCH_UP_BATCH: u32 = 1000;

/// Units whose counted versions one store read returns when a checkpoint's later changes are replayed.
const REPLAY_BATCH: usize = 500;

/// Changes after which bulk work asks for a checkpoint before the interval ends: a crash then replays at most
/// about this many units' versions.
pub const DEFAULT_CHECKPOINT_AFTER_CHANGES: u64 = 1000;

pub struct Consolidations {
    store: Arc<dyn Store>,
    taxonomies: Arc<Taxonomies>,
    years: Mutex<HashMap<FiscalYear, Arc<RwLock<YearData>>>>,
    /// Changes applied since the last checkpoint (accepts, returns, reverts, registrations), and the signal that
    /// bulk work has made enough of them for a checkpoint not to wait for its interval.
    changes_since_checkpoint: AtomicU64,
    bulk_changes: AtomicU64,
    checkpoint_wanted: Notify,
}

/// What the audit events after a marker changed: the units whose counted version may now be another (each once,
/// for one year) and the units registered or moved (each once), and the last event read.
#[derive(Default)]
struct Changes {
    counted: Vec<UnitCode>,
    registered: Vec<UnitCode>,
    through: u64,
}

/// What a checkpoint wrote: per year, the last audit event it includes and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpointed {
    pub year: FiscalYear,
    pub marker: u64,
    pub bytes: usize,
}

/// `work` over `items` on up to `threads` threads, in the items' order.
fn on_threads<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 || items.len() < 2 {
        return items.into_iter().map(work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter();
    loop {
        let next: Vec<T> = items.by_ref().take(chunk).collect();
        if next.is_empty() {
            break;
        }
        chunks.push(next);
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(work).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a replay thread does not panic"))
            .collect()
    })
}

/// A counted version's figures as integers on the layout.
pub fn own_data(taxonomy: &Taxonomy, layout: &CellLayout, version: u32, facts: &Facts) -> OwnData {
    let mut cells: Vec<(CellId, i64, i64)> = Vec::new();
    let mut partial_tables = Vec::new();
    let mut inexact = 0;
    for (code, table) in &facts.tables {
        let Some(index) = taxonomy.table_index(code) else {
            continue;
        };
        let def = &taxonomy.tables[index];
        if table.partial {
            partial_tables.push(index);
        }
        for (row, values) in &table.rows {
            for (column, value) in values {
                let Some(c) = def.column_index(column) else {
                    continue;
                };
                let Some(id) = layout.id(index, row, c) else {
                    continue;
                };
                let f = factor(def.columns[c].kind, facts.amount_unit);
                let (units, exact) = to_units(*value, f);
                if !exact {
                    inexact += 1;
                }
                if units != 0 {
                    cells.push((id, units, half_ulp(*value, f)));
                }
            }
        }
    }
    OwnData::new(version, cells, partial_tables, inexact)
}

/// A counted version's figures on a state's layout, which first grows by the code rows they use.
pub fn counted_figures(
    state: &mut YearState,
    taxonomy: &Taxonomy,
    version: u32,
    facts: &Facts,
) -> OwnData {
    let missing = state.layout.missing_codes(taxonomy, facts);
    state.grow_layout(&missing);
    own_data(taxonomy, &state.layout, version, facts)
}

/// The node a unit's transfers are with, when it is not the unit's parent: its supervising department.
fn counterparty(
    state: &crate::domain::consolidation::state::YearState,
    unit: &Unit,
) -> Option<NodeId> {
    let department = unit.supervising_department.as_ref()?;
    if unit.parent.as_ref() == Some(department) {
        return None;
    }
    state.by_code.get(department).copied()
}

fn not_found(code: &UnitCode, year: FiscalYear) -> ServiceError {
    ServiceError::NotFound {
        what: "node",
        key: format!("{code} (fiscal year {year})"),
    }
}

impl YearData {
    fn node(&self, code: &UnitCode) -> Result<NodeId, ServiceError> {
        self.state
            .by_code
            .get(code)
            .copied()
            .ok_or_else(|| not_found(code, self.taxonomy.fiscal_year))
    }

    /// The nodes of a subtree, depth first (children by code), with their depth below the root.
    fn subtree(&self, root: NodeId) -> Vec<(NodeId, u32)> {
        let mut out = Vec::new();
        let mut stack = vec![(root, 0)];
        while let Some((node, depth)) = stack.pop() {
            out.push((node, depth));
            let mut children = self.state.nodes[node].children.clone();
            children.sort_by(|a, b| self.state.nodes[*b].code.cmp(&self.state.nodes[*a].code));
            stack.extend(children.into_iter().map(|c| (c, depth + 1)));
        }
        out
    }

    /// Refuses to show a node's figures when some do not fit the 64-bit sums (see `YearState::check_range`):
    /// OUT_OF_RANGE naming the cells, never a wrapped figure.
    fn check_range(&self, node: NodeId) -> Result<(), ServiceError> {
        self.state.check_range(node).map_err(|cells| {
            let shown: Vec<String> = cells
                .iter()
                .take(5)
                .map(|c| self.cell_ref(*c, None).to_string())
                .collect();
            ServiceError::OutOfRange(format!(
                "the consolidated figures of {} exceed what juesuan adds exactly (±9.2·10^16 元) in {} cell(s): {}{}",
                self.state.nodes[node].code,
                cells.len(),
                shown.join(", "),
                if cells.len() > shown.len() { ", …" } else { "" }
            ))
        })
    }

    /// A figure of a cell in a display unit.
    fn show(&self, cell: CellId, units: impl Into<i128>, unit: AmountUnit) -> Decimal {
        from_units(units, factor(self.state.layout.kind(cell), unit))
    }

    fn cell_ref(&self, cell: CellId, unit: Option<&UnitCode>) -> CellRef {
        let key = &self.state.layout.cells[cell as usize];
        let def = &self.taxonomy.tables[key.table];
        CellRef {
            table: def.code.clone(),
            row: key.row.clone(),
            column: def.columns[key.column].code.clone(),
            unit: unit.map(ToString::to_string),
        }
    }

    /// Sparse figures as tables, only those asked for (all when `tables` is empty).
    fn tables(&self, cells: &Sparse, unit: AmountUnit, tables: &[usize]) -> Vec<TableView> {
        let mut by_table: BTreeMap<usize, TableView> = BTreeMap::new();
        for &(cell, value) in cells {
            let key = &self.state.layout.cells[cell as usize];
            if !tables.is_empty() && !tables.contains(&key.table) {
                continue;
            }
            let def = &self.taxonomy.tables[key.table];
            let view = by_table
                .entry(key.table)
                .or_insert_with(|| TableView::new(&def.code));
            view.labels.entry(key.row.clone()).or_insert_with(|| {
                self.taxonomy
                    .row_name(def, &key.row)
                    .unwrap_or(UNLISTED_ROW_LABEL)
                    .to_owned()
            });
            view.row_mut(&key.row).push((
                def.columns[key.column].code.clone(),
                self.show(cell, value, unit),
            ));
        }
        by_table.into_values().collect()
    }

    /// Consolidated tables as a disclosure (a 汇总表), to evaluate rules and formulas on. With `rounded`, amounts
    /// are given to the fen of the display unit (two decimals), as a table prints them; `tolerance` then says
    /// how far each may be from the exact sum.
    fn views_as_disclosure(
        &self,
        views: &[TableView],
        rounded: bool,
        partial: &[usize],
    ) -> Disclosure {
        let mut disclosure = crate::domain::facts::Facts::default()
            .to_disclosure(&self.taxonomy, placeholder_cover(self.taxonomy.fiscal_year));
        for view in views {
            let Some(index) = self.taxonomy.table_index(&view.code) else {
                continue;
            };
            let def = &self.taxonomy.tables[index];
            let data = disclosure.tables[index].get_or_insert_with(|| TableData {
                completeness: if partial.contains(&index) {
                    Completeness::Partial
                } else {
                    Completeness::Complete
                },
                declared_empty: false,
                rows: BTreeMap::new(),
            });
            for (row, cells) in &view.rows {
                let mut values = vec![None; def.columns.len()];
                for (column, value) in cells {
                    if let Some(c) = def.column_index(column) {
                        let value = if rounded && !def.columns[c].kind.is_exact() {
                            round_for_display(*value, 2)
                        } else {
                            *value
                        };
                        values[c] = Some(Value::from_decimal(value));
                    }
                }
                data.rows.insert(
                    row.clone(),
                    RowData {
                        label: String::new(),
                        cells: values,
                    },
                );
            }
        }
        disclosure
    }

    /// Adds the recomputed cells (percentages) to consolidated tables: evaluated on the consolidated figures.
    fn recompute(&self, tables: &mut Vec<TableView>, requested: &[usize]) {
        let Some(eliminations) = &self.taxonomy.eliminations else {
            return;
        };
        if eliminations.recompute.is_empty() {
            return;
        }
        // The consolidated figures as a disclosure, complete, to evaluate the formulas on.
        let disclosure = self.views_as_disclosure(tables, false, &[]);
        for (pattern, expr) in &eliminations.recompute {
            if !requested.is_empty() && !requested.contains(&pattern.table) {
                continue;
            }
            let Some(value) =
                evaluate_standalone(&self.taxonomy.rules, &self.taxonomy, &disclosure, expr)
            else {
                continue;
            };
            let def = &self.taxonomy.tables[pattern.table];
            let row = pattern.row.clone().unwrap_or_default();
            let view = match tables.iter_mut().find(|t| t.code == def.code) {
                Some(view) => view,
                None => {
                    tables.push(TableView::new(&def.code));
                    tables.last_mut().expect("just pushed")
                }
            };
            view.labels.entry(row.clone()).or_insert_with(|| {
                self.taxonomy
                    .row_name(def, &row)
                    .unwrap_or(UNLISTED_ROW_LABEL)
                    .to_owned()
            });
            view.row_mut(&row).push((
                def.columns[pattern.column].code.clone(),
                round_for_display(value, 2),
            ));
        }
    }

    /// What rounding may have moved each consolidated figure of a node: the half-units of every figure it adds,
    /// and of every figure an elimination takes from it.
    fn rounding_slack(&self, node: NodeId) -> Vec<i64> {
        let mut slack = vec![0i64; self.state.layout.len()];
        self.state
            .add_rounding_slack(self.subtree(node).into_iter().map(|(d, _)| d), &mut slack);
        slack
    }

    /// The table and cross-table rules of the year on a node's consolidated tables, within the rounding of the
    /// figures each consolidated figure adds up.
    fn table_findings(&self, node: NodeId, unit: AmountUnit, partial: &[usize]) -> Vec<Finding> {
        let layout = &self.state.layout;
        let mut views = self.tables(&self.state.consolidated(node), unit, &[]);
        self.recompute(&mut views, &[]);
        let exact = self.views_as_disclosure(&views, false, partial);
        let disclosure = self.views_as_disclosure(&views, true, partial);
        let slack = self.rounding_slack(node);
        let tolerance = |table: usize, row: &str, column: usize| -> Option<Decimal> {
            let id = layout.id(table, row, column)?;
            let shown = self.show(id, slack[id as usize], unit);
            // What printing to two decimals moved the figure, on top of what adding rounded figures did.
            let printed = match exact.cell(table, row, column) {
                crate::domain::disclosure::CellState::Given(value) => {
                    (value.decimal() - round_for_display(value.decimal(), 2)).abs()
                }
                _ => Decimal::ZERO,
            };
            Some(shown + printed)
        };
        let recomputed: Vec<(usize, usize)> = self
            .taxonomy
            .eliminations
            .iter()
            .flat_map(|e| e.recompute.iter().map(|(p, _)| (p.table, p.column)))
            .collect();
        let taxonomy = &self.taxonomy;
        let column_readable = |table: usize, column: usize| {
            taxonomy.tables[table].columns[column].kind.is_additive()
                || recomputed.contains(&(table, column))
        };
        let readable = |table: usize, column: Option<usize>| match column {
            Some(column) => column_readable(table, column),
            None => (0..taxonomy.tables[table].columns.len()).all(|c| column_readable(table, c)),
        };
        let context = crate::domain::rules::Context {
            tolerance: Some(&tolerance),
            ..Default::default()
        };
        taxonomy
            .rules
            .run_consolidated(taxonomy, &disclosure, context, &readable)
            .findings
    }

    /// The transfers inside a node's subtree that are not eliminated in full there, as lines of its 调整表 (the
    /// amounts of payees that do not count are filled in by the caller, which may read the store).
    fn unmatched_lines(&self, node: NodeId, unit: AmountUnit) -> Vec<UnmatchedLine> {
        let Some(eliminations) = &self.taxonomy.eliminations else {
            return Vec::new();
        };
        let layout = &self.state.layout;
        let mut out = Vec::new();
        for balance in self.state.pair_balances(node) {
            let pair = &eliminations.pairs[balance.pair];
            let key = |p: &crate::domain::taxonomy::eliminations::CellPattern| {
                layout.id(p.table, p.row.as_deref().unwrap_or_default(), p.column)
            };
            let (Some(parent_cell), Some(child_cell)) = (key(&pair.parent), key(&pair.child))
            else {
                continue;
            };
            let show = |cell, units: i128| round_for_display(self.show(cell, units, unit), 2);
            let own = |n: NodeId| self.state.nodes[n].own.as_ref();
            let mut payees: Vec<UnmatchedPayee> = balance
                .counted_payees
                .iter()
                .chain(&balance.outside_payees)
                .map(|&p| UnmatchedPayee {
                    unit: self.units[p].clone(),
                    counted: balance.counted_payees.contains(&p),
                    amount: own(p).map(|o| show(child_cell, i128::from(o.get(child_cell)))),
                })
                .collect();
            payees.extend(balance.uncounted_payees.iter().map(|&p| UnmatchedPayee {
                unit: self.units[p].clone(),
                counted: false,
                amount: None,
            }));
            payees.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
            let reason = if !balance.payer_counted {
                UnmatchedReason::PayerNotCounted
            } else if !balance.uncounted_payees.is_empty() {
                UnmatchedReason::PayeeNotCounted
            } else if !balance.outside_payees.is_empty() {
                UnmatchedReason::MeetsAbove
            } else {
                UnmatchedReason::AmountsDiffer
            };
            // Rounding: half a unit of the last decimal of the payer's figure and of each counted payee's.
            let half = own(balance.payer).map_or(0, |o| i128::from(o.half_ulp(parent_cell)))
                + balance
                    .counted_payees
                    .iter()
                    .filter_map(|p| own(*p))
                    .map(|o| i128::from(o.half_ulp(child_cell)))
                    .sum::<i128>();
            let unmatched = balance
                .payer_unmatched()
                .abs()
                .max(balance.payees_unmatched().abs());
            out.push(UnmatchedLine {
                pair_id: pair.id.clone(),
                pair_name: pair.name.clone(),
                payer: self.units[balance.payer].clone(),
                payer_amount: show(parent_cell, balance.stated),
                payees,
                counted_amount: show(child_cell, balance.counted),
                matched: show(parent_cell, balance.matched),
                payer_unmatched: show(parent_cell, balance.payer_unmatched()),
                payees_unmatched: show(child_cell, balance.payees_unmatched()),
                reason,
                beyond_rounding: unmatched > half,
            });
        }
        out
    }

    /// Elimination pairs whose two sides disagree, for each payer of a subtree (a node with figures whose
    /// transfers are with units that all have figures: its children, and units that name it as their
    /// supervising department).
    fn elimination_findings(&self, root: NodeId, unit: AmountUnit) -> Vec<Finding> {
        let Some(eliminations) = &self.taxonomy.eliminations else {
            return Vec::new();
        };
        let layout = &self.state.layout;
        let mut findings = Vec::new();
        for (node, _) in self.subtree(root) {
            let n = &self.state.nodes[node];
            let paid = self.state.paid_by(node);
            let (Some(own), false) = (&n.own, paid.is_empty()) else {
                continue;
            };
            let children: Vec<&OwnData> = paid
                .iter()
                .filter_map(|c| self.state.nodes[*c].own.as_ref())
                .collect();
            if children.len() != paid.len() {
                // A child has no counted figures yet: the comparison would only show what is missing.
                continue;
            }
            for pair in &eliminations.pairs {
                let cell_of = |p: &crate::domain::taxonomy::eliminations::CellPattern| {
                    layout.id(p.table, p.row.as_deref().unwrap_or_default(), p.column)
                };
                let (Some(parent_cell), Some(child_cell)) =
                    (cell_of(&pair.parent), cell_of(&pair.child))
                else {
                    continue;
                };
                // In 128 bits: a sum over many children needs no bound to be exact.
                let provided = i128::from(own.get(parent_cell));
                let provided_half = i128::from(own.half_ulp(parent_cell));
                let expected: i128 = children.iter().map(|c| i128::from(c.get(child_cell))).sum();
                let expected_half: i128 = children
                    .iter()
                    .map(|c| i128::from(c.half_ulp(child_cell)))
                    .sum();
                if (provided - expected).abs() <= provided_half + expected_half {
                    continue;
                }
                let show = |cell, units: i128| round_for_display(self.show(cell, units, unit), 2);
                let (p, e) = (show(parent_cell, provided), show(child_cell, expected));
                let parent_unit = &self.units[node];
                let message = pair
                    .message
                    .replace(
                        "{parent}",
                        &format!("{} {}", parent_unit.code, parent_unit.name),
                    )
                    .replace("{provided}", &p.to_string())
                    .replace("{expected}", &e.to_string())
                    .replace(
                        "{difference}",
                        &p.checked_sub(e).map(|d| d.to_string()).unwrap_or_default(),
                    );
                let mut cells = vec![self.cell_ref(parent_cell, Some(&n.code))];
                cells.extend(
                    paid.iter()
                        .map(|c| self.cell_ref(child_cell, Some(&self.state.nodes[*c].code))),
                );
                let mut finding = Finding {
                    rule_id: pair.id.clone(),
                    severity: pair.severity,
                    message,
                    cells,
                    provided: Some(p),
                    expected: Some(e),
                    difference: p.checked_sub(e),
                    project: None,
                    indicator: None,
                    key: String::new(),
                    explanation: None,
                };
                let mut report = Report::new(self.taxonomy.fiscal_year);
                report.findings.push(finding.clone());
                report.finish();
                finding.key = report.findings[0].key.clone();
                findings.push(finding);
            }
        }
        findings
    }
}

fn placeholder_cover(year: FiscalYear) -> crate::domain::disclosure::Cover {
    crate::domain::disclosure::Cover {
        unit_code: UnitCode::parse("consolidated").expect("a valid code"),
        unit_name: String::new(),
        fiscal_year: year,
        budget_level: None,
        unit_type: None,
        supervising_department_code: None,
        supervising_department_name: String::new(),
        parent_unit_code: None,
        fiscal_region_code: None,
        report_type: ReportType::Consolidated,
        amount_unit: AmountUnit::TenThousandYuan,
    }
}

impl Consolidations {
    pub fn new(store: Arc<dyn Store>, taxonomies: Arc<Taxonomies>) -> Consolidations {
        Consolidations {
            store,
            taxonomies,
            years: Mutex::new(HashMap::new()),
            changes_since_checkpoint: AtomicU64::new(0),
            bulk_changes: AtomicU64::new(DEFAULT_CHECKPOINT_AFTER_CHANGES),
            checkpoint_wanted: Notify::new(),
        }
    }

    /// Asks for a checkpoint without waiting for the interval once this many changes have been applied.
    pub fn with_checkpoint_after(self, changes: u64) -> Consolidations {
        self.bulk_changes.store(changes.max(1), Ordering::Relaxed);
        self
    }

    /// A change was applied: counts it, and wakes the checkpointer when bulk work has made enough.
    fn note_change(&self) {
        let made = self
            .changes_since_checkpoint
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        if made == self.bulk_changes.load(Ordering::Relaxed) {
            self.checkpoint_wanted.notify_one();
        }
    }

    /// Resolves when bulk work has applied enough changes to want a checkpoint before the interval ends.
    pub async fn checkpoint_wanted(&self) {
        self.checkpoint_wanted.notified().await
    }

    /// Changes applied since the last checkpoint.
    pub fn changes_since_checkpoint(&self) -> u64 {
        self.changes_since_checkpoint.load(Ordering::Relaxed)
    }

    /// Only those who may read a node see its consolidation: decided before a year's state is built for them.
    async fn authorize(
        &self,
        actor: &Principal,
        code: &UnitCode,
        year: FiscalYear,
    ) -> Result<(), ServiceError> {
        let lineage = crate::service::access::lineage(self.store.as_ref(), code, year).await?;
        decide(actor, &Ask::Read(&lineage))?;
        Ok(())
    }

    pub fn taxonomies(&self) -> &Arc<Taxonomies> {
        &self.taxonomies
    }

    /// Memory held by the states of the years built so far.
    pub async fn state_bytes(&self) -> usize {
        let years: Vec<_> = self.years.lock().await.values().cloned().collect();
        let mut total = 0;
        for data in years {
            total += data.read().await.state.memory_bytes();
        }
        total
    }

    /// A year's state, built from the store on first use; on a store other replicas write, first brought up to
    /// every change committed before this call (`catch_up`).
    pub async fn year(&self, year: FiscalYear) -> Result<Arc<RwLock<YearData>>, ServiceError> {
        let data = self.year_as_built(year).await?;
        if self.store.shared() {
            let caught_up = self.catch_up(year, &data).await;
            if caught_up.is_err() {
                self.forget(year).await;
            }
            caught_up?;
        }
        Ok(data)
    }

    /// Applies the changes made since the state last caught up (by other replicas, or by this server before a
    /// checkpoint is written), from the audit events after `applied_seq`: every decision that can change which
    /// version counts (accept, return, revert) and every registration, each re-read from the store, so applying
    /// one twice (this server's own, already applied as it happened) changes nothing. Costs one indexed read when
    /// nothing changed.
    async fn catch_up(
        &self,
        year: FiscalYear,
        data: &Arc<RwLock<YearData>>,
    ) -> Result<(), ServiceError> {
        let after = data.read().await.applied_seq;
        let changes = self.changes_after(year, after).await?;
        // Registrations first: a unit registered and then accepted must be in the tree when its figures come.
        for code in &changes.registered {
            if let Some(record) = self.store.unit(code, year).await? {
                self.apply_registration(&record).await?;
            }
        }
        for code in &changes.counted {
            self.apply_counted(code, year).await?;
        }
        let mut data = data.write().await;
        data.applied_seq = data.applied_seq.max(changes.through);
        Ok(())
    }

    /// The units the audit events after `after` changed for `year`, each once, read in batches.
    async fn changes_after(&self, year: FiscalYear, after: u64) -> Result<Changes, ServiceError> {
        let mut changes = Changes {
            through: after,
            ..Changes::default()
        };
        let (mut counted, mut registered) = (HashSet::new(), HashSet::new());
        loop {
            let events = self
                .store
                .audit_events(&EventFilter {
                    after_seq: changes.through,
                    limit: CATCH_UP_BATCH,
                    ..EventFilter::default()
                })
                .await?;
            let Some(last) = events.last() else { break };
            changes.through = last.seq;
            for event in &events {
                let Some(unit) = &event.event.unit else {
                    continue;
                };
                let action = event.event.action.as_str();
                if [Action::Accept, Action::Return, Action::Revert]
                    .iter()
                    .any(|a| a.code() == action)
                {
                    if event.event.fiscal_year == Some(year) && counted.insert(unit.clone()) {
                        changes.counted.push(unit.clone());
                    }
                } else if action == Action::UnitRegistered.code()
                    && event.event.fiscal_year.is_none_or(|from| from <= year)
                    && registered.insert(unit.clone())
                {
                    changes.registered.push(unit.clone());
                }
            }
            if events.len() < CATCH_UP_BATCH as usize {
                break;
            }
        }
        Ok(changes)
    }

    async fn year_as_built(&self, year: FiscalYear) -> Result<Arc<RwLock<YearData>>, ServiceError> {
        let mut years = self.years.lock().await;
        if let Some(data) = years.get(&year) {
            return Ok(data.clone());
        }
        let started = Instant::now();
        let data = self.build(year).await?;
        tracing::info!(
            year = %year,
            from_snapshot = data.from_snapshot,
            nodes = data.state.nodes.len(),
            cells = data.state.layout.len(),
            memory_bytes = data.state.memory_bytes(),
            millis = started.elapsed().as_millis() as u64,
            tree_millis = data.build_phases.tree.as_millis() as u64,
            figures_millis = data.build_phases.figures.as_millis() as u64,
            replay_millis = data.build_phases.replay.as_millis() as u64,
            rollup_millis = data.build_phases.rollup.as_millis() as u64,
            "consolidation built"
        );
        let data = Arc::new(RwLock::new(data));
        years.insert(year, data.clone());
        Ok(data)
    }

    async fn build(&self, year: FiscalYear) -> Result<YearData, ServiceError> {
        let taxonomy = self.taxonomies.get(year).cloned().ok_or_else(|| {
            ServiceError::invalid(
                "fiscal_year",
                format!(
                    "there is no taxonomy for fiscal year {year} (years with one: {})",
                    self.taxonomies.years_list()
                ),
            )
        })?;
        let layout = Arc::new(CellLayout::new(&taxonomy));
        let removals = Arc::new(Removals::new(&layout, taxonomy.eliminations.as_ref()));
        let mut state = YearState::new(layout.clone(), removals);
        let mut phases = BuildPhases::default();
        let started = Instant::now();
        // Read before anything else: a change made while the state is read (by another replica) comes after it,
        // so `catch_up` applies it again, which changes nothing if the read saw it already.
        let caught_up_to = self.store.last_event_seq().await?;
        let units = self.store.units_for_year(year).await?;
        for unit in &units {
            state.add_node(unit.code.clone(), None);
        }
        for (node, unit) in units.iter().enumerate() {
            if let Some(parent) = unit
                .parent
                .as_ref()
                .and_then(|p| state.by_code.get(p).copied())
            {
                state.load_parent(node, parent);
            }
        }
        for (node, unit) in units.iter().enumerate() {
            state.load_counterparty(node, counterparty(&state, unit));
        }
        // Read after the tree: a change between the two moves the marker past the snapshot's.
        let marker = self.store.last_event_seq().await?;
        phases.tree = started.elapsed();
        let started = Instant::now();
        if let Some((made, (owned, grown))) = self.restore(year, marker, &state).await {
            state.adopt_layout(grown);
            for (code, own) in owned {
                let node = state.by_code[&code];
                state.load_own(node, Some(own));
            }
            // The tree above is the store's now; the figures are the checkpoint's. Replay what changed after it:
            // each unit whose counted version an event since names is read again, once.
            let replay_started = Instant::now();
            let changes = self.changes_after(year, made).await?;
            let replayed = self
                .replay_counted(&mut state, &taxonomy, year, &changes.counted)
                .await?;
            if replayed > 0 {
                tracing::info!(
                    year = %year,
                    checkpoint = made,
                    through = changes.through,
                    units = replayed,
                    "consolidation checkpoint loaded; the versions counted since replayed"
                );
            }
            phases.replay = replay_started.elapsed();
            phases.figures = started.elapsed();
            let started = Instant::now();
            state.full_recompute();
            phases.rollup = started.elapsed();
            return Ok(YearData {
                taxonomy,
                state,
                units,
                from_snapshot: true,
                applied_seq: caught_up_to,
                checkpointed_seq: made,
                replayed,
                build_phases: phases,
            });
        }
        // The store reads and parses versions while another thread turns each into integer cells: a restart's
        // rebuild takes about the longer of the two, and only one version's figures are in memory at a time.
        let (sender, receiver) = std::sync::mpsc::channel::<(UnitCode, u32, Facts)>();
        let converter = {
            let (taxonomy, mut layout) = (taxonomy.clone(), (*layout).clone());
            tokio::task::spawn_blocking(move || {
                let converted = receiver
                    .into_iter()
                    .map(|(code, version, facts)| {
                        // The code rows a version uses are added as it comes.
                        for (list, row) in layout.missing_codes(&taxonomy, &facts) {
                            layout.add_code(&list, &row);
                        }
                        (code, own_data(&taxonomy, &layout, version, &facts))
                    })
                    .collect::<Vec<_>>();
                (converted, layout)
            })
        };
        let loaded = self
            .store
            .counted_facts(year, ReportType::Single, &mut |code, version, facts| {
                // The converter only stops when the sender is dropped, so this cannot fail.
                let _ = sender.send((code, version, facts));
            })
            .await;
        drop(sender);
        let (converted, grown) = converter.await.map_err(|e| {
            ServiceError::Internal(format!("converting the counted versions failed: {e}"))
        })?;
        loaded?;
        state.adopt_layout(grown);
        for (code, own) in converted {
            if let Some(&node) = state.by_code.get(&code) {
                state.load_own(node, Some(own));
            }
        }
        phases.figures = started.elapsed();
        let started = Instant::now();
        state.full_recompute();
        phases.rollup = started.elapsed();
        Ok(YearData {
            taxonomy,
            state,
            units,
            from_snapshot: false,
            applied_seq: caught_up_to,
            checkpointed_seq: 0,
            replayed: 0,
            build_phases: phases,
        })
    }

    /// The counted figures of the year's latest usable checkpoint and the marker it was made at: the latest one,
    /// or the one it replaced when the latest fails its checksum; each must be made at or before `marker` (what
    /// came after is replayed) and name only nodes of the tree. `None` when neither is usable: the log says why
    /// and that the state is rebuilt from every counted version.
    async fn restore(
        &self,
        year: FiscalYear,
        marker: u64,
        state: &YearState,
    ) -> Option<(u64, snapshot::Decoded)> {
        let mut damaged = false;
        for (which, name) in [
            ("latest", snapshot::name(year)),
            ("previous", snapshot::previous_name(year)),
        ] {
            let bytes = match self.store.read_snapshot(&name).await {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(year = %year, checkpoint = which, error = %error, "consolidation checkpoint unreadable");
                    continue;
                }
            };
            let layout = state.layout.clone();
            let Ok(decoded) = tokio::task::spawn_blocking(move || {
                snapshot::decode_up_to(&bytes, year, marker, &layout)
            })
            .await
            else {
                continue;
            };
            match decoded {
                Ok((made, (owned, layout)))
                    if owned
                        .iter()
                        .all(|(code, _)| state.by_code.contains_key(code)) =>
                {
                    if damaged {
                        tracing::warn!(year = %year, checkpoint = made, "the latest consolidation checkpoint is damaged; using the previous one");
                    }
                    return Some((made, (owned, layout)));
                }
                Ok(_) => {
                    tracing::info!(year = %year, checkpoint = which, "consolidation checkpoint names units not in the tree; not used");
                }
                Err(snapshot::Stale::Damaged) => {
                    damaged = true;
                    tracing::warn!(year = %year, checkpoint = which, "consolidation checkpoint fails its checksum; ignored");
                }
                Err(stale) => {
                    tracing::info!(year = %year, checkpoint = which, reason = %stale, "consolidation checkpoint not used");
                }
            }
        }
        let log = if damaged {
            "no usable consolidation checkpoint (damaged); rebuilding from every counted version"
        } else {
            "no usable consolidation checkpoint; rebuilding from every counted version"
        };
        tracing::info!(year = %year, "{log}");
        None
    }

    /// Reads again the counted version of each unit in `units` (the units changed after a checkpoint) and puts
    /// its figures, or none when no version counts now, in place of the checkpoint's. Returns how many were read.
    async fn replay_counted(
        &self,
        state: &mut YearState,
        taxonomy: &Arc<Taxonomy>,
        year: FiscalYear,
        units: &[UnitCode],
    ) -> Result<usize, ServiceError> {
        let in_tree: Vec<UnitCode> = units
            .iter()
            .filter(|code| state.by_code.contains_key(*code))
            .cloned()
            .collect();
        for code in &in_tree {
            state.load_own(state.by_code[code], None);
        }
        let mut read = Vec::with_capacity(in_tree.len());
        for batch in in_tree.chunks(REPLAY_BATCH) {
            self.store
                .counted_facts_json_of(
                    year,
                    ReportType::Single,
                    batch,
                    &mut |code, version, json| {
                        read.push((code, version, json));
                    },
                )
                .await?;
        }
        // Parsing and converting a version costs about a millisecond: on every core, off the async threads. The
        // layout grows by the code rows the versions use in between, since converting reads it.
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let parsed = tokio::task::spawn_blocking(move || {
            on_threads(read, threads, |(code, version, json)| {
                serde_json::from_str::<Facts>(&json)
                    .map(|facts| (code.clone(), version, facts))
                    .map_err(|e| format!("the figures of {code} v{version}: {e}"))
            })
            .into_iter()
            .collect::<Result<Vec<_>, String>>()
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("replaying counted versions failed: {e}")))?
        .map_err(ServiceError::Internal)?;
        // Growing the layout recompiles the eliminations and widens every node's vector: once, for all versions.
        let mut missing: Vec<(String, String)> = Vec::new();
        let mut seen = HashSet::new();
        for (_, _, facts) in &parsed {
            for code in state.layout.missing_codes(taxonomy, facts) {
                if seen.insert(code.clone()) {
                    missing.push(code);
                }
            }
        }
        state.grow_layout(&missing);
        let (taxonomy, layout) = (taxonomy.clone(), state.layout.clone());
        let converted = tokio::task::spawn_blocking(move || {
            on_threads(parsed, threads, |(code, version, facts)| {
                (code, own_data(&taxonomy, &layout, version, &facts))
            })
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("replaying counted versions failed: {e}")))?;
        for (code, own) in converted {
            let node = state.by_code[&code];
            state.load_own(node, Some(own));
        }
        Ok(in_tree.len())
    }

    /// Writes a snapshot of every year built so far, for the next start. Call when no change can be under way
    /// through this server (it has stopped): each snapshot names the last audit event the state holds — the
    /// store's last, or on a shared store the one the state has caught up to.
    pub async fn write_snapshots(&self) -> Result<usize, ServiceError> {
        let years: Vec<FiscalYear> = self.years.lock().await.keys().copied().collect();
        let last = self.store.last_event_seq().await?;
        for &year in &years {
            let data = self.year(year).await?;
            let bytes = {
                let data = data.read().await;
                let marker = if self.store.shared() {
                    data.applied_seq
                } else {
                    last
                };
                snapshot::encode(&data.state, year, marker)
            };
            self.store
                .write_snapshot(&snapshot::name(year), bytes)
                .await?;
        }
        Ok(years.len())
    }

    /// Checkpoints every built year that changed since its last checkpoint, while the service runs: the state is
    /// first brought up to the audit events stored so far (`catch_up`, which re-reads what this server applied
    /// itself and so cannot miss a change committed but not yet applied), then encoded under a read lock (reads
    /// and submits go on; an accept waits for the encoding) and written beside the one before. After a crash the
    /// next start loads it and replays only what came after.
    pub async fn checkpoint(&self) -> Result<Vec<Checkpointed>, ServiceError> {
        let counted_before = self.changes_since_checkpoint.load(Ordering::Relaxed);
        let built: Vec<(FiscalYear, Arc<RwLock<YearData>>)> = self
            .years
            .lock()
            .await
            .iter()
            .map(|(year, data)| (*year, data.clone()))
            .collect();
        let mut written = Vec::new();
        for (year, data) in built {
            if let Err(error) = self.catch_up(year, &data).await {
                self.forget(year).await;
                return Err(error);
            }
            let guard = data.clone().read_owned().await;
            if guard.applied_seq == guard.checkpointed_seq {
                continue;
            }
            let marker = guard.applied_seq;
            let bytes =
                tokio::task::spawn_blocking(move || snapshot::encode(&guard.state, year, marker))
                    .await
                    .map_err(|e| {
                        ServiceError::Internal(format!("encoding a checkpoint failed: {e}"))
                    })?;
            let size = bytes.len();
            self.store
                .write_snapshot(&snapshot::name(year), bytes)
                .await?;
            let mut data = data.write().await;
            data.checkpointed_seq = data.checkpointed_seq.max(marker);
            written.push(Checkpointed {
                year,
                marker,
                bytes: size,
            });
        }
        self.changes_since_checkpoint
            .fetch_sub(counted_before, Ordering::Relaxed);
        Ok(written)
    }

    /// Forgets a year's state after a change may have been missed (the store changed but applying it failed):
    /// the next use rebuilds it from the store.
    async fn forget(&self, year: FiscalYear) {
        self.years.lock().await.remove(&year);
    }

    /// The version of a unit that counts changed (accepted, reverted to, or withdrawn): its figures change, and
    /// so do its ancestors'. Nothing to do for a year not built yet: it is built from the store when first used.
    ///
    /// The accepted version is read from the store while the year's write lock is held, so that two decisions
    /// on one unit, however their calls interleave, leave the figures of the one the store holds last.
    pub async fn on_counted(&self, unit: &UnitCode, year: FiscalYear) -> Result<(), ServiceError> {
        self.note_change();
        let applied = self.apply_counted(unit, year).await;
        if applied.is_err() {
            self.forget(year).await;
        }
        applied
    }

    async fn apply_counted(&self, unit: &UnitCode, year: FiscalYear) -> Result<(), ServiceError> {
        let data = self.years.lock().await.get(&year).cloned();
        let Some(data) = data else { return Ok(()) };
        let mut data = data.write().await;
        let Some(&node) = data.state.by_code.get(unit) else {
            return Ok(());
        };
        let accepted = self
            .store
            .accepted_submission(unit, year, ReportType::Single)
            .await?;
        let own = accepted.and_then(|stored| {
            let facts = stored.facts?;
            let taxonomy = data.taxonomy.clone();
            Some(counted_figures(
                &mut data.state,
                &taxonomy,
                stored.version,
                &facts,
            ))
        });
        data.state.set_own(node, own);
        Ok(())
    }

    /// A unit was registered or moved: every year already built that the record applies to is updated.
    pub async fn on_unit_registered(&self, unit: &Unit) -> Result<(), ServiceError> {
        self.note_change();
        let applied = self.apply_registration(unit).await;
        if applied.is_err() {
            let years: Vec<FiscalYear> = self.years.lock().await.keys().copied().collect();
            for year in years.into_iter().filter(|y| *y >= unit.valid_from) {
                self.forget(year).await;
            }
        }
        applied
    }

    async fn apply_registration(&self, unit: &Unit) -> Result<(), ServiceError> {
        let built: Vec<(FiscalYear, Arc<RwLock<YearData>>)> = self
            .years
            .lock()
            .await
            .iter()
            .filter(|(year, _)| **year >= unit.valid_from)
            .map(|(y, d)| (*y, d.clone()))
            .collect();
        for (year, data) in built {
            // The record that applies to the year now (a later record may still take precedence).
            let Some(record) = self.store.unit(&unit.code, year).await? else {
                continue;
            };
            let mut data = data.write().await;
            let node = match data.state.by_code.get(&record.code) {
                Some(&node) => node,
                None => {
                    let node = data.state.add_node(record.code.clone(), None);
                    data.units.push(record.clone());
                    node
                }
            };
            let parent = record
                .parent
                .as_ref()
                .and_then(|p| data.state.by_code.get(p).copied());
            data.state.set_parent(node, parent);
            let other = counterparty(&data.state, &record);
            data.state.set_counterparty(node, other);
            data.units[node] = record;
        }
        Ok(())
    }

    /// A node's consolidated tables (all, or those named), the eliminations made at it, and what is missing.
    pub async fn consolidated(
        &self,
        actor: &Principal,
        code: &UnitCode,
        year: FiscalYear,
        tables: &[String],
        unit: AmountUnit,
    ) -> Result<ConsolidatedView, ServiceError> {
        self.authorize(actor, code, year).await?;
        let data = self.year(year).await?;
        let data = data.read().await;
        let node = data.node(code)?;
        data.check_range(node)?;
        let mut requested = Vec::new();
        for (i, name) in tables.iter().enumerate() {
            match data.taxonomy.table_index(name) {
                Some(index) => requested.push(index),
                None => {
                    return Err(ServiceError::invalid(
                        format!("tables[{i}]"),
                        format!("unknown table \"{name}\" in the {year} taxonomy"),
                    ));
                }
            }
        }
        let subtree = data.subtree(node);
        let expected: Vec<NodeId> = subtree
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !data.units[*n].is_region)
            .collect();
        let counted: Vec<&OwnData> = expected
            .iter()
            .filter_map(|n| data.state.nodes[*n].own.as_ref())
            .collect();
        let mut partial_tables: Vec<String> = counted
            .iter()
            .flat_map(|o| {
                o.partial_tables
                    .iter()
                    .map(|t| data.taxonomy.tables[*t].code.clone())
            })
            .collect();
        partial_tables.sort();
        partial_tables.dedup();
        let mut views = data.tables(&data.state.consolidated(node), unit, &requested);
        data.recompute(&mut views, &requested);
        let partial_indices: Vec<usize> = partial_tables
            .iter()
            .filter_map(|t| data.taxonomy.table_index(t))
            .collect();
        let mut table_findings = data.table_findings(node, unit, &partial_indices);
        let mut unmatched = data.unmatched_lines(node, unit);
        let view = ConsolidatedView {
            node: data.units[node].clone(),
            fiscal_year: year,
            amount_unit: unit,
            tables: views,
            adjustments: data.tables(&data.state.adjustments(node), unit, &requested),
            findings: data.elimination_findings(node, unit),
            unmatched: Vec::new(),
            table_findings: Vec::new(),
            partial: counted.len() < expected.len() || !partial_tables.is_empty(),
            units_expected: expected.len() as u32,
            units_counted: counted.len() as u32,
            partial_tables,
            inexact_figures: counted.iter().map(|o| o.inexact).sum(),
            policy: POLICY,
        };
        let key_cells: HashMap<String, KeyCells> = data
            .taxonomy
            .eliminations
            .iter()
            .flat_map(|e| &e.pairs)
            .filter_map(|pair| {
                let id = |p: &crate::domain::taxonomy::eliminations::CellPattern| {
                    data.state
                        .layout
                        .id(p.table, p.row.as_deref().unwrap_or_default(), p.column)
                };
                let cells = KeyCells {
                    payer: data.cell_ref(id(&pair.parent)?, None),
                    payee: data.cell_ref(id(&pair.child)?, None),
                };
                Some((pair.id.clone(), cells))
            })
            .collect();
        drop(data);
        self.fill_uncounted_amounts(&mut unmatched, &key_cells, year, unit)
            .await?;
        table_findings.extend(unmatched_findings(&unmatched, &key_cells));
        let mut report = Report::new(year);
        report.findings = table_findings;
        report.finish();
        Ok(ConsolidatedView {
            unmatched,
            table_findings: report.findings,
            ..view
        })
    }

    /// What payees that do not count state, from their latest valid version: a line of the 调整表 names both
    /// sides' amounts. At most [`PAYEE_LOOKUPS`] payees a view are looked up; early in the season a region has
    /// thousands not counted, and the rest show no amount.
    async fn fill_uncounted_amounts(
        &self,
        lines: &mut [UnmatchedLine],
        key_cells: &HashMap<String, KeyCells>,
        year: FiscalYear,
        unit: AmountUnit,
    ) -> Result<(), ServiceError> {
        let Some(taxonomy) = self.taxonomies.get(year).cloned() else {
            return Ok(());
        };
        let mut looked_up = 0;
        for line in lines.iter_mut() {
            let Some(KeyCells { payee: cell, .. }) = key_cells.get(&line.pair_id) else {
                continue;
            };
            for payee in line
                .payees
                .iter_mut()
                .filter(|p| !p.counted && p.amount.is_none())
            {
                if looked_up >= PAYEE_LOOKUPS {
                    return Ok(());
                }
                looked_up += 1;
                let Some(stored) = self
                    .store
                    .latest_valid_submission(&payee.unit.code, year, ReportType::Single)
                    .await?
                else {
                    continue;
                };
                let Some(facts) = stored.facts else { continue };
                let value = facts
                    .tables
                    .get(&cell.table)
                    .and_then(|t| t.rows.get(&cell.row))
                    .and_then(|r| r.get(&cell.column));
                let (Some(value), Some(index)) = (value, taxonomy.table_index(&cell.table)) else {
                    continue;
                };
                let def = &taxonomy.tables[index];
                let Some(column) = def.column_index(&cell.column) else {
                    continue;
                };
                let kind = def.columns[column].kind;
                let (units, _) = to_units(*value, factor(kind, facts.amount_unit));
                payee.amount = Some(round_for_display(from_units(units, factor(kind, unit)), 2));
            }
        }
        Ok(())
    }

    /// One consolidated cell, down to what each child and each elimination contributes.
    pub async fn explain(
        &self,
        actor: &Principal,
        code: &UnitCode,
        year: FiscalYear,
        cell: &CellAddress<'_>,
        unit: AmountUnit,
    ) -> Result<CellExplanation, ServiceError> {
        self.authorize(actor, code, year).await?;
        let CellAddress { table, row, column } = *cell;
        let data = self.year(year).await?;
        let data = data.read().await;
        let node = data.node(code)?;
        let taxonomy = &data.taxonomy;
        let index = taxonomy
            .table_index(table)
            .ok_or_else(|| ServiceError::invalid("table", format!("unknown table \"{table}\"")))?;
        let def = &taxonomy.tables[index];
        let c = def.column_index(column).ok_or_else(|| {
            ServiceError::invalid(
                "column",
                format!("table {} has no column \"{column}\"", def.code),
            )
        })?;
        let cell = data.state.layout.id(index, row, c).ok_or_else(|| {
            ServiceError::invalid(
                "row",
                format!("{}[{row}, {column}] is not a consolidated cell (unknown row, or a column that is not summed)", def.code),
            )
        })?;
        let n = &data.state.nodes[node];
        data.check_range(node)?;
        for &child in &n.children {
            data.check_range(child)?;
        }
        let eliminations = taxonomy.eliminations.as_ref();
        Ok(CellExplanation {
            node: data.units[node].clone(),
            cell: data.cell_ref(cell, None),
            value: data.show(cell, data.state.value(node, cell), unit),
            own: data.show(cell, n.own.as_ref().map_or(0, |o| o.get(cell)), unit),
            own_version: n.own.as_ref().map(|o| o.version),
            children: {
                let mut children: Vec<ChildContribution> = n
                    .children
                    .iter()
                    .map(|&child| ChildContribution {
                        unit: data.units[child].clone(),
                        value: data.show(cell, data.state.value(child, cell), unit),
                        has_children: !data.state.nodes[child].children.is_empty(),
                        counted_version: data.state.nodes[child].own.as_ref().map(|o| o.version),
                    })
                    .collect();
                children.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
                children
            },
            eliminations: data
                .state
                .eliminations_at(node, cell)
                .into_iter()
                .map(|(at, pair, side, amount)| {
                    let pair = &eliminations.expect("eliminations were applied").pairs[pair];
                    EliminationEntry {
                        pair_id: pair.id.clone(),
                        pair_name: pair.name.clone(),
                        unit: data.state.nodes[at].code.clone(),
                        side: match side {
                            Side::Payer => "parent",
                            Side::Payee => "child",
                            Side::Unmatched => "unmatched",
                        },
                        amount: data.show(cell, amount, unit),
                    }
                })
                .collect(),
        })
    }

    /// Every unit of a subtree with where its disclosure stands.
    pub async fn completeness(
        &self,
        actor: &Principal,
        code: &UnitCode,
        year: FiscalYear,
    ) -> Result<CompletenessView, ServiceError> {
        self.authorize(actor, code, year).await?;
        let data = self.year(year).await?;
        let statuses: HashMap<UnitCode, crate::store::SubmissionStatus> = self
            .store
            .submission_statuses(year)
            .await?
            .into_iter()
            .map(|s| (s.unit_code.clone(), s))
            .collect();
        let locks: std::collections::HashSet<UnitCode> = self
            .store
            .locks(year)
            .await?
            .into_iter()
            .map(|l| l.node)
            .collect();
        let data = data.read().await;
        let node = data.node(code)?;
        let locked_nodes: std::collections::HashSet<NodeId> = locks
            .iter()
            .filter_map(|code| data.state.by_code.get(code).copied())
            .collect();
        let mut units = Vec::new();
        for (n, depth) in data.subtree(node) {
            let unit = data.units[n].clone();
            let status = statuses.get(&unit.code);
            let progress = match (unit.is_region, status.and_then(|s| s.current_single())) {
                (true, _) => Progress::NotExpected,
                (false, None) => Progress::NeverSubmitted,
                (false, Some((_, state))) => match state {
                    SubmissionState::RejectedByRules => Progress::RejectedByRules,
                    SubmissionState::PendingReview => Progress::PendingReview,
                    SubmissionState::Returned => Progress::Returned,
                    SubmissionState::Accepted => Progress::Accepted,
                },
            };
            let locked = std::iter::once(n)
                .chain(data.state.ancestors(n))
                .any(|a| locked_nodes.contains(&a));
            units.push(UnitProgress {
                unit,
                depth,
                progress,
                versions: status.map_or(0, |s| s.versions),
                latest_version: status.map(|s| s.latest_version),
                counted_version: status.and_then(|s| s.counted_version),
                last_change_ms: status.map(|s| s.latest_at_ms),
                locked,
            });
        }
        let expected = units
            .iter()
            .filter(|u| u.progress != Progress::NotExpected)
            .count() as u32;
        let counted = units.iter().filter(|u| u.counted_version.is_some()).count() as u32;
        let count = |p: Progress| units.iter().filter(|u| u.progress == p).count() as u32;
        let (missing, pending, returned, accepted) = (
            count(Progress::NeverSubmitted),
            count(Progress::PendingReview),
            count(Progress::Returned),
            count(Progress::Accepted),
        );
        Ok(CompletenessView {
            node: data.units[node].clone(),
            fiscal_year: year,
            units,
            expected,
            counted,
            missing,
            pending,
            returned,
            accepted,
        })
    }

    /// The node's own reported 汇总表 (its latest valid version of report type CONSOLIDATED) against the computed
    /// consolidation, cell by cell. A difference is a finding when it exceeds what rounding can explain: the
    /// reported figure's own rounding plus the rounding of every figure the computed one adds up.
    pub async fn compare_reported(
        &self,
        actor: &Principal,
        code: &UnitCode,
        year: FiscalYear,
    ) -> Result<(u32, Report), ServiceError> {
        self.authorize(actor, code, year).await?;
        let reported = self
            .store
            .latest_valid_submission(code, year, ReportType::Consolidated)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "reported consolidation (汇总表)",
                key: format!("{code} (fiscal year {year})"),
            })?;
        let facts = reported.facts.clone().unwrap_or_default();
        let data = self.year(year).await?;
        let data = data.read().await;
        let node = data.node(code)?;
        data.check_range(node)?;
        // The reported 汇总表 may use code rows no counted version does: numbered on a grown copy of the layout,
        // where the computed consolidation has nothing.
        let mut reported_layout = (*data.state.layout).clone();
        for (list, row) in reported_layout.missing_codes(&data.taxonomy, &facts) {
            reported_layout.add_code(&list, &row);
        }
        let layout = &reported_layout;
        let reported_own = own_data(&data.taxonomy, layout, reported.version, &facts);
        // What rounding may have moved each computed figure: the half-units of every figure it adds, and of every
        // figure an elimination takes from it.
        let mut slack = vec![0i64; layout.len()];
        data.state
            .add_rounding_slack(data.subtree(node).into_iter().map(|(d, _)| d), &mut slack);
        let computed = data.state.consolidated(node);
        let mut cells: Vec<CellId> = computed
            .iter()
            .map(|(c, _)| *c)
            .chain(reported_own.iter().map(|(c, _)| c))
            .collect();
        cells.sort_unstable();
        cells.dedup();
        let tables_reported: Vec<usize> = facts
            .tables
            .keys()
            .filter_map(|t| data.taxonomy.table_index(t))
            .collect();
        let mut report = Report::new(year);
        let unit = facts.amount_unit;
        for cell in cells {
            let key = &layout.cells[cell as usize];
            // Only the tables the 汇总表 gives are compared; in a partial table, only the cells it gives.
            let Some(table_facts) = facts.tables.get(&data.taxonomy.tables[key.table].code) else {
                continue;
            };
            if !tables_reported.contains(&key.table) {
                continue;
            }
            let given = reported_own.get(cell) != 0
                || table_facts.rows.get(&key.row).is_some_and(|r| {
                    r.contains_key(&data.taxonomy.tables[key.table].columns[key.column].code)
                });
            if table_facts.partial && !given {
                continue;
            }
            report.checks_evaluated += 1;
            let provided = i128::from(reported_own.get(cell));
            let expected = i128::from(data.state.value(node, cell));
            let slack = slack.get(cell as usize).copied().unwrap_or(0);
            if (provided - expected).abs()
                <= i128::from(reported_own.half_ulp(cell)) + i128::from(slack)
            {
                continue;
            }
            let f = factor(layout.kind(cell), unit);
            let p = round_for_display(from_units(provided, f), 2);
            let e = round_for_display(from_units(expected, f), 2);
            let def = &data.taxonomy.tables[key.table];
            let cell_ref = CellRef {
                table: def.code.clone(),
                row: key.row.clone(),
                column: def.columns[key.column].code.clone(),
                unit: None,
            };
            let difference = p.checked_sub(e);
            let check = &crate::domain::catalogue::REPORTED_COMPARISON;
            report.findings.push(Finding {
                rule_id: check.id.into(),
                severity: check.severity,
                message: check
                    .message
                    .replace("{cell}", &cell_ref.to_string())
                    .replace("{provided}", &p.to_string())
                    .replace("{expected}", &e.to_string())
                    .replace(
                        "{difference}",
                        &difference.map(|d| d.to_string()).unwrap_or_default(),
                    ),
                cells: vec![cell_ref],
                provided: Some(p),
                expected: Some(e),
                difference,
                project: None,
                indicator: None,
                key: String::new(),
                explanation: None,
            });
        }
        report.finish();
        Ok((reported.version, report))
    }
}

#[cfg(test)]
mod tests {
    use super::on_threads;

    #[test]
    fn work_on_threads_keeps_the_items_order() {
        let items: Vec<u32> = (0..1_001).collect();
        for threads in [1, 2, 3, 8] {
            let doubled = on_threads(items.clone(), threads, |n| n * 2);
            assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        }
        assert!(on_threads(Vec::<u32>::new(), 4, |n| n).is_empty());
    }
}
