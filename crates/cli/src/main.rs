//! `lenaguard`: see `lenaguard --help` and the README.
#![forbid(unsafe_code)]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    lenaguard_cli::main()
}
