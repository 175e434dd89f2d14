//! Compiles `proto/` into Rust with protox (a pure-Rust protobuf compiler, so no system `protoc` is needed) and
//! tonic-prost-build, and writes the file descriptor set that server reflection and the proto JSON mapping use.
//! Lists `taxonomy/` for the binary to embed, so that it runs without the source tree beside it.

use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from("proto");
    let mut protos: Vec<PathBuf> = fs::read_dir(proto_root.join("juesuan/v1"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    protos.retain(|p| p.extension().is_some_and(|ext| ext == "proto"));
    protos.sort();

    let descriptors = protox::compile(&protos, [&proto_root])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("juesuan_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Decodes each message from one slice (`src/api/codec.rs`).
        .codec_path("crate::api::codec::SliceCodec")
        .compile_fds(descriptors)?;

    embed_taxonomy(&out_dir)?;

    println!("cargo:rerun-if-changed=proto");
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }
    Ok(())
}

/// Writes `taxonomy_files.rs`: a slice of `(path under taxonomy/, include_str!(file))`, every file, in path order.
fn embed_taxonomy(out_dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("taxonomy");
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if fs::read_to_string(&path).is_ok() {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = String::from("&[\n");
    for path in &files {
        let relative = path
            .strip_prefix(&root)?
            .to_str()
            .ok_or("a taxonomy path that is not UTF-8")?;
        let relative = relative.replace('\\', "/");
        let absolute = path.to_str().ok_or("a taxonomy path that is not UTF-8")?;
        out.push_str(&format!(
            "    ({relative:?}, include_str!({absolute:?})),\n"
        ));
    }
    out.push_str("]\n");
    fs::write(out_dir.join("taxonomy_files.rs"), out)?;
    // A directory makes cargo rerun this script when anything under it changes.
    println!("cargo:rerun-if-changed=taxonomy");
    Ok(())
}
