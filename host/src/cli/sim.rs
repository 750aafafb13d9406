//! `callwasm sim`: the simulated Asterisk as a standalone server, for plugin authors and for
//! trying the router without an Asterisk. A set-up file adds endpoint rules and generated
//! inbound traffic.

use super::EXIT_BAD_INPUT;
use callwasm::sim::{Sim, SimFile};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct SimArgs {
    /// Address to listen on (overrides the file's `listen`; port 0 picks a free port)
    /// [default: 127.0.0.1:8088]
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// ARI user (Basic auth or api_key user:password) [default: asterisk]
    #[arg(long)]
    user: Option<String>,
    /// ARI password [default: asterisk]
    #[arg(long)]
    password: Option<String>,
    /// Simulator set-up file (TOML): endpoint rules and generated traffic.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: SimArgs) -> ExitCode {
    let file = match &args.config {
        Some(path) => match SimFile::load(path) {
            Ok(file) => file,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
        None => SimFile::default(),
    };
    let mut config = file.config();
    config.listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8088)));
    if let Some(user) = args.user {
        config.user = user;
    }
    if let Some(password) = args.password {
        config.password = password;
    }
    let Some(runtime) = super::async_runtime() else {
        return ExitCode::FAILURE;
    };
    let credentials = (config.user.clone(), config.password.clone());
    runtime.block_on(async {
        let listen = config.listen;
        let sim = match Sim::start(config).await {
            Ok(sim) => std::sync::Arc::new(sim),
            Err(e) => {
                eprintln!("error: cannot listen on {listen}: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        };
        // Whoever reads stdout may stop reading (a test takes the first line): the simulator
        // goes on regardless, so nothing here may panic on a closed pipe.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "simulated Asterisk listening: ARI at {}", sim.base_url());
        let app = file
            .traffic
            .first()
            .map_or("acme", |t| t.app.as_str())
            .to_string();
        let _ = writeln!(
            out,
            "place a call: curl -u {user}:{password} -X POST 'http://{addr}/sim/calls?app={app}&number=5550100&exten=100&args=alice'",
            user = credentials.0,
            password = credentials.1,
            addr = sim.addr()
        );
        let _ = out.flush();
        for traffic in file.traffic {
            let sim = sim.clone();
            tokio::spawn(async move {
                match sim.run_traffic(&traffic).await {
                    // Whoever reads stdout may be gone; the simulator goes on regardless.
                    Ok(placed) => {
                        let _ = writeln!(
                            std::io::stdout(),
                            "traffic into {}: {} calls placed",
                            traffic.app,
                            placed.channels.len()
                        );
                    }
                    Err(e) => eprintln!("error: traffic into {}: {e}", traffic.app),
                }
            });
        }
        match tokio::signal::ctrl_c().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: waiting for Ctrl-C: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
