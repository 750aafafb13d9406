//! What a plugin can reach from inside: no environment, no files, no network, a clock frozen
//! at the event's time; its stdout and stderr reach the log tagged with its call.

mod common;

use callwasm::runtime::{Command, Event, SetVar};
use common::*;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Collects what tracing writes, so a test can read the log.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_plugin_sees_no_environment_files_network_or_real_clock() {
    let rt = runtime();
    let plugin = load(&rt, "rogue");
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let reply = tracing::subscriber::with_default(subscriber, || {
        handle(
            &plugin,
            &Event::Started,
            &call(&[], vec![caller("100")]),
            &settings(&[("misbehave", "snoop")]),
        )
    })
    .expect("snoop");
    let vars: Vec<(String, String)> = reply
        .commands
        .into_iter()
        .map(|c| match c {
            Command::SetVar(SetVar { name, value, .. }) => (name, value),
            other => panic!("unexpected command {other:?}"),
        })
        .collect();
    let get = |n: &str| {
        vars.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{n} not reported"))
    };
    assert_eq!(get("X_ENV"), "0", "no environment variables");
    assert_eq!(get("X_ARGS"), "0", "no arguments");
    assert_eq!(get("X_FS"), "NotFound", "no preopened directory");
    assert_eq!(get("X_FILE"), "NotFound", "no file");
    assert_ne!(get("X_NET"), "connected", "no network");
    // The clock is the event's now-ms, not the host's.
    assert_eq!(get("X_CLOCK"), "1700000000000");

    let text = String::from_utf8(log.0.lock().unwrap().clone()).expect("utf-8 log");
    let stdout = text
        .lines()
        .find(|l| l.contains("rogue: looking around"))
        .unwrap_or_else(|| panic!("stdout line missing from the log:\n{text}"));
    assert!(
        stdout.contains("plugin=rogue "),
        "tagged with the plugin: {stdout}"
    );
    assert!(
        stdout.contains("call=\"test/call-1\""),
        "tagged with the call: {stdout}"
    );
    assert!(stdout.contains("stream=\"stdout\""), "{stdout}");
    let stderr = text
        .lines()
        .find(|l| l.contains("rogue: on stderr"))
        .unwrap_or_else(|| panic!("stderr line missing from the log:\n{text}"));
    assert!(stderr.contains("WARN"), "{stderr}");
    assert!(stderr.contains("stream=\"stderr\""), "{stderr}");
}
