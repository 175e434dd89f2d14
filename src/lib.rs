//! juesuan: a gRPC service for the yearly departmental final accounts (部门决算) of Chinese budget units.
//!
//! # Layout
//! Each layer depends only on those below it; `tests/api/layers.rs` checks that the domain imports no layer above.
//! - [`pb`]: the types and service stubs generated from `proto/juesuan/v1` (the wire contract).
//! - [`api`]: tonic services — convert a request, call a use case, map the error, convert the response.
//! - [`web`]: the web console beside gRPC (axum, maud pages, sessions) over the same use cases and policy.
//! - [`cli`]: the `juesuan` command's subcommands other than `serve` (the benchmarks in `cli::bench`).
//! - [`service`]: the use cases — submit, review, register, budgets, tokens, the audit trail, the event feed, the
//!   public document written and checked, and the consolidation kept current and checkpointed — each combining
//!   the domain with the store.
//! - [`domain`]: the pure model and its rules: disclosures, units, taxonomies, rules, validation, the consolidation
//!   arithmetic, access policy, review transitions, the audit chain's hashing; no gRPC, no SQL, no store.
//! - [`store`]: persistence behind one interface (SQLite embedded by default, PostgreSQL for replicas).
//! - [`workbook`]: the standard Excel workbooks (公开01–09 and a cover), written and read.
//! - [`publication`]: the public document (部门决算公开) written from a disclosure as HTML or Word, and a
//!   published one (.docx, .html, .txt, PDF) read back and checked.
//! - [`configuration`], [`telemetry`], [`metrics`], [`startup`]: settings, logs, Prometheus metrics, and the
//!   server's `run(listener, shutdown)`.
//! - [`synthetic`]: a generated prefecture with plausible disclosures, for `juesuan demo` and the benchmarks.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod configuration;
pub mod domain;
pub mod metrics;
pub mod publication;
pub mod service;
pub mod startup;
pub mod store;
pub mod synthetic;
pub mod telemetry;
pub mod web;
pub mod workbook;

/// Generated from `proto/juesuan/v1/*.proto`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("juesuan.v1");

    /// The encoded file descriptor set of the contracts, for server reflection and the proto JSON mapping.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("juesuan_descriptor");

    /// The contracts' descriptors, decoded once: the JSON mapping and the request guard read them.
    pub fn descriptor_pool() -> &'static prost_reflect::DescriptorPool {
        static POOL: std::sync::LazyLock<prost_reflect::DescriptorPool> =
            std::sync::LazyLock::new(|| {
                prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET)
                    .expect("the compiled descriptor set decodes")
            });
        &POOL
    }
}
