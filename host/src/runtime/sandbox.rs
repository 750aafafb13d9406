//! A plugin instance's world: the store data behind every `handle` call.
//!
//! It holds what the host hands a plugin (its tenant's settings, a log, a clock frozen at the
//! event's time) and the fences around it (a memory cap, a log budget). WASI is there only
//! because language runtimes expect it: no preopened files, no network, no environment, no
//! inherited stdio; stdout and stderr are captured and go to the log.

use super::bindings::callwasm::router::{host, types};
use super::plugin::Settings;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::{CallHook, ResourceLimiter};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

/// Raised inside the guest when it grows its memory past the cap, so the call fails with a
/// reason instead of an allocation failure deep in the plugin.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes reached (asked for {desired})")]
pub(crate) struct MemoryCapHit {
    pub limit: usize,
    pub desired: usize,
}

/// Raised inside the guest when its own run time passes the call's deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline of {0:?} exceeded")]
pub(crate) struct DeadlineHit(pub Duration);

/// The time a plugin spends running, as opposed to the time the host spends copying values in
/// and out of it. The deadline counts only the former: reading a huge reply must fail as
/// "too many commands", not as a deadline the plugin did not miss.
///
/// Time is counted in epoch ticks read from the runtime's tick counter (an atomic load), not
/// from the system clock: a call crosses into and out of wasm dozens of times (every string the
/// host copies in goes through the plugin's allocator), and a clock read per crossing showed
/// up as 8% of a warm call.
pub(crate) struct RunClock {
    ticks: Arc<AtomicU64>,
    /// The deadline, in ticks.
    pub budget: u64,
    pub deadline: Duration,
    used: u64,
    /// The tick at which the outermost entry into wasm began; entries nest (the host calls the
    /// plugin's allocator while returning a string from an import).
    entered: Option<u64>,
    depth: u32,
    /// The tick the call began at: a backstop should the accounting above ever miss an exit
    /// from wasm.
    began: u64,
}

impl RunClock {
    pub fn new(ticks: Arc<AtomicU64>) -> Self {
        RunClock {
            ticks,
            budget: 0,
            deadline: Duration::ZERO,
            used: 0,
            entered: None,
            depth: 0,
            began: 0,
        }
    }

    fn now(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    pub fn start(&mut self, deadline: Duration, budget: u64) {
        self.deadline = deadline;
        self.budget = budget;
        self.used = 0;
        self.entered = None;
        self.depth = 0;
        self.began = self.now();
    }

    /// Call hook: the plugin's time runs from entering wasm until leaving it; host imports it
    /// calls count as its time.
    pub fn on_transition(&mut self, hook: CallHook) {
        match hook {
            CallHook::CallingWasm => {
                if self.depth == 0 {
                    self.entered = Some(self.now());
                }
                self.depth += 1;
            }
            CallHook::ReturningFromWasm => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0
                    && let Some(at) = self.entered.take()
                {
                    self.used += self.now().saturating_sub(at);
                }
            }
            CallHook::CallingHost | CallHook::ReturningFromHost => {}
        }
    }

    /// Ticks the plugin has left; zero once the deadline has passed, or once the whole call
    /// (host copying included) has taken twenty deadlines and a second's worth of ticks.
    pub fn remaining(&self, ticks_per_second: u64) -> u64 {
        let now = self.now();
        if now.saturating_sub(self.began) > self.budget * 20 + ticks_per_second {
            return 0;
        }
        let running = self.entered.map_or(0, |at| now.saturating_sub(at));
        self.budget.saturating_sub(self.used + running)
    }
}

/// The per-call context the host sets before each `handle`.
#[derive(Clone)]
pub(crate) struct CallContext {
    /// Tags every log line with the call, such as "acme/call-42".
    pub tag: Arc<str>,
    pub settings: Arc<Settings>,
    pub log_budget: usize,
}

/// Store data of one plugin instance.
pub(crate) struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub memory_limit: usize,
    pub context: CallContext,
    /// What the plugin wrote to stdout/stderr and the host log in this call, bounded.
    pub output: Arc<Mutex<Output>>,
    /// The time WASI clocks report: the event's `now-ms`.
    pub clock_ms: Arc<AtomicU64>,
    /// WASI random's state, seeded per call ([`Sandbox::begin_call`]).
    random: Arc<AtomicU64>,
    /// The plugin's run time in this call, against its deadline.
    pub run: RunClock,
}

/// stderr lines kept for the error message of a trap.
const LAST_WORDS: usize = 3;

/// A plugin's log output during one call, bounded by the call's log budget.
#[derive(Default)]
pub(crate) struct Output {
    pub budget: usize,
    pub used: usize,
    pub dropped: usize,
    /// Partial stdout/stderr lines waiting for their newline.
    pub partial: [Vec<u8>; 2],
    /// The last few stderr lines: a panicking plugin's last words.
    pub last_stderr: std::collections::VecDeque<String>,
    pub tag: Option<Arc<str>>,
    /// The plugin's name, on every line it logs.
    pub plugin: Arc<str>,
}

impl Output {
    /// Takes `len` bytes of the budget; false (and counted as dropped) when it is spent.
    fn spend(&mut self, len: usize) -> bool {
        if self.used + len > self.budget {
            self.dropped += len;
            return false;
        }
        self.used += len;
        true
    }

    fn emit(&self, level: host::Level, stream: &str, message: &str) {
        let tag = self.tag.as_deref().unwrap_or("-");
        // A plugin's text: a newline in it must not start a log line of its own.
        let message = crate::log_text::escaped(message);
        match level {
            host::Level::Trace => {
                tracing::trace!(plugin = %self.plugin, call = tag, stream, "{message}")
            }
            host::Level::Debug => {
                tracing::debug!(plugin = %self.plugin, call = tag, stream, "{message}")
            }
            host::Level::Info => {
                tracing::info!(plugin = %self.plugin, call = tag, stream, "{message}")
            }
            host::Level::Warn => {
                tracing::warn!(plugin = %self.plugin, call = tag, stream, "{message}")
            }
            host::Level::Error => {
                tracing::error!(plugin = %self.plugin, call = tag, stream, "{message}")
            }
        }
    }

    /// Appends stdout (0) or stderr (1) bytes, logging each complete line.
    fn write_stdio(&mut self, which: usize, bytes: &[u8]) {
        if !self.spend(bytes.len()) {
            return;
        }
        self.partial[which].extend_from_slice(bytes);
        while let Some(pos) = self.partial[which].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial[which].drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            self.line(which, text);
        }
    }

    fn line(&mut self, which: usize, text: String) {
        if which == 1 {
            self.emit(host::Level::Warn, "stderr", &text);
            // Rust's hint about backtraces says nothing about the failure.
            if !text.starts_with("note: run with `RUST_BACKTRACE") {
                if self.last_stderr.len() == LAST_WORDS {
                    self.last_stderr.pop_front();
                }
                self.last_stderr.push_back(text);
            }
        } else {
            self.emit(host::Level::Info, "stdout", &text);
        }
    }

    /// Logs what is left without a newline, and reports how much was dropped.
    pub fn finish_call(&mut self) {
        for which in 0..2 {
            if !self.partial[which].is_empty() {
                let text = String::from_utf8_lossy(&self.partial[which]).into_owned();
                self.partial[which].clear();
                self.line(which, text);
            }
        }
        if self.dropped > 0 {
            let tag = self.tag.as_deref().unwrap_or("-");
            tracing::warn!(
                plugin = %self.plugin,
                call = tag,
                dropped_bytes = self.dropped,
                "plugin log output over its budget of {} bytes was dropped",
                self.budget
            );
        }
    }

    pub fn reset(&mut self, tag: Arc<str>, budget: usize) {
        *self = Output {
            budget,
            tag: Some(tag),
            plugin: self.plugin.clone(),
            ..Output::default()
        };
    }
}

impl Sandbox {
    pub fn new(
        plugin: Arc<str>,
        memory_limit: usize,
        context: CallContext,
        ticks: Arc<AtomicU64>,
    ) -> Self {
        let output = Arc::new(Mutex::new(Output {
            plugin,
            ..Output::default()
        }));
        lock(&output).reset(context.tag.clone(), context.log_budget);
        let clock_ms = Arc::new(AtomicU64::new(0));
        let random = Arc::new(AtomicU64::new(0));
        let wasi = WasiCtx::builder()
            .stdout(CapturedStream {
                output: output.clone(),
                which: 0,
            })
            .stderr(CapturedStream {
                output: output.clone(),
                which: 1,
            })
            .wall_clock(FrozenClock(clock_ms.clone()))
            .monotonic_clock(FrozenClock(clock_ms.clone()))
            .secure_random(CallRandom(random.clone()))
            .insecure_random(CallRandom(random.clone()))
            .insecure_random_seed(0)
            .build();
        Sandbox {
            wasi,
            table: ResourceTable::new(),
            memory_limit,
            context,
            output,
            clock_ms,
            random,
            run: RunClock::new(ticks),
        }
    }

    /// Prepares a (possibly reused) instance for the next call.
    /// WASI random starts from `seed`, made from the call and the event's time, so the same
    /// event of the same call gives the same reply (the contract's promise that a call can be
    /// replayed), on a fresh instance or a reused one.
    pub fn begin_call(&mut self, context: CallContext, now_ms: u64, seed: u64) {
        lock(&self.output).reset(context.tag.clone(), context.log_budget);
        self.clock_ms.store(now_ms, Ordering::Relaxed);
        self.reseed(seed);
        self.context = context;
    }

    /// Restarts WASI random from `seed`.
    pub fn reseed(&mut self, seed: u64) {
        self.random.store(seed, Ordering::Relaxed);
    }

    pub fn output(&self) -> std::sync::MutexGuard<'_, Output> {
        lock(&self.output)
    }
}

/// The output lock only guards plain data; a panic while holding it leaves nothing half-done
/// that matters, so a poisoned lock is used as it is.
fn lock(output: &Mutex<Output>) -> std::sync::MutexGuard<'_, Output> {
    output.lock().unwrap_or_else(|p| p.into_inner())
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for Sandbox {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            return Err(wasmtime::Error::new(MemoryCapHit {
                limit: self.memory_limit,
                desired,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A table entry is a pointer: keep tables within the memory cap too.
        Ok(desired.saturating_mul(8) <= self.memory_limit)
    }
}

impl types::Host for Sandbox {}

impl host::Host for Sandbox {
    fn log(&mut self, level: host::Level, message: String) {
        let mut out = self.output();
        if out.spend(message.len()) {
            out.emit(level, "log", &message);
        }
    }

    fn setting(&mut self, key: String) -> Option<String> {
        self.context.settings.get(&key).cloned()
    }
}

/// WASI clocks that show the event's time and never move during a call: a plugin gets no clock
/// beyond what the host hands it, and replaying an event replays the same time.
struct FrozenClock(Arc<AtomicU64>);

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed))
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed).saturating_mul(1_000_000)
    }
}

/// WASI random for plugins: SplitMix64 over a state the host seeds per call. Replayable by
/// design, so not a source of secrets; the contract offers a plugin none.
struct CallRandom(Arc<AtomicU64>);

impl rand_core::TryRng for CallRandom {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut z = self
            .0
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// A seed for WASI random from a call's id and an event's time (FNV-1a).
pub(crate) fn random_seed(call: &str, now_ms: u64) -> u64 {
    call.bytes()
        .chain(now_ms.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// A sleep in a plugin: ready at once. The plugin's clock is frozen at the event's time, so a
/// wait could never end by that clock, and a wait inside the host is out of the epoch
/// deadline's reach: a plugin sleeping in WASI once ran 4.6 s past a 100 ms deadline, and one
/// sleeping forever kept its thread forever. With every sleep over at once, a plugin that waits
/// in a loop spins in wasm, where the deadline stops it.
struct Elapsed;

#[wasmtime_wasi::async_trait]
impl Pollable for Elapsed {
    async fn ready(&mut self) {}
}

/// Replaces `wasi:clocks/monotonic-clock`'s `subscribe-duration` and `subscribe-instant` in
/// `linker` with pollables that are ready at once ([`Elapsed`]), and `wasi:random`'s insecure
/// seed with one from the call's generator ([`CallRandom`]). WASI offers no other wait a
/// plugin can reach: stdin is empty, and sockets and name lookups are refused before they
/// could block.
pub(crate) fn no_waiting(
    linker: &mut wasmtime::component::Linker<Sandbox>,
) -> wasmtime::Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::p2::DynPollable;
    fn elapsed(
        mut store: wasmtime::StoreContextMut<'_, Sandbox>,
        _at: (u64,),
    ) -> wasmtime::Result<(Resource<DynPollable>,)> {
        let table = &mut store.data_mut().table;
        let sleep = table.push(Elapsed)?;
        Ok((wasmtime_wasi::p2::subscribe(table, sleep)?,))
    }
    // The insecure seed (what language runtimes seed hash tables with) comes from the call's
    // generator too; wasmtime-wasi fixes it once per instance.
    fn insecure_seed(
        mut store: wasmtime::StoreContextMut<'_, Sandbox>,
        _: (),
    ) -> wasmtime::Result<((u64, u64),)> {
        use rand_core::Rng;
        let mut random = CallRandom(store.data_mut().random.clone());
        Ok(((random.next_u64(), random.next_u64()),))
    }
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("subscribe-duration", elapsed)?;
    clock.func_wrap("subscribe-instant", elapsed)?;
    linker
        .instance(INSECURE_SEED)?
        .func_wrap("insecure-seed", insecure_seed)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The insecure-seed interface as wasmtime-wasi links it.
const INSECURE_SEED: &str = "wasi:random/insecure-seed@0.2.12";

/// The monotonic clock interface as wasmtime-wasi links it (components importing an older
/// 0.2.x are matched to it by semver).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// stdout or stderr of a plugin: lines go to the log, within the call's log budget; past it
/// the bytes are dropped (and counted), never a trap.
#[derive(Clone)]
struct CapturedStream {
    output: Arc<Mutex<Output>>,
    which: usize,
}

impl IsTerminal for CapturedStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedStream {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturedStream {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        lock(&self.output).write_stdio(self.which, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for CapturedStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        lock(&self.output).write_stdio(self.which, buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
