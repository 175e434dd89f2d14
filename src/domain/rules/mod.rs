//! Rules as data: the rule language's parser and evaluator, and the loading of a year's `rules/*.rules` files and
//! scoring policy. See docs/rule-language.md for the language.

pub mod ast;
mod codes;
pub mod draft;
mod eval;
#[cfg(test)]
mod fuzz_tests;
mod lexer;
pub mod narrative;
mod parser;
#[cfg(test)]
mod property_tests;
pub mod texts;

use std::collections::HashMap;

pub use ast::{Rule, SeveritySpec};

/// Parses an expression outside the rule files (consolidation's recomputed cells): no definitions, no variables.
/// The error is a byte offset in `text` and a message.
pub fn parse_standalone_expression(
    text: &str,
    taxonomy: &Taxonomy,
) -> Result<ast::Expr, (usize, String)> {
    let mut definitions = parser::DefinitionTable::default();
    let expr = parser::parse_expression(text, "eliminations.toml", taxonomy, &mut definitions)
        .map_err(|e| (e.offset, e.message))?;
    if let Some((name, _)) = definitions.index.iter().next() {
        return Err((
            0,
            format!("\"{name}\": definitions are not available here; write the cells"),
        ));
    }
    Ok(expr)
}

/// Evaluates a standalone expression on a disclosure: its value at face value (no rounding interval), or `None`
/// when unknown.
pub fn evaluate_standalone(
    rules: &RuleSet,
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    expr: &ast::Expr,
) -> Option<rust_decimal::Decimal> {
    eval::evaluate_number(rules, taxonomy, disclosure, Context::default(), expr, false)
        .0
        .map(|interval| interval.nominal())
}
pub use eval::{Context, matches_pattern};

use crate::domain::{
    disclosure::Disclosure,
    scoring::ScoringPolicy,
    taxonomy::{
        Taxonomy, TaxonomyError,
        load::{SourceFile, Sources},
    },
    validation::Report,
};

/// The rules, definitions and scoring policy of one fiscal year.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub definitions: Vec<ast::Definition>,
    pub scoring: ScoringPolicy,
    /// Checks of the figures the narrative states (`narrative.toml`); `None` when the year has none.
    pub narrative: Option<narrative::NarrativeChecks>,
    /// Checks of the self-evaluations' texts against their tables (`evaluation-texts.toml`); `None` when the
    /// year has none.
    pub texts: Option<texts::TextChecks>,
    by_id: HashMap<String, usize>,
}

impl RuleSet {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.by_id.get(id).map(|&i| &self.rules[i])
    }

    /// Runs every rule on a disclosure.
    pub fn run(
        &self,
        taxonomy: &Taxonomy,
        disclosure: &Disclosure,
        context: Context<'_>,
    ) -> Report {
        let mut report = eval::run(self, &self.rules, taxonomy, disclosure, context);
        codes::run(taxonomy, disclosure, &mut report);
        if self.narrative.is_some() {
            narrative::run(self, taxonomy, disclosure, context, &mut report);
        }
        if let Some(texts) = &self.texts {
            texts::run(texts, &self.scoring, disclosure, &mut report);
        }
        report.finish();
        report
    }

    /// Runs one rule (or one kind of narrative check) alone: its findings and how many checks it evaluated.
    /// `None` when the year has no such rule.
    pub fn run_one(
        &self,
        id: &str,
        taxonomy: &Taxonomy,
        disclosure: &Disclosure,
        context: Context<'_>,
    ) -> Option<Report> {
        if let Some(rule) = self.rule(id) {
            let mut report = eval::run(self, [rule], taxonomy, disclosure, context);
            report.finish();
            return Some(report);
        }
        let mut report = Report::new(disclosure.cover.fiscal_year);
        if let Some(narrative) = &self.narrative
            && narrative.kinds().iter().any(|kind| kind.id == id)
        {
            narrative::run(self, taxonomy, disclosure, context, &mut report);
        } else if let Some(texts) = &self.texts
            && texts.kinds().iter().any(|kind| kind.id == id)
        {
            texts::run(texts, &self.scoring, disclosure, &mut report);
        } else {
            return None;
        }
        report.findings.retain(|f| f.rule_id == id);
        report.finish();
        Some(report)
    }

    /// Runs, on a consolidation's tables, the rules that read nothing but the table cells a consolidation holds
    /// (`readable(table, column)`; `None` for every column of the table): the table and cross-table identities.
    /// Rules of self-evaluations, the narrative, last year's figures or budgets have nothing to read there.
    pub fn run_consolidated(
        &self,
        taxonomy: &Taxonomy,
        disclosure: &Disclosure,
        context: Context<'_>,
        readable: &dyn Fn(usize, Option<usize>) -> bool,
    ) -> Report {
        let selected = self
            .rules
            .iter()
            .filter(|rule| self.reads_only(rule, readable));
        let mut report = eval::run(self, selected, taxonomy, disclosure, context);
        report.finish();
        report
    }

    /// Whether a rule reads only table cells `readable` allows (see [`Self::run_consolidated`]).
    pub fn reads_only(&self, rule: &Rule, readable: &dyn Fn(usize, Option<usize>) -> bool) -> bool {
        let clauses = rule.clauses.iter().all(|clause| match clause {
            ast::Clause::For(_, ast::Domain::Rows { .. }) => true,
            ast::Clause::For(_, ast::Domain::Columns { table }) => readable(*table, None),
            ast::Clause::For(_, _) => false,
            ast::Clause::When(expr) => self.expr_reads_only(expr, readable, 0),
        });
        clauses && self.expr_reads_only(&rule.check, readable, 0)
    }

    fn expr_reads_only(
        &self,
        expr: &ast::Expr,
        readable: &dyn Fn(usize, Option<usize>) -> bool,
        depth: usize,
    ) -> bool {
        use ast::{ColSel, Expr, Func, TableRef};
        // Definitions cannot refer to themselves (the loader refuses cycles); the depth is a second guard.
        if depth > 64 {
            return false;
        }
        let cell = |c: &ast::CellRef| match (c.table, &c.col) {
            (TableRef::Table(table), ColSel::Index(column)) => readable(table, Some(*column)),
            (TableRef::Table(table), ColSel::Var(_)) => readable(table, None),
            _ => false,
        };
        match expr {
            Expr::Num(_) | Expr::Str(_) | Expr::Var(_) | Expr::Attr(_) => true,
            Expr::Cell(c) | Expr::Agg(_, c) => cell(c),
            Expr::Def(index) => self
                .definitions
                .get(*index)
                .is_some_and(|d| self.expr_reads_only(&d.expr, readable, depth + 1)),
            Expr::Call(func, args) => {
                let reads_tables = matches!(
                    func,
                    Func::Abs
                        | Func::Min
                        | Func::Max
                        | Func::Given
                        | Func::Level
                        | Func::HasChildren
                );
                reads_tables
                    && args
                        .iter()
                        .all(|a| self.expr_reads_only(a, readable, depth + 1))
            }
            Expr::Neg(inner) | Expr::Not(inner) => self.expr_reads_only(inner, readable, depth + 1),
            Expr::Bin(_, a, b) | Expr::Cmp(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                self.expr_reads_only(a, readable, depth + 1)
                    && self.expr_reads_only(b, readable, depth + 1)
            }
        }
    }

    /// The ids of every rule and narrative check kind.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        if let Some(narrative) = &self.narrative {
            ids.extend(narrative.kinds().iter().map(|k| k.id.as_str()));
        }
        if let Some(texts) = &self.texts {
            ids.extend(texts.kinds().iter().map(|k| k.id.as_str()));
        }
        ids
    }

    /// Loads the scoring policy (`scoring.toml`) of a taxonomy.
    pub(crate) fn load_scoring(sources: &Sources) -> Result<ScoringPolicy, TaxonomyError> {
        let scoring_file = sources.read(&sources.require("scoring.toml")?)?;
        ScoringPolicy::from_toml(&scoring_file.text).map_err(|(span, message)| match span {
            Some(span) => scoring_file.error_at(span, message),
            None => scoring_file.error(message),
        })
    }

    /// Loads `rules/*.rules` of a taxonomy (with those of the years it extends, a file of the same name
    /// replacing the extended year's), in file-name order, and `narrative.toml`.
    pub(crate) fn load(
        taxonomy: &Taxonomy,
        sources: &Sources,
        scoring: ScoringPolicy,
    ) -> Result<RuleSet, TaxonomyError> {
        let files = sources.files("rules", "rules")?;

        let mut definitions = parser::DefinitionTable::default();
        let mut rules: Vec<Rule> = Vec::new();
        let mut loaded: HashMap<String, SourceFile> = HashMap::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for (_, path) in files {
            let source = sources.read(&path)?;
            // Relative to the taxonomy root, so that an inherited file shows the year it comes from.
            let relative = taxonomy.relative_path(&path);
            let parsed = parser::parse_file(&source.text, &relative, taxonomy, &mut definitions)
                .map_err(|e| source.error_at(e.offset..e.offset, e.message))?;
            for rule in parsed.rules {
                if let Some(&first) = by_id.get(&rule.id) {
                    let earlier: &Rule = &rules[first];
                    return Err(source.error_at_line(
                        rule.origin.line,
                        format!(
                            "rule id {} is already used ({}:{})",
                            rule.id, earlier.origin.file, earlier.origin.line
                        ),
                    ));
                }
                by_id.insert(rule.id.clone(), rules.len());
                rules.push(rule);
            }
            loaded.insert(relative, source);
        }

        let narrative = if let Some(narrative_path) = sources.find("narrative.toml") {
            let file = sources.read(&narrative_path)?;
            let mut checks = narrative::load(&file, taxonomy, &mut definitions)?;
            checks.origin = taxonomy.relative_path(&narrative_path);
            loaded.insert("narrative.toml".to_owned(), file);
            Some(checks)
        } else {
            None
        };

        let texts = match sources.find("evaluation-texts.toml") {
            Some(path) => {
                let mut checks = texts::load(&sources.read(&path)?)?;
                checks.origin = taxonomy.relative_path(&path);
                Some(checks)
            }
            None => None,
        };

        // Every name used must be defined somewhere, and definitions must not depend on themselves.
        let mut resolved = Vec::with_capacity(definitions.defined.len());
        for (slot, defined) in definitions.defined.iter().enumerate() {
            match defined {
                Some((definition, _, _)) => resolved.push(definition.clone()),
                None => {
                    let (file, offset) = &definitions.first_use[slot];
                    let name = definitions
                        .index
                        .iter()
                        .find_map(|(name, &s)| (s == slot).then_some(name.as_str()))
                        .unwrap_or("?");
                    let source = &loaded[file];
                    return Err(source.error_at(
                        *offset..*offset,
                        format!(
                            "\"{name}\" is neither a definition, a cover attribute nor a table"
                        ),
                    ));
                }
            }
        }
        if let Some(cycle) = find_cycle(&resolved) {
            let (_, file, offset) = definitions.defined[cycle[0]].as_ref().expect("resolved");
            let names: Vec<&str> = cycle
                .iter()
                .map(|&slot| resolved[slot].name.as_str())
                .collect();
            return Err(loaded[file].error_at(
                *offset..*offset,
                format!(
                    "definitions refer to each other in a cycle: {}",
                    names.join(" → ")
                ),
            ));
        }
        Ok(RuleSet {
            rules,
            definitions: resolved,
            scoring,
            narrative,
            texts,
            by_id,
        })
    }

    /// An empty rule set, for a taxonomy whose rules are being loaded.
    pub(crate) fn placeholder(scoring: ScoringPolicy) -> RuleSet {
        RuleSet {
            rules: Vec::new(),
            definitions: Vec::new(),
            scoring,
            narrative: None,
            texts: None,
            by_id: HashMap::new(),
        }
    }
}

/// A cycle among definitions, as the slots along it (first repeated at the end), if there is one.
fn find_cycle(definitions: &[ast::Definition]) -> Option<Vec<usize>> {
    fn references(expr: &ast::Expr, out: &mut Vec<usize>) {
        use ast::Expr::*;
        match expr {
            Def(slot) => out.push(*slot),
            Neg(e) | Not(e) => references(e, out),
            Bin(_, a, b) | Cmp(_, a, b) | And(a, b) | Or(a, b) => {
                references(a, out);
                references(b, out);
            }
            Call(_, args) => args.iter().for_each(|a| references(a, out)),
            Num(_) | Str(_) | Cell(_) | Agg(..) | Attr(_) | Var(_) => {}
        }
    }
    let edges: Vec<Vec<usize>> = definitions
        .iter()
        .map(|d| {
            let mut out = Vec::new();
            references(&d.expr, &mut out);
            out
        })
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; definitions.len()];
    let mut path = Vec::new();
    fn visit(
        node: usize,
        edges: &[Vec<usize>],
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[node] = 1;
        path.push(node);
        for &next in &edges[node] {
            if state[next] == 1 {
                let start = path.iter().position(|&n| n == next).expect("on path");
                let mut cycle = path[start..].to_vec();
                cycle.push(next);
                return Some(cycle);
            }
            if state[next] == 0
                && let Some(cycle) = visit(next, edges, state, path)
            {
                return Some(cycle);
            }
        }
        path.pop();
        state[node] = 2;
        None
    }
    (0..definitions.len()).find_map(|node| {
        if state[node] == 0 {
            visit(node, &edges, &mut state, &mut path)
        } else {
            None
        }
    })
}
