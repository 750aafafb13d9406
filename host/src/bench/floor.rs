//! The floor: the seed flow's REST requests issued by the least a client can be, so the
//! router's overhead shows as a ratio. No plugin, no call table, no checks, no failure policy:
//! on each StasisStart it creates the leg with the same variables (connected line, X_TENANT),
//! creates the bridge, waits for the leg's StasisStart (Asterisk may answer the create first:
//! ari-samples t4), adds caller and leg (connected-line updates inhibited) and dials; on the
//! leg's answer it answers the caller; when the caller hangs up it hangs the leg up and
//! destroys the bridge. The same requests, in the same order, as the router running
//! early-dial with the bench's settings (tests/router_e2e.rs checks both against the
//! simulator's journal). It uses the router's own REST client and event decoder, and sets the
//! router's event filter, so both pay the same for HTTP and JSON.

use crate::ari::{Auth, CreateChannel, Event, ROUTER_EVENTS, Rest, RestConfig};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What the floor client did.
pub struct FloorOutcome {
    pub completed: usize,
    pub failed: usize,
    /// For each call: when its dial was sent, and how long after its StasisStart was read.
    pub dials: Vec<(Instant, Duration)>,
}

/// Signals a call's task waits on, by channel id.
#[derive(Default)]
struct Waiting {
    entered: HashMap<String, oneshot::Sender<()>>,
    answered: HashMap<String, oneshot::Sender<()>>,
    gone: HashMap<String, oneshot::Sender<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Handles `calls` calls entering `app` on the simulator at `base_url` (REST) / `ws_base`
/// (events), or gives up after `limit`.
pub async fn run(
    base_url: &str,
    ws_base: &str,
    app: &str,
    calls: usize,
    limit: Duration,
) -> Result<FloorOutcome, String> {
    let rest = Rest::new(
        "sim",
        &RestConfig {
            base_url: base_url.into(),
            auth: Auth::Basic {
                user: "asterisk".into(),
                password: "asterisk".into(),
            },
            pool_size: 32,
            timeout: Duration::from_secs(10),
        },
    )
    .map_err(|e| e.to_string())?;
    let url = format!("{ws_base}/ari/events?app={app}&api_key=asterisk:asterisk");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("floor: websocket: {e}"))?;
    rest.set_event_filter(app, ROUTER_EVENTS)
        .await
        .map_err(|e| format!("floor: event filter: {e}"))?;

    let waiting: Arc<Mutex<Waiting>> = Arc::default();
    let dials: Arc<Mutex<Vec<(Instant, Duration)>>> = Arc::default();
    let completed = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    while completed.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < calls
        && began.elapsed() < limit
    {
        // The last call can end between two events: look now and then.
        let message = match tokio::time::timeout(Duration::from_millis(20), socket.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(format!("floor: websocket: {e}")),
            Ok(None) => return Err("floor: the simulator closed the socket".into()),
            Err(_) => continue,
        };
        let received = Instant::now();
        let Ok(text) = message.to_text() else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<Event>(text) else {
            continue;
        };
        match event {
            Event::StasisStart(e) if e.channel.id.starts_with("floor-") => {
                if let Some(tx) = lock(&waiting).entered.remove(&e.channel.id) {
                    let _ = tx.send(());
                }
            }
            Event::StasisStart(e) => {
                let caller = e.channel.id;
                let leg = format!("floor-{caller}");
                let (entered_tx, entered) = oneshot::channel();
                let (answered_tx, answered) = oneshot::channel();
                let (gone_tx, gone) = oneshot::channel();
                {
                    let mut w = lock(&waiting);
                    w.entered.insert(leg.clone(), entered_tx);
                    w.answered.insert(leg, answered_tx);
                    w.gone.insert(caller.clone(), gone_tx);
                }
                let (rest, dials, completed, failed) = (
                    rest.clone(),
                    dials.clone(),
                    completed.clone(),
                    failed.clone(),
                );
                let app = app.to_string();
                tokio::spawn(async move {
                    let signals = Signals {
                        entered,
                        answered,
                        gone,
                    };
                    match seed_flow(&rest, &app, &caller, received, signals, &dials).await {
                        Ok(()) => completed.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            tracing::warn!(%caller, "floor call failed: {e}");
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                });
            }
            Event::Dial(e) if e.dialstatus == "ANSWER" => {
                if let Some(tx) = lock(&waiting).answered.remove(&e.peer.id) {
                    let _ = tx.send(());
                }
            }
            Event::ChannelHangupRequest(e) => caller_gone(&waiting, &e.channel.id),
            Event::StasisEnd(e) => caller_gone(&waiting, &e.channel.id),
            Event::ChannelDestroyed(e) => caller_gone(&waiting, &e.channel.id),
            _ => {}
        }
    }
    let dials = std::mem::take(&mut *lock(&dials));
    Ok(FloorOutcome {
        completed: completed.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        dials,
    })
}

fn caller_gone(waiting: &Mutex<Waiting>, id: &str) {
    if let Some(tx) = lock(waiting).gone.remove(id) {
        let _ = tx.send(());
    }
}

/// What one call's task waits on: its leg's StasisStart, the leg's answer, the caller's end.
struct Signals {
    entered: oneshot::Receiver<()>,
    answered: oneshot::Receiver<()>,
    gone: oneshot::Receiver<()>,
}

/// One call's requests, in the router's order.
async fn seed_flow(
    rest: &Rest,
    app: &str,
    caller: &str,
    received: Instant,
    signals: Signals,
    dials: &Mutex<Vec<(Instant, Duration)>>,
) -> Result<(), crate::ari::AriError> {
    let Signals {
        entered,
        answered,
        gone,
    } = signals;
    let leg = format!("floor-{caller}");
    let bridge = format!("floorb-{caller}");
    rest.create_channel(&CreateChannel {
        endpoint: "PJSIP/agent",
        app,
        channel_id: Some(&leg),
        variables: &[
            ("CONNECTEDLINE(num)", "5551000"),
            ("CONNECTEDLINE(name)", "callwasm bench"),
            ("X_TENANT", "bench"),
        ],
        ..CreateChannel::default()
    })
    .await?;
    rest.create_bridge(&bridge, "mixing").await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), entered).await;
    rest.add_channels(&bridge, &[caller, &leg], true).await?;
    lock(dials).push((Instant::now(), received.elapsed()));
    rest.dial(&leg, None, Some(30)).await?;
    if tokio::time::timeout(Duration::from_secs(10), answered)
        .await
        .is_ok()
    {
        rest.answer(caller).await?;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), gone).await;
    rest.hangup(&leg, 16).await?;
    rest.destroy_bridge(&bridge).await
}
