//! A hand-written recursive-descent parser for the rule language (see docs/rule-language.md). It resolves names
//! against the taxonomy as it goes, so that a rule naming a table, row or column the year does not have is refused
//! at start-up, pointing at the name.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::{
    ast::*,
    lexer::{Tok, Token, lex},
};
use crate::domain::{
    evaluation::{FUNDS_COLUMNS, FundsSource, INDICATOR_COLUMNS, SUMMARY_COLUMNS},
    taxonomy::{RowCodeProblem, Taxonomy},
    validation::Severity,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        offset,
        message: message.into(),
    })
}

/// Definitions shared by all rule files of a year, referred to by index once parsed.
#[derive(Debug, Default)]
pub struct DefinitionTable {
    pub index: HashMap<String, usize>,
    /// `None` until the `define` is seen; its file and offset then.
    pub defined: Vec<Option<(Definition, String, usize)>>,
    /// First use of each name: file and offset, to report a name used but never defined.
    pub first_use: Vec<(String, usize)>,
}

impl DefinitionTable {
    fn slot(&mut self, name: &str, file: &str, offset: usize) -> usize {
        if let Some(&slot) = self.index.get(name) {
            return slot;
        }
        let slot = self.defined.len();
        self.index.insert(name.to_owned(), slot);
        self.defined.push(None);
        self.first_use.push((file.to_owned(), offset));
        slot
    }
}

/// What one file contributes.
pub struct ParsedFile {
    pub rules: Vec<Rule>,
}

pub struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    source: &'a str,
    file: &'a str,
    taxonomy: &'a Taxonomy,
    definitions: &'a mut DefinitionTable,
    vars: Vec<(String, VarKind)>,
}

const FUNCTIONS: &[(&str, Func)] = &[
    ("abs", Func::Abs),
    ("min", Func::Min),
    ("max", Func::Max),
    ("given", Func::Given),
    ("level", Func::Level),
    ("has_children", Func::HasChildren),
    ("completion", Func::Completion),
    ("expected_score", Func::ExpectedScore),
    ("kinds_match", Func::KindsMatch),
    ("comparable", Func::Comparable),
    ("execution_score", Func::ExecutionScore),
    ("execution_weight", Func::ExecutionWeight),
    ("is_project", Func::IsProject),
    ("last_year", Func::LastYear),
    ("budget", Func::Budget),
    ("explained", Func::Explained),
];

const KEYWORDS: &[&str] = &[
    "rule", "define", "generate", "for", "in", "when", "check", "and", "or", "not", "rows",
    "columns", "matching",
];

pub fn parse_file(
    source: &str,
    file: &str,
    taxonomy: &Taxonomy,
    definitions: &mut DefinitionTable,
) -> Result<ParsedFile, ParseError> {
    let tokens = lex(source).map_err(|e| ParseError {
        offset: e.offset,
        message: e.message,
    })?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        source,
        file,
        taxonomy,
        definitions,
        vars: Vec::new(),
    };
    parser.file()
}

/// Parses one expression (a narrative phrase's value, say); no rule variables are bound.
pub fn parse_expression(
    source: &str,
    file: &str,
    taxonomy: &Taxonomy,
    definitions: &mut DefinitionTable,
) -> Result<Expr, ParseError> {
    let tokens = lex(source).map_err(|e| ParseError {
        offset: e.offset,
        message: e.message,
    })?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        source,
        file,
        taxonomy,
        definitions,
        vars: Vec::new(),
    };
    let expr = parser.expr()?;
    if parser.peek().is_some() {
        return err(
            parser.offset(),
            format!("unexpected {} after the expression", parser.found()),
        );
    }
    Ok(expr)
}

/// 1-based line of a byte offset.
fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].matches('\n').count() + 1
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn offset(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.source.len(), |t| t.span.start)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the file".to_owned(), Tok::describe)
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<Token, ParseError> {
        if self.peek() == Some(&tok) {
            Ok(self.next().expect("peeked"))
        } else {
            err(
                self.offset(),
                format!("expected {what}, found {}", self.found()),
            )
        }
    }

    fn at_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == word)
    }

    fn expect_word(&mut self, word: &str) -> Result<(), ParseError> {
        if self.at_word(word) {
            self.pos += 1;
            Ok(())
        } else {
            err(
                self.offset(),
                format!("expected \"{word}\", found {}", self.found()),
            )
        }
    }

    fn word(&mut self, what: &str) -> Result<(String, usize), ParseError> {
        match self.next() {
            Some(Token {
                tok: Tok::Word(w),
                span,
            }) => Ok((w, span.start)),
            _ => {
                self.pos -= 1;
                err(
                    self.offset(),
                    format!("expected {what}, found {}", self.found()),
                )
            }
        }
    }

    fn file(&mut self) -> Result<ParsedFile, ParseError> {
        let mut rules = Vec::new();
        while let Some(tok) = self.peek() {
            match tok {
                Tok::Word(w) if w == "rule" => rules.push(self.rule()?),
                Tok::Word(w) if w == "define" => self.definition()?,
                Tok::Word(w) if w == "generate" => rules.extend(self.generate()?),
                _ => {
                    return err(
                        self.offset(),
                        format!(
                            "expected \"rule\", \"define\" or \"generate\", found {}",
                            self.found()
                        ),
                    );
                }
            }
        }
        Ok(ParsedFile { rules })
    }

    /// A rule id: letters, digits and '-' written without spaces, e.g. `T01-BAL-001`.
    fn rule_id(&mut self) -> Result<(String, usize), ParseError> {
        let start = self.offset();
        let mut id = String::new();
        let mut end = start;
        while let Some(token) = self.tokens.get(self.pos) {
            if token.span.start != end && !id.is_empty() {
                break;
            }
            match &token.tok {
                Tok::Word(w) => id.push_str(w),
                Tok::Number(n) if !n.contains('.') => id.push_str(n),
                Tok::Minus if !id.is_empty() => id.push('-'),
                _ => break,
            }
            end = token.span.end;
            self.pos += 1;
        }
        let well_formed = id
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            && !id.ends_with('-');
        if !well_formed {
            return err(
                start,
                "expected a rule id of capital letters, digits and '-', such as T01-BAL-001",
            );
        }
        Ok((id, start))
    }

    fn severity(&mut self) -> Result<SeveritySpec, ParseError> {
        let offset = self.offset();
        let (word, _) = self.word("a severity (error, warning, info or policy)")?;
        Ok(match word.as_str() {
            "error" => SeveritySpec::Fixed(Severity::Error),
            "warning" => SeveritySpec::Fixed(Severity::Warning),
            "info" => SeveritySpec::Fixed(Severity::Info),
            "policy" => SeveritySpec::Policy,
            other => {
                return err(
                    offset,
                    format!("unknown severity \"{other}\" (error, warning, info or policy)"),
                );
            }
        })
    }

    fn string(&mut self, what: &str) -> Result<(String, usize), ParseError> {
        match self.next() {
            Some(Token {
                tok: Tok::Str(s),
                span,
            }) => Ok((s, span.start)),
            _ => {
                self.pos -= 1;
                err(
                    self.offset(),
                    format!("expected {what}, found {}", self.found()),
                )
            }
        }
    }

    fn rule(&mut self) -> Result<Rule, ParseError> {
        let start = self.offset();
        self.expect_word("rule")?;
        let (id, _) = self.rule_id()?;
        let severity = self.severity()?;
        let (message_text, message_offset) = self.string("the rule's message in quotes")?;
        self.vars.clear();
        let mut clauses = Vec::new();
        loop {
            if self.at_word("for") {
                clauses.push(self.for_clause()?);
            } else if self.at_word("when") {
                self.pos += 1;
                clauses.push(Clause::When(self.expr()?));
            } else {
                break;
            }
        }
        self.expect_word("check").map_err(|e| ParseError {
            message: format!("{} (a rule ends with \"check <condition>\")", e.message),
            ..e
        })?;
        let check = self.expr()?;
        let end = self
            .tokens
            .get(self.pos - 1)
            .map_or(self.source.len(), |t| t.span.end);
        let message = self.template(&message_text, message_offset)?;
        Ok(Rule {
            id,
            severity,
            message,
            vars: std::mem::take(&mut self.vars),
            clauses,
            check,
            origin: RuleOrigin {
                file: self.file.to_owned(),
                line: line_of(self.source, start),
                text: self.source[start..end].to_owned(),
                generated: false,
            },
        })
    }

    fn definition(&mut self) -> Result<(), ParseError> {
        self.expect_word("define")?;
        let (name, offset) = self.word("a name to define")?;
        if KEYWORDS.contains(&name.as_str()) || FUNCTIONS.iter().any(|(f, _)| *f == name) {
            return err(
                offset,
                format!("\"{name}\" is a keyword or function and cannot be defined"),
            );
        }
        if self.taxonomy.table(&name).is_some()
            || ["FUNDS", "IND", "SUMMARY"].contains(&name.as_str())
        {
            return err(
                offset,
                format!("\"{name}\" names a table and cannot be defined"),
            );
        }
        self.expect(Tok::Assign, "'='")?;
        self.vars.clear();
        let expr = self.expr()?;
        let slot = self.definitions.slot(&name, self.file, offset);
        if let Some((_, file, _)) = &self.definitions.defined[slot] {
            return err(offset, format!("\"{name}\" is already defined (in {file})"));
        }
        self.definitions.defined[slot] =
            Some((Definition { name, expr }, self.file.to_owned(), offset));
        Ok(())
    }

    /// `generate hierarchy PREFIX SEVERITY "message" tables T02, T03 …`: one rule per table, each checking that
    /// every given code equals the sum of the given codes of the nearest level below it, in every column.
    fn generate(&mut self) -> Result<Vec<Rule>, ParseError> {
        let start = self.offset();
        self.expect_word("generate")?;
        let (kind, kind_offset) = self.word("what to generate (hierarchy)")?;
        if kind != "hierarchy" {
            return err(
                kind_offset,
                format!("cannot generate \"{kind}\"; only \"hierarchy\""),
            );
        }
        let (prefix, _) = self.rule_id()?;
        let severity = self.severity()?;
        let (message_text, message_offset) = self.string("the rules' message in quotes")?;
        self.expect_word("tables")?;
        let mut tables = Vec::new();
        loop {
            let (name, offset) = self.word("a table code")?;
            let Some(index) = self.taxonomy.table_index(&name) else {
                return err(offset, format!("unknown table \"{name}\""));
            };
            if self.taxonomy.tables[index].codes.is_none() {
                return err(
                    offset,
                    format!("table {name} has no code-list rows to generate a hierarchy for"),
                );
            }
            tables.push(index);
            if self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
            } else {
                break;
            }
        }
        let end = self
            .tokens
            .get(self.pos - 1)
            .map_or(self.source.len(), |t| t.span.end);
        let text = self.source[start..end].to_owned();
        let mut rules = Vec::new();
        for table in tables {
            self.vars = vec![
                ("r".to_owned(), VarKind::Row { table }),
                ("c".to_owned(), VarKind::Column { table }),
            ];
            let message = self.template(&message_text, message_offset)?;
            let cell = |rows| CellRef {
                table: TableRef::Table(table),
                rows,
                col: ColSel::Var(1),
            };
            rules.push(Rule {
                id: format!("{prefix}-{}", self.taxonomy.tables[table].code),
                severity,
                message,
                vars: std::mem::take(&mut self.vars),
                clauses: vec![
                    Clause::For(
                        0,
                        Domain::Rows {
                            table,
                            pattern: None,
                        },
                    ),
                    Clause::For(1, Domain::Columns { table }),
                    Clause::When(Expr::Call(Func::HasChildren, vec![Expr::Var(0)])),
                ],
                check: Expr::Cmp(
                    CmpOp::Eq,
                    Box::new(Expr::Cell(cell(RowSel::Var(0)))),
                    Box::new(Expr::Agg(Agg::Sum, cell(RowSel::Children(0)))),
                ),
                origin: RuleOrigin {
                    file: self.file.to_owned(),
                    line: line_of(self.source, start),
                    text: text.clone(),
                    generated: true,
                },
            });
        }
        Ok(rules)
    }

    fn bind(&mut self, name: String, offset: usize, kind: VarKind) -> Result<usize, ParseError> {
        if self.vars.iter().any(|(n, _)| *n == name) {
            return err(offset, format!("${name} is already bound in this rule"));
        }
        self.vars.push((name, kind));
        Ok(self.vars.len() - 1)
    }

    fn var(&self, name: &str, offset: usize) -> Result<(usize, VarKind), ParseError> {
        self.vars
            .iter()
            .position(|(n, _)| n == name)
            .map(|slot| (slot, self.vars[slot].1))
            .ok_or_else(|| ParseError {
                offset,
                message: format!(
                    "${name} is not bound here (bind it with \"for ${name} in …\" before)"
                ),
            })
    }

    fn has_evaluation_scope(&self) -> bool {
        self.vars
            .iter()
            .any(|(_, kind)| *kind == VarKind::Evaluation)
    }

    fn table_code(&mut self) -> Result<usize, ParseError> {
        let (name, offset) = self.word("a table code")?;
        match self.taxonomy.table_index(&name) {
            Some(index) => Ok(index),
            None => err(
                offset,
                format!(
                    "unknown table \"{name}\" in the {} taxonomy",
                    self.taxonomy.fiscal_year
                ),
            ),
        }
    }

    fn for_clause(&mut self) -> Result<Clause, ParseError> {
        self.expect_word("for")?;
        let (name, var_offset) = match self.next() {
            Some(Token {
                tok: Tok::Var(v),
                span,
            }) => (v, span.start),
            _ => {
                self.pos -= 1;
                return err(
                    self.offset(),
                    format!("expected a $variable, found {}", self.found()),
                );
            }
        };
        self.expect_word("in")?;
        let (domain_word, domain_offset) =
            self.word("rows, columns, evaluations, projects, unit_evaluation or indicators")?;
        let (domain, kind) = match domain_word.as_str() {
            "rows" => {
                let table = self.table_code()?;
                let pattern = if self.at_word("matching") {
                    self.pos += 1;
                    let offset = self.offset();
                    match self.next().map(|t| t.tok) {
                        Some(Tok::Pattern(p)) | Some(Tok::Number(p)) => {
                            self.check_pattern(table, &p, offset)?;
                            Some(p)
                        }
                        _ => return err(offset, "expected a code pattern such as 301??"),
                    }
                } else {
                    None
                };
                (Domain::Rows { table, pattern }, VarKind::Row { table })
            }
            "columns" => {
                let table = self.table_code()?;
                (Domain::Columns { table }, VarKind::Column { table })
            }
            "evaluations" => (Domain::Evaluations(EvaluationSet::All), VarKind::Evaluation),
            "projects" => (
                Domain::Evaluations(EvaluationSet::Projects),
                VarKind::Evaluation,
            ),
            "unit_evaluation" => (
                Domain::Evaluations(EvaluationSet::Unit),
                VarKind::Evaluation,
            ),
            "indicators" => {
                if !self.has_evaluation_scope() {
                    return err(
                        domain_offset,
                        "indicators need an evaluation: bind one first with \"for $e in evaluations\"",
                    );
                }
                (Domain::Indicators, VarKind::Indicator)
            }
            other => {
                return err(
                    domain_offset,
                    format!(
                        "cannot range over \"{other}\" (rows, columns, evaluations, projects, unit_evaluation, indicators)"
                    ),
                );
            }
        };
        if matches!(domain, Domain::Evaluations(_)) && self.has_evaluation_scope() {
            return err(domain_offset, "an evaluation is already bound in this rule");
        }
        let slot = self.bind(name, var_offset, kind)?;
        Ok(Clause::For(slot, domain))
    }

    fn check_pattern(&self, table: usize, pattern: &str, offset: usize) -> Result<(), ParseError> {
        let def = &self.taxonomy.tables[table];
        let Some(list) = self.taxonomy.code_list_of(def) else {
            return err(
                offset,
                format!("table {} has no code-list rows to match", def.code),
            );
        };
        if list.level_of_shape(&pattern.replace('?', "0")).is_none() {
            return err(
                offset,
                format!(
                    "pattern {pattern} does not have the length of a {} code {:?}",
                    list.name, list.level_digits
                ),
            );
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and_expr()?;
        while self.at_word("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not_expr()?;
        while self.at_word("and") {
            self.pos += 1;
            let right = self.not_expr()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, ParseError> {
        if self.at_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not_expr()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.additive()?;
        let op = match self.peek() {
            Some(Tok::Eq) => CmpOp::Eq,
            Some(Tok::Ne) => CmpOp::Ne,
            Some(Tok::Le) => CmpOp::Le,
            Some(Tok::Ge) => CmpOp::Ge,
            Some(Tok::Lt) => CmpOp::Lt,
            Some(Tok::Gt) => CmpOp::Gt,
            Some(Tok::Assign) => {
                return err(
                    self.offset(),
                    "use \"==\" to compare (\"=\" only follows define)",
                );
            }
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.additive()?;
        Ok(Expr::Cmp(op, Box::new(left), Box::new(right)))
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => BinOp::Add,
                Some(Tok::Minus) => BinOp::Sub,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.multiplicative()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Star) => BinOp::Mul,
                Some(Tok::Slash) => BinOp::Div,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Tok::Minus) {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let offset = self.offset();
        match self.next().map(|t| t.tok) {
            Some(Tok::Number(n)) => {
                let value: Decimal = n.parse().map_err(|_| ParseError {
                    offset,
                    message: format!("{n} is not a number"),
                })?;
                Ok(Expr::Num(value))
            }
            Some(Tok::Str(s)) => Ok(Expr::Str(s)),
            Some(Tok::LParen) => {
                let inner = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(inner)
            }
            Some(Tok::Var(name)) => {
                let (slot, _) = self.var(&name, offset)?;
                Ok(Expr::Var(slot))
            }
            Some(Tok::Word(word)) => {
                if KEYWORDS.contains(&word.as_str()) {
                    return err(
                        offset,
                        format!("expected a value, found the keyword \"{word}\""),
                    );
                }
                match self.peek() {
                    Some(Tok::LBracket) => Ok(Expr::Cell(self.cell_ref(&word, offset, true)?)),
                    Some(Tok::LParen) => self.call(&word, offset),
                    _ => Ok(match word.as_str() {
                        "report_type" => Expr::Attr(Attr::ReportType),
                        "unit_type" => Expr::Attr(Attr::UnitType),
                        "amount_unit" => Expr::Attr(Attr::AmountUnit),
                        _ => Expr::Def(self.definitions.slot(&word, self.file, offset)),
                    }),
                }
            }
            _ => {
                self.pos -= 1;
                err(offset, format!("expected a value, found {}", self.found()))
            }
        }
    }

    /// `explained("section", "word", …)`: a narrative section of the taxonomy and at least one word, all strings.
    fn explained(&self, args: Vec<(usize, Expr)>, offset: usize) -> Result<Expr, ParseError> {
        if args.len() < 2 {
            return err(
                offset,
                "explained() takes a narrative section and at least one word, such as explained(\"three_public\", \"保有量\")",
            );
        }
        for (arg_offset, arg) in &args {
            if !matches!(arg, Expr::Str(_)) {
                return err(*arg_offset, "explained() takes strings only");
            }
        }
        if let (arg_offset, Expr::Str(section)) = &args[0]
            && self.taxonomy.narrative_section(section).is_none()
        {
            return err(
                *arg_offset,
                format!("no narrative section \"{section}\" in taxonomy.toml"),
            );
        }
        Ok(Expr::Call(
            Func::Explained,
            args.into_iter().map(|(_, arg)| arg).collect(),
        ))
    }

    fn call(&mut self, name: &str, offset: usize) -> Result<Expr, ParseError> {
        self.expect(Tok::LParen, "'('")?;
        let agg = match name {
            "sum" => Some(Agg::Sum),
            "count" => Some(Agg::Count),
            "present" => Some(Agg::Present),
            _ => None,
        };
        if let Some(agg) = agg {
            let (table, table_offset) = self.word("a cell reference such as T06[301??]")?;
            let cells = self.cell_ref(&table, table_offset, false)?;
            self.expect(Tok::RParen, "')'")?;
            return Ok(Expr::Agg(agg, cells));
        }
        let Some(&(_, func)) = FUNCTIONS.iter().find(|(n, _)| *n == name) else {
            return err(offset, format!("unknown function \"{name}\""));
        };
        let mut args = Vec::new();
        if self.peek() != Some(&Tok::RParen) {
            loop {
                args.push((self.offset(), self.expr()?));
                if self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        self.expect(Tok::RParen, "')'")?;
        if func == Func::Explained {
            return self.explained(args, offset);
        }
        let arity = match func {
            Func::Min | Func::Max => 2,
            Func::ExecutionScore | Func::ExecutionWeight | Func::IsProject => 0,
            _ => 1,
        };
        if args.len() != arity {
            return err(
                offset,
                format!("{name}() takes {arity} argument(s), not {}", args.len()),
            );
        }
        let needs_var = |kind: fn(VarKind) -> bool, what: &str| -> Result<(), ParseError> {
            match args.first() {
                Some((_, Expr::Var(slot))) if kind(self.vars[*slot].1) => Ok(()),
                Some((arg_offset, _)) => err(*arg_offset, format!("{name}() takes {what}")),
                None => Ok(()),
            }
        };
        match func {
            Func::Level | Func::HasChildren => needs_var(
                |k| matches!(k, VarKind::Row { .. }),
                "a row variable such as $r",
            )?,
            Func::Completion | Func::ExpectedScore | Func::KindsMatch | Func::Comparable => {
                needs_var(
                    |k| k == VarKind::Indicator,
                    "an indicator variable such as $i",
                )?
            }
            Func::Given | Func::Budget if !matches!(args.first(), Some((_, Expr::Cell(_)))) => {
                return err(
                    args[0].0,
                    format!("{name}() takes one cell, such as {name}(T01[income_total])"),
                );
            }
            Func::ExecutionScore | Func::IsProject if !self.has_evaluation_scope() => {
                return err(
                    offset,
                    format!(
                        "{name}() needs an evaluation: bind one with \"for $e in evaluations\""
                    ),
                );
            }
            _ => {}
        }
        Ok(Expr::Call(func, args.into_iter().map(|(_, e)| e).collect()))
    }

    /// `TABLE[rows]` or `TABLE[rows, column]`. `single` asks for exactly one cell.
    fn cell_ref(
        &mut self,
        table_name: &str,
        offset: usize,
        single: bool,
    ) -> Result<CellRef, ParseError> {
        let table = match table_name {
            "FUNDS" => TableRef::Funds,
            "IND" => TableRef::Indicators,
            "SUMMARY" => TableRef::Summary,
            "UNIT_FUNDS" => TableRef::UnitFunds,
            "PROJECTS" => TableRef::Projects,
            _ => match self.taxonomy.table_index(table_name) {
                Some(index) => TableRef::Table(index),
                None => {
                    return err(
                        offset,
                        format!(
                            "unknown table \"{table_name}\" in the {} taxonomy",
                            self.taxonomy.fiscal_year
                        ),
                    );
                }
            },
        };
        if matches!(
            table,
            TableRef::Funds | TableRef::Indicators | TableRef::Summary
        ) && !self.has_evaluation_scope()
        {
            return err(
                offset,
                format!(
                    "{table_name} is part of an evaluation: bind one first with \"for $e in evaluations\""
                ),
            );
        }
        self.expect(Tok::LBracket, "'['")?;
        let rows_offset = self.offset();
        let rows = self.row_selector(table)?;
        if single && !rows.is_single() {
            return err(
                rows_offset,
                "this selects several rows; add them up with sum(…), or count(…) / present(…) them",
            );
        }
        let col = if self.peek() == Some(&Tok::Comma) {
            self.pos += 1;
            self.column_selector(table)?
        } else {
            let columns = self.column_count(table);
            if columns != 1 {
                return err(
                    self.offset(),
                    format!(
                        "{table_name} has {columns} columns: name one, as in {table_name}[row, column]"
                    ),
                );
            }
            ColSel::Index(0)
        };
        self.expect(Tok::RBracket, "']'")?;
        Ok(CellRef { table, rows, col })
    }

    fn column_count(&self, table: TableRef) -> usize {
        match table {
            TableRef::Table(index) => self.taxonomy.tables[index].columns.len(),
            TableRef::Funds => FUNDS_COLUMNS.len(),
            TableRef::Indicators => INDICATOR_COLUMNS.len(),
            TableRef::Summary => SUMMARY_COLUMNS.len(),
            TableRef::UnitFunds | TableRef::Projects => FUNDS_COLUMNS.len(),
        }
    }

    fn row_selector(&mut self, table: TableRef) -> Result<RowSel, ParseError> {
        let offset = self.offset();
        let token = self.next().map(|t| t.tok);
        let sel = match (token, table) {
            (Some(Tok::Star), TableRef::Table(_) | TableRef::Indicators | TableRef::Projects) => {
                RowSel::All
            }
            (Some(Tok::Var(name)), _) => {
                let (slot, kind) = self.var(&name, offset)?;
                match (kind, table) {
                    (VarKind::Row { .. }, TableRef::Table(_))
                    | (VarKind::Indicator, TableRef::Indicators) => RowSel::Var(slot),
                    _ => {
                        return err(
                            offset,
                            format!("${name} does not range over rows of this table"),
                        );
                    }
                }
            }
            (Some(Tok::Word(word)), TableRef::Table(index)) if word == "children" => {
                self.expect(Tok::LParen, "'('")?;
                let var_offset = self.offset();
                let Some(Tok::Var(name)) = self.next().map(|t| t.tok) else {
                    return err(var_offset, "children() takes a row variable such as $r");
                };
                let (slot, kind) = self.var(&name, var_offset)?;
                if !matches!(kind, VarKind::Row { .. }) {
                    return err(var_offset, "children() takes a row variable such as $r");
                }
                self.expect(Tok::RParen, "')'")?;
                if self.taxonomy.tables[index].codes.is_none() {
                    return err(offset, "children() needs a table with code-list rows");
                }
                RowSel::Children(slot)
            }
            (Some(Tok::Word(code)), TableRef::Table(index)) => {
                self.check_row(index, &code, offset)?;
                RowSel::Code(code)
            }
            (Some(Tok::Number(code)), TableRef::Table(index)) => {
                if self.peek() == Some(&Tok::DotDot) {
                    self.pos += 1;
                    let to_offset = self.offset();
                    let Some(Tok::Number(to)) = self.next().map(|t| t.tok) else {
                        return err(to_offset, "expected the code that ends the range");
                    };
                    if to.len() != code.len() || to < code {
                        return err(
                            to_offset,
                            format!("range {code}..{to} must go up between codes of one length"),
                        );
                    }
                    self.check_pattern(index, &code, offset)?;
                    RowSel::Range(code, to)
                } else {
                    self.check_row(index, &code, offset)?;
                    RowSel::Code(code)
                }
            }
            (Some(Tok::Pattern(pattern)), TableRef::Table(index)) => {
                self.check_pattern(index, &pattern, offset)?;
                RowSel::Pattern(pattern)
            }
            (Some(Tok::Word(code)), TableRef::Funds | TableRef::UnitFunds) => {
                if FundsSource::from_code(&code).is_none() {
                    let codes: Vec<&str> = FundsSource::ALL.iter().map(|s| s.code()).collect();
                    return err(
                        offset,
                        format!("unknown funds row \"{code}\" ({})", codes.join(", ")),
                    );
                }
                RowSel::Code(code)
            }
            (Some(Tok::Word(code)), TableRef::Summary) if code == "total" => RowSel::Code(code),
            _ => {
                return err(
                    offset,
                    "expected a row: a code, a line, a pattern such as 301??, a range, * or a $variable",
                );
            }
        };
        Ok(sel)
    }

    fn check_row(&self, table: usize, code: &str, offset: usize) -> Result<(), ParseError> {
        let def = &self.taxonomy.tables[table];
        match self.taxonomy.check_row_code(def, code) {
            Ok(()) => Ok(()),
            Err(RowCodeProblem::Unknown) => {
                err(offset, format!("table {} has no row \"{code}\"", def.code))
            }
            Err(RowCodeProblem::NotInCodeList) => err(
                offset,
                format!("code {code} is not in the code list of table {}", def.code),
            ),
            Err(RowCodeProblem::LevelNotReported(level)) => err(
                offset,
                format!(
                    "table {} does not report codes of level {level} such as {code}",
                    def.code
                ),
            ),
        }
    }

    fn column_selector(&mut self, table: TableRef) -> Result<ColSel, ParseError> {
        let offset = self.offset();
        match self.next().map(|t| t.tok) {
            Some(Tok::Var(name)) => {
                let (slot, kind) = self.var(&name, offset)?;
                match (kind, table) {
                    (VarKind::Column { table: var_table }, TableRef::Table(index)) => {
                        let var_columns = &self.taxonomy.tables[var_table].columns;
                        let columns = &self.taxonomy.tables[index].columns;
                        if var_table != index
                            && !var_columns
                                .iter()
                                .all(|c| columns.iter().any(|d| d.code == c.code))
                        {
                            return err(
                                offset,
                                format!(
                                    "${name} ranges over columns of {} that {} does not have",
                                    self.taxonomy.tables[var_table].code,
                                    self.taxonomy.tables[index].code
                                ),
                            );
                        }
                        Ok(ColSel::Var(slot))
                    }
                    _ => err(
                        offset,
                        format!("${name} does not range over columns of this table"),
                    ),
                }
            }
            Some(Tok::Word(code)) => {
                let index = match table {
                    TableRef::Table(index) => self.taxonomy.tables[index].column_index(&code),
                    TableRef::Funds | TableRef::UnitFunds | TableRef::Projects => {
                        FUNDS_COLUMNS.iter().position(|c| *c == code)
                    }
                    TableRef::Indicators => INDICATOR_COLUMNS.iter().position(|c| *c == code),
                    TableRef::Summary => SUMMARY_COLUMNS.iter().position(|c| *c == code),
                };
                match index {
                    Some(index) => Ok(ColSel::Index(index)),
                    None => err(offset, format!("no column \"{code}\" here")),
                }
            }
            _ => err(offset, "expected a column code or a $variable"),
        }
    }

    /// Parses a message's placeholders: {provided} {expected} {difference} {project} {indicator} {target}
    /// {actual} {unit} {$v} {$v.name}; "{{" and "}}" are literal braces.
    fn template(&self, text: &str, offset: usize) -> Result<Template, ParseError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            literal.push_str(&rest[..i]);
            let brace = &rest[i..];
            if brace.starts_with("{{") || brace.starts_with("}}") {
                literal.push_str(&brace[..1]);
                rest = &brace[2..];
                continue;
            }
            if brace.starts_with('}') {
                return err(
                    offset,
                    "a '}' without '{' in the message (write }} for a brace)",
                );
            }
            let Some(close) = brace.find('}') else {
                return err(offset, "a '{' without '}' in the message");
            };
            let name = &brace[1..close];
            let piece = match name {
                "provided" => Piece::Provided,
                "expected" => Piece::Expected,
                "difference" => Piece::Difference,
                "project" => Piece::Project,
                "indicator" => Piece::Indicator,
                "target" => Piece::Target,
                "actual" => Piece::Actual,
                "unit" => Piece::AmountUnit,
                var if var.starts_with('$') => {
                    let (var_name, field) = match var[1..].split_once('.') {
                        Some((v, f)) => (v, Some(f)),
                        None => (&var[1..], None),
                    };
                    let Some(slot) = self.vars.iter().position(|(n, _)| n == var_name) else {
                        return err(
                            offset,
                            format!("the message uses {{{var}}} but ${var_name} is not bound"),
                        );
                    };
                    match field {
                        None => Piece::VarCode(slot),
                        Some("name") => Piece::VarName(slot),
                        Some(other) => {
                            return err(
                                offset,
                                format!("unknown placeholder field \".{other}\" (only .name)"),
                            );
                        }
                    }
                }
                other => {
                    return err(
                        offset,
                        format!("unknown placeholder {{{other}}} in the message"),
                    );
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
            rest = &brace[close + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template {
            source: text.to_owned(),
            pieces,
        })
    }
}
