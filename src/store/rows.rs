//! What the stores share: reading rows into domain records (whatever the database), the encoding of stored
//! content, and the conversions of stored numbers and codes, which treat anything out of range as corruption.

use std::sync::Arc;

pub(super) use super::encoding::compress;
use super::{
    StoreError,
    encoding::{IDENTITY, ZSTD, compressed, decompress},
};
use crate::domain::{
    access::{PrincipalKind, Role, ServiceName},
    audit::{Event, NewEvent},
    budget::StoredBudget,
    disclosure::ReportType,
    facts::Facts,
    ids::{FiscalYear, RegionCode, UnitCode},
    review::LockRecord,
    submission::{StoredSubmission, SubmissionState},
    tokens::TokenRecord,
    unit::{BudgetLevel, Unit, UnitType},
    validation::Report,
};

/// The typed column reads the row conversions need, for any database's rows (each store implements it with
/// [`columns_for`]), so that a record is read the same way from SQLite and from PostgreSQL.
pub(super) trait Columns {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn text_opt(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn int_opt(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError>;
    fn bytes_opt(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
}

/// Implements [`Columns`] for a sqlx row type.
macro_rules! columns_for {
    ($row:ty) => {
        impl $crate::store::rows::Columns for $row {
            fn text(&self, column: &str) -> Result<String, StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn text_opt(&self, column: &str) -> Result<Option<String>, StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn int(&self, column: &str) -> Result<i64, StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn int_opt(&self, column: &str) -> Result<Option<i64>, StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn bytes_opt(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn flag(&self, column: &str) -> Result<bool, StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
        }
    };
}
pub(super) use columns_for;

/// The columns of a unit record, as a literal so that queries stay `&'static str` (sqlx refuses built strings
/// unless asserted safe; these are all fixed).
macro_rules! unit_columns {
    () => {
        "code, valid_from, valid_to, name, budget_level, unit_type, parent_code, supervising_code, region_code, \
         is_department, is_region"
    };
}
pub(super) use unit_columns;

/// Most bytes a stored report or figures JSON may inflate to: far beyond what the bounds on a disclosure let
/// validation produce, so that only a damaged row reaches it.
const MAX_JSON_BYTES: usize = 256 << 20;

/// A version's report and figures JSON as stored, and how (`json_encoding`, one for both): compressed when the two
/// are smaller so, which the figures of a disclosure (repetitive keys and codes) nearly always are.
pub(super) struct StoredJson {
    pub report: Vec<u8>,
    pub facts: Vec<u8>,
    pub encoding: &'static str,
}

pub(super) fn compress_json(report: String, facts: &str) -> StoredJson {
    match (compressed(report.as_bytes()), compressed(facts.as_bytes())) {
        (Some(r), Some(f)) if r.len() + f.len() < report.len() + facts.len() => StoredJson {
            report: r,
            facts: f,
            encoding: ZSTD,
        },
        _ => StoredJson {
            report: report.into_bytes(),
            facts: facts.as_bytes().to_vec(),
            encoding: IDENTITY,
        },
    }
}

/// A stored JSON column (`report_json` or `facts_json`) as text, from a row that also has `json_encoding`.
pub(super) fn json_of(row: &impl Columns, column: &str) -> Result<String, StoreError> {
    let encoding = row.text("json_encoding")?;
    if encoding == IDENTITY {
        // Read by the column's type, so that a database with distinct text and byte types reads its text.
        return row.text(column);
    }
    json_from_bytes(&encoding, column, row.bytes(column)?)
}

/// The figures of a report type's accepted version: unit `$1`, year `$2`, report type `$3` (both stores read
/// `$N` as the Nth parameter). Read with [`facts_of`].
const ACCEPTED_FACTS_SQL: &str = "SELECT s.json_encoding, s.facts_json FROM accepted_versions a \
     JOIN submissions s ON s.unit_code = a.unit_code AND s.fiscal_year = a.fiscal_year AND s.version = a.version \
     WHERE a.unit_code = $1 AND a.fiscal_year = $2 AND a.report_type = $3";

/// Reads the figures of a report type's accepted version ([`ACCEPTED_FACTS_SQL`]) in either store.
pub(super) async fn read_accepted_facts<'c, DB, E>(
    executor: E,
    unit: &UnitCode,
    year: FiscalYear,
    report_type: ReportType,
) -> Result<Option<Arc<Facts>>, StoreError>
where
    DB: sqlx::Database,
    DB::Row: Columns,
    for<'a> DB::Arguments: sqlx::IntoArguments<DB>,
    for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    E: sqlx::Executor<'c, Database = DB>,
{
    let row = sqlx::query::<DB>(ACCEPTED_FACTS_SQL)
        .bind(unit.as_str())
        .bind(i64::from(year.get()))
        .bind(report_type.code())
        .fetch_optional(executor)
        .await?;
    Ok(row.as_ref().map(facts_of).transpose()?.map(Arc::new))
}

/// A version's figures, from a row with `json_encoding` and `facts_json`.
fn facts_of(row: &impl Columns) -> Result<Facts, StoreError> {
    serde_json::from_str(&json_of(row, "facts_json")?).map_err(|e| corrupt(format!("facts: {e}")))
}

/// A stored JSON column as text, from its encoding and its bytes as stored.
pub(super) fn json_from_bytes(
    encoding: &str,
    column: &str,
    stored: Vec<u8>,
) -> Result<String, StoreError> {
    let json = decompress(encoding, column, stored, MAX_JSON_BYTES)?;
    String::from_utf8(json).map_err(|_| corrupt(format!("{column}: not UTF-8")))
}

/// A submission's content as received, from a row with `content`, `content_encoding` and `content_len`.
pub(super) fn content_of(row: &impl Columns) -> Result<Vec<u8>, StoreError> {
    let stored: Vec<u8> = row.bytes("content")?;
    let encoding: String = row.text("content_encoding")?;
    let length: Option<i64> = row.int_opt("content_len")?;
    let length = length.map_or(stored.len(), |l| l.max(0) as usize);
    // Never more than the recorded length.
    let content = decompress(&encoding, "content", stored, length)?;
    if content.len() != length {
        return Err(corrupt(format!(
            "content: {} bytes, recorded as {length}",
            content.len()
        )));
    }
    Ok(content)
}

pub(super) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

pub(super) fn year_of(value: i64, what: &str) -> Result<FiscalYear, StoreError> {
    u32::try_from(value)
        .ok()
        .and_then(|y| FiscalYear::new(y).ok())
        .ok_or_else(|| corrupt(format!("{what}: year {value}")))
}

pub(super) fn code_of(text: &str, what: &str) -> Result<UnitCode, StoreError> {
    UnitCode::parse(text).map_err(|e| corrupt(format!("{what}: unit code {e}")))
}

pub(super) fn version_of(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt(format!("version {value}")))
}

pub(super) fn state_of(text: &str) -> Result<SubmissionState, StoreError> {
    SubmissionState::from_code(text).ok_or_else(|| corrupt(format!("state {text}")))
}

pub(super) fn report_type_of(text: &str) -> Result<ReportType, StoreError> {
    ReportType::from_code(text).ok_or_else(|| corrupt(format!("report type {text}")))
}

pub(super) fn hash_of(bytes: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| corrupt(format!("{what} is not 32 bytes")))
}

pub(super) fn unit_from_row(row: &impl Columns) -> Result<Unit, StoreError> {
    let code: String = row.text("code")?;
    let what = format!("unit {code}");
    let optional_code = |value: Option<String>| -> Result<Option<UnitCode>, StoreError> {
        value.map(|v| code_of(&v, &what)).transpose()
    };
    let valid_to: Option<i64> = row.int_opt("valid_to")?;
    let budget_level: String = row.text("budget_level")?;
    let unit_type: Option<String> = row.text_opt("unit_type")?;
    let region: String = row.text("region_code")?;
    Ok(Unit {
        code: code_of(&code, &what)?,
        name: row.text("name")?,
        valid_from: year_of(row.int("valid_from")?, &what)?,
        valid_to: valid_to.map(|y| year_of(y, &what)).transpose()?,
        budget_level: BudgetLevel::from_code(&budget_level)
            .ok_or_else(|| corrupt(format!("{what}: budget level {budget_level}")))?,
        unit_type: unit_type
            .map(|t| {
                UnitType::from_code(&t).ok_or_else(|| corrupt(format!("{what}: unit type {t}")))
            })
            .transpose()?,
        parent: optional_code(row.text_opt("parent_code")?)?,
        supervising_department: optional_code(row.text_opt("supervising_code")?)?,
        fiscal_region: RegionCode::parse(&region).map_err(|e| corrupt(format!("{what}: {e}")))?,
        is_department: row.flag("is_department")?,
        is_region: row.flag("is_region")?,
    })
}

/// A query of submissions with their current flag, filtered by `$filter`; `$extra` adds columns.
macro_rules! select_submissions {
    ($extra:literal, $filter:literal) => {
        concat!(
            "SELECT s.unit_code, s.fiscal_year, s.report_type, s.version, s.state, s.idempotency_key, s.content_sm3, \
                    coalesce(s.content_len, length(s.content)) AS content_len, s.report_json, s.submitted_at_ms, s.submitted_by, \
                    s.signature, s.review_reason, s.json_encoding, (c.version IS NOT NULL) AS current",
            $extra,
            " FROM submissions s \
             LEFT JOIN current_versions c ON c.unit_code = s.unit_code AND c.fiscal_year = s.fiscal_year \
                                          AND c.report_type = s.report_type AND c.version = s.version \
             WHERE ",
            $filter
        )
    };
}

pub(super) use select_submissions;

pub(super) fn submission_from_row(
    row: &impl Columns,
    content: Option<(Vec<u8>, Facts)>,
) -> Result<StoredSubmission, StoreError> {
    let unit: String = row.text("unit_code")?;
    let year: i64 = row.int("fiscal_year")?;
    let version: i64 = row.int("version")?;
    let state: String = row.text("state")?;
    let report_type: String = row.text("report_type")?;
    let report_json = json_of(row, "report_json")?;
    let content_len: i64 = row.int("content_len")?;
    let report: Report = serde_json::from_str(&report_json)
        .map_err(|e| corrupt(format!("report of {unit}/{year} v{version}: {e}")))?;
    Ok(StoredSubmission {
        unit_code: code_of(&unit, "submission")?,
        fiscal_year: year_of(year, "submission")?,
        report_type: report_type_of(&report_type)?,
        version: version_of(version)?,
        state: state_of(&state)?,
        current: row.flag("current")?,
        idempotency_key: row.text("idempotency_key")?,
        content_sm3: row.text("content_sm3")?,
        content_len: u64::try_from(content_len).unwrap_or(0),
        facts: content.as_ref().map(|(_, facts)| facts.clone()),
        content: content.map(|(bytes, _)| bytes),
        report,
        submitted_at_ms: row.int("submitted_at_ms")?,
        submitted_by: row.text("submitted_by")?,
        signature: row.bytes_opt("signature")?,
        review_reason: row.text_opt("review_reason")?,
    })
}

pub(super) fn lock_from_row(row: &impl Columns) -> Result<LockRecord, StoreError> {
    let node: String = row.text("node_code")?;
    let by: String = row.text("locked_by_node")?;
    Ok(LockRecord {
        node: code_of(&node, "lock")?,
        fiscal_year: year_of(row.int("fiscal_year")?, "lock")?,
        locked_by_node: code_of(&by, "lock")?,
        locked_by: row.text("locked_by")?,
        locked_at_ms: row.int("locked_at_ms")?,
    })
}

pub(super) fn token_from_row(row: &impl Columns) -> Result<TokenRecord, StoreError> {
    let id: String = row.text("id")?;
    let what = format!("token {id}");
    let kind: String = row.text("kind")?;
    let principal = match kind.as_str() {
        "admin" => PrincipalKind::Admin,
        "service" => {
            let name: String = row.text("service_name")?;
            PrincipalKind::Service {
                name: ServiceName::parse(&name).map_err(|e| corrupt(format!("{what}: {e}")))?,
            }
        }
        "unit" => {
            let code: String = row.text("unit_code")?;
            let role: String = row.text("role")?;
            PrincipalKind::Unit {
                code: code_of(&code, &what)?,
                role: Role::from_code(&role)
                    .ok_or_else(|| corrupt(format!("{what}: role {role}")))?,
            }
        }
        other => return Err(corrupt(format!("{what}: kind {other}"))),
    };
    Ok(TokenRecord {
        secret_sm3: hash_of(row.bytes("secret_sm3")?, &what)?,
        principal,
        label: row.text("label")?,
        issued_at_ms: row.int("issued_at_ms")?,
        issued_by: row.text("issued_by")?,
        expires_at_ms: row.int_opt("expires_at_ms")?,
        revoked_at_ms: row.int_opt("revoked_at_ms")?,
        revoked_by: row.text_opt("revoked_by")?,
        id,
    })
}

pub(super) fn event_from_row(row: &impl Columns) -> Result<Event, StoreError> {
    let seq: i64 = row.int("seq")?;
    let what = format!("audit event {seq}");
    let unit: Option<String> = row.text_opt("unit_code")?;
    let year: Option<i64> = row.int_opt("fiscal_year")?;
    let version: Option<i64> = row.int_opt("version")?;
    Ok(Event {
        seq: u64::try_from(seq).map_err(|_| corrupt(what.clone()))?,
        event: NewEvent {
            at_ms: row.int("at_ms")?,
            actor: row.text("actor")?,
            action: row.text("action")?,
            unit: unit.map(|u| code_of(&u, &what)).transpose()?,
            fiscal_year: year.map(|y| year_of(y, &what)).transpose()?,
            version: version.map(version_of).transpose()?,
            reason: row.text("reason")?,
            detail: row.text("detail")?,
        },
        prev_hash: hash_of(row.bytes("prev_hash")?, &what)?,
        hash: hash_of(row.bytes("hash")?, &what)?,
    })
}

/// A budget version from a row of `budget_versions`.
pub(super) fn budget_from_row(row: &impl Columns) -> Result<StoredBudget, StoreError> {
    let unit: String = row.text("unit_code")?;
    let year = year_of(row.int("fiscal_year")?, "budget")?;
    let version = version_of(row.int("version")?)?;
    let json: String = row.text("figures_json")?;
    Ok(StoredBudget {
        figures: serde_json::from_str(&json)
            .map_err(|e| corrupt(format!("budget of {unit}/{year} v{version}: {e}")))?,
        unit_code: code_of(&unit, "budget")?,
        fiscal_year: year,
        version,
        idempotency_key: row.text("idempotency_key")?,
        put_by: row.text("put_by")?,
        put_at_ms: row.int("put_at_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_compressed_when_smaller_and_read_back_exactly() {
        let facts = format!(
            "{{\"cells\":[{}]}}",
            r#"{"t":"01","r":"2010101","c":"1","v":"12.50"},"#.repeat(200)
        );
        let stored = compress_json("{}".into(), &facts);
        assert_eq!(stored.encoding, "zstd");
        assert!(stored.facts.len() * 10 < facts.len());
        assert_eq!(
            json_from_bytes("zstd", "facts_json", stored.facts).unwrap(),
            facts
        );
        assert_eq!(
            json_from_bytes("zstd", "report_json", stored.report).unwrap(),
            "{}"
        );
    }

    #[test]
    fn tiny_json_stays_text() {
        let stored = compress_json("{}".into(), "[]");
        assert_eq!(stored.encoding, "identity");
        assert_eq!(
            json_from_bytes("identity", "facts_json", stored.facts).unwrap(),
            "[]"
        );
    }

    #[test]
    fn damaged_json_columns_are_corruption() {
        for (encoding, bytes) in [
            ("deflate", b"not deflate at all".to_vec()),
            ("identity", vec![0xFF, 0xFE]),
            ("zstd", b"not zstd at all".to_vec()),
            ("brotli", b"{}".to_vec()),
        ] {
            assert!(
                matches!(
                    json_from_bytes(encoding, "report_json", bytes),
                    Err(StoreError::Corrupt(_))
                ),
                "{encoding}"
            );
        }
    }
}
