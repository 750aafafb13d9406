//! Compiling a component is the one step of loading a plugin whose cost the tenant picks: a
//! 1.1 MB compile bomb was still compiling after 170 s, and six of them at once took more
//! than a core from the calls. Wasmtime cannot stop a compile, so a compile runs in a child
//! process of the router's own binary (`callwasm compile-component`), at a lower priority,
//! under a CPU-time limit (the kernel kills it past the budget) and an address-space limit; a
//! child that stops using CPU is stopped (on a busy machine a niced compile is slow, not
//! stuck, so wall-clock time alone is no measure); and only a few compiles run at once in the
//! whole router.

use super::error::LoadError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::Component;

/// How compiles are bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileLimits {
    /// CPU time one compile may use, over all its threads.
    pub cpu: Duration,
    /// Address space of the compiling process.
    pub memory_bytes: u64,
    /// Compiles running at once in the router.
    pub concurrent: usize,
}

impl Default for CompileLimits {
    /// The Python hunt group (18 MB) takes ~35 s of CPU in a debug build and ~360 MB.
    fn default() -> Self {
        CompileLimits {
            cpu: Duration::from_secs(120),
            memory_bytes: 4 << 30,
            concurrent: std::thread::available_parallelism()
                .map(|n| n.get() / 2)
                .unwrap_or(1)
                .max(1),
        }
    }
}

/// Where compiles run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compiler {
    /// In this process, unbounded: for tools that compile the operator's own files.
    InProcess,
    /// In a child process of this program (`exe compile-component IN OUT`), bounded.
    Child { exe: PathBuf, limits: CompileLimits },
}

impl Compiler {
    /// A bounded compiler running `callwasm` found as: `$CALLWASM_BIN`, this program when it
    /// is `callwasm`, or a `callwasm` beside it or one directory up (cargo's test layout).
    /// None when there is no such program.
    pub fn locate(limits: CompileLimits) -> Option<Compiler> {
        let exe = std::env::var_os("CALLWASM_BIN")
            .map(PathBuf::from)
            .or_else(|| {
                let me = std::env::current_exe().ok()?;
                if me.file_stem().is_some_and(|s| s == "callwasm") {
                    return Some(me);
                }
                let dir = me.parent()?;
                [dir.join("callwasm"), dir.parent()?.join("callwasm")]
                    .into_iter()
                    .find(|p| p.is_file())
            })?;
        exe.is_file().then_some(Compiler::Child { exe, limits })
    }
}

/// A counting gate: at most `n` compiles at once.
#[derive(Debug)]
pub(crate) struct Gate {
    running: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl Gate {
    pub fn new(max: usize) -> Self {
        Gate {
            running: Mutex::new(0),
            freed: Condvar::new(),
            max: max.max(1),
        }
    }

    /// Runs `f` once a turn is free (blocking).
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            while *running >= self.max {
                running = self.freed.wait(running).unwrap_or_else(|p| p.into_inner());
            }
            *running += 1;
        }
        struct Turn<'a>(&'a Gate);
        impl Drop for Turn<'_> {
            fn drop(&mut self) {
                let mut running = self.0.running.lock().unwrap_or_else(|p| p.into_inner());
                *running -= 1;
                self.0.freed.notify_one();
            }
        }
        let _turn = Turn(self);
        f()
    }
}

/// Compiles `bytes` for `engine` with `compiler`.
pub(crate) fn compile(
    compiler: &Compiler,
    engine: &Engine,
    bytes: &[u8],
) -> Result<Component, LoadError> {
    match compiler {
        Compiler::InProcess => {
            Component::from_binary(engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))
        }
        Compiler::Child { exe, limits } => compile_in_child(exe, limits, engine, bytes),
    }
}

fn compile_in_child(
    exe: &Path,
    limits: &CompileLimits,
    engine: &Engine,
    bytes: &[u8],
) -> Result<Component, LoadError> {
    let prepare = |what: &str, e: std::io::Error| LoadError::Prepare(format!("{what}: {e}"));
    let dir = tempfile::tempdir().map_err(|e| prepare("a directory for the compile", e))?;
    let input = dir.path().join("plugin.wasm");
    let output = dir.path().join("plugin.cwasm");
    std::fs::write(&input, bytes).map_err(|e| prepare("writing the component", e))?;
    let mut command = Command::new(exe);
    command
        .arg("compile-component")
        .arg(&input)
        .arg(&output)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let (cpu, memory) = (limits.cpu.as_secs().max(1), limits.memory_bytes);
    // SAFETY: between fork and exec only async-signal-safe calls (setrlimit, setpriority).
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(move || {
            let limit = |resource, value: u64| {
                let rlimit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                if libc::setrlimit(resource, &rlimit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            limit(libc::RLIMIT_CPU, cpu)?;
            limit(libc::RLIMIT_AS, memory)?;
            limit(libc::RLIMIT_CORE, 0)?;
            libc::setpriority(libc::PRIO_PROCESS, 0, 10);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| prepare(&format!("starting {}", exe.display()), e))?;
    // The CPU limit bounds work. A compile that waits instead of working (no CPU used for
    // STALLED) is stopped too; one that works slowly because the machine is busy (and it is
    // niced) is not, up to a generous wall bound.
    let wall = limits.cpu * 20 + Duration::from_secs(60);
    let began = Instant::now();
    let mut progress = (cpu_ticks(child.id()), Instant::now());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                let ticks = cpu_ticks(child.id());
                if ticks != progress.0 {
                    progress = (ticks, Instant::now());
                }
                let stalled = ticks.is_some() && progress.1.elapsed() > STALLED;
                if stalled || began.elapsed() > wall {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(LoadError::Invalid(if stalled {
                        format!(
                            "the compile used no CPU for {} s: stopped",
                            STALLED.as_secs()
                        )
                    } else {
                        format!("compiling took longer than {} s", wall.as_secs())
                    }));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(prepare("waiting for the compile", e)),
        }
    };
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let mut said = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            use std::io::Read;
            let _ = (&mut stderr).take(4096).read_to_string(&mut said);
        }
        let said = said.trim();
        return Err(match status.signal() {
            Some(libc::SIGXCPU) | Some(libc::SIGKILL) => LoadError::Invalid(format!(
                "compiling used more than its {} s of CPU time",
                limits.cpu.as_secs()
            )),
            Some(signal) => LoadError::Invalid(format!(
                "the compile died (signal {signal}; its address space is limited to {} MiB){}",
                limits.memory_bytes >> 20,
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            )),
            None => LoadError::Invalid(if said.is_empty() {
                format!("the compile failed ({status})")
            } else {
                said.strip_prefix("error: ").unwrap_or(said).to_string()
            }),
        });
    }
    // SAFETY: the file was just written by this program's own compile of these bytes, for an
    // engine with the same settings, in a directory only this process knows.
    unsafe { Component::deserialize_file(engine, &output) }
        .map_err(|e| LoadError::Invalid(format!("{e:#}")))
}

/// The child's side: compiles the component at `input` and writes the compiled form to
/// `output`. Errors are printed for the parent to pass on.
pub fn compile_component_file(input: &Path, output: &Path) -> Result<(), String> {
    let bytes = std::fs::read(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
    let engine = super::engine::compile_engine().map_err(|e| e.to_string())?;
    let compiled = engine
        .precompile_component(&bytes)
        .map_err(|e| format!("{e:#}"))?;
    std::fs::write(output, compiled).map_err(|e| format!("writing {}: {e}", output.display()))
}

/// A compile child that uses no CPU for this long is waiting, not working.
const STALLED: Duration = Duration::from_secs(15);

/// The CPU time (user + system, in clock ticks) process `pid` has used so far, from
/// /proc/PID/stat; None where /proc cannot tell.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let (_, after) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::cpu_ticks;

    #[test]
    fn cpu_ticks_grow_while_a_process_works() {
        let before = cpu_ticks(std::process::id()).expect("/proc/self/stat");
        let began = std::time::Instant::now();
        let mut x: u64 = 1;
        // A clock tick is 10 ms; work until the count has moved (or 10 s of wall have passed).
        while cpu_ticks(std::process::id()) == Some(before)
            && began.elapsed() < std::time::Duration::from_secs(10)
        {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        assert!(cpu_ticks(std::process::id()).expect("stat") > before);
        assert_eq!(cpu_ticks(u32::MAX), None, "no such process");
    }
}
