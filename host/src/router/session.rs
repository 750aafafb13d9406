//! One call's task: takes the call's inputs (Asterisk events, timers, resyncs) one at a time,
//! in order, turns them into contract events, runs the plugin on each (on a blocking thread:
//! plugin code never stalls the threads that read the WebSocket and send REST), checks the
//! reply, carries it out, and applies the tenant's failure policy when the plugin fails. When
//! the call's last channel is gone it destroys the call's bridges and leaves the table.
//!
//! Inputs that arrive while a reply waits for a created leg to enter the application are
//! taken into the record at once (that is how the wait ends) and their contract events queue
//! behind the reply: the plugin still sees one event at a time, in Asterisk's order.

use super::budget::Budget;
use super::call::{CALLER, CallRecord, DESTROY_GRACE, ENTRY_TIMEOUT, LegPhase};
use super::check::check;
use super::durable::{CallImage, Journal, ReplyImage, StoredLeg};
use super::execute::{DialGate, Executed, StartAt, execute, failure};
use super::observe::{Observation, Observer};
use super::queue::{CallInputs, CallQueue};
use super::restore::told_again_after_restart;
use super::table::CallTable;
use super::tenant::{OnFailure, Tenant, TenantCounters};
use super::timers::Timers;
use super::translate::{gone, translate};
use super::versions::Version;
use crate::ari::Rest;
use crate::ari::events::Event as Ari;
use crate::runtime::{self as wit, Invocation, Plugin, PluginError};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// What a call's task receives.
#[derive(Debug)]
pub enum CallInput {
    /// An Asterisk event about the call.
    Ari(Box<Ari>),
    /// A timer the plugin started fired.
    Timer(String),
    /// After a (re)connect: the channels Asterisk holds, listed at `at`. Legs the router knew
    /// before then and that are not listed have vanished.
    Resynced {
        live: Arc<HashSet<String>>,
        at: Instant,
        /// Asterisk's channels and bridges as listed: a call read back from the store takes
        /// what it missed from them.
        listed: Arc<Listed>,
    },
    /// A created leg left the application on a hangup [`DESTROY_GRACE`] ago: if its
    /// ChannelDestroyed has still not come, it is gone all the same.
    DestroyGrace(String),
}

/// Asterisk's channels and bridges at a (re)connect.
#[derive(Debug, Default)]
pub struct Listed {
    pub channels: std::collections::HashMap<String, crate::ari::models::Channel>,
    pub bridges: Vec<crate::ari::models::Bridge>,
}

/// How many `command-failed` rounds one input may cause before the call is given up: a plugin
/// that answers every failure with another failing command must not spin.
const MAX_FAILURE_ROUNDS: usize = 4;

/// How many times a call's commands may run into its limits (each comes back to the plugin
/// as `command-failed`) before the failure policy applies: a plugin that keeps pushing at a
/// limit is not going to stop.
const MAX_LIMIT_HITS: u32 = 8;

/// A call's task state.
pub struct Session {
    pub record: CallRecord,
    pub tenant: Arc<Tenant>,
    /// The version the call holds (the live one when it started, or since it migrated).
    version: Arc<Version>,
    /// The call's rank among the calls its version served (judged for auto-rollback).
    rank: u64,
    /// The plugin serving this call: its version's, or the fallback.
    plugin: Arc<Plugin>,
    /// The plugin failed at least once in this call.
    failed_once: bool,
    /// Tags the plugin's log lines with the call id (the `call` field, as everywhere).
    tag: Arc<str>,
    pub rest: Rest,
    pub table: Arc<CallTable>,
    pub observer: Observer,
    pub queue: CallQueue,
    timers: Timers,
    /// What the call may still spend: channels, timers, REST requests.
    budget: Budget,
    started: bool,
    /// The failure policy was applied: the plugin is no longer asked, the call winds down.
    given_up: bool,
    on_fallback: bool,
    opened: Instant,
    /// The call is over one of the tenant's limits: the failure policy applies at once.
    refused: Option<String>,
    was_refused: bool,
    /// The first dial's latency went to the observer.
    dial_reported: bool,
    /// Contract events taken in while a reply was being carried out, not yet delivered.
    pending: VecDeque<wit::Event>,
    /// For the log line that ends the call: each hangup's channel and cause (the first
    /// [`MAX_ENDINGS`]), and the plugin's time over the call.
    endings: Vec<(String, u16)>,
    plugin_time: std::time::Duration,
    /// Where the call's image is written (None: the call lives in memory only).
    journal: Option<Journal>,
    /// The store could not take a write the call waited for (said once).
    store_warned: bool,
    /// What the call last wrote to the store.
    last_write: super::durable::LastWrite,
    /// When the call opened, on the wall clock (kept in the image).
    opened_ms: i64,
    /// Read back from the store after a restart: nothing is delivered until Asterisk's lists
    /// have been taken in (the first resync).
    resuming: bool,
    /// A reply the restart interrupted, finished once the lists are in.
    unfinished: Option<ReplyImage>,
}

/// What a call's task works with besides its record and tenant: the server's REST client,
/// the call table, the observer, its own input queue and the store's journal.
pub struct Parts {
    pub rest: Rest,
    pub table: Arc<CallTable>,
    pub observer: Observer,
    pub queue: CallQueue,
    pub journal: Option<Journal>,
}

/// Hangups the call's last log line names.
const MAX_ENDINGS: usize = 8;

impl Session {
    pub fn new(
        record: CallRecord,
        tenant: Arc<Tenant>,
        rest: Rest,
        table: Arc<CallTable>,
        observer: Observer,
        queue: CallQueue,
        journal: Option<Journal>,
    ) -> Self {
        let held = tenant.versions.hold();
        let parts = Parts {
            rest,
            table,
            observer,
            queue,
            journal,
        };
        Self::assemble(record, tenant, held, parts)
    }

    /// A session on `held` (version, plugin, rank) with nothing happened yet.
    fn assemble(
        record: CallRecord,
        tenant: Arc<Tenant>,
        held: (Arc<Version>, Arc<Plugin>, u64),
        parts: Parts,
    ) -> Self {
        let (version, plugin, rank) = held;
        let budget = Budget::new(
            tenant.call_limits.clone(),
            tenant.channels_live.clone(),
            tenant.max_channels,
        );
        Session {
            version,
            rank,
            plugin,
            failed_once: false,
            tag: Arc::from(record.id.as_str()),
            record,
            tenant,
            rest: parts.rest,
            table: parts.table,
            observer: parts.observer,
            queue: parts.queue,
            timers: Timers::default(),
            budget,
            started: false,
            given_up: false,
            on_fallback: false,
            opened: Instant::now(),
            refused: None,
            was_refused: false,
            dial_reported: false,
            pending: VecDeque::new(),
            endings: Vec::new(),
            plugin_time: std::time::Duration::ZERO,
            journal: parts.journal,
            store_warned: false,
            last_write: Default::default(),
            opened_ms: crate::store::now_ms(),
            resuming: false,
            unfinished: None,
        }
    }

    /// A call read back from the store after a restart, on the version it held. It waits for
    /// Asterisk's lists before anything reaches the plugin, then finishes the reply the
    /// restart interrupted and delivers what was pending.
    pub fn resume(
        record: CallRecord,
        image: CallImage,
        held: (Arc<Version>, Arc<Plugin>),
        tenant: Arc<Tenant>,
        parts: Parts,
    ) -> Self {
        let (version, plugin) = held;
        let plugin = match (&tenant.on_failure, image.on_fallback) {
            (super::tenant::OnFailure::Fallback { plugin }, true) => plugin.clone(),
            _ => plugin,
        };
        // Not judged for auto-rollback: its first events were judged before the restart.
        let mut session = Self::assemble(record, tenant, (version, plugin, u64::MAX), parts);
        for (name, deadline) in &image.timers {
            session
                .timers
                .start_until(name, *deadline, session.queue.clone());
        }
        session.failed_once = image.failed_once;
        session.started = image.started;
        session.given_up = image.given_up;
        session.on_fallback = image.on_fallback;
        session.dial_reported = true;
        session.pending = image.pending.into();
        session.opened_ms = image.opened_ms;
        session.resuming = true;
        session.unfinished = image.reply;
        session
    }

    /// The call's image as the store keeps it, with `reply` being carried out.
    fn image(&self, reply: Option<ReplyImage>) -> CallImage {
        let r = &self.record;
        CallImage {
            app: r.app.clone(),
            args: r.args.clone(),
            legs: r
                .legs
                .iter()
                .map(|(h, l)| (h.clone(), StoredLeg::from(&**l)))
                .collect(),
            bridges: r.bridges.clone(),
            playbacks: r.playbacks.clone(),
            timers: self.timers.deadlines(),
            started: self.started,
            given_up: self.given_up,
            on_fallback: self.on_fallback,
            failed_once: self.failed_once,
            dials: r.dials,
            opened_ms: self.opened_ms,
            pending: self.pending.iter().cloned().collect(),
            reply,
        }
    }

    /// Writes the call's image; with `wait`, returns once it is durable (or the store's bound
    /// passed). Nothing happens for a call in memory only.
    async fn write_image(&mut self, reply: Option<ReplyImage>, wait: bool) {
        let Some(journal) = self.journal.clone() else {
            return;
        };
        let image = self.image(reply);
        let row = (
            self.record.id.as_str(),
            self.record.server.as_str(),
            self.tenant.name.as_str(),
            self.version.hash.as_str(),
        );
        let ticket = journal.write(row, &self.record.state, &image, &mut self.last_write);
        if wait && let Some(ticket) = ticket {
            journal.wait(ticket, &mut self.store_warned).await;
        }
    }

    /// A call over one of the tenant's limits: its plugin is never asked; the failure policy
    /// applies on its first event.
    pub fn refuse(mut self, reason: String) -> Self {
        self.refused = Some(reason);
        self.was_refused = true;
        self
    }

    /// Runs until the call's last channel is gone.
    ///
    /// A call spends its life waiting for its next input. Delivering an event (the plugin, the
    /// REST requests) and ending the call are boxed, so their large futures exist only while
    /// they run instead of sizing every waiting call's task (10,000 calls in flight).
    pub async fn run(mut self, mut inputs: CallInputs) {
        loop {
            if !self.resuming
                && let Some(reply) = self.unfinished.take()
            {
                Box::pin(self.finish(reply, &mut inputs)).await;
                continue;
            }
            if !self.resuming
                && let Some(event) = self.pending.pop_front()
            {
                Box::pin(self.deliver(event, &mut inputs)).await;
                continue;
            }
            if self.record.legs.is_empty() && !self.resuming {
                break;
            }
            let Some(input) = inputs.recv().await else {
                break;
            };
            let events = self.absorb(input);
            self.note_endings(&events);
            self.pending.extend(events);
            self.budget.sync(self.created_legs());
            if inputs.overflowed() && !self.given_up {
                let reason = format!(
                    "over the limit of {} queued inputs per call: events were lost",
                    inputs.bound()
                );
                self.observer.send(Observation::PluginFailed {
                    call: self.record.id.clone(),
                    event: wit::Event::Started,
                    reason: reason.clone(),
                });
                self.pending.clear();
                self.given_up = true;
                tracing::warn!(reason = %crate::log_text::escaped(&reason), "applying the failure policy without the plugin");
                self.apply_policy_without_fallback().await;
            }
        }
        Box::pin(self.end()).await;
    }

    /// Waits until the created leg `leg` has entered the application, taking in the call's
    /// other inputs meanwhile. Err when it went away first or took longer than
    /// [`ENTRY_TIMEOUT`]; a leg that never came is hung up and leaves the call.
    async fn until_in_stasis(&mut self, leg: &str, inputs: &mut CallInputs) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + ENTRY_TIMEOUT;
        loop {
            match self.record.legs.get(leg).map(|l| l.phase) {
                None => return Err(format!("{leg} hung up before it entered the application")),
                Some(LegPhase::Entering) => {}
                Some(_) => return Ok(()),
            }
            match tokio::time::timeout_at(deadline, inputs.recv()).await {
                Ok(Some(input)) => {
                    let events = self.absorb(input);
                    self.pending.extend(events);
                }
                Ok(None) => return Err("the call is shutting down".into()),
                Err(_) => {
                    let id = self.record.legs.get(leg).map(|l| l.ari_id.clone());
                    if let Some(id) = id
                        && let Err(e) = self.rest.hangup(&id, 41).await
                        && e.status() != Some(404)
                    {
                        tracing::warn!(%leg, error = %crate::log_text::escaped(&e), "hanging up a leg that never entered the application failed");
                    }
                    let events = gone(&mut self.record, leg, 41, "Temporary failure");
                    self.pending.extend(events);
                    return Err(format!(
                        "{leg} did not enter the application within {} ms",
                        ENTRY_TIMEOUT.as_millis()
                    ));
                }
            }
        }
    }

    /// Hangs up channels and destroys bridges of a reply lost with the router (in the
    /// background: the call goes on meanwhile, and they are not its legs).
    fn clear_strays(&self, channels: Vec<String>, bridges: Vec<String>) {
        if channels.is_empty() && bridges.is_empty() {
            return;
        }
        let rest = self.rest.clone();
        tokio::spawn(async move {
            for id in channels {
                if let Err(e) = rest.hangup(&id, 16).await
                    && e.status() != Some(404)
                {
                    tracing::warn!(channel = %id, error = %crate::log_text::escaped(&e), "hanging up a channel of a lost reply failed");
                }
            }
            for id in bridges {
                if let Err(e) = rest.destroy_bridge(&id).await
                    && e.status() != Some(404)
                {
                    tracing::warn!(bridge = %id, error = %crate::log_text::escaped(&e), "destroying a bridge of a lost reply failed");
                }
            }
        });
    }

    /// Applies an input to the record; the contract events it means for the plugin.
    fn absorb(&mut self, input: CallInput) -> Vec<wit::Event> {
        match input {
            CallInput::Ari(event) => {
                let caller_id = self.record.legs.get(CALLER).map(|l| l.ari_id.clone());
                let mut events = translate(&mut self.record, &event);
                if let Ari::StasisEnd(e) = &*event
                    && let Some(h) = self.record.leg_handle(&e.channel.id)
                    && matches!(
                        self.record.legs.get(h).map(|l| l.phase),
                        Some(LegPhase::Leaving(_))
                    )
                {
                    let (queue, handle) = (self.queue.clone(), h.to_string());
                    tokio::spawn(async move {
                        tokio::time::sleep(DESTROY_GRACE).await;
                        queue.send(CallInput::DestroyGrace(handle));
                    });
                }
                if let Ari::StasisStart(e) = &*event
                    && Some(&e.channel.id) == caller_id.as_ref()
                    && !self.started
                {
                    self.started = true;
                    events.insert(0, wit::Event::Started);
                }
                events
            }
            CallInput::Timer(name) => {
                self.timers.fired(&name);
                vec![wit::Event::Timer(name)]
            }
            CallInput::Resynced { live, at, listed } => {
                let mut events = if self.resuming {
                    self.resuming = false;
                    let caught = super::restore::catch_up(
                        &mut self.record,
                        &listed,
                        self.unfinished.as_ref(),
                    );
                    self.clear_strays(caught.stray_channels, caught.stray_bridges);
                    caught.events
                } else {
                    super::restore::answered_meanwhile(&mut self.record, &listed)
                };
                let vanished: Vec<String> = self
                    .record
                    .legs
                    .iter()
                    .filter(|(_, l)| l.since < at && !live.contains(&l.ari_id))
                    .map(|(h, _)| h.clone())
                    .collect();
                events.extend(vanished.into_iter().flat_map(|h| {
                    tracing::warn!(leg = %h, "channel vanished while the event stream was down");
                    gone(&mut self.record, &h, 0, "Unknown")
                }));
                events
            }
            CallInput::DestroyGrace(handle) => match self.record.legs.get(&handle) {
                Some(leg) if matches!(leg.phase, LegPhase::Leaving(_)) => {
                    let cause = leg.phase.hangup_cause();
                    tracing::debug!(leg = %handle, "no ChannelDestroyed after the leg left the application; taken as gone");
                    gone(
                        &mut self.record,
                        &handle,
                        cause,
                        crate::ari::cause_text(cause.into()),
                    )
                }
                _ => Vec::new(),
            },
        }
    }

    /// Hands one event to the plugin and carries out its reply; failed commands come back as
    /// `command-failed`, up to a bound.
    async fn deliver(&mut self, mut event: wit::Event, inputs: &mut CallInputs) {
        if let Some(reason) = self.refused.take() {
            TenantCounters::add(&self.tenant.counters.calls_refused, 1);
            self.observer.send(Observation::PluginFailed {
                call: self.record.id.clone(),
                event: event.clone(),
                reason: format!("call refused: {reason}"),
            });
            self.given_up = true; // not even a fallback plugin runs past a limit
            self.apply_policy_without_fallback().await;
            return;
        }
        for _ in 0..MAX_FAILURE_ROUNDS {
            if self.given_up {
                return;
            }
            self.follow_live_version();
            // The record already holds what the event changed; a plugin that did not ask for
            // this kind is not woken for it.
            if !self.plugin.wants(&event) {
                return;
            }
            let (outcome, plugin_time) = self.invoke(&event).await;
            self.plugin_time += plugin_time;
            let tenant = self.tenant.clone();
            let counters = &tenant.counters;
            TenantCounters::add(&counters.events_handled, 1);
            TenantCounters::add(
                &counters.plugin_nanos,
                u64::try_from(plugin_time.as_nanos()).unwrap_or(u64::MAX),
            );
            let reply = match outcome {
                Ok(reply) => reply,
                Err(e) => {
                    self.observer.send(Observation::PluginFailed {
                        call: self.record.id.clone(),
                        event: event.clone(),
                        reason: e.to_string(),
                    });
                    if self.fail(&e.to_string()).await {
                        continue; // on the fallback plugin: same event again
                    }
                    return;
                }
            };
            if let Err(refusal) = check(&self.record, &self.tenant.capabilities, &reply.commands) {
                TenantCounters::add(&counters.replies_refused, 1);
                let reason = format!("reply refused: {refusal}");
                self.observer.send(Observation::PluginFailed {
                    call: self.record.id.clone(),
                    event: event.clone(),
                    reason: reason.clone(),
                });
                if self.fail(&reason).await {
                    continue;
                }
                return;
            }
            let new_state = reply.state.is_some();
            if let Some(state) = reply.state {
                self.record.state = state;
            }
            // Queued before anything goes out, not waited for: a dial waits for its own write,
            // which covers this one. A crash before it is stored loses this reply (at most
            // this one; docs/decisions.md says what happens then). Not written for an event a
            // restart tells the plugin again from Asterisk's lists: losing its reply costs
            // nothing that is not made again.
            if !reply.commands.is_empty() && !told_again_after_restart(&event) {
                let image = ReplyImage {
                    commands: reply.commands.clone(),
                    next: 0,
                };
                self.write_image(Some(image), false).await;
            }
            if tracing::enabled!(tracing::Level::DEBUG) {
                // The first commands are the story; a flood is summed up by its count.
                let shown: Vec<&wit::Command> = reply.commands.iter().take(16).collect();
                tracing::debug!(
                    event = ?event,
                    commands = ?shown,
                    count = reply.commands.len(),
                    plugin_us = plugin_time.as_micros() as u64,
                    "plugin replied"
                );
            }
            if self.observer.wants_details() {
                self.observer.send(Observation::Handled {
                    call: self.record.id.clone(),
                    event: event.clone(),
                    commands: reply.commands.clone(),
                    plugin_time,
                });
            } else {
                self.observer.send(Observation::PluginTime {
                    call: self.record.id.clone(),
                    plugin_time,
                });
            }
            let result = self.carry_out(&reply.commands, 0, false, inputs).await;
            if !reply.commands.is_empty() || new_state {
                self.write_image(None, false).await;
            }
            if let Some(after) = self.record.first_dial
                && !self.dial_reported
            {
                self.dial_reported = true;
                self.observer.send(Observation::Dialed {
                    call: self.record.id.clone(),
                    after,
                });
            }
            self.budget.sync(self.created_legs());
            if self.budget.hits > MAX_LIMIT_HITS
                && let Err(failure) = &result
            {
                let reason = format!(
                    "the plugin ran into the call's limits {} times, last: {}",
                    self.budget.hits, failure.message
                );
                self.observer.send(Observation::PluginFailed {
                    call: self.record.id.clone(),
                    event: event.clone(),
                    reason: reason.clone(),
                });
                self.fail(&reason).await;
                return;
            }
            match result {
                Ok(()) => return,
                Err(failure) => {
                    TenantCounters::add(&counters.commands_failed, 1);
                    tracing::info!(command = %failure.command, status = failure.status, reason = %crate::log_text::escaped(&failure.message), "command failed");
                    event = wit::Event::CommandFailed(failure);
                }
            }
        }
        let reason = "the plugin kept answering failures with failing commands";
        self.observer.send(Observation::PluginFailed {
            call: self.record.id.clone(),
            event,
            reason: reason.into(),
        });
        self.fail(reason).await;
    }

    /// Carries out `commands[from..]`: waits for legs to enter, records each dial before it
    /// goes (durable calls), and stops at the first failure, which it returns as the plugin
    /// will hear it. `resumed`: the reply was interrupted by a restart, and commands whose
    /// effect Asterisk already shows are skipped.
    async fn carry_out(
        &mut self,
        commands: &[wit::Command],
        from: usize,
        resumed: bool,
        inputs: &mut CallInputs,
    ) -> Result<(), wit::Failure> {
        let queue = self.queue.clone();
        let mut from = from;
        let mut gate = if self.journal.is_some() {
            DialGate::Closed { cleared: None }
        } else {
            DialGate::Open
        };
        loop {
            let executed = execute(
                &mut self.record,
                &self.rest,
                commands,
                StartAt {
                    index: from,
                    gate,
                    resumed,
                },
                &mut self.timers,
                &queue,
                &mut self.budget,
            )
            .await;
            match executed {
                Executed::Dialing { index } => {
                    // Recorded as dialed before it goes: a restarted router never dials the
                    // leg again (at most once; see docs/decisions.md).
                    if let Some(wit::Command::Dial(d)) = commands.get(index)
                        && let Some(leg) = self.record.legs.get_mut(&d.leg)
                    {
                        leg.dialed = true;
                        self.record.dials = self.record.dials.saturating_add(1);
                    }
                    // A dial that ends the reply leaves nothing to finish: stored without
                    // the reply, the image is the one written after it, which is then
                    // not written again (one row fewer for most calls' first reply).
                    let image = (index + 1 < commands.len()).then(|| ReplyImage {
                        commands: commands.to_vec(),
                        next: index + 1,
                    });
                    self.write_image(image, true).await;
                    from = index;
                    gate = DialGate::Closed {
                        cleared: Some(index),
                    };
                }
                Executed::Done => return Ok(()),
                Executed::Failed(failure) => return Err(failure),
                Executed::OverLimit(failure) => {
                    TenantCounters::add(&self.tenant.counters.limits_hit, 1);
                    return Err(failure);
                }
                Executed::Waiting { index, leg } => {
                    match self.until_in_stasis(&leg, inputs).await {
                        Ok(()) => from = index,
                        Err(message) => return Err(failure(index, &commands[index], 0, message)),
                    }
                }
            }
        }
    }

    /// Finishes a reply a restart interrupted; a failure goes to the plugin as
    /// `command-failed`, like any other.
    async fn finish(&mut self, reply: ReplyImage, inputs: &mut CallInputs) {
        if self.given_up {
            return;
        }
        tracing::info!(
            from = reply.next,
            commands = reply.commands.len(),
            "finishing the reply a restart interrupted"
        );
        let result = self
            .carry_out(&reply.commands, reply.next, true, inputs)
            .await;
        self.write_image(None, false).await;
        self.budget.sync(self.created_legs());
        if let Err(failure) = result {
            TenantCounters::add(&self.tenant.counters.commands_failed, 1);
            tracing::info!(command = %failure.command, status = failure.status, reason = %crate::log_text::escaped(&failure.message), "command failed");
            self.pending.push_front(wit::Event::CommandFailed(failure));
        }
    }

    /// Keeps the hangups among `events` for the call's last log line.
    fn note_endings(&mut self, events: &[wit::Event]) {
        for event in events {
            if let wit::Event::HungUp(h) = event
                && self.endings.len() < MAX_ENDINGS
            {
                self.endings.push((h.channel.clone(), h.cause));
            }
        }
    }

    /// The channels of the call the router created (and that count against the tenant).
    fn created_legs(&self) -> usize {
        self.record.legs.values().filter(|l| l.created).count()
    }

    /// A tenant that migrates calls on a swap: move to the live version if it changed.
    fn follow_live_version(&mut self) {
        if !self.tenant.migrate || self.on_fallback {
            return;
        }
        if Arc::ptr_eq(&self.tenant.versions.live(), &self.version) {
            return;
        }
        let (version, plugin, rank) = self.tenant.versions.hold();
        let old = std::mem::replace(&mut self.version, version);
        self.tenant.versions.release(&old);
        self.plugin = plugin;
        self.rank = rank;
    }

    /// One `handle` call on a blocking thread, and the time it took there (instantiation and
    /// the plugin's run, not the wait for a thread).
    async fn invoke(
        &self,
        event: &wit::Event,
    ) -> (Result<wit::Reply, PluginError>, std::time::Duration) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        let call = self.record.snapshot(now_ms);
        let event = event.clone();
        let plugin = self.plugin.clone();
        let tenant = self.tenant.clone();
        let tag = self.tag.clone();
        // On the tenant's own plugin threads: a slow plugin queues behind its own work.
        let workers = &self.tenant.workers;
        let ran = workers
            .run(move || {
                let began = Instant::now();
                let reply = plugin.handle(Invocation {
                    event: &event,
                    call: &call,
                    settings: tenant.settings.clone(),
                    tag,
                    limits: &tenant.limits,
                    mode: tenant.mode,
                    slots: Some(tenant.slots.clone()),
                });
                (reply, began.elapsed())
            })
            .await;
        ran.unwrap_or_else(|| {
            let failed = PluginError::Instantiate("the tenant's plugin threads are gone".into());
            (Err(failed), std::time::Duration::ZERO)
        })
    }

    /// Applies the tenant's failure policy. True when the call goes on with the fallback
    /// plugin (the failed event is to be handed to it).
    async fn fail(&mut self, reason: &str) -> bool {
        TenantCounters::add(&self.tenant.counters.plugin_failures, 1);
        if !self.failed_once && !self.on_fallback {
            self.failed_once = true;
            self.tenant.judge_failure(&self.version, self.rank);
        }
        tracing::warn!(tenant = %self.tenant.name, %reason, "plugin failed; applying the failure policy");
        let policy = self.tenant.on_failure.clone();
        match policy {
            OnFailure::Fallback { plugin } if !self.on_fallback => {
                self.on_fallback = true;
                self.plugin = plugin;
                true
            }
            OnFailure::Fallback { .. } => {
                self.give_up(41).await;
                false
            }
            OnFailure::Hangup { cause } => {
                self.give_up(cause).await;
                false
            }
            OnFailure::Continue {
                context,
                extension,
                priority,
            } => {
                self.hand_back(&context, extension.as_deref(), priority)
                    .await;
                false
            }
        }
    }

    /// Hands the caller back to the dialplan at `context` and hangs the call's other channels
    /// up; the plugin is asked nothing more.
    async fn hand_back(&mut self, context: &str, extension: Option<&str>, priority: Option<i32>) {
        self.given_up = true;
        self.timers.clear();
        let mut continued = false;
        if let Some(caller) = self.record.legs.get(CALLER) {
            let result = self
                .rest
                .continue_in_dialplan(&caller.ari_id, Some(context), extension, priority)
                .await;
            match result {
                Ok(()) => continued = true,
                Err(e) => {
                    tracing::warn!(error = %crate::log_text::escaped(&e), "continue in dialplan failed")
                }
            }
        }
        let others: Vec<String> = self
            .record
            .legs
            .iter()
            .filter(|(h, _)| !(continued && h.as_str() == CALLER))
            .map(|(_, l)| l.ari_id.clone())
            .collect();
        for id in others {
            let _ = self.rest.hangup(&id, 16).await;
        }
    }

    /// The failure policy for a refused call: hang up or continue; a fallback plugin is not
    /// run past a limit, so it hangs up with 41.
    async fn apply_policy_without_fallback(&mut self) {
        match self.tenant.on_failure.clone() {
            OnFailure::Hangup { cause } => self.give_up(cause).await,
            OnFailure::Fallback { .. } => self.give_up(41).await,
            OnFailure::Continue {
                context,
                extension,
                priority,
            } => {
                self.hand_back(&context, extension.as_deref(), priority)
                    .await
            }
        }
    }

    /// Hangs every channel of the call up with `cause`; the plugin is asked nothing more.
    async fn give_up(&mut self, cause: u8) {
        self.given_up = true;
        self.timers.clear();
        let ids: Vec<String> = self
            .record
            .legs
            .values()
            .map(|l| l.ari_id.clone())
            .collect();
        for id in ids {
            if let Err(e) = self.rest.hangup(&id, cause).await
                && e.status() != Some(404)
            {
                tracing::warn!(error = %crate::log_text::escaped(&e), "hangup failed");
            }
        }
    }

    /// The call is over: its bridges are destroyed (nobody else cleans them up), its timers
    /// cancelled, and it leaves the table.
    async fn end(mut self) {
        self.timers.clear();
        let bridges: Vec<String> = self
            .record
            .bridges
            .values()
            .map(|b| b.ari_id.clone())
            .collect();
        for id in bridges {
            if let Err(e) = self.rest.destroy_bridge(&id).await
                && e.status() != Some(404)
            {
                tracing::warn!(bridge = %id, error = %crate::log_text::escaped(&e), "bridge not destroyed");
            }
        }
        self.table.remove(&self.record.id);
        if let Some(journal) = &self.journal {
            journal.remove(&self.record.id);
        }
        self.tenant.versions.release(&self.version);
        if !self.was_refused {
            self.tenant.call_ended();
        }
        TenantCounters::add(&self.tenant.counters.calls_ended, 1);
        self.observer.send(Observation::Ended {
            call: self.record.id.clone(),
            duration: self.opened.elapsed(),
            given_up: self.given_up,
        });
        let outcome = if self.was_refused {
            "refused"
        } else if self.given_up {
            "failure policy"
        } else {
            "completed"
        };
        super::call_log::ended(&super::call_log::Ended {
            tenant: &self.tenant.name,
            outcome,
            causes: &self.endings,
            legs_dialed: self.record.dials,
            duration: self.opened.elapsed(),
            plugin_time: self.plugin_time,
        });
    }
}
