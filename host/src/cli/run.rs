//! `callwasm run --config FILE`: the router against real Asterisk servers, until Ctrl-C.

use super::EXIT_BAD_INPUT;
use callwasm::router::Router;
use callwasm::router::config::Config;
use callwasm::router::observe::Observer;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The router's configuration (TOML; see examples/router.toml).
    #[arg(long)]
    config: PathBuf,
}

pub fn run(args: RunArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let Some(runtime) = super::async_runtime() else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(async {
        let router = match Router::new(&config, Observer::none()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        };
        for (name, tenant) in router.tenants().iter() {
            tracing::info!(tenant = %name, apps = ?tenant.apps, version = %tenant.versions.live().name(), "tenant ready");
        }
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        if let Some(admin) = &config.admin {
            match callwasm::admin::Admin::bind(admin.listen, &admin.token, router.tenants(), router.table()).await {
                Ok(api) => {
                    if let Ok(addr) = api.addr() {
                        tracing::info!(%addr, "admin API listening");
                    }
                    tokio::spawn(api.serve(shutdown.clone()));
                }
                Err(e) => {
                    eprintln!("error: admin.listen {}: {e}", admin.listen);
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            }
        }
        let serving = tokio::spawn(router.run(shutdown));
        match tokio::signal::ctrl_c().await {
            Ok(()) => tracing::info!("interrupted; stopping"),
            Err(e) => tracing::error!(error = %e, "cannot wait for Ctrl-C; stopping"),
        }
        let _ = stop.send(true);
        let _ = serving.await;
        ExitCode::SUCCESS
    })
}
