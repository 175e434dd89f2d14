//! A hostile client's requests, class by class: each gets the code it should, names the field at fault, and
//! stores nothing; the server stays up. Covers every row of the hardening issue's table and more.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use juesuan::{cli::client::Conn, pb, service::submission::Limits};
use prost::Message;
use tempfile::TempDir;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tower::{Service, ServiceExt};

use crate::helpers::{
    DEPARTMENT, TestApp, UNIT, department, reference, reference_unit, submit_request,
};

/// A gRPC frame around a message.
fn frame(message: &[u8], compressed: bool) -> Vec<u8> {
    let mut out = vec![u8::from(compressed)];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// A call with a body exactly as given (frames, compression and all), as a hostile client could send it.
async fn raw(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> Status {
    let mut channel = app.anonymous().await;
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("{}{path}", app.address))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {token}"));
    if let Some(encoding) = encoding {
        request = request.header("grpc-encoding", encoding);
    }
    let request = request
        .body(tonic::body::Body::new(Full::new(Bytes::from(body))))
        .unwrap();
    let response = channel.ready().await.unwrap().call(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Status::from_header_map(trailers.as_ref().unwrap_or(&parts.headers))
        .unwrap_or_else(|| Status::unknown("no grpc-status"))
}

fn set_cell(d: &mut pb::Disclosure, table: &str, row: &str, column: &str, value: &str) {
    let table = d.tables.iter_mut().find(|t| t.code == table).unwrap();
    let row = table.rows.iter_mut().find(|r| r.code == row).unwrap();
    match row.cells.iter_mut().find(|c| c.column == column) {
        Some(cell) => {
            cell.value = Some(pb::Decimal {
                value: value.into(),
            })
        }
        None => row.cells.push(pb::Cell {
            column: column.into(),
            value: Some(pb::Decimal {
                value: value.into(),
            }),
        }),
    }
}

fn with(mutate: impl FnOnce(&mut pb::Disclosure)) -> pb::Disclosure {
    let mut d = reference();
    mutate(&mut d);
    d
}

/// The path of a cell of a disclosure, as a violation names it.
fn path_of(d: &pb::Disclosure, table: &str, row: &str, column: &str) -> String {
    let t = d.tables.iter().position(|x| x.code == table).unwrap();
    let r = d.tables[t].rows.iter().position(|x| x.code == row).unwrap();
    let c = d.tables[t].rows[r]
        .cells
        .iter()
        .position(|x| x.column == column)
        .unwrap();
    format!("disclosure.tables[{t}].rows[{r}].cells[{c}].value")
}

/// The first field violation's path, or "" when there are none.
fn first_field(status: &Status) -> String {
    status
        .get_error_details()
        .bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

struct Cases {
    seen: usize,
    mismatches: Vec<String>,
}

impl Cases {
    fn check(&mut self, class: &str, result: Result<(), Status>, code: Code, field: &str) {
        self.seen += 1;
        let status = match result {
            Ok(()) => Status::ok("accepted"),
            Err(status) => status,
        };
        let got = (status.code(), first_field(&status));
        let field_differs = code == Code::InvalidArgument && field != "*" && got.1 != field;
        if got.0 != code || field_differs {
            self.mismatches.push(format!(
                "{class}: expected {code:?} at {field:?}, got {:?} at {:?}: {}",
                got.0,
                got.1,
                status.message()
            ));
        }
        // Whatever the input, the error is small and one line.
        if status.message().len() > 400 || status.message().contains('\n') {
            self.mismatches.push(format!(
                "{class}: an unbounded message: {} bytes",
                status.message().len()
            ));
        }
    }
}

fn outcome<T>(result: Result<tonic::Response<T>, Status>) -> Result<(), Status> {
    result.map(|_| ())
}

async fn submit(
    client: &mut pb::submissions_client::SubmissionsClient<Conn>,
    d: pb::Disclosure,
) -> Result<(), Status> {
    outcome(client.submit(submit_request("abuse", d)).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_class_of_bad_input_gets_its_code_and_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let token = app.token(UNIT, pb::Role::Submitter).await;
    let mut unit = app.submitter(UNIT).await;
    let mut units = app.units().await;
    let admin = app.admin_token.clone();
    let units_before = app.count_rows("units").await;
    let mut cases = Cases {
        seen: 0,
        mismatches: Vec::new(),
    };
    use Code::InvalidArgument as IA;

    // 1. Figures beyond the declared range, and malformed decimals.
    let t05 = path_of(&reference(), "T05", "207", "total");
    let long = "7".repeat(5_000);
    for (class, value) in [
        ("20 digits in T05 207 total", "99999999999999999999"),
        ("16 digits in T05 207 total", "1234567890123456"),
        ("beyond 10^11 万元 in T05", "100000000001"),
        ("thousands separator", "1,2"),
        ("NaN", "NaN"),
        ("exponent", "1e5"),
        ("empty decimal", ""),
        ("double sign", "--3"),
        ("plus sign", "+3"),
        ("leading dot", ".5"),
        ("trailing dot", "1."),
        ("nine decimals", "0.123456789"),
        ("full-width digits", "１２"),
        ("a 5,000-character decimal", long.as_str()),
    ] {
        let d = with(|d| set_cell(d, "T05", "207", "total", value));
        let field = t05.as_str();
        cases.check(class, submit(&mut unit, d.clone()).await, IA, field);
        if class.starts_with("20 digits") {
            // The same on Validate: the panic the issue saw was there.
            let validated = unit
                .validate(pb::ValidateRequest {
                    disclosure: Some(d),
                })
                .await;
            cases.check("20 digits on Validate", outcome(validated), IA, field);
        }
    }
    let d = with(|d| set_cell(d, "T01", "income_total", "amount", "99999999999999999999"));
    let field = path_of(&d, "T01", "income_total", "amount");
    cases.check(
        "20 digits in T01 income_total",
        submit(&mut unit, d).await,
        IA,
        &field,
    );
    // The issue's row 2: 5,000,000,000,000 万元 in a PARTIAL T01, which once overflowed a department's total.
    let d = with(|d| {
        d.tables[0].completeness = pb::TableCompleteness::Partial as i32;
        set_cell(d, "T01", "income_total", "amount", "5000000000000");
    });
    let field = path_of(&d, "T01", "income_total", "amount");
    cases.check(
        "5·10^12 万元 in a PARTIAL T01",
        submit(&mut unit, d).await,
        IA,
        &field,
    );
    let d = with(|d| {
        d.procurement.as_mut().unwrap().total = Some(pb::Decimal {
            value: "99999999999999999999".into(),
        })
    });
    cases.check(
        "20 digits in the procurement total",
        submit(&mut unit, d).await,
        IA,
        "disclosure.procurement.total",
    );
    let d = with(|d| {
        d.procurement.as_mut().unwrap().total = Some(pb::Decimal {
            value: "500000000000".into(),
        })
    });
    cases.check(
        "an amount beyond 10^15 元 in a section",
        submit(&mut unit, d).await,
        IA,
        "disclosure.procurement.total",
    );
    let d = with(|d| {
        d.cover.as_mut().unwrap().amount_unit = pb::AmountUnit::Yuan as i32;
        set_cell(d, "T05", "207", "total", "1000000000000001");
    });
    cases.check(
        "beyond 10^15 元 in a 元 disclosure",
        submit(&mut unit, d).await,
        IA,
        &t05,
    );
    let d = with(|d| {
        let cell = d.tables[4].rows[0].cells[0].clone();
        d.tables[4].rows[0].cells.push(cell);
    });
    let twice = format!(
        "disclosure.tables[4].rows[0].cells[{}].column",
        d.tables[4].rows[0].cells.len() - 1
    );
    cases.check("a cell given twice", submit(&mut unit, d).await, IA, &twice);

    // 2. Counts, lengths and sizes (the guard, before decoding).
    let d = with(|d| d.narrative = vec![pb::NarrativeSection::default(); 500_000]);
    cases.check(
        "500,000 empty narrative sections",
        submit(&mut unit, d).await,
        IA,
        "disclosure.narrative",
    );
    let d = with(|d| {
        d.narrative
            .extend(vec![pb::NarrativeSection::default(); 200])
    });
    cases.check(
        "201 narrative sections",
        submit(&mut unit, d).await,
        IA,
        "disclosure.narrative",
    );
    let d = with(|d| d.project_evaluations = vec![pb::ProjectEvaluation::default(); 200_000]);
    cases.check(
        "200,000 empty project evaluations",
        submit(&mut unit, d).await,
        IA,
        "disclosure.project_evaluations",
    );
    let d = with(|d| d.tables.extend(vec![pb::Table::default(); 30]));
    cases.check(
        "39 tables",
        submit(&mut unit, d).await,
        IA,
        "disclosure.tables",
    );
    let d = with(|d| d.tables[1].rows = vec![pb::Row::default(); 3_001]);
    cases.check(
        "3,001 rows",
        submit(&mut unit, d).await,
        IA,
        "disclosure.tables[1].rows",
    );
    let d = with(|d| d.tables[1].rows[0].cells = vec![pb::Cell::default(); 41]);
    cases.check(
        "41 cells in a row",
        submit(&mut unit, d).await,
        IA,
        "disclosure.tables[1].rows[0].cells",
    );
    let d = with(|d| d.project_evaluations[0].indicators = vec![pb::Indicator::default(); 201]);
    cases.check(
        "201 indicators",
        submit(&mut unit, d).await,
        IA,
        "disclosure.project_evaluations[0].indicators",
    );
    let d = with(|d| d.narrative[0].text = "文".repeat(70_000));
    cases.check(
        "a 210 KB narrative text",
        submit(&mut unit, d).await,
        IA,
        "disclosure.narrative[0].text",
    );
    let d = with(|d| d.cover.as_mut().unwrap().unit_name = "名".repeat(10_000));
    cases.check(
        "a 30 KB unit name",
        submit(&mut unit, d).await,
        IA,
        "disclosure.cover.unit_name",
    );
    let d = with(|d| d.tables[0].rows[0].label = "x".repeat(20_000));
    cases.check(
        "a 20 KB row label",
        submit(&mut unit, d).await,
        IA,
        "disclosure.tables[0].rows[0].label",
    );
    let d = with(|d| d.cover.as_mut().unwrap().unit_code = "6".repeat(4_000));
    cases.check(
        "a 4,000-character unit code",
        submit(&mut unit, d).await,
        IA,
        "disclosure.cover.unit_code",
    );
    let many_bad = with(|d| {
        for row in &mut d.tables[2].rows {
            for cell in &mut row.cells {
                cell.value = Some(pb::Decimal {
                    value: "x".repeat(300),
                });
            }
        }
    });
    let status = submit(&mut unit, many_bad).await.unwrap_err();
    let listed = status
        .get_error_details()
        .bad_request()
        .map_or(0, |b| b.field_violations.len());
    assert!(status.message().contains(" more)"), "{}", status.message());
    assert!(listed <= 20, "{listed} violations in the details");
    cases.check(
        "100+ bad cells, values echoed in part",
        Err(status),
        IA,
        "disclosure.tables[2].rows[0].cells[0].value",
    );
    let explanations = (0..501).map(|i| (format!("k{i}"), "x".into())).collect();
    let status = unit
        .submit(pb::SubmitRequest {
            explanations,
            ..submit_request("many", reference())
        })
        .await;
    cases.check("501 explanations", outcome(status), IA, "explanations");
    let status = unit
        .submit(pb::SubmitRequest {
            explanations: [("k".to_owned(), "文".repeat(8_000))].into(),
            ..submit_request("long", reference())
        })
        .await;
    cases.check(
        "a 24 KB explanation",
        outcome(status),
        IA,
        "explanations[0].value",
    );
    let status = unit
        .submit(submit_request(&"k".repeat(4_000), reference()))
        .await;
    cases.check(
        "a 4,000-character idempotency key",
        outcome(status),
        IA,
        "idempotency_key",
    );
    let status = unit.submit(submit_request("a key", reference())).await;
    cases.check(
        "an idempotency key with a space",
        outcome(status),
        IA,
        "idempotency_key",
    );
    let status = unit.submit(submit_request("", reference())).await;
    cases.check("no idempotency key", outcome(status), IA, "idempotency_key");
    let status = unit
        .submit(pb::SubmitRequest {
            explanations: [("ffffffffffffffff".to_owned(), "说明".to_owned())].into(),
            ..submit_request("explained", reference())
        })
        .await;
    cases.check(
        "an explanation of no finding",
        outcome(status),
        IA,
        "explanations[ffffffffffffffff]",
    );
    let status = unit
        .submit(pb::SubmitRequest {
            signature: vec![1, 2, 3],
            ..submit_request("signed", reference())
        })
        .await;
    cases.check(
        "a signature from a unit without a key",
        outcome(status),
        IA,
        "signature",
    );
    let d = with(|d| d.cover.as_mut().unwrap().report_type = 99);
    cases.check(
        "an unknown enum value",
        submit(&mut unit, d).await,
        IA,
        "disclosure.cover.report_type",
    );
    let d = with(|d| d.cover.as_mut().unwrap().fiscal_year = 1999);
    cases.check(
        "a fiscal year out of range",
        submit(&mut unit, d).await,
        IA,
        "disclosure.cover.fiscal_year",
    );
    cases.check(
        "no disclosure",
        outcome(
            unit.submit(pb::SubmitRequest {
                idempotency_key: "k".into(),
                ..Default::default()
            })
            .await,
        ),
        IA,
        "disclosure",
    );
    let d = pb::Disclosure {
        cover: reference().cover,
        ..Default::default()
    };
    cases.check(
        "an empty disclosure",
        submit(&mut unit, d).await,
        IA,
        "disclosure",
    );
    let d = with(|d| d.tables[0].code = "T10".into());
    cases.check(
        "an unknown table",
        submit(&mut unit, d).await,
        IA,
        "disclosure.tables[0].code",
    );
    let d = with(|d| d.tables[4].rows[0].code = "207069".into());
    cases.check(
        "an unknown row code",
        submit(&mut unit, d).await,
        IA,
        "disclosure.tables[4].rows[0].code",
    );
    let d = with(|d| d.tables[4].rows[0].cells[0].column = "totl".into());
    cases.check(
        "an unknown column",
        submit(&mut unit, d).await,
        IA,
        "disclosure.tables[4].rows[0].cells[0].column",
    );
    let d = with(|d| {
        let row = d.tables[4].rows[0].clone();
        d.tables[4].rows.push(row);
    });
    let duplicate = format!(
        "disclosure.tables[4].rows[{}].code",
        d.tables[4].rows.len() - 1
    );
    cases.check(
        "a duplicate row",
        submit(&mut unit, d).await,
        IA,
        &duplicate,
    );
    let d = with(|d| d.narrative[0].key = "nonsense".into());
    cases.check(
        "an unknown narrative section",
        submit(&mut unit, d).await,
        IA,
        "disclosure.narrative[0].key",
    );

    // 3. Encodings a decoder chokes on: INVALID_ARGUMENT, not INTERNAL.
    const VALIDATE: &str = "/juesuan.v1.Submissions/Validate";
    let mut bad_utf8_cover = vec![0x0a, 0x02, 0xff, 0xfe];
    let mut message = vec![0x0a, bad_utf8_cover.len() as u8];
    message.append(&mut bad_utf8_cover);
    let wrapped = [vec![0x0a, message.len() as u8], message].concat();
    cases.check(
        "invalid UTF-8 in a string",
        Err(raw(&app, &token, VALIDATE, frame(&wrapped, false), None).await),
        IA,
        "disclosure.cover.unit_code",
    );
    cases.check(
        "a truncated body",
        Err(raw(
            &app,
            &token,
            VALIDATE,
            frame(&wrapped, false)[..5].to_vec(),
            None,
        )
        .await),
        IA,
        "",
    );
    cases.check(
        "a frame longer than the body",
        Err(raw(&app, &token, VALIDATE, vec![0, 0, 0, 1, 0, 1, 2], None).await),
        IA,
        "",
    );
    cases.check(
        "an empty body",
        Err(raw(&app, &token, VALIDATE, Vec::new(), None).await),
        IA,
        "",
    );
    cases.check(
        "two frames",
        Err(raw(
            &app,
            &token,
            VALIDATE,
            [frame(&wrapped, false), frame(&wrapped, false)].concat(),
            None,
        )
        .await),
        IA,
        "",
    );
    let garbage: Vec<u8> = (0..1_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    cases.check(
        "garbage",
        Err(raw(&app, &token, VALIDATE, frame(&garbage, false), None).await),
        IA,
        "*",
    );
    // 5,000 group starts: a length of 5,000 is the varint 0x88 0x27.
    let groups: Vec<u8> = std::iter::repeat_n(0x0b_u8, 5_000).collect();
    cases.check(
        "5,000 nested groups",
        Err(raw(
            &app,
            &token,
            VALIDATE,
            frame(&[vec![0x0a, 0x88, 0x27], groups].concat(), false),
            None,
        )
        .await),
        IA,
        "disclosure.cover",
    );
    cases.check(
        "a bad wire type",
        Err(raw(&app, &token, VALIDATE, frame(&[0x0f, 0x00], false), None).await),
        IA,
        "disclosure",
    );
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &vec![0u8; 64 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    cases.check(
        "a gzip bomb",
        Err(raw(&app, &token, VALIDATE, frame(&bomb, true), Some("gzip")).await),
        IA,
        "",
    );
    cases.check(
        "gzip that does not inflate",
        Err(raw(
            &app,
            &token,
            VALIDATE,
            frame(b"not gzip at all", true),
            Some("gzip"),
        )
        .await),
        IA,
        "",
    );
    cases.check(
        "an unknown compression",
        Err(raw(&app, &token, VALIDATE, frame(b"x", true), Some("br")).await),
        Code::Unimplemented,
        "",
    );

    // 4. Sizes of other requests.
    let huge_unit = pb::Unit {
        name: "名".repeat(7_000_000),
        ..reference_unit()
    };
    let status = units
        .register_unit(pb::RegisterUnitRequest {
            unit: Some(huge_unit),
        })
        .await;
    cases.check("a 20 MB RegisterUnit", outcome(status), IA, "unit");
    let status = pb::consolidation_client::ConsolidationClient::new(app.channel().await)
        .get_consolidated(pb::GetConsolidatedRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2024,
            tables: vec!["T01".into(); 51],
            ..Default::default()
        })
        .await;
    cases.check("51 tables asked for", outcome(status), IA, "tables");
    let status = pb::consolidation_client::ConsolidationClient::new(app.channel().await)
        .get_consolidated(pb::GetConsolidatedRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2024,
            tables: vec!["表".repeat(1_000)],
            ..Default::default()
        })
        .await;
    cases.check(
        "an unknown table of 1,000 characters",
        outcome(status),
        IA,
        "tables[0]",
    );
    let status = pb::consolidation_client::ConsolidationClient::new(app.channel().await)
        .explain_cell(pb::ExplainCellRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2024,
            table: "T01".into(),
            row: "r".repeat(20_000),
            column: "amount".into(),
            ..Default::default()
        })
        .await;
    cases.check("a 20 KB row code", outcome(status), IA, "row");
    let status = pb::audit_client::AuditClient::new(app.channel().await)
        .list_events(pb::ListEventsRequest {
            limit: 5_000,
            ..Default::default()
        })
        .await;
    cases.check("5,000 events asked for", outcome(status), IA, "limit");
    let status = app
        .reviewer(DEPARTMENT)
        .await
        .revert(pb::RevertRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 1,
            reason: "由".repeat(2_001),
        })
        .await;
    cases.check("a 2,001-character reason", outcome(status), IA, "reason");
    let mut tokens = pb::tokens_client::TokensClient::new(app.channel().await);
    let status = tokens
        .issue_token(pb::IssueTokenRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::Admin(true)),
            }),
            label: "l".repeat(201),
            ..Default::default()
        })
        .await;
    cases.check("a 201-character token label", outcome(status), IA, "label");
    let status = tokens
        .issue_token(pb::IssueTokenRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::ServiceName("a service".into())),
            }),
            ..Default::default()
        })
        .await;
    cases.check(
        "a service name with a space",
        outcome(status),
        IA,
        "principal.service_name",
    );
    let status = tokens
        .issue_token(pb::IssueTokenRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::Unit(pb::UnitPrincipal {
                    unit_code: "NOPE".into(),
                    role: pb::Role::Reader as i32,
                })),
            }),
            ..Default::default()
        })
        .await;
    cases.check(
        "a token for an unregistered unit",
        outcome(status),
        IA,
        "principal.unit.unit_code",
    );
    let status = tokens
        .revoke_token(pb::RevokeTokenRequest {
            id: "z".repeat(5_000),
        })
        .await;
    cases.check("a 5,000-character token id", outcome(status), IA, "id");
    let status = units
        .set_signing_key(pb::SetSigningKeyRequest {
            unit_code: UNIT.into(),
            public_key: vec![4; 65],
        })
        .await;
    cases.check(
        "a public key that is not a point",
        outcome(status),
        IA,
        "public_key",
    );

    // 5. The registry: a tree that is always a forest.
    for (class, record, field) in [
        (
            "a parent in another fiscal region",
            pb::Unit {
                code: "652800101".into(),
                fiscal_region_code: "652800".into(),
                ..reference_unit()
            },
            "unit.parent_code",
        ),
        (
            "a department under a leaf unit",
            pb::Unit {
                code: "652300009".into(),
                parent_code: UNIT.into(),
                ..department()
            },
            "unit.parent_code",
        ),
        (
            "a region under a department",
            pb::Unit {
                code: "652301".into(),
                parent_code: DEPARTMENT.into(),
                fiscal_region_code: "652301".into(),
                is_region: true,
                is_department: false,
                unit_type: 0,
                ..department()
            },
            "unit.parent_code",
        ),
        (
            "an unregistered parent",
            pb::Unit {
                code: "652300102".into(),
                parent_code: "652300999".into(),
                ..reference_unit()
            },
            "unit.parent_code",
        ),
        (
            "valid_to before valid_from",
            pb::Unit {
                valid_to_year: 2020,
                ..reference_unit()
            },
            "unit.valid_to_year",
        ),
        (
            "a unit code with a space",
            pb::Unit {
                code: "6523 01".into(),
                ..reference_unit()
            },
            "unit.code",
        ),
        (
            "a region code of two digits",
            pb::Unit {
                fiscal_region_code: "65".into(),
                ..reference_unit()
            },
            "unit.fiscal_region_code",
        ),
        (
            "an unknown unit type",
            pb::Unit {
                unit_type: 99,
                ..reference_unit()
            },
            "unit.unit_type",
        ),
        (
            "a 201-character name",
            pb::Unit {
                name: "名".repeat(201),
                ..reference_unit()
            },
            "unit.name",
        ),
        (
            "a year before 2007",
            pb::Unit {
                valid_from_year: 1999,
                ..reference_unit()
            },
            "unit.valid_from_year",
        ),
        (
            "its own parent",
            pb::Unit {
                parent_code: UNIT.into(),
                ..reference_unit()
            },
            "unit.parent_code",
        ),
    ] {
        let status = units
            .register_unit(pb::RegisterUnitRequest { unit: Some(record) })
            .await;
        cases.check(class, outcome(status), IA, field);
    }

    assert!(
        cases.mismatches.is_empty(),
        "{}",
        cases.mismatches.join("\n")
    );
    assert!(cases.seen >= 60, "only {} classes", cases.seen);
    assert_eq!(app.count_rows("submissions").await, 0, "nothing stored");
    assert_eq!(app.count_rows("units").await, units_before);
    // And the server is still up and correct.
    let dry = unit
        .validate(pb::ValidateRequest {
            disclosure: Some(reference()),
        })
        .await
        .expect("still serving")
        .into_inner();
    assert_eq!(dry.report.unwrap().error_count, 3);
    let _ = admin;
}

#[tokio::test]
async fn a_configured_disclosure_limit_is_the_one_reported() {
    let app = TestApp::spawn_with(
        TempDir::new().unwrap(),
        Limits {
            max_disclosure_bytes: 1_000,
            ..Limits::default()
        },
    )
    .await;
    app.register_reference_units().await;
    let status = app
        .submitter(UNIT)
        .await
        .submit(submit_request("small", reference()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(first_field(&status), "disclosure");
    assert!(
        status.message().contains("the limit is 1000 bytes"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn gzip_requests_are_accepted() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app
        .submitter(UNIT)
        .await
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let stored = client
        .submit(submit_request("gzipped", reference()))
        .await
        .expect("a gzip request is accepted")
        .into_inner()
        .submission
        .unwrap();
    // The digest is of the disclosure's bytes, not of their compression.
    assert_eq!(
        stored.content_sm3,
        juesuan::domain::submission::content_digest(&reference().encode_to_vec())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_registrations_never_make_a_cycle() {
    let app = TestApp::spawn().await;
    let mut units = app.units().await;
    let root = department();
    units
        .register_unit(pb::RegisterUnitRequest { unit: Some(root) })
        .await
        .unwrap();
    let node = |code: &str, parent: &str| pb::Unit {
        code: code.into(),
        name: code.into(),
        parent_code: parent.into(),
        ..department()
    };
    for round in 0..100 {
        let (x, y) = (format!("X{round}"), format!("Y{round}"));
        for code in [&x, &y] {
            units
                .register_unit(pb::RegisterUnitRequest {
                    unit: Some(node(code, DEPARTMENT)),
                })
                .await
                .unwrap();
        }
        let mut a = units.clone();
        let mut b = units.clone();
        let (first, second) = tokio::join!(
            a.register_unit(pb::RegisterUnitRequest {
                unit: Some(node(&x, &y))
            }),
            b.register_unit(pb::RegisterUnitRequest {
                unit: Some(node(&y, &x))
            }),
        );
        assert!(
            first.is_err() || second.is_err(),
            "round {round}: both X→Y and Y→X were registered"
        );
    }
    // The tree lists, each unit once.
    let listed = units
        .list_units(pb::ListUnitsRequest {
            root_code: String::new(),
            fiscal_year: 2024,
        })
        .await
        .unwrap()
        .into_inner()
        .units;
    assert_eq!(listed.len(), 201);
}

#[tokio::test]
async fn a_cycle_across_years_is_refused_and_listing_stays_finite() {
    let app = TestApp::spawn().await;
    let mut units = app.units().await;
    let record = |code: &str, parent: &str, from: u32| pb::Unit {
        code: code.into(),
        name: code.into(),
        parent_code: parent.into(),
        valid_from_year: from,
        ..department()
    };
    for unit in [
        record("CA", "", 2024),
        record("CB", "", 2024),
        record("CA", "CB", 2025),
    ] {
        units
            .register_unit(pb::RegisterUnitRequest { unit: Some(unit) })
            .await
            .unwrap();
    }
    let status = units
        .register_unit(pb::RegisterUnitRequest {
            unit: Some(record("CB", "CA", 2024)),
        })
        .await
        .unwrap_err();
    assert_eq!(first_field(&status), "unit.parent_code");
    assert!(
        status.message().contains("cycle in the 2025 tree"),
        "{}",
        status.message()
    );
    for year in [2024, 2025] {
        let listed = units
            .list_units(pb::ListUnitsRequest {
                root_code: "CB".into(),
                fiscal_year: year,
            })
            .await
            .unwrap()
            .into_inner()
            .units;
        assert!(listed.len() <= 2, "{year}: {listed:?}");
    }
}

#[tokio::test]
async fn a_chain_of_sixteen_levels_registers_and_the_seventeenth_is_refused_with_the_depth() {
    let app = TestApp::spawn().await;
    let mut units = app.units().await;
    let mut parent = String::new();
    for level in 1..=16 {
        let code = format!("L{level:02}");
        units
            .register_unit(pb::RegisterUnitRequest {
                unit: Some(pb::Unit {
                    code: code.clone(),
                    name: code.clone(),
                    parent_code: parent.clone(),
                    ..department()
                }),
            })
            .await
            .unwrap_or_else(|s| panic!("level {level}: {s:?}"));
        parent = code;
    }
    let status = units
        .register_unit(pb::RegisterUnitRequest {
            unit: Some(pb::Unit {
                code: "L17".into(),
                name: "L17".into(),
                parent_code: parent,
                ..department()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(first_field(&status), "unit.parent_code");
    assert!(
        status.message().contains("17 levels deep") && status.message().contains("at most 16"),
        "{}",
        status.message()
    );
}

/// Figures within range whose sum is not: 93 units of 10^11 万元 under one department. The department's
/// consolidation names the cell instead of showing a wrapped total; each unit's own figures still show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_beyond_64_bits_is_named_never_wrapped() {
    let app = TestApp::spawn().await;
    let mut units = app.units().await;
    units
        .register_unit(pb::RegisterUnitRequest {
            unit: Some(department()),
        })
        .await
        .unwrap();
    let figure = "100000000000";
    for i in 0..93 {
        let code = format!("U{i:03}");
        units
            .register_unit(pb::RegisterUnitRequest {
                unit: Some(pb::Unit {
                    code: code.clone(),
                    name: code.clone(),
                    ..reference_unit()
                }),
            })
            .await
            .unwrap();
        let disclosure = pb::Disclosure {
            cover: Some(pb::Cover {
                unit_code: code.clone(),
                ..reference().cover.unwrap()
            }),
            tables: vec![pb::Table {
                code: "T01".into(),
                completeness: pb::TableCompleteness::Partial as i32,
                rows: vec![pb::Row {
                    code: "income_total".into(),
                    cells: vec![pb::Cell {
                        column: "amount".into(),
                        value: Some(pb::Decimal {
                            value: figure.into(),
                        }),
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let stored = app
            .submitter(&code)
            .await
            .submit(submit_request("big", disclosure))
            .await
            .unwrap_or_else(|s| panic!("{code}: {s:?}"))
            .into_inner()
            .submission
            .unwrap();
        assert_eq!(
            stored.report.as_ref().unwrap().error_count,
            0,
            "{:?}",
            stored.report
        );
        app.accept(DEPARTMENT, &code, stored.version).await;
    }
    let mut consolidation = pb::consolidation_client::ConsolidationClient::new(app.channel().await);
    let status = consolidation
        .get_consolidated(pb::GetConsolidatedRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2024,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status.message().contains("T01[income_total, amount]"),
        "{}",
        status.message()
    );
    let one = consolidation
        .get_consolidated(pb::GetConsolidatedRequest {
            node_code: "U000".into(),
            fiscal_year: 2024,
            ..Default::default()
        })
        .await
        .expect("a unit's own figures show")
        .into_inner();
    assert!(format!("{:?}", one.tables).contains(figure));
}
