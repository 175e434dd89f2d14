//! The `juesuan` binary: everything is in the library; see `juesuan --help`.
#![forbid(unsafe_code)]

/// mimalloc rather than the system allocator: validation and submission allocate many small, short-lived values
/// (findings, texts, decoded figures), and under concurrent submissions glibc's allocator also mapped and
/// unmapped large buffers for every call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    juesuan::cli::main()
}
