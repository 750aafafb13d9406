//! Command-line entry points. Each subcommand lives in its own file.

mod admin_client;
mod bench;
mod demo;
mod plugin;
mod plugin_new;
mod run;
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
    /// The level of callwasm's own log lines: error, warn, info, debug or trace (default info;
    /// warn for demo and bench). Other crates log at warn. `CALLWASM_LOG`, when set, overrides
    /// this with a full filter (such as `callwasm=debug,hyper=info`).
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<tracing::Level>,
    /// More detail: -v is debug (every event, the plugin's commands, every ARI request), -vv
    /// trace.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Check and try plugin components.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run the simulated Asterisk (ARI over HTTP and WebSocket) until interrupted.
    Sim(sim::SimArgs),
    /// Run the router against the Asterisk servers of a config file, until interrupted.
    Run(run::RunArgs),
    /// Run the router on its embedded default: the simulated Asterisk in this process, the
    /// shipped plugins, generated calls; prints what happens and a summary.
    Demo(demo::DemoArgs),
    /// Measure what a call costs the router (dispatch, the seed flow against the floor, memory)
    /// and write docs/benchmarks.md, .json and .svg.
    Bench(bench::BenchArgs),
    /// Compile a component for this build's engine (the router runs this in a child process
    /// with CPU and memory limits; not for operators).
    #[command(hide = true)]
    CompileComponent {
        input: std::path::PathBuf,
        output: std::path::PathBuf,
    },
}

/// Installs the process's log: callwasm's own lines at `level` and other crates' at warn
/// (or `CALLWASM_LOG`'s filter), on stderr, coloured only on a terminal. Returns the switch the
/// bench uses to send the lines to a file at `info` for one measurement and back.
fn init_log(level: &str) -> Box<callwasm::bench::LogSwitch> {
    use std::io::IsTerminal;
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    use tracing_subscriber::{EnvFilter, fmt, prelude::*, reload};
    let own = format!("warn,callwasm={level}");
    let started_with = std::env::var("CALLWASM_LOG")
        .ok()
        .filter(|f| EnvFilter::try_new(f).is_ok())
        .unwrap_or(own);
    let (filter, filters) = reload::Layer::new(EnvFilter::new(&started_with));
    let to_stderr = || {
        fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(BoxMakeWriter::new(std::io::stderr))
    };
    let (lines, writers) = reload::Layer::new(to_stderr());
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .init();
    Box::new(move |to: Option<&std::path::Path>| {
        let (filter, layer) = match to {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .map_err(|e| format!("cannot write the log to {}: {e}", path.display()))?;
                let layer = fmt::layer()
                    .with_ansi(false)
                    .with_writer(BoxMakeWriter::new(std::sync::Arc::new(file)));
                ("warn,callwasm=info".to_string(), layer)
            }
            None => (started_with.clone(), to_stderr()),
        };
        writers
            .reload(layer)
            .and_then(|()| filters.reload(EnvFilter::new(filter)))
            .map_err(|e| format!("cannot switch the log: {e}"))
    })
}

/// Exit code for input the command refuses (a bad plugin, a bad file).
pub const EXIT_BAD_INPUT: u8 = 2;

/// The async runtime a long-running command runs on; None (after saying why) when the OS
/// refuses it.
fn async_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Runtime::new() {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints its own story; the log only speaks up for trouble there.
    let default_level = match cli.command {
        Command::Demo(_) | Command::Bench(_) | Command::CompileComponent { .. } => {
            tracing::Level::WARN
        }
        _ => tracing::Level::INFO,
    };
    let level = match cli.verbose {
        0 => cli.log_level.unwrap_or(default_level),
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let log_switch = init_log(&level.to_string().to_ascii_lowercase());
    match cli.command {
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Sim(args) => sim::run(args),
        Command::Run(args) => run::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args, log_switch),
        Command::CompileComponent { input, output } => {
            match callwasm::runtime::compile_component_file(&input, &output) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            }
        }
    }
}
