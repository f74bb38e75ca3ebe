//! `lenaguard`: see `lenaguard --help` and the README.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    lenaguard_cli::main()
}
