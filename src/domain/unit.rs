//! Budget units and the tree they form in each fiscal year.

use crate::domain::{
    error::FieldViolation,
    ids::{FiscalYear, RegionCode, UnitCode},
};

/// 预算级次.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetLevel {
    Central,
    Provincial,
    Prefecture,
    County,
    Township,
}

impl BudgetLevel {
    pub const ALL: [BudgetLevel; 5] = [
        BudgetLevel::Central,
        BudgetLevel::Provincial,
        BudgetLevel::Prefecture,
        BudgetLevel::County,
        BudgetLevel::Township,
    ];

    /// Stable text used in storage and on the command line.
    pub fn code(self) -> &'static str {
        match self {
            BudgetLevel::Central => "central",
            BudgetLevel::Provincial => "provincial",
            BudgetLevel::Prefecture => "prefecture",
            BudgetLevel::County => "county",
            BudgetLevel::Township => "township",
        }
    }

    pub fn from_code(code: &str) -> Option<BudgetLevel> {
        BudgetLevel::ALL.into_iter().find(|l| l.code() == code)
    }
}

/// 单位类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitType {
    Administrative,
    PublicInstitutionClass1,
    PublicInstitutionClass2,
    PublicInstitutionCommercial,
    Enterprise,
    Other,
}

impl UnitType {
    pub const ALL: [UnitType; 6] = [
        UnitType::Administrative,
        UnitType::PublicInstitutionClass1,
        UnitType::PublicInstitutionClass2,
        UnitType::PublicInstitutionCommercial,
        UnitType::Enterprise,
        UnitType::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            UnitType::Administrative => "administrative",
            UnitType::PublicInstitutionClass1 => "public_institution_class_1",
            UnitType::PublicInstitutionClass2 => "public_institution_class_2",
            UnitType::PublicInstitutionCommercial => "public_institution_commercial",
            UnitType::Enterprise => "enterprise",
            UnitType::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<UnitType> {
        UnitType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The name used in disclosures and rule conditions.
    pub fn name(self) -> &'static str {
        match self {
            UnitType::Administrative => "行政单位",
            UnitType::PublicInstitutionClass1 => "公益一类",
            UnitType::PublicInstitutionClass2 => "公益二类",
            UnitType::PublicInstitutionCommercial => "生产经营类",
            UnitType::Enterprise => "企业",
            UnitType::Other => "其他",
        }
    }
}

/// A unit as registered for a span of fiscal years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub code: UnitCode,
    pub name: String,
    pub valid_from: FiscalYear,
    /// Last year of validity; `None` when open-ended.
    pub valid_to: Option<FiscalYear>,
    pub budget_level: BudgetLevel,
    pub unit_type: Option<UnitType>,
    pub parent: Option<UnitCode>,
    pub supervising_department: Option<UnitCode>,
    pub fiscal_region: RegionCode,
    pub is_department: bool,
    pub is_region: bool,
}

impl Unit {
    pub const MAX_NAME_CHARS: usize = 200;

    /// Whether the record applies to `year`.
    pub fn covers(&self, year: FiscalYear) -> bool {
        self.valid_from <= year && self.valid_to.is_none_or(|to| year <= to)
    }

    /// Checks what can be checked without the registry: names, spans and roles.
    pub fn check(&self) -> Vec<FieldViolation> {
        let mut violations = Vec::new();
        let name_chars = self.name.trim().chars().count();
        if name_chars == 0 {
            violations.push(FieldViolation::new("name", "is empty"));
        } else if name_chars > Self::MAX_NAME_CHARS {
            violations.push(FieldViolation::new(
                "name",
                format!(
                    "has {name_chars} characters; at most {}",
                    Self::MAX_NAME_CHARS
                ),
            ));
        }
        if let Some(to) = self.valid_to
            && to < self.valid_from
        {
            violations.push(FieldViolation::new(
                "valid_to_year",
                format!("{to} is before valid_from_year {}", self.valid_from),
            ));
        }
        if self.parent.as_ref() == Some(&self.code) {
            violations.push(FieldViolation::new(
                "parent_code",
                "a unit cannot be its own parent",
            ));
        }
        if self.is_region && self.is_department {
            violations.push(FieldViolation::new(
                "is_region",
                "a node is either a region or a department, not both",
            ));
        }
        if !self.is_region && self.unit_type.is_none() {
            violations.push(FieldViolation::new(
                "unit_type",
                "is required for a unit that is not a region",
            ));
        }
        violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit() -> Unit {
        Unit {
            code: UnitCode::parse("652300101").unwrap(),
            name: "昌吉州融媒体中心".into(),
            valid_from: FiscalYear::new(2024).unwrap(),
            valid_to: None,
            budget_level: BudgetLevel::Prefecture,
            unit_type: Some(UnitType::PublicInstitutionClass2),
            parent: Some(UnitCode::parse("652300100").unwrap()),
            supervising_department: Some(UnitCode::parse("652300100").unwrap()),
            fiscal_region: RegionCode::parse("652300").unwrap(),
            is_department: false,
            is_region: false,
        }
    }

    #[test]
    fn a_well_formed_unit_passes() {
        assert!(unit().check().is_empty());
        assert!(unit().covers(FiscalYear::new(2030).unwrap()));
        assert!(!unit().covers(FiscalYear::new(2023).unwrap()));
    }

    #[test]
    fn inconsistent_units_are_refused_field_by_field() {
        let mut u = unit();
        u.name = " ".into();
        u.valid_to = Some(FiscalYear::new(2020).unwrap());
        u.parent = Some(u.code.clone());
        u.unit_type = None;
        let fields: Vec<String> = u.check().into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            ["name", "valid_to_year", "parent_code", "unit_type"]
        );
    }

    #[test]
    fn codes_round_trip() {
        for level in BudgetLevel::ALL {
            assert_eq!(BudgetLevel::from_code(level.code()), Some(level));
        }
        for kind in UnitType::ALL {
            assert_eq!(UnitType::from_code(kind.code()), Some(kind));
        }
    }
}
