//! A synthetic prefecture — a region, its counties, their departments and the departments' budget units — with
//! plausible disclosures: every identity holds exactly (amounts are whole hundredths of 万元), and the units
//! receive subsidies from their department (上级补助收入 / 对附属单位补助支出) and pay part of their income up
//! (上缴上级支出 / 附属单位上缴收入), which consolidation eliminates. `juesuan demo` fills a data directory with a
//! small one; `juesuan bench consolidation` builds the P10k workload (docs/design.md §7) with the same generator.

use std::collections::BTreeMap;

use crate::{
    api::convert,
    domain::{error::FieldViolation, facts::Facts, submission::resolve, taxonomy::Taxonomies},
    pb,
};

/// The shape of a prefecture.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub counties: usize,
    pub departments_per_county: usize,
    pub units_per_department: usize,
    /// 项 rows of each disclosure: about 17 non-zero cells each, with their 款 and 类 rows.
    pub items_per_unit: usize,
    pub fiscal_year: u32,
    pub seed: u64,
}

impl Spec {
    /// The P10k of docs/design.md §7: 1 region → 9 counties → 540 departments → 9,720 units, about 1,000 non-zero cells
    /// each (44 项 rows with their 款 and 类 rows across the tables).
    pub fn p10k() -> Spec {
        Spec {
            counties: 9,
            departments_per_county: 60,
            units_per_department: 18,
            items_per_unit: 44,
            fiscal_year: 2024,
            seed: 2024,
        }
    }

    /// What `juesuan demo` serves: small enough to read, large enough to show every part of consolidation.
    pub fn demo() -> Spec {
        Spec {
            counties: 3,
            departments_per_county: 4,
            units_per_department: 5,
            items_per_unit: 20,
            fiscal_year: 2024,
            seed: 2024,
        }
    }

    /// The prefecture `juesuan bench submit` loads: one county of 200 units.
    pub fn load() -> Spec {
        Spec {
            counties: 1,
            departments_per_county: 4,
            units_per_department: 50,
            ..Spec::demo()
        }
    }

    pub fn unit_count(&self) -> usize {
        1 + self.counties * (1 + self.departments_per_county * (1 + self.units_per_department))
    }
}

/// A deterministic generator (splitmix64): the same spec makes the same prefecture.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// What a node is in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Region,
    County,
    Department,
    Unit,
}

/// A node of the prefecture, in registration order (parents first).
#[derive(Debug, Clone)]
pub struct Node {
    pub code: String,
    pub name: String,
    pub role: Role,
    pub parent: Option<usize>,
    pub region_code: String,
}

/// The nodes of a prefecture: the region first, then each county, its departments and their units.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    const DEPARTMENTS: [&str; 12] = [
        "宣传部",
        "教育局",
        "卫生健康委",
        "文化体育广播电视和旅游局",
        "民政局",
        "财政局",
        "农业农村局",
        "自然资源局",
        "住房和城乡建设局",
        "交通运输局",
        "市场监督管理局",
        "司法局",
    ];
    const UNITS: [&str; 8] = [
        "融媒体中心",
        "学校",
        "医院",
        "文化馆",
        "服务中心",
        "事务中心",
        "研究所",
        "站",
    ];
    let mut out = vec![Node {
        code: "652300".into(),
        name: "昌吉州（合成）".into(),
        role: Role::Region,
        parent: None,
        region_code: "652300".into(),
    }];
    for c in 0..spec.counties {
        let region_code = format!("6523{:02}", c + 1);
        let county = out.len();
        out.push(Node {
            code: region_code.clone(),
            name: format!("第{}县（合成）", c + 1),
            role: Role::County,
            parent: Some(0),
            region_code: region_code.clone(),
        });
        for d in 0..spec.departments_per_county {
            let department = out.len();
            let code = format!("{region_code}-D{:03}", d + 1);
            out.push(Node {
                code: code.clone(),
                name: format!(
                    "第{}县{}{}",
                    c + 1,
                    DEPARTMENTS[d % DEPARTMENTS.len()],
                    d / DEPARTMENTS.len() + 1
                ),
                role: Role::Department,
                parent: Some(county),
                region_code: region_code.clone(),
            });
            for u in 0..spec.units_per_department {
                out.push(Node {
                    code: format!("{code}-U{:03}", u + 1),
                    name: format!(
                        "{}{}{}",
                        out[department].name,
                        UNITS[u % UNITS.len()],
                        u + 1
                    ),
                    role: Role::Unit,
                    parent: Some(department),
                    region_code: region_code.clone(),
                });
            }
        }
    }
    out
}

/// 项 codes disclosures draw on: several per 款 and 类 of the 2024 list, so that the hierarchy is exercised.
const ITEMS: [&str; 60] = [
    "2010101", "2010102", "2010350", "2010399", "2010601", "2010650", "2013101", "2013105",
    "2013301", "2013350", "2013404", "2013450", "2040201", "2040220", "2050101", "2050201",
    "2050202", "2050203", "2050204", "2050299", "2050803", "2060101", "2060702", "2070101",
    "2070104", "2070108", "2070109", "2070111", "2070204", "2070205", "2070307", "2070604",
    "2070605", "2070699", "2070807", "2070808", "2079902", "2079999", "2080101", "2080501",
    "2080502", "2080505", "2080506", "2080899", "2100101", "2100401", "2101101", "2101102",
    "2101103", "2110101", "2120101", "2130101", "2140101", "2200101", "2210201", "2210202",
    "2210203", "2240101", "2299999", "2059999",
];

/// Figures of one table: row code → column code → hundredths of 万元 (or a count).
pub type Table = BTreeMap<String, BTreeMap<&'static str, i64>>;

/// A disclosure's tables, by table code.
pub type Tables = BTreeMap<&'static str, Table>;

fn add(table: &mut Table, row: &str, column: &'static str, amount: i64) {
    *table
        .entry(row.to_owned())
        .or_default()
        .entry(column)
        .or_default() += amount;
}

/// Adds to a 项 row and to its 款, its 类 and the table's total line.
fn add_coded(table: &mut Table, code: &str, column: &'static str, amount: i64) {
    for row in [&code[..3], &code[..5], code, "total"] {
        add(table, row, column, amount);
    }
}

/// Transfers of a unit with its department, in hundredths of 万元.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transfers {
    /// 上级补助收入 (a unit) or 对附属单位补助支出 (a department).
    pub subsidy: i64,
    /// 上缴上级支出 (a unit) or 附属单位上缴收入 (a department).
    pub remit: i64,
}

/// The tables of one disclosure: a department's own figures (paying `transfers.subsidy` to its units, receiving
/// `transfers.remit`) or a unit's (receiving the subsidy, paying the remit).
pub fn tables(rng: &mut Rng, items: usize, role: Role, transfers: Transfers) -> Tables {
    let (mut t01, mut t02, mut t03, mut t04, mut t05, mut t06, mut t09) = (
        Table::new(),
        Table::new(),
        Table::new(),
        Table::new(),
        Table::new(),
        Table::new(),
        Table::new(),
    );
    let start = rng.below(ITEMS.len() as u64) as usize;
    let mut gpb_expenditure = 0;
    let mut gpb_basic = 0;
    for i in 0..items.clamp(1, ITEMS.len()) {
        let code = ITEMS[(start + i) % ITEMS.len()];
        let mut amount = |max: u64| rng.below(max) as i64;
        let (basic, project) = (amount(50_000) + 1_000, amount(30_000));
        let (other_basic, other_project, operating_exp) =
            (amount(5_000), amount(5_000), amount(2_000));
        let (surplus, business, operating_inc, other) =
            (amount(3_000), amount(8_000), amount(2_000), amount(2_000));
        // The transfers sit on the first row.
        let (subsidy_in, remit_out, subsidy_out, remit_in) = match (i, role) {
            (0, Role::Unit) => (transfers.subsidy, transfers.remit, 0, 0),
            (0, Role::Department) => (0, 0, transfers.subsidy, transfers.remit),
            _ => (0, 0, 0, 0),
        };
        t05.entry(code.to_owned()).or_default();
        add_coded(&mut t05, code, "total", basic + project);
        add_coded(&mut t05, code, "basic", basic);
        add_coded(&mut t05, code, "project", project);
        let expenditure =
            basic + project + other_basic + other_project + operating_exp + remit_out + subsidy_out;
        add_coded(&mut t03, code, "total", expenditure);
        add_coded(&mut t03, code, "basic", basic + other_basic);
        add_coded(&mut t03, code, "project", project + other_project);
        add_coded(&mut t03, code, "operating", operating_exp);
        add_coded(&mut t03, code, "remit_superior", remit_out);
        add_coded(&mut t03, code, "subsidy_affiliated", subsidy_out);
        let fiscal = basic + project + surplus;
        let income = fiscal + subsidy_in + business + operating_inc + remit_in + other;
        add_coded(&mut t02, code, "total", income);
        add_coded(&mut t02, code, "fiscal", fiscal);
        add_coded(&mut t02, code, "superior_subsidy", subsidy_in);
        add_coded(&mut t02, code, "business", business);
        add_coded(&mut t02, code, "operating", operating_inc);
        add_coded(&mut t02, code, "affiliated_remit", remit_in);
        add_coded(&mut t02, code, "other", other);
        add(&mut t01, &code[..3], "amount", expenditure);
        gpb_expenditure += basic + project;
        gpb_basic += basic;
    }
    let income = |column: &str| t02["total"].get(column).copied().unwrap_or(0);
    for (line, column) in [
        ("income_gpb", "fiscal"),
        ("income_superior_subsidy", "superior_subsidy"),
        ("income_business", "business"),
        ("income_operating", "operating"),
        ("income_affiliated_remit", "affiliated_remit"),
        ("income_other", "other"),
        ("income_total", "total"),
    ] {
        add(&mut t01, line, "amount", income(column));
    }
    let expenditure = t03["total"]["total"];
    let carry_in = rng.below(20_000) as i64 + (expenditure - income("total")).max(0);
    let grand = income("total") + carry_in;
    let surplus = rng.below(1_000) as i64;
    for (line, amount) in [
        ("carryover_begin", carry_in),
        ("income_grand_total", grand),
        ("expenditure_total", expenditure),
        ("surplus_distribution", surplus.min(grand - expenditure)),
        (
            "carryover_end",
            grand - expenditure - surplus.min(grand - expenditure),
        ),
        ("expenditure_grand_total", grand),
    ] {
        add(&mut t01, line, "amount", amount);
    }
    let fiscal = income("fiscal");
    for row in ["gpb", "total"] {
        add(&mut t04, row, "income", fiscal);
        add(&mut t04, row, "expenditure", gpb_expenditure);
        add(&mut t04, row, "carryover_end", fiscal - gpb_expenditure);
    }
    // Basic expenditure by economic class: personnel 301/303, public 302.
    let shares = [
        ("30101", 30),
        ("30102", 15),
        ("30107", 20),
        ("30108", 8),
        ("30201", 7),
        ("30216", 5),
        ("30302", 15),
    ];
    let mut left = gpb_basic;
    for (i, (code, share)) in shares.iter().enumerate() {
        let part = if i == shares.len() - 1 {
            left
        } else {
            gpb_basic * share / 100
        };
        left -= part;
        for row in [&code[..3], code, "total"] {
            add(&mut t06, row, "amount", part);
        }
        add(
            &mut t06,
            if code.starts_with("302") {
                "public"
            } else {
                "personnel"
            },
            "amount",
            part,
        );
    }
    // "三公": small, within budget, paid from basic expenditure.
    let reception = gpb_basic / 500;
    let operation = gpb_basic / 400;
    for (row, amount) in [
        ("reception", reception),
        ("vehicle_operation", operation),
        ("vehicles", operation),
        ("total", reception + operation),
    ] {
        add(&mut t09, row, "final", amount);
        add(&mut t09, row, "budget", amount + amount / 10);
    }
    for (row, column) in [
        ("abroad", "final"),
        ("abroad", "budget"),
        ("vehicle_purchase", "final"),
        ("vehicle_purchase", "budget"),
    ] {
        add(&mut t09, row, column, 0);
    }
    BTreeMap::from([
        ("T01", t01),
        ("T02", t02),
        ("T03", t03),
        ("T04", t04),
        ("T05", t05),
        ("T06", t06),
        ("T09", t09),
    ])
}

/// Hundredths of 万元 as a figure with two decimals.
pub fn wan(hundredths: i64) -> String {
    let sign = if hundredths < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:02}",
        hundredths.abs() / 100,
        hundredths.abs() % 100
    )
}

/// The transfers of every node: each unit's subsidy and remit, each department's sums of them.
pub fn transfers(spec: &Spec, nodes: &[Node]) -> Vec<Transfers> {
    let mut rng = Rng::new(spec.seed ^ 0x5EED);
    let mut out = vec![Transfers::default(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        if node.role == Role::Unit {
            let t = Transfers {
                subsidy: rng.below(20_000) as i64,
                remit: rng.below(3_000) as i64,
            };
            out[i] = t;
            let department = node.parent.expect("a unit has a department");
            out[department].subsidy += t.subsidy;
            out[department].remit += t.remit;
        }
    }
    out
}

/// What goes wrong in the demo, on purpose, so that completeness, rejection and elimination findings have
/// something to show. Indexes into the nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scenario {
    /// Units that never submit.
    pub never_submitted: Vec<usize>,
    /// A unit whose disclosure breaks an identity (本年收入合计 off by 1.00), so the rules reject it.
    pub rejected: Option<usize>,
    /// A department that reports more 对附属单位补助支出 than its units' 上级补助收入 (by `MISMATCH`).
    pub mismatched_department: Option<usize>,
    /// A unit whose reviewer returns its disclosure with a reason (the demo's review chain).
    pub returned: Option<usize>,
    /// A department whose year is locked once its units are accepted: one none of the others touch.
    pub locked_department: Option<usize>,
}

/// What the mismatched department adds to its 对附属单位补助支出, in hundredths of 万元 (10.00 万元).
pub const MISMATCH: i64 = 1_000;

impl Scenario {
    /// The last two units never submit, a unit in the middle is rejected, the first department over-reports its
    /// subsidies; each in a different department when the prefecture has enough of them.
    pub fn pick(nodes: &[Node]) -> Scenario {
        let units: Vec<usize> = (0..nodes.len())
            .filter(|i| nodes[*i].role == Role::Unit)
            .collect();
        let departments: Vec<usize> = (0..nodes.len())
            .filter(|i| nodes[*i].role == Role::Department)
            .collect();
        let mut scenario = Scenario::default();
        if units.len() >= 3 {
            scenario.never_submitted = vec![units[units.len() - 1], units[units.len() - 2]];
        }
        if units.len() >= 4 {
            scenario.rejected = Some(units[units.len() / 2]);
        }
        if departments.len() >= 2 {
            scenario.mismatched_department = Some(departments[0]);
        }
        // Returned: a unit beside the rejected one, so that the department whose figures the mismatch test
        // compares keeps all its units counted.
        if units.len() >= 5 {
            let middle = units.len() / 2;
            let neighbour = if nodes[units[middle + 1]].parent == nodes[units[middle]].parent {
                units[middle + 1]
            } else {
                units[middle - 1]
            };
            scenario.returned = Some(neighbour);
        }
        let touched: Vec<usize> = scenario
            .never_submitted
            .iter()
            .copied()
            .chain(scenario.rejected)
            .chain(scenario.returned)
            .collect();
        scenario.locked_department = departments
            .iter()
            .copied()
            .skip(1)
            .find(|d| !touched.iter().any(|u| nodes[*u].parent == Some(*d)));
        scenario
    }
}

/// Breaks one identity of a disclosure's figures: 本年收入合计 is 1.00 more than its parts.
pub fn break_an_identity(tables: &mut Tables) {
    if let Some(amount) = tables
        .get_mut("T01")
        .and_then(|t| t.get_mut("income_total"))
        .and_then(|row| row.get_mut("amount"))
    {
        *amount += 100;
    }
}

/// A disclosure of a node as a wire message.
pub fn disclosure(spec: &Spec, nodes: &[Node], index: usize, tables: &Tables) -> pb::Disclosure {
    let node = &nodes[index];
    let parent = node
        .parent
        .map(|p| nodes[p].code.clone())
        .unwrap_or_default();
    let department = match node.role {
        Role::Unit => parent.clone(),
        _ => String::new(),
    };
    let mut wire_tables: Vec<pb::Table> = tables
        .iter()
        .map(|(code, rows)| pb::Table {
            code: (*code).into(),
            completeness: pb::TableCompleteness::Complete as i32,
            declared_empty: false,
            rows: rows
                .iter()
                .map(|(row, cells)| pb::Row {
                    code: row.clone(),
                    label: String::new(),
                    cells: cells
                        .iter()
                        .map(|(column, amount)| pb::Cell {
                            column: (*column).into(),
                            value: Some(pb::Decimal {
                                value: wan(*amount),
                            }),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    for empty in ["T07", "T08"] {
        wire_tables.push(pb::Table {
            code: empty.into(),
            declared_empty: true,
            ..Default::default()
        });
    }
    pb::Disclosure {
        cover: Some(pb::Cover {
            unit_code: node.code.clone(),
            unit_name: node.name.clone(),
            fiscal_year: spec.fiscal_year,
            budget_level: pb::BudgetLevel::County as i32,
            unit_type: if node.role == Role::Department {
                pb::UnitType::Administrative
            } else {
                pb::UnitType::PublicInstitutionClass1
            } as i32,
            supervising_department_code: department,
            parent_unit_code: parent,
            fiscal_region_code: node.region_code.clone(),
            report_type: pb::ReportType::Single as i32,
            amount_unit: pb::AmountUnit::TenThousandYuan as i32,
            ..Default::default()
        }),
        tables: wire_tables,
        ..Default::default()
    }
}

/// The registration of a node.
pub fn unit(spec: &Spec, nodes: &[Node], index: usize) -> pb::Unit {
    let node = &nodes[index];
    let parent = node
        .parent
        .map(|p| nodes[p].code.clone())
        .unwrap_or_default();
    pb::Unit {
        code: node.code.clone(),
        name: node.name.clone(),
        valid_from_year: spec.fiscal_year,
        valid_to_year: 0,
        budget_level: if node.role == Role::Region {
            pb::BudgetLevel::Prefecture
        } else {
            pb::BudgetLevel::County
        } as i32,
        unit_type: match node.role {
            Role::Region | Role::County => pb::UnitType::Unspecified,
            Role::Department => pb::UnitType::Administrative,
            Role::Unit => pb::UnitType::PublicInstitutionClass1,
        } as i32,
        supervising_department_code: if node.role == Role::Unit {
            parent.clone()
        } else {
            String::new()
        },
        parent_code: parent,
        fiscal_region_code: node.region_code.clone(),
        is_department: node.role == Role::Department,
        is_region: matches!(node.role, Role::Region | Role::County),
    }
}

/// A generated disclosure's figures by codes, read as the service reads a submitted one (codes and aliases
/// resolved against its year's taxonomy), without validating it.
pub fn facts(taxonomies: &Taxonomies, disclosure: pb::Disclosure) -> Result<Facts, String> {
    let refused = |violations: Vec<FieldViolation>| {
        let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
        format!(
            "the generator made a disclosure the taxonomy refuses: {}",
            list.join("; ")
        )
    };
    let draft = convert::disclosure_draft(disclosure).map_err(refused)?;
    let (taxonomy, disclosure) = resolve(taxonomies, draft).map_err(refused)?;
    Ok(Facts::from_disclosure(&disclosure, &taxonomy))
}

/// A prefecture: its tree, its transfers and what goes wrong on purpose.
#[derive(Debug, Clone)]
pub struct Prefecture {
    pub spec: Spec,
    pub nodes: Vec<Node>,
    pub transfers: Vec<Transfers>,
    pub scenario: Scenario,
}

impl Prefecture {
    /// A prefecture where every unit submits a consistent disclosure.
    pub fn new(spec: Spec) -> Prefecture {
        let nodes = nodes(&spec);
        let transfers = transfers(&spec, &nodes);
        Prefecture {
            spec,
            nodes,
            transfers,
            scenario: Scenario::default(),
        }
    }

    /// The first unit's disclosure of the load prefecture ([`Spec::load`]): a typical submission of the load
    /// benchmark, for the validation benchmark and profiles.
    pub fn load_sample() -> pb::Disclosure {
        let prefecture = Prefecture::new(Spec::load());
        prefecture
            .disclosures()
            .find(|(index, _)| prefecture.nodes[*index].role == Role::Unit)
            .map(|(_, disclosure)| disclosure)
            .expect("the load prefecture has units")
    }

    /// The same prefecture with the demo's mistakes ([`Scenario::pick`]).
    pub fn with_mistakes(mut self) -> Prefecture {
        self.scenario = Scenario::pick(&self.nodes);
        self
    }

    /// Departments and units: the nodes that submit a disclosure of their own.
    pub fn expected(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n.role, Role::Department | Role::Unit))
            .count()
    }

    /// The disclosures submitted, in registration order, with the index of their node. Figures are drawn for
    /// the units left out too, so that the others' do not depend on the scenario.
    pub fn disclosures(&self) -> impl Iterator<Item = (usize, pb::Disclosure)> + '_ {
        let mut rng = Rng::new(self.spec.seed);
        self.nodes
            .iter()
            .enumerate()
            .filter_map(move |(index, node)| {
                if !matches!(node.role, Role::Department | Role::Unit) {
                    return None;
                }
                let mut own = self.transfers[index];
                if self.scenario.mismatched_department == Some(index) {
                    own.subsidy += MISMATCH;
                }
                let mut figures = tables(&mut rng, self.spec.items_per_unit, node.role, own);
                if self.scenario.never_submitted.contains(&index) {
                    return None;
                }
                if self.scenario.rejected == Some(index) {
                    break_an_identity(&mut figures);
                }
                Some((index, disclosure(&self.spec, &self.nodes, index, &figures)))
            })
    }

    /// A new version of a unit's disclosure: the same unit and tree, figures drawn afresh from `rng`.
    pub fn resubmission(&self, rng: &mut Rng, index: usize) -> pb::Disclosure {
        let own = Transfers {
            subsidy: rng.below(20_000) as i64,
            remit: rng.below(3_000) as i64,
        };
        let figures = tables(rng, self.spec.items_per_unit, self.nodes[index].role, own);
        disclosure(&self.spec, &self.nodes, index, &figures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_p10k_shape_has_the_sizes_of_design_section_7() {
        let spec = Spec::p10k();
        let nodes = nodes(&spec);
        assert_eq!(nodes.len(), spec.unit_count());
        let count = |role| nodes.iter().filter(|n| n.role == role).count();
        assert_eq!(
            (
                count(Role::County),
                count(Role::Department),
                count(Role::Unit)
            ),
            (9, 540, 9_720)
        );
        assert!(
            nodes
                .iter()
                .skip(1)
                .all(|n| n.parent.is_some_and(|p| p < nodes.len()))
        );
    }

    #[test]
    fn a_unit_has_about_a_thousand_cells_and_its_transfers() {
        let mut rng = Rng::new(7);
        let t = tables(
            &mut rng,
            60,
            Role::Unit,
            Transfers {
                subsidy: 12_345,
                remit: 678,
            },
        );
        let cells: usize = t
            .values()
            .flat_map(|rows| rows.values())
            .map(|cells| cells.values().filter(|v| **v != 0).count())
            .sum();
        assert!((800..1_400).contains(&cells), "{cells} cells");
        assert_eq!(t["T01"]["income_superior_subsidy"]["amount"], 12_345);
        assert_eq!(t["T03"]["total"]["remit_superior"], 678);
        // Identities hold exactly.
        let t01 = |line: &str| t["T01"][line]["amount"];
        assert_eq!(t01("income_grand_total"), t01("expenditure_grand_total"));
        assert_eq!(t01("expenditure_total"), t["T03"]["total"]["total"]);
        assert_eq!(wan(-1_205), "-12.05");
    }

    #[test]
    fn the_same_seed_makes_the_same_prefecture() {
        let spec = Spec {
            seed: 3,
            ..Spec::p10k()
        };
        let a = tables(
            &mut Rng::new(spec.seed),
            10,
            Role::Unit,
            Transfers::default(),
        );
        let b = tables(
            &mut Rng::new(spec.seed),
            10,
            Role::Unit,
            Transfers::default(),
        );
        assert_eq!(a, b);
    }
}

#[cfg(test)]
mod validation_tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::{
        consolidation::{
            layout::CellLayout,
            state::{Removals, YearState},
        },
        facts::FactsJson,
        ids::{FiscalYear, UnitCode},
        submission::validate_offline,
        taxonomy::Taxonomies,
        validation::{Report, Severity},
    };
    use crate::service::consolidation::counted_figures;

    fn taxonomies() -> Taxonomies {
        Taxonomies::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy"))
            .unwrap()
    }

    fn check(taxonomies: &Taxonomies, disclosure: &pb::Disclosure) -> Report {
        let draft =
            convert::disclosure_draft(disclosure.clone()).expect("a well-formed disclosure");
        validate_offline(taxonomies, draft).expect("a known year").2
    }

    fn small() -> Spec {
        Spec {
            counties: 2,
            departments_per_county: 2,
            units_per_department: 3,
            items_per_unit: 20,
            ..Spec::p10k()
        }
    }

    #[test]
    fn the_kept_text_of_a_units_figures_is_its_facts_serialized() {
        let taxonomies = taxonomies();
        let prefecture = Prefecture::new(small());
        let mut units = 0;
        for (_, disclosure) in prefecture.disclosures() {
            let draft = convert::disclosure_draft(disclosure).expect("a well-formed disclosure");
            let (taxonomy, disclosure) = resolve(&taxonomies, draft).expect("a known year");
            let facts = Facts::from_disclosure(&disclosure, &taxonomy);
            let written = FactsJson::of(&disclosure, &taxonomy);
            assert_eq!(written, FactsJson::from(&facts));
            assert_eq!(written.parse().unwrap(), facts);
            units += 1;
        }
        assert!(units > 10, "{units} units");
    }

    #[test]
    fn synthetic_disclosures_pass_the_years_rules_and_the_broken_one_does_not() {
        let taxonomies = taxonomies();
        let prefecture = Prefecture::new(small()).with_mistakes();
        let rejected = prefecture.scenario.rejected.expect("a unit to reject");
        let mut checked = 0;
        for (index, disclosure) in prefecture.disclosures() {
            let report = check(&taxonomies, &disclosure);
            assert!(
                report.checks_evaluated > 20,
                "{} checks",
                report.checks_evaluated
            );
            if index == rejected {
                let errors: Vec<&str> = report
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .map(|f| f.rule_id.as_str())
                    .collect();
                assert!(errors.contains(&"T01-BAL-001"), "{errors:?}");
            } else {
                assert!(
                    report.findings.is_empty(),
                    "{}: {:?}",
                    prefecture.nodes[index].code,
                    report.findings
                );
            }
            checked += 1;
        }
        // Two never submit.
        assert_eq!(checked, prefecture.expected() - 2);
        assert_eq!(prefecture.expected(), 2 * 2 * (1 + 3));
    }

    #[test]
    fn a_complete_prefecture_consolidates_to_balanced_tables_without_transfers_inside_it() {
        let taxonomies = taxonomies();
        let taxonomy = taxonomies.get(FiscalYear::new(2024).unwrap()).unwrap();
        let layout = Arc::new(CellLayout::new(taxonomy));
        let removals = Arc::new(Removals::new(&layout, taxonomy.eliminations.as_ref()));
        let mut state = YearState::new(layout.clone(), removals);
        let prefecture = Prefecture::new(small());
        for node in &prefecture.nodes {
            let id = state.add_node(UnitCode::parse(&node.code).unwrap(), None);
            if let Some(parent) = node.parent {
                state.load_parent(id, parent);
            }
        }
        let mut cells_loaded = 0;
        for (index, disclosure) in prefecture.disclosures() {
            let facts = facts(&taxonomies, disclosure.clone()).unwrap();
            let own = counted_figures(&mut state, taxonomy, 1, &facts);
            cells_loaded += own.len();
            state.load_own(index, Some(own));
        }
        assert!(cells_loaded > 0);
        state.full_recompute();
        let cell = |table: &str, row: &str, column: &str| {
            let t = taxonomy.table_index(table).unwrap();
            let c = taxonomy.tables[t].column_index(column).unwrap();
            layout.id(t, row, c).unwrap()
        };
        let region = 0;
        let at = |node, table, row, column| state.value(node, cell(table, row, column));
        // Each unit's 上级补助收入 and its department's 对附属单位补助支出 cancel, and so do the remittances.
        for (table, row, column) in [
            ("T01", "income_superior_subsidy", "amount"),
            ("T01", "income_affiliated_remit", "amount"),
            ("T02", "total", "superior_subsidy"),
            ("T02", "total", "affiliated_remit"),
            ("T03", "total", "subsidy_affiliated"),
            ("T03", "total", "remit_superior"),
        ] {
            assert_eq!(
                at(region, table, row, column),
                0,
                "{table}[{row}, {column}]"
            );
        }
        // The identities still hold after the eliminations.
        assert_eq!(
            at(region, "T01", "income_grand_total", "amount"),
            at(region, "T01", "expenditure_grand_total", "amount")
        );
        assert_eq!(
            at(region, "T01", "income_total", "amount"),
            at(region, "T02", "total", "total")
        );
        assert_eq!(
            at(region, "T01", "expenditure_total", "amount"),
            at(region, "T03", "total", "total")
        );
        // And the figures are there: a department's own transfers are not zero before consolidation.
        let department = prefecture
            .nodes
            .iter()
            .position(|n| n.role == Role::Department)
            .unwrap();
        assert!(
            state.nodes[department].own.as_ref().unwrap().get(cell(
                "T03",
                "total",
                "subsidy_affiliated"
            )) > 0
        );
    }
}
