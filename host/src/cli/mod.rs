//! Command-line entry points. Each subcommand lives in its own file.

mod plugin;
mod sim;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "callwasm",
    version,
    about = "Asterisk call router with WebAssembly routing plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check and try plugin components.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run the simulated Asterisk (ARI over HTTP and WebSocket) until interrupted.
    Sim(sim::SimArgs),
}

/// Exit code for input the command refuses (a bad plugin, a bad file).
pub const EXIT_BAD_INPUT: u8 = 2;

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CALLWASM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Sim(args) => sim::run(args),
    }
}
