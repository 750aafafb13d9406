//! The wasmtime engine with callwasm's defaults, the linker every plugin is checked against,
//! and the epoch ticker that enforces deadlines.

use super::bindings::RouterPlugin;
use super::cache::{CodeCache, content_hash};
use super::compiler::{self, Compiler, Gate};
use super::error::LoadError;
use super::inspect::{self, ComponentInfo};
use super::plugin::Plugin;
use super::sandbox::{self, Sandbox};
use crate::runtime::bindings::RouterPluginPre;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Engine-wide settings. Per-call limits are in [`super::Limits`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled code is kept between runs; None compiles every time.
    pub cache: Option<CodeCache>,
    /// The largest memory any tenant may be given; the pooling allocator's slot size.
    pub max_memory_bytes: usize,
    /// Plugin instances alive at once (the pooling allocator's capacity).
    pub max_instances: u32,
    /// Deadline resolution: how often the epoch advances.
    pub epoch_tick: Duration,
    /// Native stack a plugin may use; deeper recursion traps as a stack overflow.
    pub max_wasm_stack: usize,
    /// Where components are compiled: in this process, or bounded in a child process.
    pub compiler: Compiler,
}

/// What one plugin instance may hold. A component declaring more is refused at load: the
/// pool's slots are shared, and a small component with thousands of memories once took them
/// all. Measured needs: a Rust plugin 3 core instances, 1 memory, 2 tables; the JavaScript
/// (StarlingMonkey) hunt group 13, 3 and 2; the Python (componentize-py) one 38, ≤ 4, ≤ 4.
pub const MAX_MEMORIES_PER_INSTANCE: u32 = 4;
/// See [`MAX_MEMORIES_PER_INSTANCE`].
pub const MAX_TABLES_PER_INSTANCE: u32 = 8;
/// See [`MAX_MEMORIES_PER_INSTANCE`].
pub const MAX_CORE_INSTANCES_PER_INSTANCE: u32 = 64;

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache: CodeCache::default_location(),
            max_memory_bytes: 1 << 30,
            max_instances: 1000,
            epoch_tick: Duration::from_millis(1),
            max_wasm_stack: 512 << 10,
            compiler: Compiler::InProcess,
        }
    }
}

/// Compiles and prepares plugins. Cheap to clone; plugins keep it alive.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .finish()
    }
}

pub(crate) struct RuntimeInner {
    pub engine: Engine,
    pub linker: Linker<Sandbox>,
    pub config: RuntimeConfig,
    /// Epoch ticks so far, mirrored from the engine's epoch (which wasmtime does not expose)
    /// so that plugin run time can be counted without reading the clock.
    pub ticks: Arc<AtomicU64>,
    ticker_stop: Arc<AtomicBool>,
    /// Compiles running at once.
    compiles: Gate,
}

impl RuntimeInner {
    pub fn ticks_per_second(&self) -> u64 {
        (1_000_000_000 / self.config.epoch_tick.as_nanos().max(1)).max(1) as u64
    }
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Builds the engine and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        // PAGEMAP_SCAN (Linux 6.7+) lets the pool reset only the pages a plugin dirtied and
        // keep them resident: no page faults and no TLB shootdowns per event (fresh instances
        // went from ~50 µs to ~22 µs). Where the kernel lacks it, fall back to a small kept
        // region, since without the scan the whole kept region is memset on every reset.
        let engine = Engine::new(&engine_config(&config, true))
            .or_else(|_| Engine::new(&engine_config(&config, false)))
            .map_err(|e| LoadError::Prepare(format!("engine: {e}")))?;

        let mut linker = Linker::<Sandbox>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| LoadError::Prepare(format!("linking WASI: {e}")))?;
        RouterPlugin::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Prepare(format!("linking host interface: {e}")))?;
        sandbox::no_waiting(&mut linker)
            .map_err(|e| LoadError::Prepare(format!("linking the frozen clock: {e}")))?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicU64::new(0));
        spawn_ticker(
            engine.clone(),
            config.epoch_tick,
            ticks.clone(),
            ticker_stop.clone(),
        )
        .map_err(|e| LoadError::Prepare(format!("epoch ticker: {e}")))?;

        let concurrent = match &config.compiler {
            Compiler::Child { limits, .. } => limits.concurrent,
            Compiler::InProcess => usize::MAX,
        };
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                config,
                ticks,
                ticker_stop,
                compiles: Gate::new(concurrent),
            }),
        })
    }

    /// The settings the runtime was built with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Reads, compiles (or loads from the cache) and checks a plugin file.
    pub fn load_file(&self, path: &std::path::Path) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into());
        self.load(&name, &bytes)
    }

    /// Compiles (or loads from the cache) and checks a component: it must be of the
    /// `router-plugin` world. The result is ready to instantiate in microseconds.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Plugin, LoadError> {
        inspect::check_header(bytes)?;
        let hash = content_hash(bytes);
        let engine = &self.inner.engine;
        let cache = self.inner.config.cache.as_ref();
        let (component, compiled) = match cache.and_then(|c| c.load(engine, &hash)) {
            Some(component) => (component, false),
            None => {
                let compiler = &self.inner.config.compiler;
                let component = self
                    .inner
                    .compiles
                    .run(|| compiler::compile(compiler, engine, bytes))?;
                (component, true)
            }
        };
        let info = ComponentInfo::of(name, bytes.len(), &hash, engine, &component);
        info.check_world()?;
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Prepare(format!("{e:#}")))?;
        let pre =
            RouterPluginPre::new(instance_pre).map_err(|e| LoadError::Prepare(format!("{e:#}")))?;
        if compiled && let Some(cache) = cache {
            cache.store(engine, &hash, &component);
        }
        let mut plugin = Plugin::new(self.inner.clone(), pre, info, compiled);
        plugin
            .ask_interests()
            .map_err(|e| LoadError::Prepare(format!("asking its interests: {e}")))?;
        Ok(plugin)
    }
}

/// An engine that compiles exactly as the runtime's does, without the instance pool (a child
/// process that only compiles must not reserve the pool's address space).
pub(crate) fn compile_engine() -> Result<Engine, LoadError> {
    let mut wasm = engine_config(&RuntimeConfig::default(), false);
    wasm.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    Engine::new(&wasm).map_err(|e| LoadError::Prepare(format!("engine: {e}")))
}

/// callwasm's wasmtime settings: component model, epoch deadlines, pooling allocator.
fn engine_config(config: &RuntimeConfig, pagemap_scan: bool) -> Config {
    let mut pool = PoolingAllocationConfig::new();
    // Every instance may hold its full allowance at once: the pool never runs out of memories
    // or tables before it runs out of instances, which are shared out per tenant.
    let n = config.max_instances;
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(MAX_CORE_INSTANCES_PER_INSTANCE))
        .total_memories(n.saturating_mul(MAX_MEMORIES_PER_INSTANCE))
        .total_tables(n.saturating_mul(MAX_TABLES_PER_INSTANCE))
        .max_memories_per_component(MAX_MEMORIES_PER_INSTANCE)
        .max_tables_per_component(MAX_TABLES_PER_INSTANCE)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_INSTANCE)
        .max_memory_size(config.max_memory_bytes)
        .table_keep_resident(64 << 10);
    if pagemap_scan {
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(2 << 20);
    } else {
        pool.linear_memory_keep_resident(64 << 10);
    }
    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(config.max_wasm_stack)
        .memory_init_cow(true)
        .parallel_compilation(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    wasm
}

/// Advances the engine's epoch every `tick` until the runtime is dropped; a store whose
/// deadline (in ticks) passes traps at its next loop header or call.
fn spawn_ticker(
    engine: Engine,
    tick: Duration,
    ticks: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let weak = engine.weak();
    drop(engine);
    std::thread::Builder::new()
        .name("callwasm-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => {
                        ticks.fetch_add(1, Ordering::Relaxed);
                        engine.increment_epoch();
                    }
                    None => break,
                }
            }
        })
        .map(|_| ())
}
