//! Behaviour through the real gRPC server on port 0, with a real SQLite file in a temporary data directory.
//! One test binary (one compile); each module covers one service or concern.

// Shared by both binaries, each of which uses a part of it.
#[allow(dead_code)]
mod helpers;

/// This binary runs the suite on the embedded SQLite store.
const STORE: helpers::Backend = helpers::Backend::Sqlite;

mod abuse;
mod access;
mod audit;
mod bad_input;
mod browser;
mod budgets;
mod codes;
mod console;
mod consolidation;
mod demo;
mod deploy;
mod explanations;
mod health_reflection;
mod interop;
mod layers;
mod memory;
mod operations;
mod publication;
mod publication_check;
mod restart;
mod review;
mod submissions;
mod tls;
mod units;
mod walk;
mod web;
mod web_client;
mod workbook;
mod workbook_corpus;
mod years;
