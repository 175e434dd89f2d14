//! The `juesuan` binary: everything is in the library; see `juesuan --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    juesuan::cli::main()
}
