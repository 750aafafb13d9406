//! `callwasm`: the router's command line.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
