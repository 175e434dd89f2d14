//! Every class of bad input gets INVALID_ARGUMENT naming the field at fault, and nothing is stored.

use juesuan::{pb, service::submission::Limits};
use tempfile::TempDir;

use crate::helpers::{TestApp, UNIT, reference, submit_request, violated_fields};

fn cell(column: &str, value: &str) -> pb::Cell {
    pb::Cell {
        column: column.into(),
        value: Some(pb::Decimal {
            value: value.into(),
        }),
    }
}

/// The reference with a table replaced by the given rows.
fn with_t05_rows(rows: Vec<pb::Row>) -> pb::Disclosure {
    let mut disclosure = reference();
    let t05 = disclosure
        .tables
        .iter_mut()
        .find(|t| t.code == "T05")
        .expect("T05");
    t05.rows = rows;
    disclosure
}

fn row(code: &str, cells: Vec<pb::Cell>) -> pb::Row {
    pb::Row {
        code: code.into(),
        label: String::new(),
        cells,
    }
}

async fn submit_expecting(app: &TestApp, disclosure: pb::Disclosure) -> Vec<String> {
    let status = app
        .submitter(UNIT)
        .await
        .submit(submit_request("bad", disclosure))
        .await
        .expect_err("refused");
    let fields = violated_fields(&status);
    assert_eq!(
        app.count_rows("submissions").await,
        0,
        "nothing stored for {fields:?}"
    );
    assert_eq!(app.count_rows("current_versions").await, 0);
    fields
}

#[tokio::test]
async fn malformed_decimals_name_the_cell() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    for bad in ["1,2", "NaN", "1e5", "", "--3"] {
        let fields = submit_expecting(
            &app,
            with_t05_rows(vec![row("207", vec![cell("total", bad)])]),
        )
        .await;
        assert_eq!(
            fields,
            ["disclosure.tables[4].rows[0].cells[0].value"],
            "for {bad:?}"
        );
    }
}

#[tokio::test]
async fn unknown_codes_name_the_table_row_or_column() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;

    let mut unknown_table = reference();
    unknown_table.tables[0].code = "T10".into();
    assert_eq!(
        submit_expecting(&app, unknown_table).await,
        ["disclosure.tables[0].code"]
    );

    let unknown_row = with_t05_rows(vec![row("207069", vec![cell("total", "1.00")])]);
    assert_eq!(
        submit_expecting(&app, unknown_row).await,
        ["disclosure.tables[4].rows[0].code"]
    );

    let unknown_column = with_t05_rows(vec![row("207", vec![cell("totl", "1.00")])]);
    assert_eq!(
        submit_expecting(&app, unknown_column).await,
        ["disclosure.tables[4].rows[0].cells[0].column"]
    );
}

#[tokio::test]
async fn duplicate_rows_are_refused() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let duplicated = with_t05_rows(vec![
        row("207", vec![cell("total", "1.00")]),
        row("207", vec![cell("total", "2.00")]),
    ]);
    assert_eq!(
        submit_expecting(&app, duplicated).await,
        ["disclosure.tables[4].rows[1].code"]
    );
}

#[tokio::test]
async fn fiscal_years_out_of_range_or_without_taxonomy_are_refused() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    for year in [1999, 2101, 2031] {
        let mut disclosure = reference();
        disclosure.cover.as_mut().unwrap().fiscal_year = year;
        let fields = submit_expecting(&app, disclosure).await;
        assert!(
            fields.contains(&"disclosure.cover.fiscal_year".to_owned()),
            "{year}: {fields:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_unit_is_refused() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut disclosure = reference();
    disclosure.cover.as_mut().unwrap().unit_code = "652399999".into();
    // To a unit's submitter, another code is not its own, registered or not: nothing tells it which exist.
    let status = app
        .submitter(UNIT)
        .await
        .submit(submit_request("unknown", disclosure.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    // Validated by the administrator, who may read any unit, the cover names the field.
    let status = app
        .submissions()
        .await
        .validate(pb::ValidateRequest {
            disclosure: Some(disclosure),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["disclosure.cover.unit_code"]);
    assert_eq!(app.count_rows("submissions").await, 0);
}

#[tokio::test]
async fn an_empty_disclosure_is_refused() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let empty = pb::Disclosure {
        cover: reference().cover,
        ..Default::default()
    };
    assert_eq!(submit_expecting(&app, empty).await, ["disclosure"]);
    let no_cover = pb::Disclosure::default();
    assert_eq!(submit_expecting(&app, no_cover).await, ["disclosure.cover"]);
}

#[tokio::test]
async fn oversized_disclosures_are_refused() {
    // A limit below the reference's size: the domain names the size...
    let app = TestApp::spawn_with(
        TempDir::new().unwrap(),
        Limits {
            max_disclosure_bytes: 50_000,
            ..Limits::default()
        },
    )
    .await;
    app.register_reference_units().await;
    assert_eq!(submit_expecting(&app, reference()).await, ["disclosure"]);
    // ...a text beyond its own limit is named...
    let mut long = reference();
    long.narrative[0].text = "文".repeat(200_000);
    assert_eq!(
        submit_expecting(&app, long).await,
        ["disclosure.narrative[0].text"]
    );
    // ...and a request far beyond the limit is refused before the rest of it is read.
    let mut huge = reference();
    for section in &mut huge.narrative {
        section.text = "文".repeat(60_000);
    }
    assert_eq!(submit_expecting(&app, huge).await, ["disclosure"]);
}

#[tokio::test]
async fn a_missing_idempotency_key_is_refused() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let status = app
        .submitter(UNIT)
        .await
        .submit(submit_request("", reference()))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["idempotency_key"]);
    assert_eq!(app.count_rows("submissions").await, 0);
}
