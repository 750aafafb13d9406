//! `callwasm bench --quick` end to end: it measures every part (dispatch per plugin and
//! language, native ratio, the seed flow for the router fresh and warm and the floor, memory)
//! and writes the report, the JSON and the plot. A quick run's figures are not measurements;
//! what is checked is that every figure is there.

mod common;

use std::process::Command;

#[test]
fn a_quick_bench_run_writes_every_figure() {
    let languages = common::hunt_groups();
    let plugins = common::plugin_path("early-dial")
        .parent()
        .expect("plugin dir")
        .to_path_buf();
    let examples = languages[1].1.parent().expect("examples dir").to_path_buf();
    let out = tempfile::tempdir().expect("tempdir");
    let run = Command::new(env!("CARGO_BIN_EXE_callwasm"))
        .args(["bench", "--quick", "--out"])
        .arg(out.path())
        .arg("--plugins")
        .arg(&plugins)
        .arg("--examples")
        .arg(&examples)
        .output()
        .expect("callwasm bench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    // Progress was shown as it went.
    assert!(stderr.contains("bench: [1/"), "{stderr}");

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("benchmarks.json")).expect("json written"),
    )
    .expect("valid JSON");
    assert_eq!(json["quick"], true);
    let dispatch: Vec<(String, String)> = json["dispatch"]
        .as_array()
        .expect("dispatch")
        .iter()
        .map(|d| {
            assert!(d["fresh_p50_us"].as_f64().is_some_and(|v| v > 0.0), "{d}");
            assert!(d["reuse_p50_us"].as_f64().is_some_and(|v| v > 0.0), "{d}");
            (
                d["plugin"].as_str().unwrap_or_default().to_string(),
                d["language"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        dispatch,
        [
            ("early-dial", "Rust"),
            ("hunt-group", "Rust"),
            ("hunt-group", "Python"),
            ("hunt-group", "JavaScript")
        ]
        .map(|(p, l)| (p.to_string(), l.to_string()))
    );
    assert!(
        json["native"]["native_p50_us"]
            .as_f64()
            .is_some_and(|v| v > 0.0)
    );
    let load: Vec<(String, u64, u64)> = json["load"]
        .as_array()
        .expect("load")
        .iter()
        .map(|p| {
            (
                p["client"].as_str().unwrap_or_default().to_string(),
                p["offered_per_s"].as_f64().unwrap_or_default() as u64,
                p["completed"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let mut want = Vec::new();
    for (rate, calls) in [(200, 200), (400, 400)] {
        for client in ["router", "router (reuse)"] {
            want.push((client.to_string(), rate, calls));
        }
        want.push(("floor".to_string(), rate, calls));
    }
    assert_eq!(load, want, "every call of every run completed");
    assert_eq!(json["memory"]["calls_in_flight"], 500);
    // The logging runs: every call of both completed, and at `info` each call wrote at least
    // its start and end lines, into the file and not onto the terminal.
    let logging = &json["logging"];
    assert_eq!(logging["offered_per_s"], 400.0, "{logging}");
    assert_eq!(logging["runs"], 1, "{logging}");
    assert_eq!(logging["all_completed"], true, "{logging}");
    assert!(
        logging["lines_per_call"].as_f64().is_some_and(|n| n >= 2.0),
        "{logging}"
    );
    assert!(
        logging["lines_alone_us_per_call"]
            .as_f64()
            .is_some_and(|us| us > 0.0),
        "{logging}"
    );
    assert!(!stderr.contains("call started"), "{stderr}");
    // The store's cost, at the rate nearest 500 calls/s: one run each of on, on with sync
    // full, and off, every figure measured.
    let store = &json["store"];
    assert_eq!(store["rate"], 400.0, "{store}");
    assert_eq!(store["runs"], 1, "{store}");
    assert_eq!(store["calls_per_run"], 400, "{store}");
    for figure in [
        "cpu_on_us",
        "cpu_full_us",
        "cpu_off_us",
        "p99_on_ms",
        "p99_full_ms",
        "p99_off_ms",
    ] {
        assert!(
            store[figure].as_f64().is_some_and(|v| v > 0.0),
            "{figure}: {store}"
        );
    }
    assert!(store["store_threads_us"].is_f64(), "{store}");
    let targets = json["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 8);
    assert!(
        json["memory"]["store_bytes_per_call"]
            .as_f64()
            .is_some_and(|b| b > 0.0),
        "{}",
        json["memory"]
    );

    let md = std::fs::read_to_string(out.path().join("benchmarks.md")).expect("md written");
    assert!(md.contains("## Against the targets"));
    assert!(md.contains("A quick run"));
    assert!(md.contains("callwasm bench --quick"));
    assert!(md.contains("## The info log"));
    assert!(md.contains("## The call store"));
    let svg = std::fs::read_to_string(out.path().join("benchmarks.svg")).expect("svg written");
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline") && svg.trim_end().ends_with("</svg>")
    );
}
