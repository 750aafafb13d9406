//! Carries out a checked reply against Asterisk, in order. Handles become Asterisk ids
//! (`cw-<call>-<handle>`); the record learns of new channels, bridges and playbacks before
//! their requests go out, because Asterisk's events about them can arrive before its answer.
//! The first command that fails stops the rest; its failure goes back to the plugin.
//!
//! A channel the router created may not be in the application yet when Asterisk answers the
//! create (ari-samples t4: the 200 came before the StasisStart in 106 of 120 creates, and an
//! addChannel sent in between got 422). A command that needs such a leg in the application
//! pauses the list ([`Executed::Waiting`]) until the call's task has seen its StasisStart;
//! commands that do not (set-var, timers) go at once.

use super::budget::{Budget, OverLimit};
use super::call::{BridgeRecord, CALLER, CallRecord, Leg, LegCallerId, LegPhase, ari_id};
use super::check::command_name;
use super::queue::CallQueue;
use super::timers::Timers;
use crate::ari::models::Channel as AriChannel;
use crate::ari::{AriError, CreateChannel, PlayTarget, Rest};
use crate::runtime::{self as wit, CallerId, Command, Target};

/// How far a reply got.
#[derive(Debug, PartialEq)]
pub enum Executed {
    /// Every command was carried out.
    Done,
    /// The command at `index` failed; the rest were not sent.
    Failed(wit::Failure),
    /// The command at `index` was over one of the call's limits and was not sent, nor were
    /// the rest.
    OverLimit(wit::Failure),
    /// The command at `index` needs the leg `leg` in the application and its StasisStart has
    /// not arrived: run the list again from `index` once it has.
    Waiting { index: usize, leg: String },
    /// The command at `index` is a dial that has not been cleared to go ([`DialGate`]): record
    /// that it is going out, then run the list again from `index` with it cleared.
    Dialing { index: usize },
}

/// Whether dials wait to be recorded before they go out (a durable call: a restarted router
/// must know which legs were dialed, so that none is dialed twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialGate {
    /// Dials go at once (calls in memory only).
    Open,
    /// Every dial stops the list, except the one at this index, which was recorded.
    Closed { cleared: Option<usize> },
}

/// Where a run of a reply starts: the first command to carry out, and whether dials wait to
/// be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartAt {
    pub index: usize,
    pub gate: DialGate,
    /// Finishing a reply a restart interrupted: skip what Asterisk already shows done.
    pub resumed: bool,
}

/// Runs `commands[from.index..]` for `call`. Stops at the first failure, as the plugin will
/// see it, at a command whose leg has not entered the application yet, or at a dial the gate
/// holds.
pub async fn execute(
    call: &mut CallRecord,
    rest: &Rest,
    commands: &[Command],
    from: StartAt,
    timers: &mut Timers,
    queue: &CallQueue,
    budget: &mut Budget,
) -> Executed {
    let gate = from.gate;
    let mut index = from.index;
    while index < commands.len() {
        let command = &commands[index];
        // The dial whose mark was just written is marked dialed and must still go out.
        let marked_here = matches!(gate, DialGate::Closed { cleared: Some(i) } if i == index);
        if from.resumed && !marked_here && done_already(call, command) {
            index += 1;
            continue;
        }
        if let Some(leg) = entering_leg(call, command) {
            return Executed::Waiting { index, leg };
        }
        if let (Command::Dial(_), DialGate::Closed { cleared }) = (command, gate)
            && cleared != Some(index)
        {
            return Executed::Dialing { index };
        }
        if let Err(over) = spend(call, timers, budget, command) {
            tracing::info!(command = command_name(command), reason = %over, "command over a limit; not sent");
            return Executed::OverLimit(failure(index, command, 0, over.to_string()));
        }
        // The set-vars right after a create, on the new leg, travel in the create request's
        // body: one round trip instead of one each. If the create fails, they were not
        // carried out, as the contract says of the commands after a failed one.
        let (result, folded) = match command {
            Command::Create(c) => {
                let vars: Vec<(&str, &str)> = commands[index + 1..]
                    .iter()
                    .map_while(|next| match next {
                        Command::SetVar(v) if v.channel == c.leg => {
                            Some((v.name.as_str(), v.value.as_str()))
                        }
                        _ => None,
                    })
                    .collect();
                (create(call, rest, c, &vars).await, vars.len())
            }
            _ => (
                run_one(call, rest, command, timers, queue, marked_here).await,
                0,
            ),
        };
        if let Err(e) = result {
            return Executed::Failed(failure(
                index,
                command,
                e.status().unwrap_or(0),
                e.message(),
            ));
        }
        index += 1 + folded;
    }
    Executed::Done
}

/// Whether the effect of `command` is already in the record, as the restart read it back from
/// Asterisk: the leg or bridge exists, the channels are in the bridge, the leg was dialed (its
/// dial was marked before it went), the channel is up. Commands whose effect cannot be seen
/// (variables, timers, playbacks) are carried out again.
fn done_already(call: &CallRecord, command: &Command) -> bool {
    match command {
        Command::Create(c) => call.legs.contains_key(&c.leg),
        Command::BridgeCreate(b) => call.bridges.contains_key(&b.bridge),
        Command::BridgeAdd(m) => call
            .bridges
            .get(&m.bridge)
            .is_some_and(|b| m.channels.iter().all(|h| b.members.contains(h))),
        Command::Dial(d) => call.legs.get(&d.leg).is_some_and(|l| l.dialed),
        Command::Answer(h) => call.legs.get(h).is_some_and(|l| l.model.state == "Up"),
        _ => false,
    }
}

/// Bridges one call holds at once.
pub const MAX_BRIDGES: usize = 8;

/// Playbacks one call runs at once.
pub const MAX_PLAYBACKS: usize = 32;

/// Takes what `command` costs from the call's budget, or says which limit it is over.
fn spend(
    call: &CallRecord,
    timers: &Timers,
    budget: &mut Budget,
    command: &Command,
) -> Result<(), OverLimit> {
    match command {
        Command::StartTimer(t) => {
            return budget.timer(timers.len(), timers.is_running(&t.name), t.ms);
        }
        Command::CancelTimer(_) => return Ok(()),
        Command::BridgeCreate(_) if call.bridges.len() >= MAX_BRIDGES => {
            return Err(OverLimit(format!("{MAX_BRIDGES} bridges per call")));
        }
        Command::Play(_) if call.playbacks.len() >= MAX_PLAYBACKS => {
            return Err(OverLimit(format!("{MAX_PLAYBACKS} playbacks per call")));
        }
        _ => {}
    }
    budget.request()?;
    if let Command::Create(_) = command {
        budget.create(call.legs.len())?;
    }
    Ok(())
}

/// The failure of `commands[index]`, as the plugin hears it.
pub fn failure(index: usize, command: &Command, status: u16, message: String) -> wit::Failure {
    wit::Failure {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        command: command_name(command).into(),
        status,
        message,
    }
}

/// The first leg `command` needs in the application that has not entered it yet. Asterisk
/// looks up the channel's Stasis control for these (res/ari/resource_channels.c
/// `find_control`) and refuses a channel that has none yet (422 addChannel, 409 otherwise);
/// hangups, bridges and timers work at once, and the variables folded into a create travel
/// with it.
fn entering_leg(call: &CallRecord, command: &Command) -> Option<String> {
    let channels: &[String] = match command {
        Command::SetVar(v) => std::slice::from_ref(&v.channel),
        Command::BridgeAdd(m) | Command::BridgeRemove(m) => &m.channels,
        Command::Dial(d) => std::slice::from_ref(&d.leg),
        Command::Answer(h) | Command::Ring(h) | Command::Progress(h) | Command::StopMoh(h) => {
            std::slice::from_ref(h)
        }
        Command::StartMoh(m) => std::slice::from_ref(&m.channel),
        Command::ContinueInDialplan(c) => std::slice::from_ref(&c.channel),
        Command::Play(p) => match &p.target {
            Target::Channel(h) => std::slice::from_ref(h),
            Target::Bridge(_) => &[],
        },
        _ => &[],
    };
    channels
        .iter()
        .find(|h| {
            call.legs
                .get(h.as_str())
                .is_some_and(|l| l.phase == LegPhase::Entering)
        })
        .cloned()
}

/// Hanging up or stopping something already gone is not a failure: the goal holds.
fn gone_is_fine(result: Result<(), AriError>) -> Result<(), AriError> {
    match result {
        Err(e) if e.status() == Some(404) => Ok(()),
        other => other,
    }
}

/// `create`: the leg joins the call's record, then Asterisk creates it with its connected line
/// (for a given caller ID) and `extra` variables set in the same request.
async fn create(
    call: &mut CallRecord,
    rest: &Rest,
    c: &wit::Create,
    extra: &[(&str, &str)],
) -> Result<(), AriError> {
    let id_of = |call: &CallRecord, h: &str| {
        call.legs
            .get(h)
            .map(|l| l.ari_id.clone())
            .unwrap_or_else(|| ari_id(&call.id, h))
    };
    let id = ari_id(&call.id, &c.leg);
    // What the callee sees comes from the leg's connected line (ari-samples/README), set as
    // the channel is created, with the variables that follow the create.
    let mut variables: Vec<(&str, &str)> = Vec::with_capacity(extra.len() + 2);
    if let CallerId::Given(party) = &c.caller_id {
        variables.push(("CONNECTEDLINE(num)", &party.number));
        if !party.name.is_empty() {
            variables.push(("CONNECTEDLINE(name)", &party.name));
        }
    }
    variables.extend_from_slice(extra);
    let originator = c.originator.as_deref().map(|o| id_of(call, o));
    call.legs.insert(
        c.leg.clone(),
        Box::new(Leg {
            ari_id: id.clone(),
            model: AriChannel {
                id: id.clone(),
                state: "Down".into(),
                ..AriChannel::default()
            },
            caller_id: match c.caller_id {
                CallerId::PassThrough => LegCallerId::PassThrough,
                CallerId::Given(_) => LegCallerId::Given,
            },
            created: true,
            phase: LegPhase::Entering,
            dialed: false,
            dial_settled: false,
            since: std::time::Instant::now(),
        }),
    );
    let created = rest
        .create_channel(&CreateChannel {
            endpoint: &c.endpoint,
            app: &call.app,
            channel_id: Some(&id),
            originator: originator.as_deref(),
            formats: c.formats.as_deref(),
            variables: &variables,
            ..CreateChannel::default()
        })
        .await;
    match created {
        Ok(model) => {
            if let Some(leg) = call.legs.get_mut(&c.leg)
                && leg.model.name.is_empty()
            {
                leg.model = model;
            }
        }
        Err(e) => {
            call.legs.remove(&c.leg);
            return Err(e);
        }
    }
    Ok(())
}

/// `marked`: the command is a dial its session recorded (leg marked dialed, counted) before
/// it goes.
async fn run_one(
    call: &mut CallRecord,
    rest: &Rest,
    command: &Command,
    timers: &mut Timers,
    queue: &CallQueue,
    marked: bool,
) -> Result<(), AriError> {
    let id_of = |call: &CallRecord, h: &str| {
        call.legs
            .get(h)
            .map(|l| l.ari_id.clone())
            .unwrap_or_else(|| ari_id(&call.id, h))
    };
    let bridge_of = |call: &CallRecord, h: &str| {
        call.bridges
            .get(h)
            .map(|b| b.ari_id.clone())
            .unwrap_or_else(|| ari_id(&call.id, h))
    };
    match command {
        Command::Create(c) => create(call, rest, c, &[]).await,
        Command::SetVar(v) => {
            rest.set_variable(&id_of(call, &v.channel), &v.name, &v.value)
                .await
        }
        Command::Dial(d) => {
            let leg = id_of(call, &d.leg);
            // A given caller ID survives only if dial does not copy the caller's over it.
            let caller = match call.legs.get(&d.leg).map(|l| &l.caller_id) {
                Some(LegCallerId::Given) => None,
                _ => d
                    .caller
                    .as_deref()
                    .or(call.legs.contains_key(CALLER).then_some(CALLER))
                    .map(|h| id_of(call, h)),
            };
            let timeout = (d.timeout_s > 0).then_some(d.timeout_s);
            if call.first_dial.is_none() {
                call.first_dial = Some(call.received.elapsed());
            }
            if let Err(e) = rest.dial(&leg, caller.as_deref(), timeout).await {
                // A durable call marked it dialed before sending; it was not.
                if let Some(l) = call.legs.get_mut(&d.leg) {
                    l.dialed = false;
                }
                if marked {
                    call.dials = call.dials.saturating_sub(1);
                }
                return Err(e);
            }
            if !marked {
                call.dials = call.dials.saturating_add(1);
            }
            if let Some(l) = call.legs.get_mut(&d.leg) {
                l.dialed = true;
            }
            Ok(())
        }
        Command::Answer(h) => rest.answer(&id_of(call, h)).await,
        Command::Ring(h) => rest.ring(&id_of(call, h)).await,
        Command::Progress(h) => rest.progress(&id_of(call, h)).await,
        Command::Hangup(h) => gone_is_fine(rest.hangup(&id_of(call, &h.channel), h.cause).await),
        Command::BridgeCreate(b) => {
            let id = ari_id(&call.id, &b.bridge);
            call.bridges.insert(
                b.bridge.clone(),
                BridgeRecord {
                    ari_id: id.clone(),
                    kind: b.kind,
                    members: Vec::new(),
                },
            );
            let kind = match b.kind {
                wit::BridgeKind::Mixing => "mixing",
                wit::BridgeKind::Holding => "holding",
            };
            if let Err(e) = rest.create_bridge(&id, kind).await {
                call.bridges.remove(&b.bridge);
                return Err(e);
            }
            Ok(())
        }
        Command::BridgeAdd(m) => {
            let bridge = bridge_of(call, &m.bridge);
            let ids: Vec<String> = m.channels.iter().map(|h| id_of(call, h)).collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            // With a given-ID leg in the bridge, nobody's identity may overwrite its connected
            // line: inhibit updates for everyone added.
            let given = |h: &String| {
                call.legs
                    .get(h)
                    .is_some_and(|l| l.caller_id == LegCallerId::Given)
            };
            let inhibit = m.channels.iter().any(given)
                || call
                    .bridges
                    .get(&m.bridge)
                    .is_some_and(|b| b.members.iter().any(given));
            rest.add_channels(&bridge, &refs, inhibit).await
        }
        Command::BridgeRemove(m) => {
            let bridge = bridge_of(call, &m.bridge);
            let ids: Vec<String> = m.channels.iter().map(|h| id_of(call, h)).collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            rest.remove_channels(&bridge, &refs).await
        }
        Command::BridgeDestroy(b) => {
            let bridge = bridge_of(call, b);
            gone_is_fine(rest.destroy_bridge(&bridge).await)?;
            call.bridges.remove(b);
            Ok(())
        }
        Command::Play(p) => {
            let id = ari_id(&call.id, &p.playback);
            call.playbacks.insert(id.clone(), p.playback.clone());
            let target_id = match &p.target {
                Target::Channel(h) => id_of(call, h),
                Target::Bridge(h) => bridge_of(call, h),
            };
            let target = match &p.target {
                Target::Channel(_) => PlayTarget::Channel(&target_id),
                Target::Bridge(_) => PlayTarget::Bridge(&target_id),
            };
            if let Err(e) = rest.play(target, &p.media, &id).await {
                call.playbacks.remove(&id);
                return Err(e);
            }
            Ok(())
        }
        Command::StopPlayback(p) => gone_is_fine(rest.stop_playback(&ari_id(&call.id, p)).await),
        Command::StartMoh(m) => {
            rest.start_moh(&id_of(call, &m.channel), m.class.as_deref())
                .await
        }
        Command::StopMoh(h) => rest.stop_moh(&id_of(call, h)).await,
        Command::ContinueInDialplan(c) => {
            rest.continue_in_dialplan(
                &id_of(call, &c.channel),
                c.context.as_deref(),
                c.extension.as_deref(),
                c.priority,
            )
            .await
        }
        Command::StartTimer(t) => {
            timers.start(&t.name, t.ms, queue.clone());
            Ok(())
        }
        Command::CancelTimer(name) => {
            timers.cancel(name);
            Ok(())
        }
    }
}
