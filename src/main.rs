//! The `drydock` binary: everything lives in the library; this only hands over.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    drydock::cli::main()
}
