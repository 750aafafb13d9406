//! CPU priority of threads running plugins. A plugin still running after a couple of
//! milliseconds is slow or hostile; its thread drops to the idle scheduling class (SCHED_IDLE,
//! and nice 19) for the rest of the call, so the router's own threads and other tenants'
//! plugins run first and it gets only the CPU nobody else wants. SCHED_IDLE rather than nice
//! alone: a waking normal thread preempts an idle-class one at once, while against a nice-19
//! thread it may still wait out the running slice (milliseconds). Raising a thread's priority back needs a
//! privilege the router should not have, so a demoted thread is retired after its call (see
//! router/workers.rs) and a fresh one takes its place.

use std::cell::Cell;

thread_local! {
    static DEMOTED: Cell<bool> = const { Cell::new(false) };
}

/// Drops the calling thread to SCHED_IDLE and nice 19, once. Best effort: where the OS refuses, the plugin
/// keeps running at normal priority (its deadline still bounds it).
pub fn demote_current_thread() {
    if DEMOTED.with(|d| d.replace(true)) {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority only read their integer arguments; lowering the priority
    // of the calling thread needs no privilege.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
        let param = libc::sched_param { sched_priority: 0 };
        // pid 0: the calling thread.
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}

/// Whether the calling thread was demoted (and should be retired).
pub fn current_thread_demoted() -> bool {
    DEMOTED.with(|d| d.get())
}
