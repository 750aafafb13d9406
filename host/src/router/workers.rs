//! Each tenant's plugin threads: a small pool of OS threads of its own (`max_plugin_threads`)
//! that run its `handle` calls. A slow plugin queues behind its own tenant's work, never
//! another's, and never on the tokio threads that read WebSockets and send REST.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A tenant's pool of plugin threads.
#[derive(Debug)]
pub struct Workers {
    jobs: mpsc::Sender<Job>,
}

fn spawn_worker(name: String, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        loop {
            let job = {
                let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
                queue.recv()
            };
            let Ok(job) = job else { return }; // the tenant is gone
            job();
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %crate::log_text::escaped(&e), "cannot start a plugin thread");
    }
}

impl Workers {
    /// `threads` threads named after the tenant.
    pub fn new(tenant: &str, threads: usize) -> Workers {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            spawn_worker(format!("plugin-{tenant}-{n}"), queue.clone());
        }
        Workers { jobs }
    }

    /// Runs `f` on one of the tenant's threads; its result comes back when done. None when
    /// the pool is gone.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}
