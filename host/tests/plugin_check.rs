//! `callwasm plugin check` and `callwasm plugin call`, run as the real binary.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn callwasm(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callwasm"))
        .args(args)
        .env("CALLWASM_CACHE_DIR", cache)
        .output()
        .expect("run callwasm")
}

/// Checks `bytes` written to a file; returns the exit code and the one-line error.
fn check_bytes(bytes: &[u8]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("candidate.wasm");
    std::fs::write(&file, bytes).expect("write");
    let out = callwasm(
        &["plugin", "check", file.to_str().expect("utf-8 path")],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default()
        .replace(&format!("{}: ", file.display()), "");
    (out.status.code(), line)
}

#[test]
fn a_text_file_is_not_wasm() {
    let (code, line) = check_bytes(b"this is a routing plan, not a plugin\n");
    assert_eq!(code, Some(2));
    assert_eq!(
        line,
        "error: not a WebAssembly file: it does not start with the \\0asm header"
    );
}

#[test]
fn a_truncated_component_is_invalid() {
    let bytes = std::fs::read(plugin_path("early-dial")).expect("read");
    let (code, line) = check_bytes(&bytes[..bytes.len() / 2]);
    assert_eq!(code, Some(2));
    assert!(line.starts_with("error: invalid component: "), "{line}");
}

#[test]
fn a_core_module_is_not_a_component() {
    let module = wat::parse_str(r#"(module (func (export "handle")))"#).expect("wat");
    let (code, line) = check_bytes(&module);
    assert_eq!(code, Some(2));
    assert_eq!(
        line,
        "error: a core WebAssembly module, not a component: build for wasm32-wasip2 or wrap it with `wasm-tools component new`"
    );
}

#[test]
fn a_component_of_another_world_is_refused() {
    let bytes = std::fs::read(plugin_path("other-world")).expect("read");
    let (code, line) = check_bytes(&bytes);
    assert_eq!(code, Some(2));
    assert_eq!(
        line,
        "error: not a callwasm router plugin: it does not export callwasm:router/call-handler@0.1.0 (it exports: greet)"
    );
}

#[test]
fn early_dial_passes_and_its_interface_is_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = plugin_path("early-dial");
    let out = callwasm(
        &["plugin", "check", path.to_str().expect("utf-8")],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(&path).expect("stat").len();
    assert!(stdout.contains("name:    early_dial\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("size:    {size} bytes\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains("exports: callwasm:router/call-handler@0.1.0\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("callwasm:router/host@0.1.0"),
        "imports listed: {stdout}"
    );
    assert!(
        stdout.ends_with("ok: a callwasm router plugin\n"),
        "{stdout}"
    );
}

/// Runs `callwasm plugin call` on early-dial with this event and call JSON; returns the
/// output and the event file's path (errors name it).
fn plugin_call(event: &str, call: &str, extra: &[&str]) -> (Output, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let event_file = dir.path().join("event.json");
    let call_file = dir.path().join("call.json");
    std::fs::write(&event_file, event).expect("write");
    std::fs::write(&call_file, call).expect("write");
    let path = plugin_path("early-dial");
    let mut args = vec![
        "plugin",
        "call",
        path.to_str().expect("utf-8"),
        "--event",
        event_file.to_str().expect("utf-8"),
        "--call",
        call_file.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    (callwasm(&args, dir.path()), event_file)
}

/// The reply of a `plugin call` that must succeed.
fn reply_of(out: &Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reply is JSON")
}

#[test]
fn plugin_call_prints_the_reply_as_json() {
    let record = call(&["alice"], vec![caller("100")]);
    let (out, _) = plugin_call(
        r#""started""#,
        &serde_json::to_string(&record).expect("json"),
        &["--setting", "caller_id_number=5551000"],
    );
    let reply = reply_of(&out);
    // The reply is in the WIT's spelling, as the docs write it.
    assert_eq!(
        reply["commands"][0],
        serde_json::json!({"create": {
            "leg": "agent",
            "endpoint": "PJSIP/alice",
            "caller-id": {"given": {"name": "", "number": "5551000"}},
            "formats": null,
            "originator": null
        }})
    );
    assert_eq!(reply["commands"].as_array().map(Vec::len), Some(4));
    // JSON state bytes are shown as text...
    assert_eq!(
        reply["state"],
        serde_json::json!(r#"{"pending_cause":null,"finishing":false}"#)
    );
}

#[test]
fn plugin_call_takes_state_as_text() {
    let mut record = serde_json::to_value(call(
        &["alice"],
        vec![
            caller("100"),
            leg("agent", callwasm::runtime::ChannelState::Ringing),
        ],
    ))
    .expect("json");
    // ...and taken back as text: a plugin that is already finishing does nothing on busy.
    record["state"] = serde_json::json!(r#"{"pending_cause":null,"finishing":true}"#);
    // The event in the WIT's spelling; the call record (serialised by the host's types) in
    // the Rust spelling, which is read too.
    let (out, _) = plugin_call(
        r#"{"dial-status": {"leg": "agent", "status": "busy"}}"#,
        &record.to_string(),
        &[],
    );
    assert_eq!(
        reply_of(&out),
        serde_json::json!({"commands": [], "state": null})
    );
}

#[test]
fn plugin_call_names_a_malformed_event_file() {
    let (out, event) = plugin_call(r#"{"Exploded": 1}"#, "{}", &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: event file {}: event: unknown case \"Exploded\" (expected started, state-changed, dial-status, hung-up, left, entered-bridge, left-bridge, dtmf, playback-finished, timer, command-failed)",
            event.display()
        ),
    );
}

/// Without `--call`, the event goes to a call whose caller is ringing, as a `started` finds it.
#[test]
fn plugin_call_needs_only_an_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = plugin_path("early-dial");
    let out = callwasm(
        &[
            "plugin",
            "call",
            path.to_str().expect("utf-8"),
            "--event",
            r#""started""#,
        ],
        dir.path(),
    );
    let reply = reply_of(&out);
    assert_eq!(
        reply["commands"],
        serde_json::json!([
            {"create": {"leg": "agent", "endpoint": "PJSIP/100", "caller-id": "pass-through",
                        "formats": null, "originator": null}},
            {"bridge-create": {"bridge": "b1", "kind": "mixing"}},
            {"bridge-add": {"bridge": "b1", "channels": ["caller", "agent"]}},
            {"dial": {"leg": "agent", "caller": "caller", "timeout-s": 30}}
        ])
    );
}
