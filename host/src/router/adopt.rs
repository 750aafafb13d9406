//! The router's side of scale-out ([`crate::cluster`]): claiming broadcast calls, carrying on
//! a dead router's calls, and listening to the apps those calls sit in.
//!
//! A call stays in the Stasis app it entered for its whole life, so whoever carries it on must
//! hold that app: a survivor taking over, or this router after a restart (its apps are new at
//! every run). Such an app gets a stream of its own ([`Adopted`]), connected with the app's
//! name (which takes it over in Asterisk), and stopped once the calls in it are over.

use super::call::call_of;
use super::{Adopted, Router};
use crate::ari::events::Event as Ari;
use crate::ari::{EventStream, ServerItem, StreamConfig, StreamItem};
use crate::cluster::lease::Takeover;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How long after its stream started an adopted app's channels are looked through for
/// callers that were claimed but never reached a call (the stream has connected by then, so
/// nothing that happens to them later is missed).
const STRAYS_AFTER: Duration = Duration::from_secs(2);

/// An adopted app is let go once its calls are over, and not before this.
const ADOPTED_AT_LEAST: Duration = Duration::from_secs(10);

impl Router {
    /// A broadcast call offered to one of this router's apps: claim it after the load-aware
    /// wait, unless the tenant has no room for it (another router then gets it).
    pub(super) fn on_broadcast(&self, server: &str, e: &crate::ari::events::CallBroadcast) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        // Adopted apps hear broadcasts too; calls are claimed for this run's apps only.
        if !cluster.apps.values().any(|a| *a == e.application) {
            return;
        }
        let Some(tenant) = self.tenant_of(&e.application) else {
            return;
        };
        if !tenant.has_room() {
            return;
        }
        let Some((rest, _)) = self.servers.get(server) else {
            return;
        };
        let wait = crate::cluster::claim::delay(self.table.len(), &cluster.config);
        crate::cluster::claim::spawn(
            rest.clone(),
            e.channel.id.clone(),
            e.application.clone(),
            wait,
        );
    }

    /// A dead router's calls are this router's now: the versions they hold join their
    /// tenants' histories, and each call is carried on as after a restart.
    pub(super) fn take_over(&self, takeover: Takeover) -> Vec<(String, String, String)> {
        let mut by_tenant: BTreeMap<String, Vec<Arc<super::versions::Version>>> = BTreeMap::new();
        for v in takeover.versions {
            let at = std::time::UNIX_EPOCH
                + Duration::from_millis(u64::try_from(v.loaded_ms).unwrap_or(0));
            by_tenant
                .entry(v.tenant.clone())
                .or_default()
                .push(super::versions::Version::kept(
                    v.hash,
                    v.label,
                    v.component,
                    at,
                ));
        }
        for (tenant, versions) in by_tenant {
            if let Some(t) = self.tenants.get(&tenant) {
                t.versions.remember(versions);
            }
        }
        let what = format!("calls taken over from router {}", takeover.from);
        self.carry_on_rows(takeover.rows, &what)
    }

    /// Listens to the apps the carried-on calls sit in, and to `apps` (a dead router's, as
    /// (server, app)), where they are not this run's own.
    pub(super) fn adopt(
        &self,
        carried: Vec<(String, String, String)>,
        apps: &[(String, String)],
        tx: &mpsc::Sender<ServerItem>,
        adopted: &mut Vec<Adopted>,
    ) {
        let own: BTreeSet<String> = self.own_apps().into_iter().collect();
        let mut wanted: BTreeMap<String, (BTreeSet<String>, Vec<String>)> = BTreeMap::new();
        for (server, app) in apps {
            wanted
                .entry(server.clone())
                .or_default()
                .0
                .insert(app.clone());
        }
        for (server, app, caller) in carried {
            let entry = wanted.entry(server).or_default();
            entry.0.insert(app);
            entry.1.push(caller);
        }
        for (server, (apps, callers)) in wanted {
            let apps: Vec<String> = apps
                .into_iter()
                .filter(|a| !own.contains(a) && self.tenant_of(a).is_some())
                .filter(|a| {
                    !adopted
                        .iter()
                        .any(|d| d.server == server && d.apps.contains(a))
                })
                .collect();
            if apps.is_empty() {
                continue;
            }
            let Some((rest, rc)) = self.servers.get(&server) else {
                continue;
            };
            let (stop, stopped) = watch::channel(false);
            let stream = EventStream::new(
                &server,
                rest.clone(),
                rc.clone(),
                StreamConfig {
                    apps: apps.clone(),
                    ..StreamConfig::default()
                },
            );
            tokio::spawn(stream.run(tx.clone(), stopped));
            tracing::info!(%server, apps = %apps.join(","), calls = callers.len(), "listening to the apps of calls carried on");
            let callers = Arc::new(Mutex::new(callers));
            let strays = Strays {
                server: server.clone(),
                apps: apps.clone(),
                rest: rest.clone(),
                table: self.table.clone(),
                callers: callers.clone(),
                tx: tx.clone(),
                lease: self.cluster.as_ref().map(|c| c.lease.clone()),
            };
            tokio::spawn(strays.look());
            adopted.push(Adopted {
                server,
                apps,
                callers,
                since: Instant::now(),
                stop,
            });
        }
    }

    /// Stops the streams of adopted apps whose calls are all over.
    pub(super) fn release_adopted(&self, adopted: &mut Vec<Adopted>) {
        adopted.retain(|a| {
            if a.since.elapsed() < ADOPTED_AT_LEAST {
                return true;
            }
            let callers = a.callers.lock().map(|c| c.clone()).unwrap_or_default();
            let live = callers
                .iter()
                .any(|c| self.table.by_caller(&a.server, c).is_some());
            if !live {
                tracing::info!(server = %a.server, apps = %a.apps.join(","), "the calls in these apps are over: no longer listening to them");
                let _ = a.stop.send(true);
            }
            live
        });
    }
}

/// Callers in an adopted app with no call anywhere: the dead router claimed them (or they
/// entered its app) but died before its first write of their call committed, so nothing of
/// theirs was dialed (a dial waits for its own write). Each starts as the new call it is,
/// here; the channels and bridges that run made for calls with no row anywhere (a first
/// reply's legs, created, never dialed) go.
struct Strays {
    server: String,
    apps: Vec<String>,
    rest: crate::ari::Rest,
    table: Arc<super::table::CallTable>,
    callers: Arc<Mutex<Vec<String>>>,
    tx: mpsc::Sender<ServerItem>,
    lease: Option<Arc<crate::cluster::Lease>>,
}

/// The call-id prefix of the run an adopted app belongs to (`acme@r1.0a1b2c` → `r1.0a1b2c`):
/// that run's calls are `<instance>.<run><serial>`.
fn run_of(app: &str) -> Option<&str> {
    app.split_once('@').map(|(_, run)| run)
}

impl Strays {
    async fn look(self) {
        tokio::time::sleep(STRAYS_AFTER).await;
        self.clear_leftovers().await;
        for app in &self.apps {
            let channels = match self.rest.get_application(app).await {
                Ok(a) => a.channel_ids,
                Err(e) => {
                    tracing::warn!(server = %self.server, %app, error = %crate::log_text::escaped(&e), "cannot list an adopted app's channels");
                    continue;
                }
            };
            for id in channels {
                // A router's own legs are its calls' business; a caller with a call is fine.
                if call_of(&id).is_some() || self.table.by_caller(&self.server, &id).is_some() {
                    continue;
                }
                let Ok(channel) = self.rest.get_channel(&id).await else {
                    continue; // gone meanwhile
                };
                let Some(event) = stasis_start(app, channel) else {
                    continue;
                };
                tracing::info!(server = %self.server, %app, channel = %id, "a caller claimed by a router that died before its call began: starting its call here");
                if let Ok(mut callers) = self.callers.lock() {
                    callers.push(id.clone());
                }
                let item = ServerItem {
                    server: Arc::from(self.server.as_str()),
                    item: StreamItem::Event(Box::new(event)),
                    received: Instant::now(),
                };
                if self.tx.send(item).await.is_err() {
                    return;
                }
            }
        }
    }
}

impl Strays {
    /// Hangs up the channels and destroys the bridges the adopted apps' runs made for calls
    /// that have no row anywhere and are not carried here.
    async fn clear_leftovers(&self) {
        let Some(lease) = &self.lease else {
            return;
        };
        let runs: Vec<&str> = self.apps.iter().filter_map(|a| run_of(a)).collect();
        let theirs = |id: &str| -> bool {
            call_of(id).is_some_and(|call| {
                runs.iter().any(|run| {
                    call.strip_prefix(run)
                        .is_some_and(|serial| !serial.is_empty() && !serial.contains('.'))
                }) && self.table.get(call).is_none()
            })
        };
        let (Ok(channels), Ok(bridges)) = (
            self.rest.list_channels().await,
            self.rest.list_bridges().await,
        ) else {
            return;
        };
        let channels: Vec<String> = channels
            .into_iter()
            .map(|c| c.id)
            .filter(|id| theirs(id))
            .collect();
        let bridges: Vec<String> = bridges
            .into_iter()
            .map(|b| b.id)
            .filter(|id| theirs(id))
            .collect();
        if channels.is_empty() && bridges.is_empty() {
            return;
        }
        let calls: Vec<String> = channels
            .iter()
            .chain(&bridges)
            .filter_map(|id| call_of(id).map(String::from))
            .collect();
        let Ok(stored) = lease.known(calls).await else {
            return; // not knowing which are calls, none is touched
        };
        let gone = |id: &String| call_of(id).is_some_and(|c| !stored.contains(c));
        for id in bridges.iter().filter(|id| gone(id)) {
            if self.rest.destroy_bridge(id).await.is_ok() {
                tracing::info!(server = %self.server, bridge = %id, "a dead router's bridge with no call destroyed");
            }
        }
        for id in channels.iter().filter(|id| gone(id)) {
            if self.rest.hangup(id, 16).await.is_ok() {
                tracing::info!(server = %self.server, channel = %id, "a dead router's channel with no call hung up");
            }
        }
    }
}

/// The StasisStart the caller `channel` would have brought: its arguments are
/// StasisBroadcast's third (`a:b`) or Stasis's second and later.
fn stasis_start(app: &str, channel: crate::ari::models::Channel) -> Option<Ari> {
    let data = &channel.dialplan.app_data;
    let args: Vec<String> = match channel.dialplan.app_name.as_str() {
        "StasisBroadcast" => data
            .split(',')
            .nth(2)
            .filter(|a| !a.is_empty())
            .map(|a| a.split(':').map(String::from).collect())
            .unwrap_or_default(),
        "Stasis" => data.split(',').skip(1).map(String::from).collect(),
        _ => return None,
    };
    serde_json::from_value(serde_json::json!({
        "type": "StasisStart",
        "application": app,
        "timestamp": "",
        "args": args,
        "channel": channel,
    }))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stray_brings_the_arguments_stasis_broadcast_was_given() {
        let mut channel = crate::ari::models::Channel {
            id: "1795799098.191".into(),
            ..Default::default()
        };
        channel.dialplan.app_name = "StasisBroadcast".into();
        channel.dialplan.app_data = "3000,^acme@,argA:argB,yes".into();
        let Some(Ari::StasisStart(e)) = stasis_start("acme@r1.0a1b2c", channel.clone()) else {
            panic!("a StasisStart");
        };
        assert_eq!(e.args, vec!["argA", "argB"]);
        assert_eq!(e.application, "acme@r1.0a1b2c");
        assert_eq!(e.channel.id, "1795799098.191");
        channel.dialplan.app_name = "Dial".into();
        assert!(stasis_start("acme", channel).is_none());
    }
}
