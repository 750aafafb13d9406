//! `callwasm sim`: the simulated Asterisk as a standalone server, for plugin authors and for
//! trying the router without an Asterisk.

use super::EXIT_BAD_INPUT;
use callwasm::sim::{Sim, SimConfig};
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: SocketAddr,
    /// ARI user (Basic auth or api_key user:password).
    #[arg(long, default_value = "asterisk")]
    user: String,
    /// ARI password.
    #[arg(long, default_value = "asterisk")]
    password: String,
}

pub fn run(args: SimArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let config = SimConfig {
            listen: args.listen,
            user: args.user,
            password: args.password,
            ..SimConfig::default()
        };
        let sim = match Sim::start(config).await {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.listen);
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        };
        println!("simulated Asterisk listening: ARI at {}", sim.base_url());
        println!(
            "place a call: curl -u asterisk:asterisk -X POST 'http://{}/sim/calls?app=router&number=5550100&exten=100&args=alice'",
            sim.addr()
        );
        match tokio::signal::ctrl_c().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: waiting for Ctrl-C: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
