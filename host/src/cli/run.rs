//! `callwasm run --config FILE`: the router against real Asterisk servers, until Ctrl-C.

use super::EXIT_BAD_INPUT;

/// `callwasm run`'s exit status when the router stopped because it lost its lease.
pub const EXIT_FENCED: u8 = 3;
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

/// Asks the server for `GET /asterisk/info`. Err (the whole message) for answers retrying
/// cannot fix: a refused user (401, 403) or a URL that is not ARI (404). A server that cannot
/// be reached yet is only logged: the event stream keeps trying.
async fn probe(name: &str, server: &callwasm::router::config::Server) -> Result<(), String> {
    use callwasm::ari::{Auth, Rest, RestConfig};
    let rest = Rest::new(
        name,
        &RestConfig {
            base_url: server.url.clone(),
            auth: Auth::Basic {
                user: server.user.clone(),
                password: server.password.clone(),
            },
            pool_size: 1,
            timeout: std::time::Duration::from_millis(server.timeout_ms),
        },
    )
    .map_err(|e| format!("servers.{name}: {e}"))?;
    let (url, user) = (&server.url, &server.user);
    match rest.asterisk_info().await {
        Ok(_) => Ok(()),
        Err(e) => match e.status() {
            Some(401) | Some(403) => Err(format!(
                "servers.{name}: Asterisk at {url} refused user {user:?} ({}): check the user and password in the router's config against ari.conf",
                e.status().unwrap_or(0)
            )),
            Some(404) => Err(format!(
                "servers.{name}: {url} is not an ARI base URL (GET /asterisk/info answered 404): it ends in /ari, and http.conf must enable the HTTP server and ari.conf ARI"
            )),
            _ => {
                tracing::warn!(server = %name, %url, error = %callwasm::log_text::escaped(&e), "Asterisk not reachable yet; the event stream keeps trying");
                Ok(())
            }
        },
    }
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
            tracing::info!(tenant = %name, apps = ?tenant.apps, version = %tenant.versions.live().name(), "tenant loaded");
        }
        // An answer that retrying can never change stops the router here, naming what to fix;
        // an Asterisk that is not up yet is waited for.
        for (name, server) in &config.servers {
            if let Err(message) = probe(name, server).await {
                eprintln!("error: {message}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
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
        let fence = router.fence();
        let mut serving = tokio::spawn(router.run(shutdown));
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => match interrupted {
                Ok(()) => tracing::info!("interrupted; stopping"),
                Err(e) => tracing::error!(error = %e, "cannot wait for Ctrl-C; stopping"),
            },
            _ = &mut serving => {}
        }
        let _ = stop.send(true);
        if !serving.is_finished() {
            let _ = serving.await;
        }
        if fence.is_some_and(|f| f.is_lost()) {
            eprintln!("error: this router lost its lease in the call store (paused or cut off from the database past [cluster] lease_ms); another router carries its calls on. Restart it: it carries on those still its own.");
            return ExitCode::from(EXIT_FENCED);
        }
        ExitCode::SUCCESS
    })
}
