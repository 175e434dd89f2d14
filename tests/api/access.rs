//! Who may call what: one table, every RPC of every juesuan.v1 service against every kind of caller, with the
//! code each gets. An RPC added to the contract without a row here fails `every_rpc_has_a_row`.

use std::{collections::BTreeSet, future::Future, pin::Pin, time::Duration};

use juesuan::{cli::client::Conn, pb};
use prost::Message;
use tonic::Code;

use crate::helpers::{DEPARTMENT, TestApp, UNIT, reference, submit_request};

const SIBLING: &str = "652300102";
const GRANDPARENT: &str = "652300-G";
const REGION: &str = "652300";
const OTHER_REGION: &str = "652800";

/// The callers, in the order of a row's expected codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// The unit's own submitter.
    Own,
    /// A sibling unit's submitter.
    Sibling,
    /// The unit's parent department's reviewer.
    Parent,
    /// The department above that (the grandparent) — its reviewer.
    Grandparent,
    /// Another prefecture's region reviewer.
    OtherRegion,
    /// A service principal.
    Service,
    Admin,
    /// The own unit's token after it expired.
    Expired,
    /// The own unit's token after it was revoked.
    Revoked,
    /// Not a token.
    Malformed,
    /// No credentials.
    None,
}

const CALLERS: [Caller; 11] = [
    Caller::Own,
    Caller::Sibling,
    Caller::Parent,
    Caller::Grandparent,
    Caller::OtherRegion,
    Caller::Service,
    Caller::Admin,
    Caller::Expired,
    Caller::Revoked,
    Caller::Malformed,
    Caller::None,
];

fn unit(code: &str, parent: &str, region: &str, kind: &str) -> pb::Unit {
    pb::Unit {
        code: code.into(),
        name: format!("单位 {code}"),
        valid_from_year: 2024,
        budget_level: pb::BudgetLevel::Prefecture as i32,
        unit_type: if kind == "region" {
            pb::UnitType::Unspecified
        } else {
            pb::UnitType::Administrative
        } as i32,
        parent_code: parent.into(),
        supervising_department_code: if kind == "unit" {
            parent.into()
        } else {
            String::new()
        },
        fiscal_region_code: region.into(),
        is_department: kind == "department",
        is_region: kind == "region",
        valid_to_year: 0,
    }
}

/// R (region) → G (department) → D (department) → U, S; and another prefecture's region.
fn tree() -> Vec<pb::Unit> {
    vec![
        unit(REGION, "", REGION, "region"),
        unit(GRANDPARENT, REGION, REGION, "department"),
        unit(DEPARTMENT, GRANDPARENT, REGION, "department"),
        unit(UNIT, DEPARTMENT, REGION, "unit"),
        unit(SIBLING, DEPARTMENT, REGION, "unit"),
        unit(OTHER_REGION, "", OTHER_REGION, "region"),
    ]
}

fn now_plus(ms: i64) -> prost_types::Timestamp {
    let now = juesuan::domain::audit::now_ms() + ms;
    prost_types::Timestamp {
        seconds: now.div_euclid(1000),
        nanos: (now.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A served tree with a connection per caller.
struct World {
    app: TestApp,
}

impl World {
    async fn new() -> World {
        let app = TestApp::spawn().await;
        let mut units = app.units().await;
        for u in tree() {
            units
                .register_unit(pb::RegisterUnitRequest { unit: Some(u) })
                .await
                .expect("the tree registers");
        }
        World { app }
    }

    /// Connections for every caller, in `CALLERS` order. The expired token is issued to expire in a second,
    /// and this waits for it.
    async fn connections(&self) -> Vec<Conn> {
        let app = &self.app;
        let tokens = pb::tokens_client::TokensClient::new(app.channel().await);
        let issue = |kind: pb::principal::Kind, expires_at: Option<prost_types::Timestamp>| {
            let mut tokens = tokens.clone();
            async move {
                tokens
                    .issue_token(pb::IssueTokenRequest {
                        principal: Some(pb::Principal { kind: Some(kind) }),
                        expires_at,
                        label: String::new(),
                    })
                    .await
                    .expect("issued")
                    .into_inner()
            }
        };
        let own_kind = pb::principal::Kind::Unit(pb::UnitPrincipal {
            unit_code: UNIT.into(),
            role: pb::Role::Submitter as i32,
        });
        let expired = issue(own_kind.clone(), Some(now_plus(1_000))).await.secret;
        let revoked = issue(own_kind, None).await;
        tokens
            .clone()
            .revoke_token(pb::RevokeTokenRequest {
                id: revoked.token.unwrap().id,
            })
            .await
            .expect("revoked");
        let service = issue(
            pb::principal::Kind::ServiceName("budget-system".into()),
            None,
        )
        .await
        .secret;
        let mut out = Vec::new();
        for caller in CALLERS {
            let token = match caller {
                Caller::Own => app.token(UNIT, pb::Role::Submitter).await,
                Caller::Sibling => app.token(SIBLING, pb::Role::Submitter).await,
                Caller::Parent => app.token(DEPARTMENT, pb::Role::Reviewer).await,
                Caller::Grandparent => app.token(GRANDPARENT, pb::Role::Reviewer).await,
                Caller::OtherRegion => app.token(OTHER_REGION, pb::Role::Reviewer).await,
                Caller::Service => service.clone(),
                Caller::Admin => app.admin_token.clone(),
                Caller::Expired => expired.clone(),
                Caller::Revoked => revoked.secret.clone(),
                Caller::Malformed => "juesuan_not-a-token".into(),
                Caller::None => String::new(),
            };
            out.push(if caller == Caller::None {
                tonic::service::interceptor::InterceptedService::new(
                    app.anonymous().await,
                    juesuan::cli::client::Bearer::none(),
                )
            } else {
                app.as_token(&token).await
            });
        }
        // Let the expired token expire.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        out
    }
}

type Call = Box<dyn Fn(Conn) -> Pin<Box<dyn Future<Output = Code> + Send>> + Send + Sync>;

/// A call's outcome as a code.
fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// A call of `method` on a client of type `$client` with `request` (cloned for each caller).
macro_rules! call {
    ($client:ty, $method:ident, $request:expr) => {{
        let request = $request;
        Box::new(move |conn: Conn| {
            let request = request.clone();
            Box::pin(async move {
                let mut client = <$client>::new(conn)
                    .max_decoding_message_size(64 << 20)
                    .max_encoding_message_size(64 << 20);
                code(client.$method(request).await)
            }) as Pin<Box<dyn Future<Output = Code> + Send>>
        }) as Call
    }};
}

use Code::{
    FailedPrecondition as FP, InvalidArgument as IA, NotFound as NF, Ok as OK,
    PermissionDenied as PD,
};

type Units = pb::unit_registry_client::UnitRegistryClient<Conn>;
type Subs = pb::submissions_client::SubmissionsClient<Conn>;
type Cons = pb::consolidation_client::ConsolidationClient<Conn>;
type Rev = pb::review_client::ReviewClient<Conn>;
type Aud = pb::audit_client::AuditClient<Conn>;
type Tok = pb::tokens_client::TokensClient<Conn>;
type Bud = pb::budgets_client::BudgetsClient<Conn>;
type Evt = pb::events_client::EventsClient<Conn>;
type Pub = pb::publications_client::PublicationsClient<Conn>;

/// One row: the RPC, the call made, and the code each caller gets (own, sibling, parent, grandparent, other
/// region, service, admin); expired, revoked, malformed and missing credentials get UNAUTHENTICATED everywhere.
fn rows() -> Vec<(&'static str, Call, [Code; 7])> {
    let key = juesuan::domain::signing::public_key_of(
        &juesuan::domain::signing::parse_private_key(&[7u8; 32]).unwrap(),
    );
    let long = "长".repeat(2_001);
    vec![
        (
            "UnitRegistry/RegisterUnit",
            call!(
                Units,
                register_unit,
                pb::RegisterUnitRequest {
                    unit: Some(unit(UNIT, DEPARTMENT, REGION, "unit")),
                }
            ),
            [PD, PD, PD, PD, PD, PD, OK],
        ),
        (
            "UnitRegistry/GetUnit",
            call!(
                Units,
                get_unit,
                pb::GetUnitRequest {
                    code: UNIT.into(),
                    fiscal_year: 2024,
                }
            ),
            [OK, PD, OK, OK, PD, OK, OK],
        ),
        (
            "UnitRegistry/ListUnits",
            call!(
                Units,
                list_units,
                pb::ListUnitsRequest {
                    root_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                }
            ),
            [PD, PD, OK, OK, PD, OK, OK],
        ),
        (
            "UnitRegistry/SetSigningKey",
            {
                call!(
                    Units,
                    set_signing_key,
                    pb::SetSigningKeyRequest {
                        unit_code: UNIT.into(),
                        public_key: key.clone(),
                    }
                )
            },
            // The unit sets its first key itself; after that only an administrator (or its region's reviewer)
            // may replace it.
            [OK, PD, PD, PD, PD, PD, OK],
        ),
        (
            "Submissions/Validate",
            call!(
                Subs,
                validate,
                pb::ValidateRequest {
                    disclosure: Some(reference()),
                }
            ),
            [OK, PD, OK, OK, PD, OK, OK],
        ),
        (
            "Submissions/Submit",
            // Against a version that is not current: refused after authorization, nothing stored.
            call!(
                Subs,
                submit,
                pb::SubmitRequest {
                    expected_current_version: Some(7),
                    ..submit_request("matrix", reference())
                }
            ),
            [FP, PD, PD, PD, PD, PD, PD],
        ),
        (
            "Submissions/GetSubmission",
            call!(
                Subs,
                get_submission,
                pb::GetSubmissionRequest {
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                    ..Default::default()
                }
            ),
            [NF, PD, NF, NF, PD, NF, NF],
        ),
        (
            "Submissions/ListSubmissions",
            call!(
                Subs,
                list_submissions,
                pb::ListSubmissionsRequest {
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                }
            ),
            [OK, PD, OK, OK, PD, OK, OK],
        ),
        (
            "Submissions/ExplainFindings",
            call!(
                Subs,
                explain_findings,
                pb::ExplainFindingsRequest {
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                    version: 0,
                    explanations: [("k".to_owned(), "说明".to_owned())].into(),
                }
            ),
            [NF, PD, PD, PD, PD, PD, PD],
        ),
        (
            "Consolidation/GetConsolidated",
            call!(
                Cons,
                get_consolidated,
                pb::GetConsolidatedRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                    ..Default::default()
                }
            ),
            [PD, PD, OK, OK, PD, OK, OK],
        ),
        (
            "Consolidation/ExplainCell",
            call!(
                Cons,
                explain_cell,
                pb::ExplainCellRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                    table: "T01".into(),
                    row: "income_total".into(),
                    column: "amount".into(),
                    ..Default::default()
                }
            ),
            [PD, PD, OK, OK, PD, OK, OK],
        ),
        (
            "Consolidation/GetCompleteness",
            call!(
                Cons,
                get_completeness,
                pb::GetCompletenessRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                }
            ),
            [PD, PD, OK, OK, PD, OK, OK],
        ),
        (
            "Consolidation/CompareReported",
            call!(
                Cons,
                compare_reported,
                pb::CompareReportedRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                }
            ),
            [PD, PD, NF, NF, PD, NF, NF],
        ),
        (
            "Review/Accept",
            call!(
                Rev,
                accept,
                pb::AcceptRequest {
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                    version: 1,
                    comment: String::new(),
                }
            ),
            // Only the parent's reviewer; there is no version 1 to accept.
            [PD, PD, NF, PD, PD, PD, PD],
        ),
        (
            "Review/Return",
            call!(
                Rev,
                r#return,
                pb::ReturnRequest {
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                    version: 1,
                    reason: "请补充说明".into(),
                }
            ),
            [PD, PD, NF, PD, PD, PD, PD],
        ),
        (
            "Review/Revert",
            call!(
                Rev,
                revert,
                pb::RevertRequest {
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                    version: 1,
                    reason: "恢复".into(),
                }
            ),
            [PD, PD, NF, PD, PD, PD, PD],
        ),
        (
            "Review/Lock",
            {
                // A comment over the limit: refused after authorization, nothing locked.
                call!(
                    Rev,
                    lock,
                    pb::LockRequest {
                        node_code: DEPARTMENT.into(),
                        fiscal_year: 2024,
                        comment: long.clone(),
                    }
                )
            },
            [PD, PD, IA, IA, PD, PD, PD],
        ),
        (
            "Review/Unlock",
            call!(
                Rev,
                unlock,
                pb::UnlockRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                    reason: "重新打开".into(),
                }
            ),
            // Not locked: those who may lock it learn so; nobody else learns anything.
            [PD, PD, FP, FP, PD, PD, PD],
        ),
        (
            "Review/ListPending",
            call!(
                Rev,
                list_pending,
                pb::ListPendingRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                }
            ),
            [PD, PD, OK, OK, PD, OK, OK],
        ),
        (
            "Audit/ListEvents",
            call!(
                Aud,
                list_events,
                pb::ListEventsRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                    ..Default::default()
                }
            ),
            [PD, PD, OK, OK, PD, OK, OK],
        ),
        (
            "Audit/VerifyChain",
            call!(Aud, verify_chain, pb::VerifyChainRequest::default()),
            [PD, PD, PD, PD, PD, PD, OK],
        ),
        (
            "Audit/GetHead",
            call!(Aud, get_head, pb::GetHeadRequest {}),
            [PD, PD, PD, PD, PD, PD, OK],
        ),
        (
            "Tokens/IssueToken",
            call!(
                Tok,
                issue_token,
                pb::IssueTokenRequest {
                    principal: Some(pb::Principal {
                        kind: Some(pb::principal::Kind::ServiceName("another".into())),
                    }),
                    ..Default::default()
                }
            ),
            [PD, PD, PD, PD, PD, PD, OK],
        ),
        (
            "Tokens/ListTokens",
            call!(Tok, list_tokens, pb::ListTokensRequest {}),
            [PD, PD, PD, PD, PD, PD, OK],
        ),
        (
            "Tokens/RevokeToken",
            call!(
                Tok,
                revoke_token,
                pb::RevokeTokenRequest {
                    id: "000000000000".into(),
                }
            ),
            [PD, PD, PD, PD, PD, PD, NF],
        ),
        (
            "Tokens/WhoAmI",
            call!(Tok, who_am_i, pb::WhoAmIRequest {}),
            [OK, OK, OK, OK, OK, OK, OK],
        ),
        (
            "Budgets/PutBudget",
            call!(
                Bud,
                put_budget,
                pb::PutBudgetRequest {
                    idempotency_key: "budget-1".into(),
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                    figures: vec![pb::BudgetFigure {
                        table: "T05".into(),
                        row: "total".into(),
                        column: "total".into(),
                        value: Some(pb::Decimal {
                            value: "100.00".into(),
                        }),
                    }],
                }
            ),
            // Budget systems only: a service principal.
            [PD, PD, PD, PD, PD, OK, PD],
        ),
        (
            "Budgets/GetBudget",
            call!(
                Bud,
                get_budget,
                pb::GetBudgetRequest {
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                    version: 0,
                }
            ),
            // Whoever may read the unit; none is stored here.
            [NF, PD, NF, NF, PD, NF, NF],
        ),
        (
            "Events/Watch",
            call!(
                Evt,
                watch,
                pb::WatchRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                    after_cursor: 0,
                }
            ),
            // Readers of the department's subtree.
            [PD, PD, OK, OK, PD, OK, OK],
        ),
        (
            "Publications/PublishDisclosure",
            call!(
                Pub,
                publish_disclosure,
                pb::PublishDisclosureRequest {
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                    format: pb::DocumentFormat::Docx as i32,
                }
            ),
            // Readers of the unit learn it has no accepted version yet; nobody else learns anything.
            [FP, PD, FP, FP, PD, FP, FP],
        ),
        (
            "Publications/CheckPublication",
            call!(
                Pub,
                check_publication,
                pb::CheckPublicationRequest {
                    document: "<html><body><p>单位 652300101 2024年度部门决算</p></body></html>"
                        .into(),
                    file_name: "公开.html".into(),
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                }
            ),
            // Against the unit's accepted figures: its readers (none is accepted here).
            [FP, PD, FP, FP, PD, FP, FP],
        ),
        (
            "Publications/CheckPublication",
            call!(
                Pub,
                check_publication,
                pb::CheckPublicationRequest {
                    document: "<html><body><p>单位 652300101 2024年度部门决算</p></body></html>"
                        .into(),
                    file_name: "公开.html".into(),
                    ..Default::default()
                }
            ),
            // A document on its own reads nothing stored: anyone signed in.
            [OK, OK, OK, OK, OK, OK, OK],
        ),
    ]
}

/// Every method of every juesuan.v1 service in the contract, as "Service/Method".
fn contract_methods() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    set.file
        .iter()
        .filter(|f| f.package() == "juesuan.v1")
        .flat_map(|f| f.service.iter())
        .flat_map(|s| {
            s.method
                .iter()
                .map(move |m| format!("{}/{}", s.name(), m.name()))
        })
        .collect()
}

#[test]
fn every_rpc_has_a_row() {
    let rows: BTreeSet<String> = rows().into_iter().map(|(n, _, _)| n.to_owned()).collect();
    let contract = contract_methods();
    let missing: Vec<&String> = contract.difference(&rows).collect();
    let stale: Vec<&String> = rows.difference(&contract).collect();
    assert!(
        missing.is_empty(),
        "RPCs without a row in the authorization matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for RPCs the contract lacks: {stale:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_matrix() {
    // Each row on a fresh server, so that what one allowed call changes cannot decide another row; the rows run
    // side by side, a few at a time: each server loads the year's taxonomy and opens its own store, and on a
    // two-core machine forty of them at once starve the store's connection pool past its acquire timeout.
    let servers_at_once = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, _) in rows().into_iter().enumerate() {
        let servers_at_once = servers_at_once.clone();
        tasks.spawn(async move {
            let _permit = servers_at_once.acquire_owned().await.expect("never closed");
            let (name, call, expected) = rows().swap_remove(index);
            let world = World::new().await;
            let connections = world.connections().await;
            let mut mismatches = Vec::new();
            for (caller, conn) in CALLERS.iter().zip(connections) {
                let want = match caller {
                    Caller::Expired | Caller::Revoked | Caller::Malformed | Caller::None => {
                        Code::Unauthenticated
                    }
                    _ => expected[*caller as usize],
                };
                let got = call(conn).await;
                if got != want {
                    mismatches.push(format!(
                        "{name} as {caller:?}: expected {want:?}, got {got:?}"
                    ));
                }
            }
            // An allowed Submit against the wrong version stored nothing.
            if name == "Submissions/Submit" {
                assert_eq!(world.app.count_rows("submissions").await, 0);
            }
            mismatches
        });
    }
    let mut mismatches = Vec::new();
    while let Some(result) = tasks.join_next().await {
        mismatches.extend(result.expect("a row ran"));
    }
    mismatches.sort();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn a_denial_says_who_asked_what_and_never_leaks_the_token() {
    let world = World::new().await;
    let token = world.app.token(SIBLING, pb::Role::Submitter).await;
    let status = pb::submissions_client::SubmissionsClient::new(world.app.as_token(&token).await)
        .submit(submit_request("k", reference()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status
            .message()
            .starts_with(&format!("unit:{SIBLING}/submitter token:")),
        "{}",
        status.message()
    );
    assert!(
        status
            .message()
            .ends_with(&format!("may not submit for {UNIT} in 2024"))
    );
    let secret = token.rsplit('_').next().unwrap();
    assert!(!status.message().contains(secret));
    // The same token with its last digit changed (to another digit whatever it was): unknown.
    let last = if token.ends_with('0') { '1' } else { '0' };
    let unauthenticated = pb::tokens_client::TokensClient::new(
        world
            .app
            .as_token(&format!("{}{last}", &token[..token.len() - 1]))
            .await,
    )
    .who_am_i(pb::WhoAmIRequest {})
    .await
    .unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);
    assert_eq!(unauthenticated.message(), "the token is not known");
}

#[tokio::test]
async fn idempotency_keys_are_the_units_own() {
    let world = World::new().await;
    let app = &world.app;
    // B (the sibling) squats the key the unit's CLI would use by default: the SM3 of the published disclosure.
    let key = format!(
        "sm3:{}",
        juesuan::domain::submission::content_digest(&reference().encode_to_vec())
    );
    let mut sibling_disclosure = reference();
    let cover = sibling_disclosure.cover.as_mut().unwrap();
    cover.unit_code = SIBLING.into();
    cover.unit_name = "另一单位".into();
    let squatted = app
        .submitter(SIBLING)
        .await
        .submit(submit_request(&key, sibling_disclosure))
        .await
        .expect("the sibling submits")
        .into_inner();
    assert_eq!(squatted.submission.unwrap().unit_code, SIBLING);

    // The unit's own submit under the same key is its own first version, and says nothing of the sibling's.
    let own = app
        .submitter(UNIT)
        .await
        .submit(submit_request(&key, reference()))
        .await
        .expect("the unit's submit is not blocked")
        .into_inner();
    assert!(!own.replayed);
    let submission = own.submission.unwrap();
    assert_eq!(
        (submission.unit_code.as_str(), submission.version),
        (UNIT, 1)
    );
    assert!(!format!("{submission:?}").contains(SIBLING));
    assert_eq!(app.count_rows("submissions").await, 2);
}
