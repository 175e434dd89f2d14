//! Settings of `juesuan serve`, from flags or the environment (JUESUAN_*), with defaults that run on a fresh
//! machine with nothing else installed.

use std::{net::SocketAddr, path::PathBuf};

use crate::domain::submission::Limits;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_DATA_DIR: &str = "data";

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub taxonomy_dir: PathBuf,
    pub limits: Limits,
}

/// Where the taxonomies are when no directory is given: `./taxonomy` when it exists (a checkout, or a deployment
/// that ships the data beside the binary), else the taxonomy of the source tree the binary was built from.
pub fn default_taxonomy_dir() -> PathBuf {
    let local = PathBuf::from("taxonomy");
    if local.is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("taxonomy")
    }
}
