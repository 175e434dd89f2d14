//! The end-to-end suite of `tests/api`, the same modules compiled a second time against the PostgreSQL store: each
//! test gets a database of its own on the server JUESUAN_TEST_DATABASE_URL names (`.ci/postgres.sh` starts one).
//! Without it, this binary says it skipped and succeeds. Modules that do not touch the store (deployment files,
//! TLS, the interop client, the demo, memory bounds, metrics) run only in `tests/api`.

// Shared by both binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

/// This binary runs the suite on PostgreSQL.
const STORE: helpers::Backend = helpers::Backend::Postgres;

#[path = "../api/abuse.rs"]
mod abuse;
#[path = "../api/access.rs"]
mod access;
#[path = "../api/audit.rs"]
mod audit;
#[path = "../api/bad_input.rs"]
mod bad_input;
#[path = "../api/budgets.rs"]
mod budgets;
#[path = "../api/codes.rs"]
mod codes;
#[path = "../api/consolidation.rs"]
mod consolidation;
#[path = "../api/explanations.rs"]
mod explanations;
#[path = "../api/health_reflection.rs"]
mod health_reflection;
#[path = "../api/replicas.rs"]
mod replicas;
#[path = "../api/restart.rs"]
mod restart;
#[path = "../api/review.rs"]
mod review;
#[path = "../api/submissions.rs"]
mod submissions;
#[path = "../api/units.rs"]
mod units;
#[path = "../api/walk.rs"]
mod walk;
#[path = "../api/years.rs"]
mod years;
