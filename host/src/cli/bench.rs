//! `callwasm bench`: runs every benchmark of what a call costs the router and writes
//! docs/benchmarks.md, benchmarks.json and benchmarks.svg (see the `bench` module).

use callwasm::bench::{self, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Where to write benchmarks.md, benchmarks.json and benchmarks.svg.
    #[arg(long, default_value = "docs")]
    out: PathBuf,
    /// The shipped plugins' components. Default: <target>/wasm32-wasip2/plugin.
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// The Python and JavaScript examples' components. Default: <target>/examples-wasm.
    #[arg(long)]
    examples: Option<PathBuf>,
    /// A short run that checks the bench works (its figures are not for publishing).
    #[arg(long)]
    quick: bool,
    /// Offered rates to run the seed flow at, calls/s (default 250,500,1000,1500,2000).
    #[arg(long, value_delimiter = ',')]
    rates: Option<Vec<f64>>,
    /// Measure only the call store's cost: the router with the store on and off, alternating
    /// this many times at the first rate (default 1,000 calls/s). Prints; writes nothing.
    #[arg(long, value_name = "RUNS")]
    store: Option<usize>,
    /// Measure only scale-out: the calls/s 1, 2 and 3 routers sharing a throwaway
    /// PostgreSQL sustain, at the given rates (default 300,600,900,1200). Prints; writes nothing.
    #[arg(long)]
    scale: bool,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Runs the bench; `log_switch` lets it measure the `info` log's cost.
pub fn run(args: BenchArgs, log_switch: Box<bench::LogSwitch>) -> ExitCode {
    let options = Options {
        plugins: args
            .plugins
            .unwrap_or_else(|| target_dir().join("wasm32-wasip2/plugin")),
        examples: args
            .examples
            .unwrap_or_else(|| target_dir().join("examples-wasm")),
        quick: args.quick,
        rates: args.rates,
        command: std::iter::once("callwasm".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        log_switch: Some(log_switch),
    };
    if cfg!(debug_assertions) && !args.quick {
        eprintln!(
            "warning: a debug build; publishable figures come from `cargo run --release -p callwasm -- bench`"
        );
    }
    // The router and the floor client share this runtime; two threads, as on the 2-core
    // machine the targets are set for.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let progress = |line: &str| eprintln!("bench: {line}");
    if let Some(runs) = args.store {
        let rate = options
            .rates
            .as_ref()
            .and_then(|r| r.first().copied())
            .unwrap_or(1000.0);
        return match runtime.block_on(bench::store_cost(
            &options.plugins,
            rate,
            runs.max(1),
            &progress,
        )) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: the benchmark could not measure: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.scale {
        let rates = options
            .rates
            .clone()
            .unwrap_or_else(|| vec![300.0, 600.0, 900.0, 1200.0]);
        let cache = bench::scale::cache_dir();
        let measured = runtime.block_on(bench::scale::measure(
            &options.plugins.join("early_dial.wasm"),
            &cache,
            &rates,
            &progress,
        ));
        let _ = std::fs::remove_dir_all(&cache);
        return match measured {
            Ok(figure) => {
                for (routers, rate) in figure.sustained {
                    println!("{routers} router(s) sustained {rate:.0} calls/s");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: the benchmark could not measure: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let report = match runtime.block_on(bench::run(&options, &progress)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: the benchmark could not measure: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = bench::report::write(&report, &args.out) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    println!("figure | target | measured");
    for t in &report.targets {
        println!(
            "{} | {} | {} {}",
            t.what,
            t.target,
            t.measured,
            if t.met { "(met)" } else { "(MISSED)" }
        );
    }
    println!(
        "written: {}/benchmarks.md, benchmarks.json, benchmarks.svg",
        args.out.display()
    );
    ExitCode::SUCCESS
}
