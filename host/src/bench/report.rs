//! Turns a run into what gets published: the targets check, docs/benchmarks.md, the JSON for
//! tracking and the SVG plot of latency against offered load.

use super::load::RatePoint;
use super::{Report, Target};
use std::fmt::Write;

/// The issue's targets, each with what this run measured. An error only when a figure the
/// targets need is missing (the run could not measure it).
pub fn targets(r: &Report) -> Result<Vec<Target>, String> {
    let at = |client: &str, rate: f64| {
        r.load
            .iter()
            .find(|p| p.client == client && p.offered_per_s == rate)
            .ok_or_else(|| format!("no {client} run at {rate:.0} calls/s"))
    };
    let router = at("router", r.reference_rate)?;
    let floor = at("floor", r.reference_rate)?;
    let store = &r.store;
    let store_cpu = store.cpu_increase();
    let store_p99 = store.p99_on_ms - store.p99_off_ms;
    let sustained = r
        .load
        .iter()
        .filter(|p| p.client == "router" && p.kept_up && p.dial_p99_ms <= 5.0)
        .map(|p| p.offered_per_s)
        .fold(0.0, f64::max);
    let plugin = router
        .plugin_cpu_us_per_call
        .ok_or("the router run measured no plugin time")?;
    let share = plugin / router.cpu_us_per_call.max(1e-9);
    let ratio = router.cpu_us_per_call / floor.cpu_us_per_call.max(1e-9);
    let kib = r.memory.bytes_per_call / 1024.0;
    let rate = r.reference_rate;
    Ok(vec![
        Target {
            what: "seed flow sustained on 2 cores (kept up, p99 StasisStart→dial ≤ 5 ms)".into(),
            target: "≥ 1,000 calls/s".into(),
            measured: format!("{sustained:.0} calls/s (highest offered rate that held)"),
            met: sustained >= 1000.0,
        },
        Target {
            what: format!("p99 StasisStart→dial at {rate:.0} calls/s"),
            target: "≤ 5 ms".into(),
            measured: format!("{:.2} ms", router.dial_p99_ms),
            met: router.dial_p99_ms <= 5.0,
        },
        Target {
            what: format!("router CPU per call at {rate:.0} calls/s"),
            target: "≤ 150 µs".into(),
            measured: format!("{:.0} µs", router.cpu_us_per_call),
            met: router.cpu_us_per_call <= 150.0,
        },
        Target {
            what: format!("router CPU per call / floor CPU per call at {rate:.0} calls/s"),
            target: "≤ 1.5×".into(),
            measured: format!(
                "{ratio:.2}× ({:.0} / {:.0} µs)",
                router.cpu_us_per_call, floor.cpu_us_per_call
            ),
            met: ratio <= 1.5,
        },
        Target {
            what: "plugin dispatch (the plugin threads' CPU) share of the router's CPU per call"
                .into(),
            target: "≤ 10%".into(),
            measured: format!(
                "{:.1}% ({plugin:.0} of {:.0} µs)",
                share * 100.0,
                router.cpu_us_per_call
            ),
            met: share <= 0.10,
        },
        Target {
            what: format!(
                "router memory per in-flight call ({} calls)",
                r.memory.calls_in_flight
            ),
            target: "≤ 10 KiB".into(),
            measured: format!("{kib:.1} KiB"),
            met: kib <= 10.0,
        },
        Target {
            what: format!(
                "the call store's CPU per call at {:.0} calls/s (store on / off, {} runs each)",
                store.rate, store.runs
            ),
            target: "≤ +15%".into(),
            measured: format!(
                "{:+.1}% ({:.0} / {:.0} µs)",
                store_cpu * 100.0,
                store.cpu_on_us,
                store.cpu_off_us
            ),
            met: store_cpu <= 0.15,
        },
        Target {
            what: format!(
                "the call store's p99 StasisStart→dial at {:.0} calls/s (store on − off, {} runs each)",
                store.rate, store.runs
            ),
            target: "≤ +1 ms".into(),
            measured: format!(
                "{store_p99:+.2} ms ({:.2} / {:.2} ms)",
                store.p99_on_ms, store.p99_off_ms
            ),
            met: store_p99 <= 1.0,
        },
    ])
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.0}"))
}

/// docs/benchmarks.md.
pub fn markdown(r: &Report) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `callwasm bench` on {} — do not edit by hand; run it again. Machine: {}.\n",
        r.date, r.machine
    );
    if r.quick {
        let _ = writeln!(
            md,
            "**A quick run (`--quick`): a check that the bench works, not figures to quote.**\n"
        );
    }
    let _ = writeln!(md, "```sh\n{}\n```\n", r.command);
    let _ = writeln!(
        md,
        "The JSON of this run is [benchmarks.json](benchmarks.json); how it was measured is at \
         the end; profiles and what was changed because of them are in \
         [benchmarks-profiles.md](benchmarks-profiles.md).\n"
    );

    let _ = writeln!(md, "## Against the targets\n");
    let _ = writeln!(
        md,
        "| figure | target | measured | |\n| --- | --- | --- | --- |"
    );
    for t in &r.targets {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            t.what,
            t.target,
            t.measured,
            if t.met { "met" } else { "**missed**" }
        );
    }

    let _ = writeln!(md, "\n## The seed flow end to end\n");
    let _ = writeln!(
        md,
        "Each call: StasisStart; create the leg with its connected line and X_TENANT set \
         (variables in the create request), create a mixing bridge, add caller and leg, dial; \
         the leg answers after 100 ms and the caller is answered; the caller hangs up 100 ms \
         later; the leg is hung up and the bridge destroyed: 7 REST requests and about 20 \
         events. *router*: callwasm \
         with the early-dial plugin, a fresh instance per event and its calls in the call \
         store (the defaults); *router (reuse)*: the same with `instances = \"reuse\"` (warm \
         instances); *floor*: the same \
         requests from a client with no plugin, no call table and no checks. The targets are \
         read on *router*.\n"
    );
    let _ = writeln!(
        md,
        "| client | offered calls/s | calls | completed | kept up | taken calls/s | StasisStart→dial p50 / p99 / max (ms) | CPU µs/call | plugin threads CPU µs/call | plugin wall µs/call | simulator CPU µs/call |"
    );
    let _ = writeln!(
        md,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for p in &r.load {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {} | {} | {} | {:.0} | {:.2} / {:.2} / {:.2} | {:.0} | {} | {} | {} |",
            p.client,
            p.offered_per_s,
            p.calls,
            p.completed,
            if p.kept_up { "yes" } else { "**no**" },
            p.taken_per_s,
            p.dial_p50_ms,
            p.dial_p99_ms,
            p.dial_max_ms,
            p.cpu_us_per_call,
            opt(p.plugin_cpu_us_per_call),
            opt(p.plugin_us_per_call),
            opt(p.sim_cpu_us_per_call),
        );
    }
    let _ = writeln!(
        md,
        "\n![StasisStart→dial latency against offered load](benchmarks.svg)\n"
    );

    let _ = writeln!(md, "## Memory\n");
    let m = &r.memory;
    let _ = writeln!(
        md,
        "The router's resident memory went from {:.1} MiB (plugin loaded, connected) to {:.1} MiB \
         with {} calls in flight (each caller bridged with a ringing leg): **{:.0} bytes ({:.1} \
         KiB) per call**.\n",
        m.rss_before_bytes as f64 / 1048576.0,
        m.rss_with_calls_bytes as f64 / 1048576.0,
        m.calls_in_flight,
        m.bytes_per_call,
        m.bytes_per_call / 1024.0
    );
    let _ = writeln!(
        md,
        "The call store's files (database and write-ahead log) held {:.0} bytes per call in \
         flight at that point.\n",
        m.store_bytes_per_call
    );

    let st = &r.store;
    let _ = writeln!(md, "## The call store\n");
    let _ = writeln!(
        md,
        "The seed flow at {:.0} calls/s ({} calls a run, {} runs of each, alternating; CPU over \
         all the runs' calls, latencies from all of them), \
         with the call store on as it ships (`sync = \"normal\"`: a commit counts once the \
         system has it, the log is synced within 20 ms), on with `sync = \"full\"` (every \
         commit synced before it counts; each dial waits for the disk), and off \
         (`durable = false`, calls in memory only).\n",
        st.rate, st.calls_per_run, st.runs
    );
    let _ = writeln!(
        md,
        "| store | CPU µs/call | vs off | of which the store's threads | StasisStart→dial p50 / p99 (ms) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    let _ = writeln!(
        md,
        "| on (default) | {:.0} | {:+.1}% | {:.0} | {:.2} / {:.2} |",
        st.cpu_on_us,
        st.cpu_increase() * 100.0,
        st.store_threads_us,
        st.p50_on_ms,
        st.p99_on_ms
    );
    let _ = writeln!(
        md,
        "| on, sync full | {:.0} | {:+.1}% | – | – / {:.2} |",
        st.cpu_full_us,
        (st.cpu_full_us / st.cpu_off_us.max(1e-9) - 1.0) * 100.0,
        st.p99_full_ms
    );
    let _ = writeln!(
        md,
        "| off | {:.0} | – | – | {:.2} / {:.2} |\n",
        st.cpu_off_us, st.p50_off_ms, st.p99_off_ms
    );

    scale_section(&mut md, r);

    if let Some(l) = &r.logging {
        let _ = writeln!(md, "## The info log\n");
        let _ = writeln!(
            md,
            "The seed flow at {:.0} calls/s ({} calls a run, {} runs at each level, alternating), \
             the router's own lines at `warn` (nothing per call) and at `info` (written to a \
             file, as a service's redirected stderr is): **{:.0} µs of CPU per call at `info` \
             against {:.0} µs at `warn`, {:+.0} µs ({:+.1}%)**, for {:.1} lines and {:.0} bytes \
             of log per call{}. Medians of the runs; the runs spread over {:.0}–{:.0} µs at \
             `warn` and {:.0}–{:.0} µs at `info`. The two lines alone, formatted and written as \
             the router does for {} calls with nothing else running: **{:.1} µs of CPU per \
             call** — the log's real cost, which the end-to-end runs cannot resolve from their \
             spread.\n",
            l.offered_per_s,
            l.calls_per_run,
            l.runs,
            l.info_cpu_us_per_call,
            l.warn_cpu_us_per_call,
            l.cost_us_per_call,
            l.cost_percent,
            l.lines_per_call,
            l.bytes_per_call,
            if l.all_completed {
                ""
            } else {
                " (NOT every call completed: see the progress lines)"
            },
            l.warn_range_us.0,
            l.warn_range_us.1,
            l.info_range_us.0,
            l.info_range_us.1,
            l.lines_alone_calls,
            l.lines_alone_us_per_call
        );
    }

    let _ = writeln!(md, "## Plugin dispatch\n");
    let _ = writeln!(
        md,
        "One `started` event: a fresh instance + `handle` (the default), and a warm instance \
         (`instances = \"reuse\"`).\n"
    );
    let _ = writeln!(
        md,
        "| plugin | language | component | events | fresh p50 / p99 (µs) | warm p50 / p99 (µs) |\n| --- | --- | --- | --- | --- | --- |"
    );
    for d in &r.dispatch {
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} MB | {} | {:.1} / {:.1} | {:.1} / {:.1} |",
            d.plugin,
            d.language,
            d.component_bytes as f64 / 1e6,
            d.events,
            d.fresh_p50_us,
            d.fresh_p99_us,
            d.reuse_p50_us,
            d.reuse_p99_us
        );
    }
    let n = &r.native;
    let _ = writeln!(
        md,
        "| early-dial | Rust, native (compiled into the router) | – | {} | {:.2} / {:.2} | – |\n",
        n.events, n.native_p50_us, n.native_p99_us
    );
    let _ = writeln!(
        md,
        "WebAssembly against native for early-dial's decision: **{:.0}×** with a fresh instance, \
         **{:.0}×** warm. The native code builds the same commands from the same settings \
         (checked equal in the run); the difference is the sandbox: instantiating, copying the \
         call in and the reply out.\n",
        n.fresh_ratio, n.reuse_ratio
    );

    let _ = writeln!(md, "## How it was measured\n");
    let _ = writeln!(
        md,
        "- One process is measured at a time. The simulated Asterisk runs as its own process \
           (`callwasm sim`) and places the calls itself (`[[traffic]]`: a fixed rate, calls \
           spread evenly), so the router's process does nothing but route; its CPU is read with \
           getrusage(RUSAGE_SELF) (user + system, every thread) from just before the router \
           starts to the last call's end, divided by the calls completed. The simulator's CPU \
           comes from /proc/<pid>/stat over the same span.\n\
         - StasisStart→dial: from the moment the router's event stream reads the caller's \
           StasisStart off the WebSocket to the moment the first dial request is handed to the \
           REST client; in between the plugin runs and six REST round trips complete (create, \
           three variables, bridge, addChannel). The floor measures the same span.\n\
         - *kept up*: every call completed, the last within a second of the offered schedule \
           plus one call's length. *taken calls/s*: calls over the span from the first dial to \
           the last. The sustained figure is the highest offered rate that kept up with p99 ≤ 5 ms.\n\
         - Plugin threads CPU µs/call: the CPU clocks of the tenant's plugin threads \
           (/proc/self/task) over the run, per call: instantiation, `handle`, the hand-off. \
           Plugin wall µs/call: wall time inside `handle`, summed over a call's events (more \
           than CPU when the two cores are oversubscribed).\n\
         - Memory: VmRSS of the router's process before the traffic and once every call had \
           dialed and settled (1 s), over the calls in flight (the call table's count).\n\
         - The router runs with its log at `warn` except in the runs of *The info log*, which \
           switch it to `info` into a temporary file and back.\n\
         - Dispatch: the component is compiled once (into a fresh code cache), then {} events \
           in each mode; p50 and p99 of each event's wall time.",
        r.dispatch.first().map_or(0, |d| d.events)
    );
    md
}

/// The SVG plot: StasisStart→dial p50 and p99 against offered calls/s, router and floor, with
/// the 5 ms target.
pub fn svg(r: &Report) -> String {
    let (w, h) = (720.0, 420.0);
    let (left, right, top, bottom) = (70.0, 170.0, 30.0, 60.0);
    let series = |client: &str| -> Vec<&RatePoint> {
        r.load.iter().filter(|p| p.client == client).collect()
    };
    let max_rate = r.load.iter().map(|p| p.offered_per_s).fold(1.0, f64::max);
    let max_ms = r
        .load
        .iter()
        .map(|p| p.dial_p99_ms)
        .filter(|v| v.is_finite())
        .fold(6.0, f64::max)
        .min(50.0);
    let x = |rate: f64| left + rate / max_rate * (w - left - right);
    let y = |ms: f64| top + (1.0 - ms.min(max_ms) / max_ms) * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">StasisStart → dial latency against offered load ({})</text>"#,
        w / 2.0,
        r.date
    );
    // Axes and grid.
    let (x0, y0, x1, y1) = (left, h - bottom, w - right, top);
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>"##
    );
    for i in 0..=5 {
        let ms = max_ms * i as f64 / 5.0;
        let yy = y(ms);
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{yy:.1}" x2="{x1}" y2="{yy:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{ms:.1}</text>"##,
            x0 - 6.0,
            yy + 4.0
        );
    }
    for p in series("router") {
        let xx = x(p.offered_per_s);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{y0}" x2="{xx:.1}" y2="{}" stroke="#333"/><text x="{xx:.1}" y="{}" text-anchor="middle">{:.0}</text>"##,
            y0 + 4.0,
            y0 + 18.0,
            p.offered_per_s
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">offered calls/s</text>"#,
        (x0 + x1) / 2.0,
        h - 20.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">ms</text>"#,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0
    );
    // The target.
    let yt = y(5.0);
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" y1="{yt:.1}" x2="{x1}" y2="{yt:.1}" stroke="#c00" stroke-dasharray="6 4"/>"##
    );
    let lines = [
        ("router", "p99", "#1f5fbf", "", true),
        ("router", "p50", "#1f5fbf", "4 3", false),
        ("floor", "p99", "#2a9d3a", "", true),
        ("floor", "p50", "#2a9d3a", "4 3", false),
        ("router (reuse)", "p99", "#8a3ab9", "", true),
    ];
    for (i, (client, which, colour, dash, p99)) in lines.iter().enumerate() {
        let points: Vec<String> = series(client)
            .iter()
            .filter(|p| {
                let v = if *p99 { p.dial_p99_ms } else { p.dial_p50_ms };
                v.is_finite()
            })
            .map(|p| {
                let v = if *p99 { p.dial_p99_ms } else { p.dial_p50_ms };
                format!("{:.1},{:.1}", x(p.offered_per_s), y(v))
            })
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            points.join(" ")
        );
        for pt in &points {
            if let Some((px, py)) = pt.split_once(',') {
                let _ = writeln!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{colour}"/>"#);
            }
        }
        let ly = top + 20.0 + i as f64 * 20.0;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{}" y="{}">{client} {which}</text>"#,
            x1 + 15.0,
            x1 + 45.0,
            x1 + 52.0,
            ly + 4.0
        );
    }
    let ly = top + 20.0 + 5.0 * 20.0;
    let _ = writeln!(
        s,
        r##"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="#c00" stroke-dasharray="6 4"/><text x="{}" y="{}">target p99</text>"##,
        x1 + 15.0,
        x1 + 45.0,
        x1 + 52.0,
        ly + 4.0
    );
    let _ = writeln!(s, "</svg>");
    s
}

/// Writes benchmarks.md, benchmarks.json and benchmarks.svg into `dir`.
pub fn write(r: &Report, dir: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    for (name, text) in [
        ("benchmarks.md", markdown(r)),
        ("benchmarks.json", json + "\n"),
        ("benchmarks.svg", svg(r)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// "Scale-out": the rates 1, 2 and 3 routers sustained and what a call cost each part.
fn scale_section(md: &mut String, r: &Report) {
    let _ = writeln!(md, "## Scale-out\n");
    let Some(f) = &r.scale else {
        let _ = writeln!(
            md,
            "Not measured: {}.\n",
            r.scale_skipped.as_deref().unwrap_or("no figure")
        );
        return;
    };
    let _ = writeln!(
        md,
        "1, 2 and 3 routers (`callwasm run` processes, `[cluster]` defaults) share one throwaway \
         PostgreSQL and one simulated Asterisk, which offers every call by StasisBroadcast; the \
         seed flow (the agent rings 100 ms; the caller hangs up 100 ms after its answer), each \
         rate for 6 s. Sustained: every call answered, answer p99 (from placing, the claim and \
         the agent's ringing included) at most {:.0} ms, Asterisk empty within 2 s of the \
         schedule. CPU per call is the processes' CPU over the run (idle work included) over its \
         calls. Last row: one router on its embedded store, calls entering its app directly.\n",
        super::scale::ANSWER_P99_MAX_MS
    );
    let _ = writeln!(
        md,
        "| routers | store | offered calls/s | answered | answer p50 / p99 (ms) | CPU µs/call: routers | PostgreSQL | simulator | all |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for p in &f.points {
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {}/{}{} | {:.1} / {:.1} | {:.0} | {:.0} | {:.0} | {:.0} |",
            p.routers,
            p.store,
            p.offered_per_s,
            p.answered,
            p.calls,
            if p.kept_up { "" } else { " (not sustained)" },
            p.answer_p50_ms,
            p.answer_p99_ms,
            p.router_cpu_us_per_call,
            p.postgres_cpu_us_per_call,
            p.sim_cpu_us_per_call,
            p.total_cpu_us_per_call()
        );
    }
    let sustained: Vec<String> = f
        .sustained
        .iter()
        .map(|(n, rate)| format!("{n} router(s): {rate:.0} calls/s"))
        .collect();
    let _ = writeln!(md, "\nSustained: {}.\n", sustained.join("; "));
}
