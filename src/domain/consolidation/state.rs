//! The consolidation of one fiscal year's tree, kept current.
//!
//! A node's consolidated figures are its own figures, plus its children's consolidated figures, minus the
//! eliminations made at the node (docs/design.md §4). Eliminations are linear in the units' own figures, so a node's own
//! figures `own(N)` contribute
//!
//! ```text
//! self(N) = own(N) + parent_removal(own(N))   [the parent side of the pairs, when N has children]
//! up(N)   = self(N) + child_removal(own(N))   [the child side, when N has a parent]
//! consolidated(N) = self(N) + Σ up(d) over the strict descendants d of N
//! ```
//!
//! A full recompute evaluates this bottom-up into a dense vector per node with children. A new version of one
//! unit changes `self` and `up` by the same formulas applied to the change of its figures, which is added to the
//! unit and its ancestors. All figures are integers (fen), so both ways agree exactly. The two vectors are not
//! stored: they are derived from the own figures when needed, which keeps the state to the counted figures
//! (13 bytes a cell) and one dense vector per consolidated node.
//!
//! A transfer is eliminated where its two sides meet. A unit's 上级补助收入 (the child side) normally comes from its
//! tree parent, so "up" applies from the parent on. When the unit names a supervising department that is not its
//! parent (a 二级单位 stands between them, or the department sits in another branch), the child side applies from
//! the first common ancestor of the unit and that department on — its *meeting node* — and the nodes between the
//! unit and that point get only `self`. Such units are few; a move in a year that has any is followed by a full
//! recompute rather than the incremental update.
//!
//! An elimination takes the same amount from both sides: what the two sides have in common where they meet
//! (the smaller of what the payer states and what its counted payees state together). The formulas above remove
//! each side whole — the linear part, which is all there is when the sides agree. Where they do not (a payee not
//! counted yet, a payer that states more or less), each payer keeps a correction that gives back what was not
//! matched, on each side in proportion to that side's own rows and exactly on the cells the two sides state the
//! transfer in (the keys); it is added at the payer (or where the payees meet it) and every node above. So a
//! consolidated 总表 balances whenever its parts do, and what no one matched stays in the figures as 未抵销差额
//! ([`YearState::pair_balances`]). A change recomputes the corrections of the two payers it can concern.
//!
//! Sums wrap (two's complement) rather than check on the hot path, and are exact whenever the true figure fits in
//! 64 bits: adding and subtracting modulo 2⁶⁴ gives the true result then, however large the partial sums were.
//! Whether it fits is known without looking at the cells: each node keeps the sum of the absolute values of its
//! subtree's own figures, and no consolidated cell can exceed that times the most cells one figure reaches
//! (itself and its eliminations). Only when that bound is beyond 64 bits — which real figures, at most 10^15 元
//! each, reach only in absurd numbers — are the node's cells recomputed exactly in 128 bits
//! ([`YearState::check_range`]), and those that do not fit are named instead of shown wrapped.

use std::{collections::HashMap, sync::Arc};

use super::layout::{CellId, CellLayout};
use crate::domain::{ids::UnitCode, taxonomy::eliminations::Eliminations};

pub type NodeId = usize;
/// Cells and integer figures, sorted by cell, without zeros.
pub type Sparse = Vec<(CellId, i64)>;

/// The figures of the version of a unit that counts, column by column (ids, figures, rounding) to keep the
/// largest part of the state compact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnData {
    pub version: u32,
    /// Cells with a figure, ascending, no duplicates.
    ids: Vec<CellId>,
    /// The figures in integer units, in the same order.
    values: Vec<i64>,
    /// What rounding may have moved each figure, coded by [`encode_half_ulp`], in the same order.
    half_ulps: Vec<u8>,
    /// Tables the version gives only partly.
    pub partial_tables: Vec<usize>,
    /// Figures finer than the integer unit (a fen), which were rounded.
    pub inexact: u32,
    /// Σ |figure|: what the version can add to any cell's absolute value, before eliminations multiply it.
    magnitude: i128,
}

/// The largest code `encode_half_ulp` gives (half of 10^18).
const MAX_HALF_ULP_CODE: u8 = 19;

/// Half a unit of a figure's last decimal is 5·10^k integer units (a figure with decimals finer than the unit
/// rounds up to 1): one byte holds it. Code 0 is 1 unit; code n is 5·10^(n−1). A value between two codes takes
/// the larger, so that rounding tolerance is never understated.
fn encode_half_ulp(half: i64) -> u8 {
    let mut code = 0u8;
    while code < MAX_HALF_ULP_CODE && decode_half_ulp(code) < half {
        code += 1;
    }
    code
}

fn decode_half_ulp(code: u8) -> i64 {
    match code {
        0 => 1,
        n => 5 * 10i64.saturating_pow(u32::from(n) - 1),
    }
}

impl OwnData {
    /// Figures as (cell, integer figure, half a unit of its last decimal in integer units); zeros are kept out.
    pub fn new(
        version: u32,
        mut cells: Vec<(CellId, i64, i64)>,
        partial_tables: Vec<usize>,
        inexact: u32,
    ) -> OwnData {
        cells.sort_unstable_by_key(|(id, _, _)| *id);
        cells.dedup_by_key(|(id, _, _)| *id);
        cells.retain(|(_, value, _)| *value != 0);
        let magnitude = cells.iter().map(|(_, v, _)| i128::from(*v).abs()).sum();
        OwnData {
            magnitude,
            version,
            ids: cells.iter().map(|(id, _, _)| *id).collect(),
            values: cells.iter().map(|(_, v, _)| *v).collect(),
            half_ulps: cells.iter().map(|(_, _, h)| encode_half_ulp(*h)).collect(),
            partial_tables,
            inexact,
        }
    }

    /// Figures already in `new`'s form (ids strictly ascending, no zero, half ulps encoded), as a snapshot keeps
    /// them: `None` when they are not, so that a damaged snapshot is refused rather than loaded.
    pub fn from_columns(
        version: u32,
        ids: Vec<CellId>,
        values: Vec<i64>,
        half_ulps: Vec<u8>,
        partial_tables: Vec<usize>,
        inexact: u32,
    ) -> Option<OwnData> {
        let ascending = ids.windows(2).all(|pair| pair[0] < pair[1]);
        if !ascending
            || ids.len() != values.len()
            || ids.len() != half_ulps.len()
            || values.contains(&0)
            || half_ulps.iter().any(|code| *code > MAX_HALF_ULP_CODE)
        {
            return None;
        }
        let magnitude = values.iter().map(|v| i128::from(*v).abs()).sum();
        Some(OwnData {
            magnitude,
            version,
            ids,
            values,
            half_ulps,
            partial_tables,
            inexact,
        })
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The figures, ascending by cell.
    pub fn iter(&self) -> impl Iterator<Item = (CellId, i64)> + '_ {
        self.ids.iter().copied().zip(self.values.iter().copied())
    }

    /// The figures, ascending by cell, with the code of half a unit of each one's last decimal (as a snapshot
    /// keeps it).
    pub fn iter_with_half_ulp_codes(&self) -> impl Iterator<Item = (CellId, i64, u8)> + '_ {
        self.iter()
            .zip(self.half_ulps.iter())
            .map(|((id, value), code)| (id, value, *code))
    }

    /// The figures, ascending by cell, with half a unit of each one's last decimal.
    pub fn iter_with_half_ulps(&self) -> impl Iterator<Item = (CellId, i64, i64)> + '_ {
        self.iter()
            .zip(self.half_ulps.iter())
            .map(|((id, value), code)| (id, value, decode_half_ulp(*code)))
    }

    pub fn cells(&self) -> Sparse {
        self.iter().collect()
    }

    pub fn get(&self, cell: CellId) -> i64 {
        self.ids.binary_search(&cell).map_or(0, |i| self.values[i])
    }

    /// Half a unit of a figure's last decimal: what rounding may have moved it (0 for a cell not given).
    pub fn half_ulp(&self, cell: CellId) -> i64 {
        self.ids
            .binary_search(&cell)
            .map_or(0, |i| decode_half_ulp(self.half_ulps[i]))
    }

    fn memory_bytes(&self) -> usize {
        self.ids.capacity() * 4 + self.values.capacity() * 8 + self.half_ulps.capacity()
    }
}

/// For each source cell, the cells its amount is removed from, in one array (compressed rows): a rollup looks
/// this up for every figure, so it must be small and contiguous.
#[derive(Debug, Clone, Default)]
struct Targets {
    /// One bit per cell: whether any amount is removed because of it. Most figures have no pair; this answers
    /// for them from a few cache lines.
    sources: Vec<u64>,
    /// `targets[starts[cell]..starts[cell + 1]]` are the cells `cell`'s amount is removed from.
    starts: Vec<u32>,
    targets: Vec<CellId>,
}

impl Targets {
    fn from_lists(lists: &[Vec<CellId>]) -> Targets {
        let mut sources = vec![0u64; lists.len().div_ceil(64)];
        let mut starts = Vec::with_capacity(lists.len() + 1);
        let mut targets = Vec::new();
        starts.push(0);
        for (cell, list) in lists.iter().enumerate() {
            if !list.is_empty() {
                sources[cell / 64] |= 1 << (cell % 64);
            }
            targets.extend_from_slice(list);
            starts.push(targets.len() as u32);
        }
        Targets {
            sources,
            starts,
            targets,
        }
    }

    fn is_source(&self, cell: CellId) -> bool {
        let cell = cell as usize;
        self.sources
            .get(cell / 64)
            .is_some_and(|word| word & (1 << (cell % 64)) != 0)
    }

    /// Adds figures to a dense vector and takes what these removals remove, in one pass.
    fn add_and_remove_into(&self, dense: &mut [i64], own: &OwnData) {
        for (cell, value) in own.iter() {
            let total = &mut dense[cell as usize];
            *total = total.wrapping_add(value);
            if self.is_source(cell) {
                for &target in self.of(cell) {
                    let total = &mut dense[target as usize];
                    *total = total.wrapping_sub(value);
                }
            }
        }
    }

    fn of(&self, cell: CellId) -> &[CellId] {
        let cell = cell as usize;
        match (self.starts.get(cell), self.starts.get(cell + 1)) {
            (Some(&from), Some(&to)) => &self.targets[from as usize..to as usize],
            _ => &[],
        }
    }

    /// What the removals take from figures: (target, −amount) for each target of each figure.
    fn removal(&self, figures: impl Iterator<Item = (CellId, i64)>) -> Sparse {
        let mut out = Vec::new();
        for (cell, value) in figures {
            for &target in self.of(cell) {
                out.push((target, value.wrapping_neg()));
            }
        }
        out
    }

    fn remove_into(&self, dense: &mut [i64], figures: impl Iterator<Item = (CellId, i64)>) {
        for (cell, value) in figures {
            for &target in self.of(cell) {
                let total = &mut dense[target as usize];
                *total = total.wrapping_sub(value);
            }
        }
    }
}

/// The eliminations compiled to cell ids: for each source cell, the cells its amount is removed from — all
/// pairs together (for the sums) and pair by pair (to explain a cell).
#[derive(Debug, Clone)]
pub struct Removals {
    child: Targets,
    parent: Targets,
    by_pair: Vec<(Targets, Targets)>,
    /// Per pair, the cell each side states the transfer in (the child's 上级补助收入, the payer's 对附属单位补助支出):
    /// what is matched between the two sides, and so eliminated, is decided on these.
    keys: Vec<(Option<CellId>, Option<CellId>)>,
    /// What they were compiled from, to compile them again when the layout grows.
    source: Option<Eliminations>,
}

impl Removals {
    pub fn new(layout: &CellLayout, eliminations: Option<&Eliminations>) -> Removals {
        let mut child = vec![Vec::new(); layout.len()];
        let mut parent = vec![Vec::new(); layout.len()];
        let mut by_pair = Vec::new();
        let mut keys = Vec::new();
        for pair in eliminations.map(|e| e.pairs.as_slice()).unwrap_or_default() {
            let key = |p: &crate::domain::taxonomy::eliminations::CellPattern| {
                layout.id(p.table, p.row.as_deref().unwrap_or_default(), p.column)
            };
            keys.push((key(&pair.child), key(&pair.parent)));
            let mut pair_child = vec![Vec::new(); layout.len()];
            let mut pair_parent = vec![Vec::new(); layout.len()];
            for (removals, side) in [
                (&pair.child_removes, &mut pair_child),
                (&pair.parent_removes, &mut pair_parent),
            ] {
                for removal in removals {
                    for (row, source) in layout.expand(&removal.from) {
                        for target in &removal.remove {
                            let target_row = target.row.as_deref().unwrap_or(&row);
                            if let Some(id) = layout.id(target.table, target_row, target.column) {
                                side[source as usize].push(id);
                            }
                        }
                    }
                }
            }
            for (all, one) in [(&mut child, &pair_child), (&mut parent, &pair_parent)] {
                for (source, targets) in one.iter().enumerate() {
                    all[source].extend(targets);
                }
            }
            by_pair.push((
                Targets::from_lists(&pair_child),
                Targets::from_lists(&pair_parent),
            ));
        }
        Removals {
            child: Targets::from_lists(&child),
            parent: Targets::from_lists(&parent),
            by_pair,
            keys,
            source: eliminations.cloned(),
        }
    }

    /// The same eliminations compiled for a layout that grew: "*" reaches the new rows too.
    pub fn recompiled(&self, layout: &CellLayout) -> Removals {
        Removals::new(layout, self.source.as_ref())
    }

    /// How many elimination pairs there are.
    pub fn pairs(&self) -> usize {
        self.by_pair.len()
    }

    /// The most cells one figure reaches: its own, and every cell either side of the pairs removes it from.
    fn fan_out(&self, cells: usize) -> i128 {
        let most = (0..cells as CellId)
            .map(|c| self.child.of(c).len() + self.parent.of(c).len())
            .max()
            .unwrap_or(0);
        1 + most as i128
    }

    /// What each pair removes from one cell, given a unit's own figures and its side: (pair index, amount).
    pub fn explain(&self, own: &OwnData, cell: CellId, child_side: bool) -> Vec<(usize, i64)> {
        let mut out = Vec::new();
        for (index, (child, parent)) in self.by_pair.iter().enumerate() {
            let side = if child_side { child } else { parent };
            let amount = own.iter().fold(0i64, |sum, (source, value)| {
                let times = side.of(source).iter().filter(|t| **t == cell).count() as i64;
                sum.wrapping_sub(times.wrapping_mul(value))
            });
            if amount != 0 {
                out.push((index, amount));
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub code: UnitCode,
    pub parent: Option<NodeId>,
    /// The department its transfers are with (its supervising department), when it is not the parent.
    pub counterparty: Option<NodeId>,
    pub children: Vec<NodeId>,
    pub own: Option<OwnData>,
    /// Consolidated figures, for a node that has (or had) children.
    dense: Option<Vec<i64>>,
    /// Σ of the own figures' magnitudes over the node's subtree (see the module documentation).
    subtree_magnitude: i128,
}

#[derive(Debug, Clone)]
pub struct YearState {
    pub layout: Arc<CellLayout>,
    removals: Arc<Removals>,
    /// The most cells one figure reaches: its own and those its eliminations take it from.
    fan_out: i128,
    pub nodes: Vec<Node>,
    pub by_code: HashMap<UnitCode, NodeId>,
    /// The nodes with a counterparty, whose transfers may be eliminated above their parent.
    crossing: Vec<NodeId>,
    /// For each payer whose transfers were not matched in full, the correction applied to the linear
    /// eliminations (see the module documentation), kept so that the next change can take it back exactly.
    applied: HashMap<NodeId, Vec<Increment>>,
}

/// A part of a payer's correction: cells added at `anchor` and at each of its ancestors, for one pair.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Increment {
    anchor: NodeId,
    pair: usize,
    cells: Sparse,
}

/// Which side of a transfer an elimination entry is, in the explanation of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The payer's side (its 对附属单位补助支出), removed at the payer.
    Payer,
    /// A payee's side (its 上级补助收入), removed where it meets its payer.
    Payee,
    /// What the two sides did not match, given back (未抵销差额): it stays in the figures.
    Unmatched,
}

/// How one elimination pair stands between a payer and the units it pays, at one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairBalance {
    pub pair: usize,
    pub payer: NodeId,
    /// What the payer states (its 对附属单位补助支出); 0 when its figures do not count.
    pub stated: i128,
    /// What the counted payees whose transfers meet the payer at or below the node state together.
    pub counted: i128,
    /// What is eliminated from each side: the part the two sides have in common.
    pub matched: i128,
    pub counted_payees: Vec<NodeId>,
    /// Payees whose figures do not count (not accepted yet, or none submitted).
    pub uncounted_payees: Vec<NodeId>,
    /// Counted payees whose transfers meet the payer above the node (outside its subtree).
    pub outside_payees: Vec<NodeId>,
    /// Whether the payer's figures count.
    pub payer_counted: bool,
}

impl PairBalance {
    /// What the payer states and no counted payee matches: it stays in the consolidated figures.
    pub fn payer_unmatched(&self) -> i128 {
        self.stated - self.matched
    }

    /// What the counted payees state and the payer does not match: it stays too.
    pub fn payees_unmatched(&self) -> i128 {
        self.counted - self.matched
    }
}

/// What two sides of a transfer have in common: the smaller amount when both have the same sign, else nothing.
fn matched(stated: i128, counted: i128) -> i128 {
    if stated > 0 && counted > 0 {
        stated.min(counted)
    } else if stated < 0 && counted < 0 {
        stated.max(counted)
    } else {
        0
    }
}

/// `value × numerator ÷ denominator`, rounded half away from zero: exact when the numerator is the denominator
/// (the key cell, whose value is the denominator, gets exactly the numerator).
fn scaled(value: i64, numerator: i128, denominator: i128) -> i64 {
    if numerator == denominator {
        return value;
    }
    if numerator == 0 || denominator == 0 {
        return 0;
    }
    // Figures are at most 10^17 fen and |numerator| ≤ |denominator|: the product fits unless the figures are
    // absurd, and then `check_range` names the cells anyway.
    let Some(product) = i128::from(value).checked_mul(numerator) else {
        return value;
    };
    let (quotient, remainder) = (product / denominator, product % denominator);
    let rounded = if 2 * remainder.abs() >= denominator.abs() {
        quotient + product.signum() * denominator.signum()
    } else {
        quotient
    };
    rounded as i64
}

/// Shares `total` out in proportion to `weights`, exactly: what truncating leaves goes to the largest weight.
fn allocate(total: i128, weights: &[i128]) -> Vec<i128> {
    let sum: i128 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<i128> = weights
        .iter()
        .map(|w| total.checked_mul(*w).map_or(0, |p| p / sum))
        .collect();
    let rest = total - shares.iter().sum::<i128>();
    if let Some(largest) = (0..weights.len()).max_by_key(|i| weights[*i].abs()) {
        shares[largest] += rest;
    }
    shares
}

/// Adds to `out` a fraction of what one side's removals take from a unit's figures: given back.
fn add_scaled(out: &mut Sparse, side: &Targets, own: &OwnData, numerator: i128, denominator: i128) {
    for (source, value) in own.iter() {
        if !side.is_source(source) {
            continue;
        }
        let amount = scaled(value, numerator, denominator);
        if amount == 0 {
            continue;
        }
        for &target in side.of(source) {
            out.push((target, amount));
        }
    }
}

/// Sorts, sums duplicates and drops zeros.
fn normalize(mut cells: Sparse) -> Sparse {
    cells.sort_unstable_by_key(|(c, _)| *c);
    let mut out: Sparse = Vec::with_capacity(cells.len());
    for (cell, value) in cells {
        match out.last_mut() {
            Some((last, sum)) if *last == cell => *sum = sum.wrapping_add(value),
            _ => out.push((cell, value)),
        }
    }
    out.retain(|(_, v)| *v != 0);
    out
}

/// new − old, both ascending by cell.
fn difference(
    new: impl Iterator<Item = (CellId, i64)>,
    old: impl Iterator<Item = (CellId, i64)>,
) -> Sparse {
    let mut out: Sparse = new.collect();
    out.extend(old.map(|(c, v)| (c, v.wrapping_neg())));
    normalize(out)
}

fn add_dense(total: &mut [i64], part: &[i64]) {
    for (total, value) in total.iter_mut().zip(part) {
        *total = total.wrapping_add(*value);
    }
}

/// A consolidated subtree handed to one thread of a full rollup, with the dense vectors of its consolidated
/// nodes moved in: in pre-order, each with the position of its parent.
struct Subtree {
    nodes: Vec<NodeId>,
    parents: Vec<Option<usize>>,
    dense: Vec<Vec<i64>>,
}

impl Subtree {
    fn take(
        root: NodeId,
        nodes: &[Node],
        consolidated: &[bool],
        dense_of: &mut [Option<Vec<i64>>],
    ) -> Subtree {
        let mut subtree = Subtree {
            nodes: Vec::new(),
            parents: Vec::new(),
            dense: Vec::new(),
        };
        let mut stack = vec![(root, None)];
        while let Some((node, parent)) = stack.pop() {
            let at = subtree.nodes.len();
            subtree.nodes.push(node);
            subtree.parents.push(parent);
            subtree.dense.push(
                dense_of[node]
                    .take()
                    .expect("a consolidated node has a vector"),
            );
            stack.extend(
                nodes[node]
                    .children
                    .iter()
                    .rev()
                    .filter(|c| consolidated[**c])
                    .map(|&c| (c, Some(at))),
            );
        }
        subtree
    }

    /// Fills every node and adds each into its parent as soon as its own subtree is complete, while its
    /// vector is still in cache: a child's figures are not read back from memory a second time.
    fn compute(&mut self, fill: &impl Fn(NodeId, &mut [i64])) {
        let mut open: Vec<usize> = Vec::new();
        for at in 0..self.nodes.len() {
            while let Some(&top) = open.last() {
                if Some(top) == self.parents[at] {
                    break;
                }
                open.pop();
                self.close(top);
            }
            fill(self.nodes[at], &mut self.dense[at]);
            open.push(at);
        }
        while let Some(top) = open.pop() {
            self.close(top);
        }
    }

    fn close(&mut self, at: usize) {
        if let Some(parent) = self.parents[at] {
            // Pre-order: a parent comes before its children.
            let (low, high) = self.dense.split_at_mut(at);
            add_dense(&mut low[parent], &high[0]);
        }
    }

    fn put_back(self, dense_of: &mut [Option<Vec<i64>>]) {
        for (node, dense) in self.nodes.into_iter().zip(self.dense) {
            dense_of[node] = Some(dense);
        }
    }
}

fn add_into(dense: &mut [i64], cells: impl Iterator<Item = (CellId, i64)>, sign: i64) {
    for (cell, value) in cells {
        let total = &mut dense[cell as usize];
        *total = total.wrapping_add(sign.wrapping_mul(value));
    }
}

impl YearState {
    pub fn new(layout: Arc<CellLayout>, removals: Arc<Removals>) -> YearState {
        YearState {
            fan_out: removals.fan_out(layout.len()),
            layout,
            removals,
            nodes: Vec::new(),
            by_code: HashMap::new(),
            crossing: Vec::new(),
            applied: HashMap::new(),
        }
    }

    /// Adds code rows to the layout (see [`CellLayout::add_code`]) and everything that depends on it: the
    /// eliminations are compiled again and every consolidated vector grows (the new cells start at zero, which
    /// they are: no counted figure had them). Ids already given keep their meaning.
    pub fn grow_layout(&mut self, codes: &[(String, String)]) {
        let layout = Arc::make_mut(&mut self.layout);
        let mut grew = false;
        for (list, code) in codes {
            grew |= layout.add_code(list, code);
        }
        if grew {
            self.adopted_layout();
        }
    }

    /// Takes a layout that extends the current one (the same lines, more code rows: what a conversion done
    /// elsewhere grew), for a state whose figures are numbered by it.
    pub fn adopt_layout(&mut self, layout: CellLayout) {
        self.layout = Arc::new(layout);
        self.adopted_layout();
    }

    fn adopted_layout(&mut self) {
        self.removals = Arc::new(self.removals.recompiled(&self.layout));
        self.fan_out = self.removals.fan_out(self.layout.len());
        let len = self.layout.len();
        for node in &mut self.nodes {
            if let Some(dense) = &mut node.dense {
                dense.resize(len, 0);
            }
        }
    }

    /// Where a node's transfers meet their other side: the first common ancestor of the node and its
    /// counterparty, or its parent. `None` at a root, or when the counterparty is in another tree.
    pub fn meeting(&self, node: NodeId) -> Option<NodeId> {
        let n = &self.nodes[node];
        match n.counterparty {
            Some(other) if Some(other) != n.parent && other != node => {
                let mut path = vec![node];
                path.extend(self.ancestors(node));
                std::iter::once(other)
                    .chain(self.ancestors(other))
                    .find(|a| path.contains(a))
            }
            _ => n.parent,
        }
    }

    /// Whether a node's child side is eliminated elsewhere than at its parent.
    fn crosses(&self, node: NodeId) -> bool {
        self.nodes[node].counterparty.is_some() && self.meeting(node) != self.nodes[node].parent
    }

    /// The nodes a node's child side is eliminated at: its meeting node and that node's ancestors.
    fn meeting_and_above(&self, node: NodeId) -> Vec<NodeId> {
        match self.meeting(node) {
            Some(m) => std::iter::once(m).chain(self.ancestors(m)).collect(),
            None => Vec::new(),
        }
    }

    /// Whether `node` is `top` or below it.
    fn within(&self, node: NodeId, top: NodeId) -> bool {
        node == top || self.ancestors(node).contains(&top)
    }

    fn own_cells(&self, node: NodeId) -> Sparse {
        self.nodes[node]
            .own
            .as_ref()
            .map(OwnData::cells)
            .unwrap_or_default()
    }

    /// What figures (or a change of figures) of a node add to the node itself, given its place in the tree.
    fn self_part(&self, node: NodeId, figures: &Sparse) -> Sparse {
        let mut out = figures.clone();
        if !self.nodes[node].children.is_empty() {
            out.extend(self.removals.parent.removal(figures.iter().copied()));
        }
        normalize(out)
    }

    /// What figures (or a change of figures) of a node add to each of its strict ancestors, beyond what they add
    /// to the node itself.
    fn upward_extra(&self, node: NodeId, figures: &Sparse) -> Sparse {
        if self.nodes[node].parent.is_some() {
            normalize(self.removals.child.removal(figures.iter().copied()))
        } else {
            Vec::new()
        }
    }

    /// What a node's own figures add to the node itself and to each ancestor at or above its meeting node (see
    /// the module documentation; the ancestors below it get `self` only): the inputs of a rollup done elsewhere,
    /// e.g. the SQL baseline of `juesuan bench`.
    /// What is given back where two sides did not match counts at its node like the node's own contribution.
    pub fn contributions(&self, node: NodeId) -> (Sparse, Sparse) {
        let own = self.own_cells(node);
        let mut self_vec = self.self_part(node, &own);
        self_vec.extend(self.unmatched_here(node));
        let self_vec = normalize(self_vec);
        let mut up = self_vec.clone();
        up.extend(self.upward_extra(node, &own));
        (self_vec, normalize(up))
    }

    /// The strict ancestors of a node, nearest first.
    pub fn ancestors(&self, node: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut current = self.nodes[node].parent;
        while let Some(a) = current {
            out.push(a);
            current = self.nodes[a].parent;
        }
        out
    }

    fn add_to_node(&mut self, node: NodeId, cells: &Sparse, sign: i64) {
        if let Some(dense) = &mut self.nodes[node].dense {
            add_into(dense, cells.iter().copied(), sign);
        }
    }

    fn add_to_ancestors(&mut self, node: NodeId, cells: &Sparse, sign: i64) {
        for a in self.ancestors(node) {
            let dense = self.nodes[a]
                .dense
                .as_mut()
                .expect("an ancestor has children");
            add_into(dense, cells.iter().copied(), sign);
        }
    }

    /// Applies a change of a node's `self` part to it and its ancestors (the `up` part changes by as much).
    fn apply_self_change(&mut self, node: NodeId, change: &Sparse) {
        self.add_to_node(node, change, 1);
        self.add_to_ancestors(node, change, 1);
    }

    /// What a node's subtree adds to each strict ancestor: its consolidated figures plus the child side of its
    /// own figures' pairs.
    fn subtree_contribution(&self, node: NodeId) -> Sparse {
        let mut cells = self.consolidated(node);
        cells.extend(self.upward_extra(node, &self.own_cells(node)));
        normalize(cells)
    }

    /// Adds a node (without figures) under a parent.
    pub fn add_node(&mut self, code: UnitCode, parent: Option<NodeId>) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            code: code.clone(),
            parent: None,
            counterparty: None,
            children: Vec::new(),
            own: None,
            dense: None,
            subtree_magnitude: 0,
        });
        self.by_code.insert(code, id);
        if parent.is_some() {
            self.set_parent(id, parent);
        }
        id
    }

    /// Sets the figures that count for a node (a new valid version), updating it and its ancestors by the
    /// change.
    pub fn set_own(&mut self, node: NodeId, own: Option<OwnData>) {
        let old = std::mem::replace(&mut self.nodes[node].own, own);
        let delta = self.nodes[node].own.as_ref().map_or(0, |o| o.magnitude)
            - old.as_ref().map_or(0, |o| o.magnitude);
        self.add_magnitude(node, delta);
        let change = difference(
            self.nodes[node].own.iter().flat_map(OwnData::iter),
            old.iter().flat_map(OwnData::iter),
        );
        if !change.is_empty() {
            self.apply_own_change(node, &change);
        }
        // What is matched between this node and the units it pays, and between it and its payer, may change.
        self.refresh_group(node);
        if let Some(payer) = self.payer_of(node) {
            self.refresh_group(payer);
        }
    }

    /// Applies a change of a node's own figures to the linear part: the node and its ancestors.
    fn apply_own_change(&mut self, node: NodeId, change: &Sparse) {
        let self_change = self.self_part(node, change);
        self.add_to_node(node, &self_change, 1);
        if self.crosses(node) {
            self.add_to_ancestors(node, &self_change, 1);
            let extra = normalize(self.removals.child.removal(change.iter().copied()));
            for at in self.meeting_and_above(node) {
                self.add_to_node(at, &extra, 1);
            }
        } else {
            let mut up_change = self_change;
            up_change.extend(self.upward_extra(node, change));
            self.add_to_ancestors(node, &normalize(up_change), 1);
        }
    }

    /// Sets the counterparty of a node (its supervising department, when that is not its parent) and recomputes:
    /// where its transfers are eliminated changes.
    pub fn set_counterparty(&mut self, node: NodeId, counterparty: Option<NodeId>) {
        if self.nodes[node].counterparty == counterparty {
            return;
        }
        self.load_counterparty(node, counterparty);
        self.full_recompute();
    }

    /// Sets the counterparty of a node without updating anything: for loading a year, followed by
    /// `full_recompute`.
    pub fn load_counterparty(&mut self, node: NodeId, counterparty: Option<NodeId>) {
        let counterparty = counterparty.filter(|c| *c != node);
        self.nodes[node].counterparty = counterparty;
        self.crossing.retain(|n| *n != node);
        if counterparty.is_some() {
            self.crossing.push(node);
        }
    }

    /// Moves a node (with its subtree) under another parent, or to the top. Refuses a move into its own subtree.
    pub fn set_parent(&mut self, node: NodeId, parent: Option<NodeId>) -> bool {
        if self.nodes[node].parent == parent {
            return true;
        }
        if let Some(p) = parent
            && (p == node || self.ancestors(p).contains(&node))
        {
            return false;
        }
        if !self.crossing.is_empty() {
            // A move changes where transfers meet, possibly outside the moved subtree: recompute.
            if let Some(old) = self.nodes[node].parent.take() {
                self.nodes[old].children.retain(|c| *c != node);
            }
            if let Some(new) = parent {
                self.nodes[new].children.push(node);
                self.nodes[node].parent = Some(new);
            }
            self.full_recompute();
            return true;
        }
        let old_parent = self.nodes[node].parent;
        // Take the subtree out of its old ancestors.
        let contribution = self.subtree_contribution(node);
        self.add_to_ancestors(node, &contribution, -1);
        let magnitude = self.nodes[node].subtree_magnitude;
        if let Some(old) = self.nodes[node].parent {
            self.add_magnitude(old, -magnitude);
        }
        if let Some(old) = self.nodes[node].parent {
            self.nodes[old].children.retain(|c| *c != node);
            self.nodes[node].parent = None;
            // The old parent may have lost its last child: the parent side of its pairs no longer applies.
            if self.nodes[old].children.is_empty() {
                let own = self.own_cells(old);
                let lost = normalize(self.removals.parent.removal(own.iter().copied()));
                self.apply_self_change(
                    old,
                    &lost.iter().map(|(c, v)| (*c, v.wrapping_neg())).collect(),
                );
            }
        }
        if let Some(new) = parent {
            if self.nodes[new].dense.is_none() {
                // Its first child: from now on it holds consolidated figures, starting with its own.
                let mut dense = vec![0; self.layout.len()];
                add_into(&mut dense, self.own_cells(new).into_iter(), 1);
                self.nodes[new].dense = Some(dense);
            }
            if self.nodes[new].children.is_empty() {
                // The parent side of its pairs applies from its first child on.
                let own = self.own_cells(new);
                let gained = normalize(self.removals.parent.removal(own.iter().copied()));
                self.apply_self_change(new, &gained);
            }
            self.nodes[new].children.push(node);
            self.nodes[node].parent = Some(new);
            let contribution = self.subtree_contribution(node);
            self.add_to_ancestors(node, &contribution, 1);
            self.add_magnitude(new, magnitude);
        }
        // The old payer lost a payee and the new one gained one: what each matches changes. The corrections of
        // payers inside the moved subtree moved with its figures.
        for payer in [old_parent, parent].into_iter().flatten() {
            self.refresh_group(payer);
        }
        true
    }

    /// Recomputes every node's consolidated figures from the units' own figures, bottom-up.
    ///
    /// First, each consolidated node (one with children) gets its own contribution and everything its childless
    /// children add — the bulk of the figures — in parallel, since these are independent. Then, children before
    /// parents, each consolidated node's figures are added to its parent's.
    pub fn full_recompute(&mut self) {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        self.full_recompute_with(threads);
    }

    /// [`Self::full_recompute`] on at most `threads` threads (1: on the calling thread alone).
    pub fn full_recompute_with(&mut self, threads: usize) {
        // Below this many figures, starting threads costs more than it saves.
        const PARALLEL_FROM: usize = 500_000;
        self.recompute(threads, PARALLEL_FROM);
    }

    fn recompute(&mut self, threads: usize, parallel_from: usize) {
        for n in &mut self.nodes {
            if n.dense.is_none() && !n.children.is_empty() {
                n.dense = Some(vec![0; self.layout.len()]);
            }
        }
        let mut dense_of: Vec<Option<Vec<i64>>> =
            self.nodes.iter_mut().map(|n| n.dense.take()).collect();
        let consolidated: Vec<bool> = dense_of.iter().map(Option::is_some).collect();
        let nodes = &self.nodes;
        let removals = &*self.removals;
        // Nodes whose child side is eliminated above their parent: added by a pass of their own below.
        let mut crossing = vec![false; nodes.len()];
        let crossing_nodes: Vec<NodeId> = self
            .crossing
            .iter()
            .copied()
            .filter(|&n| self.crosses(n))
            .collect();
        for &n in &crossing_nodes {
            crossing[n] = true;
        }
        // A node's figures but those of its consolidated children: its own, its other children's, and what
        // eliminations take from them.
        let fill = |node: NodeId, dense: &mut [i64]| {
            dense.fill(0);
            let n = &nodes[node];
            if let Some(own) = &n.own {
                if n.children.is_empty() {
                    add_into(dense, own.iter(), 1);
                } else {
                    removals.parent.add_and_remove_into(dense, own);
                }
            }
            for &child in &n.children {
                let Some(own) = &nodes[child].own else {
                    continue;
                };
                match (consolidated[child], crossing[child]) {
                    (false, true) => add_into(dense, own.iter(), 1),
                    (false, false) => removals.child.add_and_remove_into(dense, own),
                    // A consolidated child's figures arrive with its dense vector below; what its own transfers
                    // eliminate here is taken now, while this node's vector is this thread's alone.
                    (true, false) => removals.child.remove_into(dense, own.iter()),
                    (true, true) => {}
                }
            }
        };
        // The work of filling each node, and of its whole consolidated subtree (children before parents).
        let order = self.post_order();
        let mut subtree_work = vec![0usize; nodes.len()];
        for &node in &order {
            let n = &nodes[node];
            let mut work_here = 1 + n.own.as_ref().map_or(0, OwnData::len);
            for &child in &n.children {
                work_here += nodes[child].own.as_ref().map_or(0, OwnData::len);
                if consolidated[child] {
                    work_here += subtree_work[child];
                }
            }
            subtree_work[node] = work_here;
        }
        let roots: Vec<NodeId> = (0..nodes.len())
            .filter(|&n| consolidated[n] && nodes[n].parent.is_none())
            .collect();
        let total: usize = roots.iter().map(|&r| subtree_work[r]).sum();
        let threads = if total < parallel_from {
            1
        } else {
            threads.max(1)
        };
        // Subtrees to hand out whole: the roots, the heaviest split into its consolidated children until there
        // are enough to balance the threads. What was split (`above`) is filled afterwards, on this thread.
        let mut subtrees = roots;
        let mut above = Vec::new();
        while threads > 1 && subtrees.len() < 4 * threads {
            let Some((at, &heaviest)) = subtrees
                .iter()
                .enumerate()
                .filter(|(_, n)| nodes[**n].children.iter().any(|c| consolidated[*c]))
                .max_by_key(|(_, n)| subtree_work[**n])
            else {
                break;
            };
            subtrees.swap_remove(at);
            above.push(heaviest);
            subtrees.extend(
                nodes[heaviest]
                    .children
                    .iter()
                    .filter(|c| consolidated[**c]),
            );
        }
        // Heaviest first, each to the thread with the least work so far.
        subtrees.sort_unstable_by_key(|n| std::cmp::Reverse(subtree_work[*n]));
        let mut assigned: Vec<(usize, Vec<Subtree>)> =
            (0..threads).map(|_| (0, Vec::new())).collect();
        for root in subtrees {
            let lightest = assigned
                .iter_mut()
                .min_by_key(|(load, _)| *load)
                .expect("at least one thread");
            lightest.0 += subtree_work[root];
            lightest
                .1
                .push(Subtree::take(root, nodes, &consolidated, &mut dense_of));
        }
        let fill_subtrees = |subtrees: &mut Vec<Subtree>| {
            for subtree in subtrees {
                subtree.compute(&fill);
            }
        };
        match assigned.as_mut_slice() {
            [(_, only)] => fill_subtrees(only),
            many => std::thread::scope(|scope| {
                for (_, subtrees) in many {
                    scope.spawn(|| fill_subtrees(subtrees));
                }
            }),
        }
        for (_, subtrees) in assigned {
            for subtree in subtrees {
                subtree.put_back(&mut dense_of);
            }
        }
        for &node in &above {
            let mut dense = dense_of[node].take().expect("a split node is consolidated");
            fill(node, &mut dense);
            dense_of[node] = Some(dense);
        }
        // The subtrees' roots into what was split, children before parents.
        let mut is_above = vec![false; nodes.len()];
        for &node in &above {
            is_above[node] = true;
        }
        for &node in &order {
            let Some(parent) = nodes[node].parent else {
                continue;
            };
            if is_above[parent] && consolidated[node] {
                let child = dense_of[node]
                    .take()
                    .expect("a child of a split node is consolidated");
                add_dense(dense_of[parent].as_mut().expect("split"), &child);
                dense_of[node] = Some(child);
            }
        }
        for &node in &order {
            let own = self.nodes[node].own.as_ref().map_or(0, |o| o.magnitude);
            let children: i128 = self.nodes[node]
                .children
                .iter()
                .map(|c| self.nodes[*c].subtree_magnitude)
                .sum();
            self.nodes[node].subtree_magnitude = own + children;
        }
        for (node, dense) in dense_of.into_iter().enumerate() {
            if dense.is_some() {
                self.nodes[node].dense = dense;
            }
        }
        for node in crossing_nodes {
            let Some(own) = self.nodes[node].own.clone() else {
                continue;
            };
            for at in self.meeting_and_above(node) {
                let dense = self.nodes[at]
                    .dense
                    .as_mut()
                    .expect("a meeting node has children");
                self.removals.child.remove_into(dense, own.iter());
            }
        }
        self.apply_all_groups();
    }

    /// Adds to the subtree magnitude of a node and of each of its ancestors.
    fn add_magnitude(&mut self, node: NodeId, delta: i128) {
        if delta == 0 {
            return;
        }
        let mut current = Some(node);
        while let Some(n) = current {
            self.nodes[n].subtree_magnitude += delta;
            current = self.nodes[n].parent;
        }
    }

    /// Whether every consolidated figure of a node is exact: `Err` with the cells whose true value does not fit in
    /// 64 bits (their figures here would be wrapped). Decided by the magnitude bound, so nearly always at once.
    pub fn check_range(&self, node: NodeId) -> Result<(), Vec<CellId>> {
        // The corrections of unmatched eliminations give back at most what the linear part took (plus a unit
        // of rounding a cell): twice the fan-out bounds both together.
        let bound = self.nodes[node]
            .subtree_magnitude
            .saturating_mul(2 * self.fan_out)
            .saturating_add(self.layout.len() as i128);
        if bound <= i128::from(i64::MAX) {
            return Ok(());
        }
        let exact = self.by_definition(node);
        let beyond: Vec<CellId> = exact
            .iter()
            .enumerate()
            .filter(|(_, v)| i64::try_from(**v).is_err())
            .map(|(c, _)| c as CellId)
            .collect();
        if beyond.is_empty() {
            Ok(())
        } else {
            Err(beyond)
        }
    }

    /// A node's consolidated figures by the definition, in 128 bits: its `self`, and each node's below it (and
    /// its own) child side where that is eliminated at the node or below it.
    pub fn by_definition(&self, node: NodeId) -> Vec<i128> {
        let mut exact = vec![0i128; self.layout.len()];
        let mut add = |cells: Sparse| {
            for (cell, value) in cells {
                exact[cell as usize] += i128::from(value);
            }
        };
        let mut subtree = vec![node];
        let mut stack = self.nodes[node].children.clone();
        while let Some(d) = stack.pop() {
            subtree.push(d);
            stack.extend(self.nodes[d].children.iter().copied());
        }
        for d in subtree {
            let own = self.own_cells(d);
            add(self.self_part(d, &own));
            if let Some(m) = self.meeting(d)
                && self.within(m, node)
            {
                add(normalize(self.removals.child.removal(own.iter().copied())));
            }
        }
        // And the corrections of the payers below it, computed afresh rather than taken from what was applied.
        for payer in self.payers() {
            if !self.within(payer, node) {
                continue;
            }
            for increment in self.group_increments(payer) {
                if self.within(increment.anchor, node) {
                    add(increment.cells);
                }
            }
        }
        exact
    }

    /// Every node, children before their parents.
    pub fn post_order(&self) -> Vec<NodeId> {
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(NodeId, bool)> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.parent.is_none())
            .map(|(i, _)| (i, false))
            .collect();
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                order.push(node);
            } else {
                stack.push((node, true));
                stack.extend(self.nodes[node].children.iter().map(|c| (*c, false)));
            }
        }
        order
    }

    /// Whether a node holds consolidated figures of its own (it has, or had, children).
    pub fn is_internal(&self, node: NodeId) -> bool {
        self.nodes[node].dense.is_some()
    }

    /// A node's consolidated figure of one cell (0 for a cell the layout does not have yet).
    pub fn value(&self, node: NodeId, cell: CellId) -> i64 {
        let n = &self.nodes[node];
        match &n.dense {
            Some(dense) => dense.get(cell as usize).copied().unwrap_or(0),
            None => n.own.as_ref().map_or(0, |o| o.get(cell)),
        }
    }

    /// A node's consolidated figures, non-zero cells only.
    pub fn consolidated(&self, node: NodeId) -> Sparse {
        let n = &self.nodes[node];
        match &n.dense {
            Some(dense) => dense
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0)
                .map(|(c, v)| (c as CellId, *v))
                .collect(),
            // A node that never had children: its own figures.
            None => self.own_cells(node),
        }
    }

    /// The eliminations made at a node (the adjustment layer): the parent side of its own figures' pairs (when
    /// it has children) and the child side of each child's.
    pub fn adjustments(&self, node: NodeId) -> Sparse {
        let n = &self.nodes[node];
        let mut cells = Vec::new();
        if !n.children.is_empty() {
            cells.extend(
                self.removals
                    .parent
                    .removal(n.own.iter().flat_map(OwnData::iter)),
            );
        }
        for child in self.meeting_here(node) {
            let own = self.nodes[child].own.iter().flat_map(OwnData::iter);
            cells.extend(self.removals.child.removal(own));
        }
        cells.extend(self.unmatched_here(node));
        normalize(cells)
    }

    /// What is given back at a node because the two sides of a transfer did not match (未抵销差额).
    pub fn unmatched_here(&self, node: NodeId) -> Sparse {
        let mut cells = Vec::new();
        for increments in self.applied.values() {
            for increment in increments.iter().filter(|i| i.anchor == node) {
                cells.extend(increment.cells.iter().copied());
            }
        }
        normalize(cells)
    }

    /// The nodes whose child side is eliminated at a node: its children whose transfers meet there, and the
    /// nodes further down (or in another branch) whose transfers with their counterparty meet there.
    pub fn meeting_here(&self, node: NodeId) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self.nodes[node]
            .children
            .iter()
            .copied()
            .filter(|c| !self.crosses(*c))
            .collect();
        out.extend(
            self.crossing
                .iter()
                .copied()
                .filter(|&c| self.crosses(c) && self.meeting(c) == Some(node)),
        );
        out
    }

    /// The nodes whose transfers are with a node (the payer): its children that name no other counterparty,
    /// and the nodes that name it.
    pub fn paid_by(&self, node: NodeId) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self.nodes[node]
            .children
            .iter()
            .copied()
            .filter(|&c| self.nodes[c].counterparty.is_none_or(|p| p == node))
            .collect();
        out.extend(self.crossing.iter().copied().filter(|&c| {
            self.nodes[c].counterparty == Some(node) && self.nodes[c].parent != Some(node)
        }));
        out
    }

    /// What each pair removes from one cell of a node's consolidation: from the node's own figures (the payer's
    /// side), from each payee's whose transfers meet here, and what is given back because the two sides did not
    /// match (at the payer): (unit, pair index, side, amount).
    pub fn eliminations_at(&self, node: NodeId, cell: CellId) -> Vec<(NodeId, usize, Side, i64)> {
        let mut out = Vec::new();
        let n = &self.nodes[node];
        if let Some(own) = &n.own
            && !n.children.is_empty()
        {
            out.extend(
                self.removals
                    .explain(own, cell, false)
                    .into_iter()
                    .map(|(p, a)| (node, p, Side::Payer, a)),
            );
        }
        for child in self.meeting_here(node) {
            if let Some(own) = &self.nodes[child].own {
                out.extend(
                    self.removals
                        .explain(own, cell, true)
                        .into_iter()
                        .map(|(p, a)| (child, p, Side::Payee, a)),
                );
            }
        }
        let mut payers: Vec<&NodeId> = self.applied.keys().collect();
        payers.sort_unstable();
        for &payer in payers {
            for increment in &self.applied[&payer] {
                if increment.anchor != node {
                    continue;
                }
                let amount = increment
                    .cells
                    .binary_search_by_key(&cell, |(c, _)| *c)
                    .map_or(0, |i| increment.cells[i].1);
                if amount != 0 {
                    out.push((payer, increment.pair, Side::Unmatched, amount));
                }
            }
        }
        out
    }

    /// The payer a node's transfers are with: its supervising department when it names one, else its parent.
    fn payer_of(&self, node: NodeId) -> Option<NodeId> {
        self.nodes[node].counterparty.or(self.nodes[node].parent)
    }

    /// The nodes that may pay others: those with children, and the counterparties named.
    fn payers(&self) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = (0..self.nodes.len())
            .filter(|&n| !self.nodes[n].children.is_empty())
            .collect();
        out.extend(
            self.crossing
                .iter()
                .filter_map(|&c| self.nodes[c].counterparty),
        );
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The payees of a payer whose figures count, each with where on the payer's path (0: the payer itself) its
    /// transfers meet the payer's; ordered by that place, then by node.
    fn counted_payees(&self, payer: NodeId, path: &[NodeId]) -> Vec<(usize, NodeId)> {
        let mut out: Vec<(usize, NodeId)> = self
            .paid_by(payer)
            .into_iter()
            .filter(|u| self.nodes[*u].own.is_some())
            .filter_map(|u| {
                let meeting = self.meeting(u)?;
                Some((path.iter().position(|p| *p == meeting)?, u))
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// What one pair states on each side at a node where `payees` (counted) meet their payer: (stated by the
    /// payer, stated by each payee).
    fn pair_statements(&self, payer: NodeId, pair: usize, payees: &[NodeId]) -> (i128, Vec<i128>) {
        let (child_key, parent_key) = self.removals.keys[pair];
        let stated = match (&self.nodes[payer].own, parent_key) {
            (Some(own), Some(key)) => i128::from(own.get(key)),
            _ => 0,
        };
        let each = payees
            .iter()
            .map(|u| match (&self.nodes[*u].own, child_key) {
                (Some(own), Some(key)) => i128::from(own.get(key)),
                _ => 0,
            })
            .collect();
        (stated, each)
    }

    /// What the linear eliminations of one pair must be corrected by where `payees` (counted) meet their payer.
    /// The linear part removes the payer's side whole when it has children and each payee's side whole; only
    /// what the two sides have in common may go, so the rest is given back — on each side in proportion to that
    /// side's own rows, so that its tables keep their sums, and exactly on the cells the sides state it in (the
    /// key cells), so that both sides lose the same amount. A side that states nothing is taken at its word: its
    /// rows are given back whole: a side that states no transfer has none eliminated.
    fn pair_correction(&self, payer: NodeId, pair: usize, payees: &[NodeId]) -> Sparse {
        let (child_side, parent_side) = &self.removals.by_pair[pair];
        let (stated, each) = self.pair_statements(payer, pair, payees);
        let counted: i128 = each.iter().sum();
        let matched = matched(stated, counted);
        let mut out = Sparse::new();
        let n = &self.nodes[payer];
        if let Some(own) = &n.own
            && !n.children.is_empty()
        {
            match stated {
                0 => add_scaled(&mut out, parent_side, own, 1, 1),
                _ if stated != matched => {
                    add_scaled(&mut out, parent_side, own, stated - matched, stated)
                }
                _ => {}
            }
        } else if let Some(own) = &n.own
            && matched != 0
        {
            // A payer without children: the linear part removed nothing of it; the matched part goes here.
            add_scaled(&mut out, parent_side, own, -matched, stated);
        }
        let shares = if counted != matched {
            allocate(counted - matched, &each)
        } else {
            vec![0; each.len()]
        };
        for ((payee, share), states) in payees.iter().zip(shares).zip(&each) {
            let Some(own) = &self.nodes[*payee].own else {
                continue;
            };
            match *states {
                0 => add_scaled(&mut out, child_side, own, 1, 1),
                states if share != 0 => add_scaled(&mut out, child_side, own, share, states),
                _ => {}
            }
        }
        normalize(out)
    }

    /// The corrections of one payer's pairs, as increments along its path: the payees that count meet the payer
    /// at the payer or (for a supervising department elsewhere in the tree) further up, so what is matched can
    /// grow going up.
    fn group_increments(&self, payer: NodeId) -> Vec<Increment> {
        let pairs = self.removals.pairs();
        if pairs == 0 {
            return Vec::new();
        }
        let path: Vec<NodeId> = std::iter::once(payer)
            .chain(self.ancestors(payer))
            .collect();
        let payees = self.counted_payees(payer, &path);
        let mut stops: Vec<usize> = std::iter::once(0)
            .chain(payees.iter().map(|(at, _)| *at))
            .collect();
        stops.dedup();
        let mut out = Vec::new();
        for pair in 0..pairs {
            let mut previous = Sparse::new();
            for &stop in &stops {
                let meeting: Vec<NodeId> = payees
                    .iter()
                    .filter(|(at, _)| *at <= stop)
                    .map(|(_, u)| *u)
                    .collect();
                let correction = self.pair_correction(payer, pair, &meeting);
                let increment = difference(correction.iter().copied(), previous.iter().copied());
                if !increment.is_empty() {
                    out.push(Increment {
                        anchor: path[stop],
                        pair,
                        cells: increment,
                    });
                }
                previous = correction;
            }
        }
        out
    }

    fn apply_increments(&mut self, increments: &[Increment], sign: i64) {
        for increment in increments {
            self.add_to_node(increment.anchor, &increment.cells, sign);
            self.add_to_ancestors(increment.anchor, &increment.cells, sign);
        }
    }

    /// Recomputes one payer's correction and applies the change.
    fn refresh_group(&mut self, payer: NodeId) {
        let new = self.group_increments(payer);
        let old = self.applied.remove(&payer).unwrap_or_default();
        if old != new {
            self.apply_increments(&old, -1);
            self.apply_increments(&new, 1);
        }
        if !new.is_empty() {
            self.applied.insert(payer, new);
        }
    }

    /// Computes every payer's correction afresh and applies it (after a full recompute of the linear part).
    fn apply_all_groups(&mut self) {
        self.applied.clear();
        for payer in self.payers() {
            let increments = self.group_increments(payer);
            if !increments.is_empty() {
                self.apply_increments(&increments, 1);
                self.applied.insert(payer, increments);
            }
        }
    }

    /// The nodes of a subtree, the root first.
    fn subtree_nodes(&self, root: NodeId) -> Vec<NodeId> {
        let mut out = vec![root];
        let mut stack = self.nodes[root].children.clone();
        while let Some(d) = stack.pop() {
            out.push(d);
            stack.extend(self.nodes[d].children.iter().copied());
        }
        out
    }

    /// Every pair of every payer in a node's subtree whose two sides, as far as they meet at the node, are not
    /// matched in full: what stays in the node's figures (未抵销差额), with who is counted and who is not.
    pub fn pair_balances(&self, node: NodeId) -> Vec<PairBalance> {
        let mut out = Vec::new();
        let mut payers: Vec<NodeId> = self
            .subtree_nodes(node)
            .into_iter()
            .filter(|&n| !self.paid_by(n).is_empty() || !self.nodes[n].children.is_empty())
            .collect();
        payers.sort_unstable();
        for payer in payers {
            let path: Vec<NodeId> = std::iter::once(payer)
                .chain(self.ancestors(payer))
                .collect();
            let Some(here) = path.iter().position(|p| *p == node) else {
                continue;
            };
            let all = self.counted_payees(payer, &path);
            let counted_payees: Vec<NodeId> = all
                .iter()
                .filter(|(at, _)| *at <= here)
                .map(|(_, u)| *u)
                .collect();
            let outside_payees: Vec<NodeId> = all
                .iter()
                .filter(|(at, _)| *at > here)
                .map(|(_, u)| *u)
                .collect();
            let uncounted_payees: Vec<NodeId> = self
                .paid_by(payer)
                .into_iter()
                .filter(|u| self.nodes[*u].own.is_none())
                .collect();
            for pair in 0..self.removals.pairs() {
                let (stated, each) = self.pair_statements(payer, pair, &counted_payees);
                let counted: i128 = each.iter().sum();
                let balance = PairBalance {
                    pair,
                    payer,
                    stated,
                    counted,
                    matched: matched(stated, counted),
                    counted_payees: counted_payees.clone(),
                    uncounted_payees: uncounted_payees.clone(),
                    outside_payees: outside_payees.clone(),
                    payer_counted: self.nodes[payer].own.is_some(),
                };
                if balance.payer_unmatched() != 0 || balance.payees_unmatched() != 0 {
                    out.push(balance);
                }
            }
        }
        out
    }

    /// Adds what rounding may have moved the own figures of `nodes` to `slack`: half a unit of each figure's last
    /// decimal on its cell and on every cell an elimination takes it from (either side, to stay on the safe side).
    ///
    /// The half-units are summed per cell over all the nodes first and spread to the elimination targets once per
    /// cell after: a region's 10,000 units are one pass over their cell ids, not a lookup of targets per figure.
    pub fn add_rounding_slack(&self, nodes: impl IntoIterator<Item = NodeId>, slack: &mut [i64]) {
        let halves: [i64; MAX_HALF_ULP_CODE as usize + 1] =
            std::array::from_fn(|code| decode_half_ulp(code as u8));
        let mut own = vec![0i64; slack.len()];
        for node in nodes {
            let Some(data) = &self.nodes[node].own else {
                continue;
            };
            for (&cell, &code) in data.ids.iter().zip(&data.half_ulps) {
                let half = halves
                    .get(usize::from(code))
                    .copied()
                    .unwrap_or_else(|| decode_half_ulp(code));
                if let Some(sum) = own.get_mut(cell as usize) {
                    *sum = sum.saturating_add(half);
                }
            }
        }
        for (cell, &half) in own.iter().enumerate() {
            if half == 0 {
                continue;
            }
            slack[cell] = slack[cell].saturating_add(half);
            let cell = cell as CellId;
            for &target in self
                .removals
                .child
                .of(cell)
                .iter()
                .chain(self.removals.parent.of(cell))
            {
                if let Some(sum) = slack.get_mut(target as usize) {
                    *sum = sum.saturating_add(half);
                }
            }
        }
    }

    /// Sets a node's figures without updating anything: for loading a year, followed by `full_recompute`.
    pub fn load_own(&mut self, node: NodeId, own: Option<OwnData>) {
        self.nodes[node].own = own;
    }

    /// Sets a node's parent without updating anything: for loading a year, followed by `full_recompute`.
    /// Refuses a cycle.
    pub fn load_parent(&mut self, node: NodeId, parent: NodeId) -> bool {
        if parent == node || self.ancestors(parent).contains(&node) {
            return false;
        }
        self.nodes[node].parent = Some(parent);
        self.nodes[parent].children.push(node);
        true
    }

    /// Bytes held by the consolidated state: dense figures, counted figures, the tree.
    pub fn memory_bytes(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| {
                std::mem::size_of::<Node>()
                    + n.children.capacity() * std::mem::size_of::<NodeId>()
                    + n.dense.as_ref().map_or(0, |d| d.capacity() * 8)
                    + n.own.as_ref().map_or(0, OwnData::memory_bytes)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::taxonomy::test_support;
    use proptest::prelude::*;

    fn state() -> YearState {
        let taxonomy = test_support::year(2024);
        let layout = Arc::new(CellLayout::new(&taxonomy));
        let removals = Arc::new(Removals::new(&layout, taxonomy.eliminations.as_ref()));
        YearState::new(layout, removals)
    }

    fn own(cells: &[(CellId, i64)]) -> OwnData {
        let cells = normalize(cells.to_vec());
        OwnData::new(
            1,
            cells.into_iter().map(|(c, v)| (c, v, 5_000)).collect(),
            Vec::new(),
            0,
        )
    }

    fn code(s: &str) -> UnitCode {
        UnitCode::parse(s).unwrap()
    }

    /// Every node's consolidated figures, by code.
    fn snapshot(state: &YearState) -> Vec<(String, Sparse)> {
        let mut out: Vec<(String, Sparse)> = (0..state.nodes.len())
            .map(|n| (state.nodes[n].code.to_string(), state.consolidated(n)))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_parent_adds_its_children() {
        let mut s = state();
        let root = s.add_node(code("R"), None);
        let a = s.add_node(code("A"), Some(root));
        let b = s.add_node(code("B"), Some(root));
        s.set_own(a, Some(own(&[(0, 100), (5, 7)])));
        s.set_own(b, Some(own(&[(0, 50)])));
        assert_eq!(s.value(root, 0), 150);
        assert_eq!(s.value(root, 5), 7);
        s.set_own(a, Some(own(&[(0, 10)])));
        assert_eq!((s.value(root, 0), s.value(root, 5)), (60, 0));
    }

    #[test]
    fn rounding_slack_summed_per_cell_equals_each_figure_spread_to_its_targets() {
        let mut s = state();
        let root = s.add_node(code("R"), None);
        let a = s.add_node(code("A"), Some(root));
        let b = s.add_node(code("B"), Some(root));
        let sources: Vec<CellId> = (0..s.layout.len() as CellId)
            .filter(|&c| !s.removals.child.of(c).is_empty() || !s.removals.parent.of(c).is_empty())
            .take(3)
            .collect();
        assert!(
            !sources.is_empty(),
            "the 2024 eliminations have source cells"
        );
        let mut cells: Vec<(CellId, i64)> = sources.iter().map(|&c| (c, 100)).collect();
        cells.push((0, 5));
        s.set_own(a, Some(own(&cells)));
        s.set_own(b, Some(own(&[(sources[0], 7), (1, 3)])));
        let mut summed = vec![0i64; s.layout.len()];
        s.add_rounding_slack([root, a, b], &mut summed);
        let mut expected = vec![0i64; s.layout.len()];
        for n in [a, b] {
            for (cell, _, half) in s.nodes[n].own.as_ref().unwrap().iter_with_half_ulps() {
                expected[cell as usize] += half;
                for &target in s
                    .removals
                    .child
                    .of(cell)
                    .iter()
                    .chain(s.removals.parent.of(cell))
                {
                    expected[target as usize] += half;
                }
            }
        }
        assert_eq!(summed, expected);
        assert!(
            summed.iter().filter(|&&v| v > 0).count() > cells.len(),
            "the targets of eliminations got slack too"
        );
    }

    /// Operations on a random tree: set figures or move a node.
    #[derive(Debug, Clone)]
    enum Op {
        Own(usize, Vec<(u8, i32)>),
        Clear(usize),
        Move(usize, Option<usize>),
        /// A supervising department other than the parent (or none).
        Counterparty(usize, Option<usize>),
        /// A code row the layout did not have yet (a new code in use): every vector grows.
        Grow(u8),
    }

    fn op(nodes: usize) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..nodes, proptest::collection::vec((any::<u8>(), -1_000_000i32..1_000_000), 0..20)).prop_map(|(n, c)| Op::Own(n, c)),
            1 => (0..nodes).prop_map(Op::Clear),
            2 => (0..nodes, proptest::option::of(0..nodes)).prop_map(|(n, p)| Op::Move(n, p)),
            1 => (0..nodes, proptest::option::of(0..nodes)).prop_map(|(n, p)| Op::Counterparty(n, p)),
            1 => any::<u8>().prop_map(Op::Grow),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
            ..ProptestConfig::default()
        })]

        /// After any sequence of submissions, resubmissions and moves, the incrementally kept figures equal a
        /// full recompute exactly.
        #[test]
        fn incremental_updates_equal_a_full_recompute(
            parents in proptest::collection::vec(proptest::option::of(0usize..1000), 2..25),
            ops in proptest::collection::vec(op(25), 1..60),
        ) {
            let mut s = state();
            // Code rows come when used: the ones the figures below use, one of them not in the year's list.
            s.grow_layout(&[
                ("functional".into(), "207".into()),
                ("functional".into(), "20706".into()),
                ("functional".into(), "2070605".into()),
                ("functional".into(), "2070698".into()),
            ]);
            // Cells that include the elimination pairs' sources and targets, so that eliminations are exercised.
            let layout = s.layout.clone();
            let taxonomy = test_support::year(2024);
            let t01 = taxonomy.table_index("T01").unwrap();
            let t02 = taxonomy.table_index("T02").unwrap();
            let t03 = taxonomy.table_index("T03").unwrap();
            let mut cells: Vec<CellId> = vec![
                layout.id(t01, "income_superior_subsidy", 0).unwrap(),
                layout.id(t01, "income_affiliated_remit", 0).unwrap(),
                layout.id(t01, "income_total", 0).unwrap(),
                layout.id(t01, "expenditure_total", 0).unwrap(),
                layout.id(t01, "207", 0).unwrap(),
            ];
            for row in ["total", "207", "20706", "2070605", "2070698"] {
                for column in 0..taxonomy.tables[t03].columns.len() {
                    cells.push(layout.id(t03, row, column).unwrap());
                }
                for column in 0..taxonomy.tables[t02].columns.len() {
                    cells.push(layout.id(t02, row, column).unwrap());
                }
            }
            let n = parents.len();
            for (i, parent) in parents.iter().enumerate() {
                // Parents point to earlier nodes, so the first tree is acyclic.
                let parent = parent.filter(|_| i > 0).map(|p| p % i);
                s.add_node(code(&format!("U{i}")), parent);
            }
            for op in ops {
                match op {
                    Op::Own(node, figures) => {
                        let figures: Vec<(CellId, i64)> = figures.iter().map(|(c, v)| (cells[*c as usize % cells.len()], i64::from(*v))).collect();
                        s.set_own(node % n, Some(own(&figures)));
                    }
                    Op::Clear(node) => s.set_own(node % n, None),
                    Op::Move(node, parent) => {
                        s.set_parent(node % n, parent.map(|p| p % n));
                    }
                    Op::Counterparty(node, other) => {
                        s.set_counterparty(node % n, other.map(|p| p % n));
                    }
                    Op::Grow(code) => {
                        s.grow_layout(&[("functional".into(), format!("20799{:02}", code % 100))]);
                    }
                }
                let incremental = snapshot(&s);
                let mut full = s.clone();
                // Three threads even for a small tree, so that the parallel path is checked too.
                full.recompute(3, 0);
                prop_assert_eq!(&incremental, &snapshot(&full));
                let magnitudes = |state: &YearState| -> Vec<i128> {
                    state.nodes.iter().map(|n| n.subtree_magnitude).collect()
                };
                prop_assert_eq!(magnitudes(&s), magnitudes(&full));
                full.full_recompute_with(1);
                prop_assert_eq!(&incremental, &snapshot(&full));
            }
            // And both are the definition: self(N) + Σ self(d) over the strict descendants d of N, and the child
            // side of each node whose transfers meet at N or below it.
            let mut by_definition: Vec<(String, Sparse)> = (0..n)
                .map(|node| {
                    let cells: Sparse = s
                        .by_definition(node)
                        .into_iter()
                        .enumerate()
                        .map(|(c, v)| (c as CellId, i64::try_from(v).unwrap()))
                        .collect();
                    (s.nodes[node].code.to_string(), normalize(cells))
                })
                .collect();
            by_definition.sort();
            prop_assert_eq!(snapshot(&s), by_definition);
        }
    }

    #[test]
    fn figures_beyond_64_bits_are_named_never_shown_wrapped() {
        let mut s = state();
        let root = s.add_node(code("R"), None);
        let near = i64::MAX / 64;
        for i in 0..100 {
            let child = s.add_node(code(&format!("C{i}")), Some(root));
            s.set_own(child, Some(own(&[(0, near), (1, 1)])));
            assert_eq!(s.check_range(child), Ok(()));
        }
        // 100 × (2^63 / 64) does not fit: cell 0 is named, cell 1 (100) is fine.
        assert_eq!(s.check_range(root), Err(vec![0]));
        assert_eq!(s.value(root, 1), 100);
        // The same after a full recompute, on any number of threads.
        let mut full = s.clone();
        full.recompute(2, 0);
        assert_eq!(full.check_range(root), Err(vec![0]));

        // Large figures that cancel: the bound is exceeded, the exact sum fits, and the wrapped sum is it.
        let mut s = state();
        let root = s.add_node(code("R"), None);
        for (i, sign) in [1i64, -1, 1, -1].iter().enumerate() {
            let child = s.add_node(code(&format!("C{i}")), Some(root));
            s.set_own(child, Some(own(&[(0, sign * (i64::MAX - 10))])));
        }
        assert_eq!(s.check_range(root), Ok(()));
        assert_eq!(s.value(root, 0), 0);
        // Moving the negative children away leaves two positive ones at the root, which do not fit; nor do the
        // two negative ones where they went.
        let extra = s.add_node(code("X"), None);
        s.set_parent(2, Some(extra));
        s.set_parent(4, Some(extra));
        assert_eq!(s.check_range(root), Err(vec![0]));
        assert_eq!(s.check_range(extra), Err(vec![0]));
        s.set_parent(4, None);
        assert_eq!(s.check_range(extra), Ok(()));
    }

    #[test]
    fn a_transfer_across_two_levels_is_eliminated_where_the_two_sides_meet() {
        // 部门 D → 二级单位 P → 基层单位 U; U's 上级补助收入 comes from D, its supervising department.
        let mut s = state();
        let taxonomy = test_support::year(2024);
        let t01 = taxonomy.table_index("T01").unwrap();
        let t03 = taxonomy.table_index("T03").unwrap();
        let subsidy = taxonomy.tables[t03]
            .column_index("subsidy_affiliated")
            .unwrap();
        let income = s.layout.id(t01, "income_superior_subsidy", 0).unwrap();
        let paid = s.layout.id(t03, "total", subsidy).unwrap();
        let d = s.add_node(code("D"), None);
        let p = s.add_node(code("P"), Some(d));
        let u = s.add_node(code("U"), Some(p));
        s.set_own(d, Some(own(&[(paid, 100)])));
        s.set_own(p, Some(own(&[(income, 0)])));
        s.set_own(u, Some(own(&[(income, 100)])));
        // Without the department named, the parent P is taken for the payer: P states no 对附属单位补助支出, so
        // nothing is matched and U's income stays in P's figures; D's payment finds no payee either.
        assert_eq!(s.value(p, income), 100);
        assert_eq!(s.value(d, paid), 100);
        s.set_counterparty(u, Some(d));
        assert_eq!(s.meeting(u), Some(d));
        // P keeps U's income (its payer is outside P); D eliminates both sides.
        assert_eq!(s.value(p, income), 100);
        assert_eq!(s.value(d, income), 0);
        assert_eq!(s.value(d, paid), 0);
        assert!(s.eliminations_at(p, income).is_empty());
        assert!(
            s.eliminations_at(d, income)
                .iter()
                .any(|(at, _, side, amount)| *at == u && *side == Side::Payee && *amount == -100)
        );
        assert_eq!(s.paid_by(d), vec![p, u]);
        assert!(s.paid_by(p).is_empty());
        // A resubmission of U moves both views by the change, as a full recompute does.
        s.set_own(u, Some(own(&[(income, 60)])));
        assert_eq!((s.value(p, income), s.value(d, income)), (60, 0));
        let mut full = s.clone();
        full.full_recompute_with(1);
        assert_eq!(snapshot(&s), snapshot(&full));
    }

    #[test]
    fn a_department_in_another_branch_meets_at_the_first_common_ancestor() {
        // R → {A → U, D}: U's supervising department D is not above it; they meet at R.
        let mut s = state();
        let taxonomy = test_support::year(2024);
        let t01 = taxonomy.table_index("T01").unwrap();
        let t03 = taxonomy.table_index("T03").unwrap();
        let subsidy = taxonomy.tables[t03]
            .column_index("subsidy_affiliated")
            .unwrap();
        let income = s.layout.id(t01, "income_superior_subsidy", 0).unwrap();
        let paid = s.layout.id(t03, "total", subsidy).unwrap();
        let r = s.add_node(code("R"), None);
        let a = s.add_node(code("A"), Some(r));
        let d = s.add_node(code("D"), Some(r));
        let u = s.add_node(code("U"), Some(a));
        s.set_counterparty(u, Some(d));
        s.set_own(u, Some(own(&[(income, 100)])));
        assert_eq!(s.meeting(u), Some(r));
        // D states no payment yet: nothing to match, U's income stays at R.
        assert_eq!(s.value(r, income), 100);
        s.set_own(d, Some(own(&[(paid, 100)])));
        assert_eq!(s.value(a, income), 100);
        assert_eq!(s.value(r, income), 0);
        assert_eq!(s.value(r, paid), 0);
        // D has no children: its payment is removed where it meets U, at R, and only there.
        assert_eq!(s.value(d, paid), 100);
        assert_eq!(s.meeting_here(r), vec![a, d, u]);
    }

    /// The cells a balanced unit states its transfers and totals in, for the balance property.
    struct Balanced {
        cells: [CellId; 14],
    }

    impl Balanced {
        fn new(layout: &CellLayout) -> Balanced {
            let taxonomy = test_support::year(2024);
            let t = |code: &str| taxonomy.table_index(code).unwrap();
            let (t01, t02, t03) = (t("T01"), t("T02"), t("T03"));
            let col = |table: usize, code: &str| taxonomy.tables[table].column_index(code).unwrap();
            let id =
                |table: usize, row: &str, column: usize| layout.id(table, row, column).unwrap();
            Balanced {
                cells: [
                    id(t01, "income_superior_subsidy", 0),
                    id(t01, "income_affiliated_remit", 0),
                    id(t01, "income_other", 0),
                    id(t01, "income_total", 0),
                    id(t01, "income_grand_total", 0),
                    id(t01, "expenditure_total", 0),
                    id(t01, "expenditure_grand_total", 0),
                    id(t02, "total", col(t02, "superior_subsidy")),
                    id(t02, "total", col(t02, "affiliated_remit")),
                    id(t02, "total", col(t02, "total")),
                    id(t03, "total", col(t03, "subsidy_affiliated")),
                    id(t03, "total", col(t03, "remit_superior")),
                    id(t03, "total", col(t03, "basic")),
                    id(t03, "total", col(t03, "total")),
                ],
            }
        }

        /// A unit that receives `subsidy`, collects `remit` from its own units, pays `paid` to them and remits
        /// `remitted` up, with other income and basic spending that make both sides equal.
        fn own(&self, subsidy: i64, remit: i64, other: i64, paid: i64, remitted: i64) -> OwnData {
            let c = &self.cells;
            let income = subsidy + remit + other;
            let basic = income - paid - remitted;
            own(&[
                (c[0], subsidy),
                (c[1], remit),
                (c[2], other),
                (c[3], income),
                (c[4], income),
                (c[5], income),
                (c[6], income),
                (c[7], subsidy),
                (c[8], remit),
                (c[9], subsidy + remit + other),
                (c[10], paid),
                (c[11], remitted),
                (c[12], basic),
                (c[13], income),
            ])
        }
    }

    #[derive(Debug, Clone)]
    enum BalancedOp {
        Own(usize, [u16; 5]),
        Clear(usize),
        Move(usize, Option<usize>),
        Counterparty(usize, Option<usize>),
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
            ..ProptestConfig::default()
        })]

        /// Units whose own tables balance consolidate to tables that balance at every node, whoever is counted
        /// and whatever the two sides of a transfer state: an elimination takes the same amount from both sides,
        /// and the tables that restate a figure restate the same consolidated figure.
        #[test]
        fn consolidated_tables_balance_whoever_counts(
            parents in proptest::collection::vec(proptest::option::of(0usize..1000), 2..16),
            ops in proptest::collection::vec(prop_oneof![
                6 => (0usize..16, proptest::array::uniform5(0u16..500)).prop_map(|(n, v)| BalancedOp::Own(n, v)),
                2 => (0usize..16).prop_map(BalancedOp::Clear),
                1 => (0usize..16, proptest::option::of(0usize..16)).prop_map(|(n, p)| BalancedOp::Move(n, p)),
                1 => (0usize..16, proptest::option::of(0usize..16)).prop_map(|(n, p)| BalancedOp::Counterparty(n, p)),
            ], 1..40),
        ) {
            let mut s = state();
            let balanced = Balanced::new(&s.layout);
            let n = parents.len();
            for (i, parent) in parents.iter().enumerate() {
                let parent = parent.filter(|_| i > 0).map(|p| p % i);
                s.add_node(code(&format!("U{i}")), parent);
            }
            for op in ops {
                match op {
                    BalancedOp::Own(node, [a, b, c, d, e]) => {
                        let own = balanced.own(a.into(), b.into(), c.into(), d.into(), e.into());
                        s.set_own(node % n, Some(own));
                    }
                    BalancedOp::Clear(node) => s.set_own(node % n, None),
                    BalancedOp::Move(node, parent) => {
                        s.set_parent(node % n, parent.map(|p| p % n));
                    }
                    BalancedOp::Counterparty(node, other) => s.set_counterparty(node % n, other.map(|p| p % n)),
                }
                let c = &balanced.cells;
                for node in 0..n {
                    let v = |cell: CellId| s.value(node, cell);
                    prop_assert_eq!(v(c[4]), v(c[6]), "收入总计 = 支出总计 at {}", node);
                    prop_assert_eq!(v(c[3]), v(c[5]), "本年收入合计 = 本年支出合计 at {}", node);
                    prop_assert_eq!(v(c[7]), v(c[0]), "公开02 上级补助收入 = 公开01 at {}", node);
                    prop_assert_eq!(v(c[8]), v(c[1]), "公开02 附属单位上缴收入 = 公开01 at {}", node);
                    prop_assert_eq!(v(c[9]), v(c[3]), "公开02 合计 = 公开01 本年收入合计 at {}", node);
                    prop_assert_eq!(v(c[13]), v(c[5]), "公开03 合计 = 公开01 本年支出合计 at {}", node);
                    // Nothing is eliminated beyond what either side states: no side goes negative.
                    for cell in [c[0], c[1], c[10], c[11]] {
                        prop_assert!(v(cell) >= 0, "cell {} at {} is {}", cell, node, v(cell));
                    }
                }
                let mut full = s.clone();
                full.full_recompute_with(1);
                prop_assert_eq!(snapshot(&s), snapshot(&full));
            }
        }
    }

    #[test]
    fn a_payee_not_counted_leaves_the_payers_side_in_the_figures_with_a_balance_naming_it() {
        let mut s = state();
        let balanced = Balanced::new(&s.layout);
        let c = balanced.cells;
        let d = s.add_node(code("D"), None);
        let u1 = s.add_node(code("U1"), Some(d));
        let u2 = s.add_node(code("U2"), Some(d));
        // D pays 300 to its units; U1 reports 100 received, U2 200 but is not counted yet.
        s.set_own(d, Some(balanced.own(0, 0, 1_000, 300, 0)));
        s.set_own(u1, Some(balanced.own(100, 0, 50, 0, 0)));
        // Only U1 is matched: 100 eliminated from both sides, D's other 200 stays.
        assert_eq!(s.value(d, c[10]), 200);
        assert_eq!(s.value(d, c[0]), 0);
        assert_eq!(s.value(d, c[4]), 1_000 + 150 - 100);
        assert_eq!(s.value(d, c[4]), s.value(d, c[6]));
        let balances = s.pair_balances(d);
        assert_eq!(balances.len(), 1, "{balances:?}");
        let b = &balances[0];
        assert_eq!((b.stated, b.counted, b.matched), (300, 100, 100));
        assert_eq!((b.payer_unmatched(), b.payees_unmatched()), (200, 0));
        assert_eq!(b.uncounted_payees, vec![u2]);
        // The adjustment layer shows what was given back at D.
        assert_eq!(
            s.unmatched_here(d)
                .iter()
                .find(|(cell, _)| *cell == c[10])
                .map(|(_, v)| *v),
            Some(200)
        );
        // U2 counted, reporting 210: all of D's 300 is matched; the 10 U2 reports beyond it stays on its side.
        s.set_own(u2, Some(balanced.own(210, 0, 0, 0, 0)));
        assert_eq!(s.value(d, c[10]), 0);
        assert_eq!(s.value(d, c[0]), 10);
        assert_eq!(s.value(d, c[4]), s.value(d, c[6]));
        let b = &s.pair_balances(d)[0];
        assert_eq!((b.stated, b.counted, b.matched), (300, 310, 300));
        assert!(b.uncounted_payees.is_empty());
        // And it all agrees with a full recompute.
        let mut full = s.clone();
        full.full_recompute_with(1);
        assert_eq!(snapshot(&s), snapshot(&full));
    }

    #[test]
    fn shares_and_scaling_are_exact_where_it_matters() {
        assert_eq!(matched(300, 100), 100);
        assert_eq!(matched(-300, -100), -100);
        assert_eq!(matched(300, -100), 0);
        assert_eq!(scaled(300, 200, 300), 200);
        assert_eq!(scaled(7, 1, 2), 4);
        assert_eq!(scaled(-7, 1, 2), -4);
        assert_eq!(scaled(5, 0, 3), 0);
        let shares = allocate(10, &[1, 1, 1]);
        assert_eq!(shares.iter().sum::<i128>(), 10);
        assert_eq!(allocate(0, &[0, 0]), vec![0, 0]);
    }

    #[test]
    fn a_move_into_its_own_subtree_is_refused() {
        let mut s = state();
        let root = s.add_node(code("R"), None);
        let child = s.add_node(code("C"), Some(root));
        assert!(!s.set_parent(root, Some(child)));
        assert!(!s.set_parent(root, Some(root)));
        assert_eq!(s.nodes[root].parent, None);
    }
}
