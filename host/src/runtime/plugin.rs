//! A compiled, checked plugin and one `handle` call of it, in a fresh or a reused instance.

use super::bindings::callwasm::router::types::{Call, Command, Event, EventKind, Reply, Target};
use super::bindings::{RouterPlugin, RouterPluginPre};
use super::engine::RuntimeInner;
use super::error::PluginError;
use super::inspect::ComponentInfo;
use super::limits::Limits;
use super::sandbox::{CallContext, DeadlineHit, MemoryCapHit, Sandbox, random_seed};
use super::slots::{InstanceSlots, Slot};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline};

/// A tenant's plugin settings, handed to the plugin through `host.setting`.
pub type Settings = BTreeMap<String, String>;

/// How instances are used between events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum InstanceMode {
    /// Every event gets a new instance: nothing survives between events but the state bytes.
    Fresh,
    /// Warm instances are kept and reused, each for at most `max_uses` events; an instance
    /// that failed is never reused. For big runtimes (Python, JavaScript) whose instantiation
    /// costs a millisecond.
    Reuse { max_uses: u32 },
}

impl Default for InstanceMode {
    /// `fresh`: for a Rust plugin a fresh instance costs tens of microseconds with the pooling
    /// allocator (see `cargo bench --bench plugin_dispatch`), and it gives the strongest
    /// isolation. Tenants with Python or JavaScript plugins choose `reuse`.
    fn default() -> Self {
        InstanceMode::Fresh
    }
}

/// One `handle` call: the event, the call as the host knows it, and the tenant's context.
pub struct Invocation<'a> {
    pub event: &'a Event,
    pub call: &'a Call,
    pub settings: Arc<Settings>,
    /// The call id, the `call` field of the plugin's log lines.
    pub tag: Arc<str>,
    pub limits: &'a Limits,
    pub mode: InstanceMode,
    /// The tenant's share of the instance pool; None outside a router (tools, benches).
    pub slots: Option<Arc<InstanceSlots>>,
}

/// Idle warm instances kept per plugin in `reuse` mode.
const MAX_IDLE_INSTANCES: usize = 16;

struct Warm {
    store: Store<Sandbox>,
    plugin: RouterPlugin,
    uses: u32,
    /// The tenant's slot this instance holds while it lives.
    _slot: Option<Slot>,
}

/// A plugin compiled for this runtime and checked against the `router-plugin` world.
pub struct Plugin {
    runtime: Arc<RuntimeInner>,
    pre: RouterPluginPre<Sandbox>,
    info: ComponentInfo,
    /// The plugin's name, shared by every instance's log lines.
    name: Arc<str>,
    compiled: bool,
    idle: Mutex<Vec<Warm>>,
    /// The event kinds the plugin asked for (`interests`), one bit per kind.
    interests: u16,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("info", &self.info).finish()
    }
}

impl Plugin {
    pub(crate) fn new(
        runtime: Arc<RuntimeInner>,
        pre: RouterPluginPre<Sandbox>,
        info: ComponentInfo,
        compiled: bool,
    ) -> Self {
        Plugin {
            runtime,
            pre,
            name: Arc::from(info.name.as_str()),
            info,
            compiled,
            idle: Mutex::new(Vec::new()),
            interests: u16::MAX,
        }
    }

    /// Asks the plugin which event kinds it wants (once, at load), on a fresh instance within
    /// the default limits.
    pub(crate) fn ask_interests(&mut self) -> Result<(), PluginError> {
        let limits = Limits::default();
        let context = CallContext {
            tag: Arc::from(format!("{}/load", self.name)),
            settings: Arc::new(Settings::new()),
            log_budget: limits.max_log_bytes,
        };
        let mut store = self.new_store(context, &limits, 0, 0);
        let instance = match self.pre.instantiate(&mut store) {
            Ok(i) => i,
            Err(e) => {
                store.data().output().finish_call();
                return Err(self.classify(e, &store, &limits));
            }
        };
        let kinds = instance
            .callwasm_router_call_handler()
            .call_interests(&mut store);
        store.data().output().finish_call();
        let kinds = kinds.map_err(|e| self.classify(e, &store, &limits))?;
        // `started` always comes: it is where a call begins.
        self.interests = kinds
            .iter()
            .fold(bit(EventKind::Started), |mask, k| mask | bit(*k));
        Ok(())
    }

    /// Whether the plugin asked for events of this kind.
    pub fn wants(&self, event: &Event) -> bool {
        self.interests & bit(kind_of(event)) != 0
    }

    /// Name, size, hash, imports and exports.
    pub fn info(&self) -> &ComponentInfo {
        &self.info
    }

    /// False when the compiled code came from the cache.
    pub fn was_compiled(&self) -> bool {
        self.compiled
    }

    /// Runs the plugin on one event. Blocks the calling thread for at most the deadline (plus
    /// one epoch tick): call it where blocking is allowed.
    pub fn handle(&self, inv: Invocation<'_>) -> Result<Reply, PluginError> {
        let context = CallContext {
            tag: inv.tag.clone(),
            settings: inv.settings.clone(),
            log_budget: inv.limits.max_log_bytes,
        };
        let max_uses = match inv.mode {
            InstanceMode::Fresh => None,
            InstanceMode::Reuse { max_uses } => Some(max_uses),
        };
        let ticks = self.deadline_ticks(inv.limits);
        let seed = random_seed(&inv.call.id, inv.call.now_ms);
        let mut warm = match max_uses.and_then(|_| self.take_idle()) {
            Some(mut warm) => {
                let sandbox = warm.store.data_mut();
                sandbox.begin_call(context, inv.call.now_ms, seed);
                sandbox.memory_limit = self.memory_limit(inv.limits);
                sandbox.run.start(inv.limits.deadline, ticks);
                warm
            }
            None => {
                let slot = match &inv.slots {
                    Some(slots) => Some(slots.take().ok_or_else(|| {
                        PluginError::Instantiate(format!(
                            "all {} plugin instances of the tenant are in use",
                            slots.max()
                        ))
                    })?),
                    None => None,
                };
                let mut store = self.new_store(context, inv.limits, inv.call.now_ms, seed);
                match self.pre.instantiate(&mut store) {
                    Ok(plugin) => Warm {
                        store,
                        plugin,
                        uses: 0,
                        _slot: slot,
                    },
                    Err(e) => {
                        store.data().output().finish_call();
                        return Err(self.classify(e, &store, inv.limits));
                    }
                }
            }
        };
        warm.store.set_epoch_deadline(ticks);
        let result = warm.plugin.callwasm_router_call_handler().call_handle(
            &mut warm.store,
            inv.event,
            inv.call,
        );
        warm.uses += 1;
        warm.store.data().output().finish_call();
        let reply = self.finish(result, &warm.store, inv.limits);
        // An instance that failed in any way is dropped: its memory may be inconsistent.
        if let Some(max_uses) = max_uses
            && reply.is_ok()
            && warm.uses < max_uses
        {
            self.put_idle(warm, inv.slots.as_deref());
        }
        reply
    }

    /// A store for one fresh instance: limits, copy budget, deadline, frozen clock.
    fn new_store(
        &self,
        context: CallContext,
        limits: &Limits,
        now_ms: u64,
        seed: u64,
    ) -> Store<Sandbox> {
        let ticks = self.deadline_ticks(limits);
        let sandbox = Sandbox::new(
            self.name.clone(),
            self.memory_limit(limits),
            context,
            self.runtime.ticks.clone(),
        );
        let mut store = Store::new(&self.runtime.engine, sandbox);
        store.limiter(|s| s as &mut dyn ResourceLimiter);
        // What the plugin may copy out to the host in one call (its reply, log lines): far
        // above any reply within the limits, far below what would hurt the host.
        store.set_hostcall_fuel(copy_budget(limits));
        store.call_hook(|mut s, hook| {
            s.data_mut().run.on_transition(hook);
            Ok(())
        });
        let per_second = self.runtime.ticks_per_second();
        store.epoch_deadline_callback(move |s| {
            let run = &s.data().run;
            match run.remaining(per_second) {
                0 => Err(wasmtime::Error::new(DeadlineHit(run.deadline))),
                left => Ok(UpdateDeadline::Continue(left)),
            }
        });
        let sandbox = store.data_mut();
        sandbox.clock_ms.store(now_ms, Ordering::Relaxed);
        sandbox.reseed(seed);
        sandbox.run.start(limits.deadline, ticks);
        store.set_epoch_deadline(ticks);
        store
    }

    fn memory_limit(&self, limits: &Limits) -> usize {
        limits
            .memory_bytes
            .min(self.runtime.config.max_memory_bytes)
    }

    /// The deadline in ticks, plus one: a call may begin just before a tick, so `n + 1`
    /// ticks of counting last at least `n` ticks' time.
    fn deadline_ticks(&self, limits: &Limits) -> u64 {
        let tick = self.runtime.config.epoch_tick.as_nanos().max(1);
        (limits.deadline.as_nanos().div_ceil(tick) as u64).saturating_add(1)
    }

    fn take_idle(&self) -> Option<Warm> {
        self.idle.lock().ok()?.pop()
    }

    /// Keeps a warm instance for reuse, within the plugin's and the tenant's bounds.
    fn put_idle(&self, warm: Warm, slots: Option<&InstanceSlots>) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_INSTANCES
            && slots.is_none_or(InstanceSlots::may_keep_idle)
        {
            idle.push(warm);
        }
    }

    /// Drops the warm instances kept for reuse (a version no call uses any more), giving
    /// their slots back.
    pub fn drop_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// The call's result, checked against the limits on what a reply may carry.
    fn finish(
        &self,
        result: wasmtime::Result<Result<Reply, String>>,
        store: &Store<Sandbox>,
        limits: &Limits,
    ) -> Result<Reply, PluginError> {
        let reply = match result {
            Ok(Ok(reply)) => reply,
            Ok(Err(message)) => return Err(PluginError::Returned(message)),
            Err(e) => return Err(self.classify(e, store, limits)),
        };
        if reply.commands.len() > limits.max_commands {
            return Err(PluginError::TooManyCommands {
                count: reply.commands.len(),
                limit: limits.max_commands,
            });
        }
        let state_bytes = reply.state.as_ref().map_or(0, Vec::len);
        if state_bytes > limits.max_state_bytes {
            return Err(PluginError::StateTooLarge {
                bytes: state_bytes,
                limit: limits.max_state_bytes,
            });
        }
        let bytes = state_bytes + reply.commands.iter().map(command_bytes).sum::<usize>();
        if bytes > limits.max_reply_bytes {
            return Err(PluginError::ReplyTooLarge {
                bytes,
                limit: limits.max_reply_bytes,
            });
        }
        Ok(reply)
    }

    /// Names why wasmtime stopped the plugin.
    fn classify(
        &self,
        error: wasmtime::Error,
        store: &Store<Sandbox>,
        limits: &Limits,
    ) -> PluginError {
        if let Some(hit) = error.downcast_ref::<MemoryCapHit>() {
            return PluginError::MemoryLimit { limit: hit.limit };
        }
        if let Some(hit) = error.downcast_ref::<DeadlineHit>() {
            return PluginError::DeadlineExceeded(hit.0);
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => PluginError::DeadlineExceeded(limits.deadline),
            Some(Trap::StackOverflow) => PluginError::StackOverflow,
            Some(trap) => {
                let said = Vec::from(store.data().output().last_stderr.clone()).join(" / ");
                PluginError::Trap {
                    message: if said.is_empty() {
                        trap.to_string()
                    } else {
                        format!("{trap} (plugin's last words: {said})")
                    },
                }
            }
            // wasmtime's own budget for what a call copies out of the guest (its error type
            // is private; its message is stable and says what happened).
            None if format!("{error:#}").contains("fuel allocated for hostcalls") => {
                PluginError::ReplyTooLargeToCopy {
                    budget: copy_budget(limits),
                    limit: limits.max_reply_bytes,
                }
            }
            None => PluginError::Instantiate(format!("{error:#}")),
        }
    }
}

/// Bytes a plugin may copy out to the host in one call, in the canonical ABI's layout (which
/// is bigger than the reply's text): 16 times the reply limit, at least 16 MiB.
fn copy_budget(limits: &Limits) -> usize {
    limits.max_reply_bytes.saturating_mul(16).max(16 << 20)
}

/// Bytes of text a command carries: what the reply-size limit counts.
fn command_bytes(command: &Command) -> usize {
    let strs = |list: &[String]| list.iter().map(String::len).sum::<usize>();
    16 + match command {
        Command::Create(c) => {
            c.leg.len()
                + c.endpoint.len()
                + c.formats.as_ref().map_or(0, String::len)
                + c.originator.as_ref().map_or(0, String::len)
                + match &c.caller_id {
                    super::CallerId::PassThrough => 0,
                    super::CallerId::Given(p) => p.name.len() + p.number.len(),
                }
        }
        Command::SetVar(v) => v.channel.len() + v.name.len() + v.value.len(),
        Command::Dial(d) => d.leg.len() + d.caller.as_ref().map_or(0, String::len),
        Command::Answer(h)
        | Command::Ring(h)
        | Command::Progress(h)
        | Command::BridgeDestroy(h)
        | Command::StopPlayback(h)
        | Command::StopMoh(h)
        | Command::CancelTimer(h) => h.len(),
        Command::Hangup(h) => h.channel.len(),
        Command::BridgeCreate(b) => b.bridge.len(),
        Command::BridgeAdd(m) | Command::BridgeRemove(m) => m.bridge.len() + strs(&m.channels),
        Command::Play(p) => {
            p.playback.len()
                + strs(&p.media)
                + match &p.target {
                    Target::Channel(h) | Target::Bridge(h) => h.len(),
                }
        }
        Command::StartMoh(m) => m.channel.len() + m.class.as_ref().map_or(0, String::len),
        Command::ContinueInDialplan(c) => {
            c.channel.len()
                + c.context.as_ref().map_or(0, String::len)
                + c.extension.as_ref().map_or(0, String::len)
        }
        Command::StartTimer(t) => t.name.len(),
    }
}

/// An event kind's bit in a plugin's interests.
fn bit(kind: EventKind) -> u16 {
    1 << (kind as u16)
}

/// The kind of an event.
fn kind_of(event: &Event) -> EventKind {
    match event {
        Event::Started => EventKind::Started,
        Event::StateChanged(_) => EventKind::StateChanged,
        Event::DialStatus(_) => EventKind::DialStatus,
        Event::HungUp(_) => EventKind::HungUp,
        Event::Left(_) => EventKind::Left,
        Event::EnteredBridge(_) => EventKind::EnteredBridge,
        Event::LeftBridge(_) => EventKind::LeftBridge,
        Event::Dtmf(_) => EventKind::Dtmf,
        Event::PlaybackFinished(_) => EventKind::PlaybackFinished,
        Event::Timer(_) => EventKind::Timer,
        Event::CommandFailed(_) => EventKind::CommandFailed,
    }
}
