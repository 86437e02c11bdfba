//! The `pamform` binary: parse arguments, run the library, map the result to an exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(pamform::cli::main())
}
