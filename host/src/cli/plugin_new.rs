//! `callwasm plugin new NAME --lang rust|python|js`: a working plugin skeleton outside this
//! repository, with its build file, so that writing a plugin needs neither the SDK's source
//! nor this repo's examples. Each skeleton forwards calls with the create / bridge / dial flow
//! and builds as written; the Python and JavaScript ones carry their reply builder and the WIT.

use std::path::{Path, PathBuf};

/// The language of a new plugin.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Lang {
    /// Rust with callwasm-sdk (cargo, wasm32-wasip2).
    Rust,
    /// Python with componentize-py.
    Python,
    /// JavaScript with jco (QuickJS backend).
    Js,
}

const WIT: &str = include_str!("../../../wit/router.wit");
const PYTHON_SDK: &str = include_str!("../../../plugins/sdk-python/callwasm_sdk.py");
const JS_SDK: &str = include_str!("../../../plugins/sdk-js/callwasm-sdk.js");
/// The pinned toolchains, as the repo's examples use them.
const COMPONENTIZE_PY: &str = "0.25.1";
const JCO: &str = "1.35.0";

/// The SDK of the source tree this binary was built from, when it is still there.
fn default_sdk() -> Option<PathBuf> {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sdk"))
        .canonicalize()
        .ok()
}

/// A plugin name: a directory, a crate and a file name at once.
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "plugin name {name:?}: expected 1-64 of a-z 0-9 - _, starting with a letter"
        ))
    }
}

/// Writes the skeleton of plugin `name` in `lang` into the new directory `dir` (default: `name`
/// in the current directory). Returns what to do next.
pub fn new_plugin(
    name: &str,
    lang: Lang,
    dir: Option<&Path>,
    sdk: Option<&Path>,
) -> Result<String, String> {
    check_name(name)?;
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let file = name.replace('-', "_");
    let fill = |template: &str| template.replace("{{name}}", name);
    let mut files: Vec<(&str, String)> = Vec::new();
    let build = match lang {
        Lang::Rust => {
            let sdk = match sdk {
                Some(p) => p
                    .canonicalize()
                    .map_err(|e| format!("--sdk {}: {e}", p.display()))?,
                None => default_sdk().ok_or(
                    "the callwasm source tree this binary was built from is gone: pass --sdk PATH/TO/callwasm/plugins/sdk",
                )?,
            };
            if !sdk.join("Cargo.toml").is_file() {
                return Err(format!(
                    "--sdk {}: no Cargo.toml there (expected callwasm's plugins/sdk)",
                    sdk.display()
                ));
            }
            let sdk = sdk.to_string_lossy().replace('\\', "/");
            files.push((
                "Cargo.toml",
                fill(include_str!("skeleton/Cargo.toml.in")).replace("{{sdk}}", &sdk),
            ));
            files.push(("src/lib.rs", fill(include_str!("skeleton/lib.rs"))));
            format!(
                "rustup target add wasm32-wasip2\ncargo build --release --target wasm32-wasip2\n# -> target/wasm32-wasip2/release/{file}.wasm"
            )
        }
        Lang::Python => {
            files.push(("app.py", fill(include_str!("skeleton/app.py"))));
            files.push(("callwasm_sdk.py", PYTHON_SDK.to_string()));
            files.push(("wit/router.wit", WIT.to_string()));
            files.push((
                "requirements.txt",
                format!("componentize-py=={COMPONENTIZE_PY}\n"),
            ));
            let command = format!(
                "componentize-py -d wit -w router-plugin componentize app -p . --stub-wasi -o {file}.wasm"
            );
            files.push((
                "build.sh",
                format!(
                    "#!/bin/sh\n# Builds {file}.wasm. Once: python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\nset -e\ncd \"$(dirname \"$0\")\"\nPATH=\"$PWD/.venv/bin:$PATH\" {command}\n"
                ),
            ));
            format!(
                "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\nsh build.sh\n# -> {file}.wasm"
            )
        }
        Lang::Js => {
            files.push(("plugin.js", fill(include_str!("skeleton/plugin.js"))));
            files.push(("callwasm-sdk.js", JS_SDK.to_string()));
            files.push(("wit/router.wit", WIT.to_string()));
            let package = serde_json::json!({
                "name": name,
                "version": "0.1.0",
                "private": true,
                "type": "module",
                "scripts": {
                    "build": format!("jco componentize plugin.js --wit wit --world-name router-plugin --backend qjs --backend-qjs-disable-async --backend-qjs-stub-wasi -o {file}.wasm")
                },
                "devDependencies": { "@bytecodealliance/jco": JCO }
            });
            let package = serde_json::to_string_pretty(&package).map_err(|e| e.to_string())?;
            files.push(("package.json", package + "\n"));
            format!("npm install\nnpm run build\n# -> {file}.wasm")
        }
    };
    let readme = format!(
        "# {name}\n\nA callwasm routing plugin, written by `callwasm plugin new`. It forwards each call to one\nendpoint (setting `endpoint`, default `PJSIP/` + the dialed extension) with the create /\nbridge / dial flow. Change its `handle` to route as you need; the contract is wit/router.wit\nof callwasm (docs/plugins.md there says how each language writes it).\n\n## Build\n\n```sh\n{build}\n```\n\n## Try\n\n```sh\ncallwasm plugin check {file}.wasm\ncallwasm plugin call {file}.wasm --event '\"started\"' --setting endpoint=PJSIP/alice\ncallwasm plugin call {file}.wasm --event '{{\"dial-status\": {{\"leg\": \"agent\", \"status\": \"busy\"}}}}'\n```\n\n## Deploy\n\nPoint a tenant's `plugin` at the .wasm in the router's config, or push it to a running\nrouter: `callwasm plugin push {file}.wasm --tenant NAME`.\n"
    );
    files.push(("README.md", readme));
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(format!(
        "wrote {}/ ({}). Build it:\n  cd {}\n  {}",
        dir.display(),
        files.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", "),
        dir.display(),
        build.replace('\n', "\n  ")
    ))
}
