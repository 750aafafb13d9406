//! Plugin directories: a tenant's `watch` directory is watched, and a `.wasm` file renamed
//! (or written) into it becomes a candidate version, labelled with the file's name, checked
//! and made live like an upload. Operators deploy with `cp new.wasm dir/.tmp && mv dir/.tmp
//! dir/v42.wasm`: the rename makes the whole file appear at once.

use super::tenant::{MAX_COMPONENT_BYTES, Tenant};
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Watches `dir` for `tenant` until `shutdown` turns true. Errors setting the watch up are
/// returned; later ones are logged.
pub fn watch_dir(
    tenant: Arc<Tenant>,
    dir: &Path,
    mut shutdown: watch::Receiver<bool>,
) -> notify::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // A rename into place, or a file closed after writing.
        let wanted = matches!(
            event.kind,
            EventKind::Modify(notify::event::ModifyKind::Name(_))
                | EventKind::Access(notify::event::AccessKind::Close(
                    notify::event::AccessMode::Write
                ))
                | EventKind::Create(notify::event::CreateKind::File)
        );
        if wanted {
            for path in event.paths {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                if name.is_some_and(|n| n.ends_with(".wasm") && !n.starts_with('.')) {
                    let _ = tx.send(path);
                }
            }
        }
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        let _watcher = watcher; // dropped (and the watch ended) with this task
        let mut last: Option<(PathBuf, String)> = None;
        loop {
            let path = tokio::select! {
                p = rx.recv() => match p { Some(p) => p, None => return },
                _ = shutdown.changed() => return,
            };
            // One version of the tenant at a time: wait for an upload being checked.
            let turn = loop {
                if let Some(turn) = tenant.load_turn() {
                    break turn;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            };
            let reading = path.clone();
            let read = tokio::task::spawn_blocking(move || {
                let len = std::fs::metadata(&reading)?.len();
                if len > MAX_COMPONENT_BYTES as u64 {
                    return Err(std::io::Error::other(format!(
                        "{len} bytes; at most {MAX_COMPONENT_BYTES} are accepted"
                    )));
                }
                std::fs::read(reading)
            })
            .await;
            let bytes = match read {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Other => {
                    tracing::warn!(tenant = %tenant.name, file = ?path.display().to_string(), reason = %crate::log_text::escaped(&e), "version from the plugin directory rejected");
                    continue;
                }
                _ => continue, // renamed away again
            };
            let label = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            // Several notifications for one file: install it once.
            let hash = crate::runtime::content_hash(&bytes);
            if last.as_ref().is_some_and(|(p, h)| *p == path && *h == hash) {
                continue;
            }
            last = Some((path.clone(), hash));
            let t = tenant.clone();
            let installed =
                tokio::task::spawn_blocking(move || t.install(&turn, &bytes, label)).await;
            match installed {
                Ok(Ok(v)) => {
                    tracing::info!(tenant = %tenant.name, version = %v.name(), file = ?path.display().to_string(), "version from the plugin directory is live")
                }
                Ok(Err(e)) => {
                    tracing::warn!(tenant = %tenant.name, file = ?path.display().to_string(), reason = ?e.to_string(), "version from the plugin directory rejected")
                }
                Err(e) => {
                    tracing::warn!(tenant = %tenant.name, error = %crate::log_text::escaped(&e), "checking a version failed")
                }
            }
        }
    });
    Ok(())
}
