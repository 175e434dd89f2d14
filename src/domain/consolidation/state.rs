//! The consolidation of one fiscal year's tree, kept current.
//!
//! A node's consolidated figures are its own figures, plus its children's consolidated figures, minus the
//! eliminations made at the node (DESIGN §4). Eliminations are linear in the units' own figures, so each node's own
//! figures make two fixed vectors: `self_vec` — what they add to the node itself (own, less the parent side of the
//! pairs when the node has children) — and `up_vec` — what they add to every strict ancestor (self, less the child
//! side when the node has a parent). Then
//!
//! ```text
//! consolidated(N) = self_vec(N) + Σ up_vec(d) over the strict descendants d of N
//! ```
//!
//! which a full recompute evaluates bottom-up, and which a new version of one unit updates by adding the change
//! of its two vectors to the unit and its ancestors. All figures are integers (fen), so both ways agree exactly.

use std::{collections::HashMap, sync::Arc};

use super::layout::{CellId, CellLayout};
use crate::domain::{ids::UnitCode, taxonomy::eliminations::Eliminations};

pub type NodeId = usize;
/// Cells and integer figures, sorted by cell, without zeros.
pub type Sparse = Vec<(CellId, i64)>;

/// The figures of the version of a unit that counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnData {
    pub version: u32,
    /// Sorted by cell, no duplicates.
    pub cells: Sparse,
    /// What rounding may have moved each figure, in the same order.
    pub half_ulps: Vec<i64>,
    /// Tables the version gives only partly.
    pub partial_tables: Vec<usize>,
    /// Figures finer than the integer unit (a fen), which were rounded.
    pub inexact: u32,
}

impl OwnData {
    pub fn get(&self, cell: CellId) -> i64 {
        self.cells
            .binary_search_by_key(&cell, |(c, _)| *c)
            .map_or(0, |i| self.cells[i].1)
    }

    pub fn half_ulp(&self, cell: CellId) -> i64 {
        self.cells
            .binary_search_by_key(&cell, |(c, _)| *c)
            .map_or(0, |i| self.half_ulps[i])
    }
}

/// The eliminations compiled to cell ids: for each source cell, the cells its amount is removed from — all
/// pairs together (for the sums) and pair by pair (to explain a cell).
#[derive(Debug, Clone)]
pub struct Removals {
    child: Vec<Vec<CellId>>,
    parent: Vec<Vec<CellId>>,
    by_pair: Vec<(Targets, Targets)>,
}

/// For each source cell, the cells its amount is removed from.
type Targets = Vec<Vec<CellId>>;

impl Removals {
    pub fn new(layout: &CellLayout, eliminations: Option<&Eliminations>) -> Removals {
        let mut child = vec![Vec::new(); layout.len()];
        let mut parent = vec![Vec::new(); layout.len()];
        let mut by_pair = Vec::new();
        for pair in eliminations.map(|e| e.pairs.as_slice()).unwrap_or_default() {
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
            by_pair.push((pair_child, pair_parent));
        }
        Removals {
            child,
            parent,
            by_pair,
        }
    }

    /// What each pair removes from one cell, given a unit's own figures and its side: (pair index, amount).
    pub fn explain(&self, own: &OwnData, cell: CellId, child_side: bool) -> Vec<(usize, i64)> {
        let mut out = Vec::new();
        for (index, (child, parent)) in self.by_pair.iter().enumerate() {
            let side = if child_side { child } else { parent };
            let amount: i64 = own
                .cells
                .iter()
                .map(|(source, value)| {
                    side[*source as usize]
                        .iter()
                        .filter(|t| **t == cell)
                        .count() as i64
                        * -value
                })
                .sum();
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
    pub children: Vec<NodeId>,
    pub own: Option<OwnData>,
    self_vec: Sparse,
    up_vec: Sparse,
    /// Consolidated figures, for a node that has (or had) children.
    dense: Option<Vec<i64>>,
}

#[derive(Debug, Clone)]
pub struct YearState {
    pub layout: Arc<CellLayout>,
    removals: Arc<Removals>,
    pub nodes: Vec<Node>,
    pub by_code: HashMap<UnitCode, NodeId>,
}

/// Sorts, sums duplicates and drops zeros.
fn normalize(mut cells: Sparse) -> Sparse {
    cells.sort_unstable_by_key(|(c, _)| *c);
    let mut out: Sparse = Vec::with_capacity(cells.len());
    for (cell, value) in cells {
        match out.last_mut() {
            Some((last, sum)) if *last == cell => *sum += value,
            _ => out.push((cell, value)),
        }
    }
    out.retain(|(_, v)| *v != 0);
    out
}

/// a − b, both normalized.
fn difference(a: &Sparse, b: &Sparse) -> Sparse {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(ca, va)), Some(&(cb, vb))) if ca == cb => {
                if va != vb {
                    out.push((ca, va - vb));
                }
                i += 1;
                j += 1;
            }
            (Some(&(ca, va)), Some(&(cb, _))) if ca < cb => {
                out.push((ca, va));
                i += 1;
            }
            (Some(&(ca, va)), None) => {
                out.push((ca, va));
                i += 1;
            }
            (_, Some(&(cb, vb))) => {
                out.push((cb, -vb));
                j += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    out
}

fn add_into(dense: &mut [i64], cells: &Sparse, sign: i64) {
    for &(cell, value) in cells {
        dense[cell as usize] += sign * value;
    }
}

impl YearState {
    pub fn new(layout: Arc<CellLayout>, removals: Arc<Removals>) -> YearState {
        YearState {
            layout,
            removals,
            nodes: Vec::new(),
            by_code: HashMap::new(),
        }
    }

    fn removal(&self, own: &OwnData, side: &[Vec<CellId>]) -> Sparse {
        let mut out = Vec::new();
        for &(cell, value) in &own.cells {
            for &target in &side[cell as usize] {
                out.push((target, -value));
            }
        }
        out
    }

    /// What a node's own figures add to itself and to its strict ancestors, given its place in the tree.
    fn vectors(&self, node: NodeId) -> (Sparse, Sparse) {
        let n = &self.nodes[node];
        let Some(own) = &n.own else {
            return (Vec::new(), Vec::new());
        };
        let mut self_cells = own.cells.clone();
        if !n.children.is_empty() {
            self_cells.extend(self.removal(own, &self.removals.parent));
        }
        let self_vec = normalize(self_cells);
        let up_vec = if n.parent.is_some() {
            let mut up = self_vec.clone();
            up.extend(self.removal(own, &self.removals.child));
            normalize(up)
        } else {
            self_vec.clone()
        };
        (self_vec, up_vec)
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

    /// Recomputes a node's vectors and applies their change to the node's consolidated figures; returns the
    /// change of `up_vec`, which the caller applies to the ancestors.
    fn refresh(&mut self, node: NodeId) -> Sparse {
        let (self_vec, up_vec) = self.vectors(node);
        let n = &mut self.nodes[node];
        let d_self = difference(&self_vec, &n.self_vec);
        let d_up = difference(&up_vec, &n.up_vec);
        if let Some(dense) = &mut n.dense {
            add_into(dense, &d_self, 1);
        }
        n.self_vec = self_vec;
        n.up_vec = up_vec;
        d_up
    }

    fn add_to_ancestors(&mut self, node: NodeId, cells: &Sparse, sign: i64) {
        for a in self.ancestors(node) {
            let dense = self.nodes[a]
                .dense
                .as_mut()
                .expect("an ancestor has children");
            add_into(dense, cells, sign);
        }
    }

    /// What a node's subtree adds to each strict ancestor: its consolidated figures, less its own contribution
    /// to itself, plus its own contribution upward.
    fn subtree_contribution(&self, node: NodeId) -> Sparse {
        let n = &self.nodes[node];
        match &n.dense {
            None => n.up_vec.clone(),
            Some(dense) => {
                let mut cells: Sparse = dense
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0)
                    .map(|(c, v)| (c as CellId, *v))
                    .collect();
                cells.extend(difference(&n.up_vec, &n.self_vec));
                normalize(cells)
            }
        }
    }

    /// Gives a node consolidated figures of its own (when it gets its first child).
    fn make_internal(&mut self, node: NodeId) {
        if self.nodes[node].dense.is_none() {
            let mut dense = vec![0; self.layout.len()];
            add_into(&mut dense, &self.nodes[node].self_vec, 1);
            self.nodes[node].dense = Some(dense);
        }
    }

    /// Adds a node (without figures) under a parent.
    pub fn add_node(&mut self, code: UnitCode, parent: Option<NodeId>) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            code: code.clone(),
            parent: None,
            children: Vec::new(),
            own: None,
            self_vec: Vec::new(),
            up_vec: Vec::new(),
            dense: None,
        });
        self.by_code.insert(code, id);
        if parent.is_some() {
            self.set_parent(id, parent);
        }
        id
    }

    /// Sets the figures that count for a node (a new valid version), updating it and its ancestors.
    pub fn set_own(&mut self, node: NodeId, own: Option<OwnData>) {
        self.nodes[node].own = own;
        let d_up = self.refresh(node);
        self.add_to_ancestors(node, &d_up, 1);
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
        // Take the subtree out of its old ancestors.
        let contribution = self.subtree_contribution(node);
        self.add_to_ancestors(node, &contribution, -1);
        if let Some(old) = self.nodes[node].parent {
            self.nodes[old].children.retain(|c| *c != node);
            self.nodes[node].parent = None;
            // The old parent may have lost its last child: the parent side of the pairs no longer applies.
            let d_up = self.refresh(old);
            self.add_to_ancestors(old, &d_up, 1);
        }
        // The node's upward contribution depends on whether it has a parent.
        self.nodes[node].parent = parent;
        self.refresh(node);
        if let Some(new) = parent {
            self.make_internal(new);
            self.nodes[new].children.push(node);
            let d_up = self.refresh(new);
            self.add_to_ancestors(new, &d_up, 1);
            let contribution = self.subtree_contribution(node);
            self.add_to_ancestors(node, &contribution, 1);
        }
        true
    }

    /// Recomputes every node's consolidated figures from the units' own figures, bottom-up.
    pub fn full_recompute(&mut self) {
        for node in 0..self.nodes.len() {
            let (self_vec, up_vec) = self.vectors(node);
            let n = &mut self.nodes[node];
            n.self_vec = self_vec;
            n.up_vec = up_vec;
            if n.dense.is_none() && !n.children.is_empty() {
                n.dense = Some(vec![0; self.layout.len()]);
            }
            if let Some(dense) = &mut n.dense {
                dense.fill(0);
                add_into(dense, &n.self_vec, 1);
            }
        }
        for node in self.post_order() {
            let Some(parent) = self.nodes[node].parent else {
                continue;
            };
            // Children before parents: the child's figures are complete when added.
            let mut parent_dense = self.nodes[parent]
                .dense
                .take()
                .expect("a parent has consolidated figures");
            let child = &self.nodes[node];
            match &child.dense {
                Some(dense) => {
                    for (total, value) in parent_dense.iter_mut().zip(dense) {
                        *total += value;
                    }
                    add_into(&mut parent_dense, &child.up_vec, 1);
                    add_into(&mut parent_dense, &child.self_vec, -1);
                }
                None => add_into(&mut parent_dense, &child.up_vec, 1),
            }
            self.nodes[parent].dense = Some(parent_dense);
        }
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

    /// A node's consolidated figure of one cell.
    pub fn value(&self, node: NodeId, cell: CellId) -> i64 {
        let n = &self.nodes[node];
        match &n.dense {
            Some(dense) => dense[cell as usize],
            None => n
                .self_vec
                .binary_search_by_key(&cell, |(c, _)| *c)
                .map_or(0, |i| n.self_vec[i].1),
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
            None => n.self_vec.clone(),
        }
    }

    /// The eliminations made at a node (the adjustment layer): what its consolidated figures are less than its
    /// own figures plus its children's consolidated figures.
    pub fn adjustments(&self, node: NodeId) -> Sparse {
        let n = &self.nodes[node];
        let own = n.own.as_ref().map(|o| o.cells.clone()).unwrap_or_default();
        let mut cells = difference(&n.self_vec, &own);
        for &child in &n.children {
            let c = &self.nodes[child];
            cells.extend(difference(&c.up_vec, &c.self_vec));
        }
        normalize(cells)
    }

    /// What each pair removes from one cell of a node's consolidation, from the node's own figures (the parent
    /// side) and from each child's (the child side): (unit, pair index, is child side, amount).
    pub fn eliminations_at(&self, node: NodeId, cell: CellId) -> Vec<(NodeId, usize, bool, i64)> {
        let mut out = Vec::new();
        let n = &self.nodes[node];
        if let Some(own) = &n.own
            && !n.children.is_empty()
        {
            out.extend(
                self.removals
                    .explain(own, cell, false)
                    .into_iter()
                    .map(|(p, a)| (node, p, false, a)),
            );
        }
        for &child in &n.children {
            if let Some(own) = &self.nodes[child].own {
                out.extend(
                    self.removals
                        .explain(own, cell, true)
                        .into_iter()
                        .map(|(p, a)| (child, p, true, a)),
                );
            }
        }
        out
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

    /// Bytes held by the consolidated state (dense figures and contribution vectors).
    pub fn memory_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(CellId, i64)>();
        self.nodes
            .iter()
            .map(|n| {
                n.dense.as_ref().map_or(0, |d| d.len() * 8)
                    + (n.self_vec.capacity() + n.up_vec.capacity()) * entry
                    + n.own.as_ref().map_or(0, |o| {
                        o.cells.capacity() * entry + o.half_ulps.capacity() * 8
                    })
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
        OwnData {
            version: 1,
            half_ulps: vec![5_000; cells.len()],
            cells,
            partial_tables: Vec::new(),
            inexact: 0,
        }
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

    /// Operations on a random tree: set figures or move a node.
    #[derive(Debug, Clone)]
    enum Op {
        Own(usize, Vec<(u8, i32)>),
        Clear(usize),
        Move(usize, Option<usize>),
    }

    fn op(nodes: usize) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..nodes, proptest::collection::vec((any::<u8>(), -1_000_000i32..1_000_000), 0..20)).prop_map(|(n, c)| Op::Own(n, c)),
            1 => (0..nodes).prop_map(Op::Clear),
            2 => (0..nodes, proptest::option::of(0..nodes)).prop_map(|(n, p)| Op::Move(n, p)),
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
            for row in ["total", "207", "20706", "2070605"] {
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
                }
                let incremental = snapshot(&s);
                let mut full = s.clone();
                full.full_recompute();
                prop_assert_eq!(&incremental, &snapshot(&full));
            }
        }
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
