//! `callwasm plugin new`: each language's skeleton, written outside the repository, builds as
//! written with that language's pinned toolchain and answers like the others.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn callwasm(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callwasm"))
        .args(args)
        .current_dir(dir)
        .env("CALLWASM_CACHE_DIR", dir)
        .output()
        .expect("run callwasm")
}

fn succeeded(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    succeeded(&out, what);
}

/// Writes skeleton `name` in `lang` under `dir` and builds it as its README says; returns the
/// component.
fn build(dir: &Path, name: &str, lang: &str) -> PathBuf {
    let said = succeeded(
        &callwasm(&["plugin", "new", name, "--lang", lang], dir),
        "plugin new",
    );
    assert!(said.starts_with(&format!("wrote {name}/ (")), "{said}");
    let project = dir.join(name);
    let file = format!("{}.wasm", name.replace('-', "_"));
    match lang {
        "rust" => {
            // Its own workspace, built with the suite's cargo cache in a directory of its own.
            let target = common::target_dir().join("plugin-new");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            run(
                Command::new(cargo)
                    .current_dir(&project)
                    .env("CARGO_TARGET_DIR", &target)
                    .args(["build", "--release", "--target", "wasm32-wasip2"]),
                "cargo build of the Rust skeleton",
            );
            target.join("wasm32-wasip2/release").join(file)
        }
        "python" => {
            // build.sh puts .venv/bin first on PATH; the pinned componentize-py the examples
            // use (installed by scripts/build-examples) stands in for `pip install`.
            let tools = std::env::var_os("CALLWASM_TOOLS").map_or_else(
                || {
                    PathBuf::from(std::env::var("HOME").expect("HOME"))
                        .join(".cache/callwasm/tools")
                },
                PathBuf::from,
            );
            let pinned = std::fs::read_to_string(project.join("requirements.txt"))
                .expect("requirements.txt");
            let version = pinned.trim().trim_start_matches("componentize-py==");
            let bin = project.join(".venv/bin");
            std::fs::create_dir_all(&bin).expect("venv dir");
            std::os::unix::fs::symlink(
                tools.join(format!("componentize-py-{version}/bin/componentize-py")),
                bin.join("componentize-py"),
            )
            .expect("link componentize-py");
            run(
                Command::new("sh").arg("build.sh").current_dir(&project),
                "build.sh of the Python skeleton",
            );
            project.join(file)
        }
        "js" => {
            // `npm run build` with the pinned jco the JavaScript example installs.
            let jco = common::workspace().join("examples/js-hunt-group/node_modules/.bin");
            let path = format!(
                "{}:{}",
                jco.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            run(
                Command::new("npm")
                    .args(["run", "--silent", "build"])
                    .current_dir(&project)
                    .env("PATH", path),
                "npm run build of the JavaScript skeleton",
            );
            project.join(file)
        }
        other => panic!("no language {other}"),
    }
}

#[test]
fn each_languages_skeleton_builds_as_written_and_forwards_the_call() {
    // The pinned componentize-py and jco, as scripts/build-examples installs them.
    common::hunt_groups();
    let dir = tempfile::tempdir().expect("tempdir");
    let started = r#""started""#;
    let busy = r#"{"dial-status": {"leg": "agent", "status": "busy"}}"#;
    let ringing_call = r#"{"id": "c1", "tenant": "acme", "args": [], "bridges": [],
        "state": "{\"finishing\":false}", "now-ms": 0,
        "channels": [
          {"handle": "caller", "name": "PJSIP/sipp-1", "state": "ring",
           "caller": {"name": "Alice", "number": "5550100"},
           "connected": {"name": "", "number": ""}, "dialplan": null},
          {"handle": "agent", "name": "PJSIP/alice-1", "state": "ringing",
           "caller": {"name": "Alice", "number": "5550100"},
           "connected": {"name": "", "number": ""}, "dialplan": null}]}"#;
    let mut replies = Vec::new();
    for (name, lang) in [("fwd-rs", "rust"), ("fwd-py", "python"), ("fwd-js", "js")] {
        let component = build(dir.path(), name, lang);
        let component = component.to_str().expect("utf-8");
        let on_start = succeeded(
            &callwasm(
                &[
                    "plugin",
                    "call",
                    component,
                    "--event",
                    started,
                    "--setting",
                    "endpoint=PJSIP/alice",
                ],
                dir.path(),
            ),
            "plugin call started",
        );
        let on_busy = succeeded(
            &callwasm(
                &[
                    "plugin",
                    "call",
                    component,
                    "--event",
                    busy,
                    "--call",
                    ringing_call,
                ],
                dir.path(),
            ),
            "plugin call busy",
        );
        replies.push((lang, on_start, on_busy));
    }
    let expected_start: serde_json::Value = serde_json::json!({
        "commands": [
            {"create": {"leg": "agent", "endpoint": "PJSIP/alice", "caller-id": "pass-through",
                        "formats": null, "originator": null}},
            {"bridge-create": {"bridge": "b1", "kind": "mixing"}},
            {"bridge-add": {"bridge": "b1", "channels": ["caller", "agent"]}},
            {"dial": {"leg": "agent", "caller": "caller", "timeout-s": 30}}
        ],
        "state": "{\"finishing\":false}"
    });
    let expected_busy = serde_json::json!({
        "commands": [{"hangup": {"channel": "caller", "cause": 17}}],
        "state": "{\"finishing\":true}"
    });
    for (lang, on_start, on_busy) in &replies {
        let on_start: serde_json::Value = serde_json::from_str(on_start).expect("JSON");
        let on_busy: serde_json::Value = serde_json::from_str(on_busy).expect("JSON");
        assert_eq!(on_start, expected_start, "{lang}");
        assert_eq!(on_busy, expected_busy, "{lang}");
    }
}

#[test]
fn plugin_new_refuses_a_bad_name_and_an_existing_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = callwasm(&["plugin", "new", "Bad Name"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: plugin name \"Bad Name\": expected 1-64 of a-z 0-9 - _, starting with a letter"
    );
    std::fs::create_dir(dir.path().join("taken")).expect("mkdir");
    let out = callwasm(&["plugin", "new", "taken", "--lang", "js"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: taken already exists"
    );
    // Nothing was written into it.
    assert_eq!(
        std::fs::read_dir(dir.path().join("taken"))
            .expect("read")
            .count(),
        0
    );
}
