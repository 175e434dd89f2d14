use juesuan::pb;

use crate::helpers::{DEPARTMENT, TestApp, UNIT, department, reference_unit, violated_fields};

#[tokio::test]
async fn registering_twice_is_idempotent_and_a_subtree_lists_in_order() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut units = app.units().await;
    let again = units
        .register_unit(pb::RegisterUnitRequest {
            unit: Some(reference_unit()),
        })
        .await
        .expect("re-register")
        .into_inner();
    assert!(again.unchanged);
    assert_eq!(app.count_rows("units").await, 2);

    let tree = units
        .list_units(pb::ListUnitsRequest {
            root_code: DEPARTMENT.into(),
            fiscal_year: 2025,
        })
        .await
        .expect("list")
        .into_inner();
    let listed: Vec<(String, u32)> = tree
        .units
        .iter()
        .map(|n| (n.unit.as_ref().unwrap().code.clone(), n.depth))
        .collect();
    assert_eq!(listed, [(DEPARTMENT.to_owned(), 0), (UNIT.to_owned(), 1)]);

    let before = units
        .get_unit(pb::GetUnitRequest {
            code: UNIT.into(),
            fiscal_year: 2023,
        })
        .await
        .unwrap_err();
    assert_eq!(before.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn a_unit_moves_to_another_parent_from_a_year_on() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut units = app.units().await;
    let other = pb::Unit {
        code: "652300002".into(),
        name: "昌吉州文化体育广播电视和旅游局".into(),
        ..department()
    };
    units
        .register_unit(pb::RegisterUnitRequest { unit: Some(other) })
        .await
        .expect("register");
    let moved = pb::Unit {
        valid_from_year: 2025,
        parent_code: "652300002".into(),
        supervising_department_code: "652300002".into(),
        ..reference_unit()
    };
    units
        .register_unit(pb::RegisterUnitRequest { unit: Some(moved) })
        .await
        .expect("move");
    for (year, parent) in [(2024, DEPARTMENT), (2025, "652300002"), (2030, "652300002")] {
        let unit = units
            .get_unit(pb::GetUnitRequest {
                code: UNIT.into(),
                fiscal_year: year,
            })
            .await
            .expect("get")
            .into_inner();
        assert_eq!(unit.parent_code, parent, "parent in {year}");
    }
}

#[tokio::test]
async fn bad_units_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let mut units = app.units().await;
    let orphan = units
        .register_unit(pb::RegisterUnitRequest {
            unit: Some(reference_unit()),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&orphan),
        ["unit.parent_code", "unit.supervising_department_code"]
    );
    let malformed = pb::Unit {
        code: "融媒体".into(),
        fiscal_region_code: "65".into(),
        valid_from_year: 1990,
        ..reference_unit()
    };
    let status = units
        .register_unit(pb::RegisterUnitRequest {
            unit: Some(malformed),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        [
            "unit.code",
            "unit.valid_from_year",
            "unit.fiscal_region_code"
        ]
    );
    assert_eq!(app.count_rows("units").await, 0);

    // A cycle: the department under its own unit.
    app.register_reference_units().await;
    let cyclic = pb::Unit {
        parent_code: UNIT.into(),
        ..department()
    };
    let status = units
        .register_unit(pb::RegisterUnitRequest { unit: Some(cyclic) })
        .await
        .unwrap_err();
    // Two things are wrong with that parent: a department under a unit, and the cycle it closes.
    assert_eq!(
        violated_fields(&status),
        ["unit.parent_code", "unit.parent_code"]
    );
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    let descriptions: Vec<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.description.as_str())
        .collect();
    assert!(
        descriptions
            .iter()
            .any(|d| d.contains("would make a cycle")),
        "{descriptions:?}"
    );
}
