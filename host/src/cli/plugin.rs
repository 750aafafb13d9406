//! `callwasm plugin check` and `callwasm plugin call`: how plugin authors validate a component
//! and try it by hand on one event.

use super::EXIT_BAD_INPUT;
use callwasm::runtime::{
    Call, Event, InstanceMode, Invocation, Limits, Plugin, Runtime, RuntimeConfig, Settings,
    WitJson,
};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Validate a component against the router-plugin world; print its name, size, imports
    /// and exports.
    Check {
        /// The plugin component (.wasm).
        file: PathBuf,
    },
    /// Run one `handle` call and print the reply as JSON.
    Call {
        /// The plugin component (.wasm).
        file: PathBuf,
        /// The event in the WIT's spelling, as JSON (`'"started"'`, `'{"dial-status":
        /// {"leg": "agent", "status": "no-answer"}}'`) or the path of a file holding it.
        #[arg(long)]
        event: String,
        /// The call record, as JSON (`state` as a byte array or as text) or the path of a file
        /// holding it. Default: call `c1` of tenant `acme`, its caller ringing (handle
        /// `caller`, PJSIP/5550100-00000001, "Alice" <5550100>, dialing 100 in from-sipp), no
        /// bridges, no state, now-ms 0.
        #[arg(long)]
        call: Option<String>,
        /// A plugin setting, `key=value`; repeatable.
        #[arg(long = "setting", value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Write a working plugin skeleton (forwarding calls with create / bridge / dial) and its
    /// build file into a new directory.
    New {
        /// The plugin's name (a-z 0-9 - _): the directory, crate and component are named after it.
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum, default_value = "rust")]
        lang: super::plugin_new::Lang,
        /// The directory to create (default: NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rust: where callwasm's plugins/sdk is (default: the source tree this callwasm was
        /// built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Upload a new version of a tenant's plugin to a running router (admin API). It is
    /// checked (world, smoke call) and made live, or rejected with the reason.
    Push {
        /// The plugin component (.wasm).
        file: PathBuf,
        /// The tenant whose plugin it is (a `[tenants.NAME]` of the router's config).
        #[arg(long)]
        tenant: String,
        /// The version's label (default: the file's name).
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        access: super::admin_client::AdminAccess,
    },
    /// Make a kept version live again, by label or hash prefix.
    Rollback {
        /// The tenant whose version to change.
        #[arg(long)]
        tenant: String,
        /// The kept version to make live: its label or a prefix of its hash (see `versions`).
        #[arg(long)]
        to: String,
        #[command(flatten)]
        access: super::admin_client::AdminAccess,
    },
    /// List a tenant's versions: live (*), calls held, calls served and failed.
    Versions {
        /// The tenant whose versions to list.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        access: super::admin_client::AdminAccess,
    },
}

pub fn run(cmd: PluginCommand) -> ExitCode {
    let result = match cmd {
        PluginCommand::Check { file } => check(&file),
        PluginCommand::Call {
            file,
            event,
            call,
            settings,
        } => call_once(&file, &event, call.as_deref(), &settings),
        PluginCommand::New {
            name,
            lang,
            dir,
            sdk,
        } => super::plugin_new::new_plugin(&name, lang, dir.as_deref(), sdk.as_deref())
            .map(|done| println!("{done}")),
        PluginCommand::Push {
            file,
            tenant,
            label,
            access,
        } => super::admin_client::push(&access, &file, &tenant, label.as_deref()),
        PluginCommand::Rollback { tenant, to, access } => {
            super::admin_client::rollback(&access, &tenant, &to)
        }
        PluginCommand::Versions { tenant, access } => {
            super::admin_client::versions(&access, &tenant)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn load(file: &Path) -> Result<Plugin, String> {
    let runtime = Runtime::new(RuntimeConfig::default()).map_err(|e| e.to_string())?;
    runtime
        .load_file(file)
        .map_err(|e| format!("{}: {e}", file.display()))
}

fn check(file: &Path) -> Result<(), String> {
    let plugin = load(file)?;
    let info = plugin.info();
    println!("name:    {}", info.name);
    println!("size:    {} bytes", info.size);
    println!("sha256:  {}", info.hash);
    println!("imports: {}", info.imports.join(", "));
    println!("exports: {}", info.exports.join(", "));
    println!("ok: a callwasm router plugin");
    Ok(())
}

/// The call `plugin call` runs when none is given: a caller ringing, as a `started` finds it.
const RINGING_CALLER: &str = r#"{
    "id": "c1", "tenant": "acme", "args": [], "bridges": [], "state": [], "now-ms": 0,
    "channels": [{
        "handle": "caller", "name": "PJSIP/5550100-00000001", "state": "ring",
        "caller": {"name": "Alice", "number": "5550100"}, "connected": {"name": "", "number": ""},
        "dialplan": {"context": "from-sipp", "extension": "100", "priority": 1}
    }]
}"#;

/// A `type_name` of the contract given as JSON inline (it starts with `{`, `[` or `"`) or in
/// a file named by `arg`, in the WIT's spelling (the Rust spelling is read too).
fn read_json<T: serde::de::DeserializeOwned>(
    wit: &WitJson,
    type_name: &str,
    arg: &str,
) -> Result<T, String> {
    let inline = arg.trim_start().starts_with(['{', '[', '"']);
    let (text, source) = if inline {
        (arg.to_string(), format!("{type_name} JSON"))
    } else {
        let text = std::fs::read_to_string(arg)
            .map_err(|e| format!("cannot read {type_name} file {arg}: {e}"))?;
        (text, format!("{type_name} file {arg}"))
    };
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{source}: {e}"))?;
    // State bytes may be written as text (the SDK keeps JSON state): turn them into bytes.
    if let Some(state) = value.get_mut("state")
        && let Some(text) = state.as_str()
    {
        *state = serde_json::Value::from(text.as_bytes().to_vec());
    }
    let value = wit
        .from_wit(type_name, value)
        .map_err(|e| format!("{source}: {e}"))?;
    serde_json::from_value(value).map_err(|e| format!("{source}: {e}"))
}

/// The reply as JSON in the WIT's spelling, its state bytes shown as text when they are UTF-8
/// (as JSON state is).
fn reply_json(wit: &WitJson, reply: &callwasm::runtime::Reply) -> Result<String, String> {
    let value = serde_json::to_value(reply).map_err(|e| e.to_string())?;
    let mut value = wit.to_wit("reply", value)?;
    if let (Some(state), Some(bytes)) = (value.get_mut("state"), reply.state.as_ref())
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        *state = serde_json::Value::from(text);
    }
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}

fn call_once(
    file: &Path,
    event: &str,
    call: Option<&str>,
    settings: &[String],
) -> Result<(), String> {
    let wit = WitJson::new()?;
    let event: Event = read_json(&wit, "event", event)?;
    let call: Call = read_json(&wit, "call", call.unwrap_or(RINGING_CALLER))?;
    let settings = settings
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("--setting {kv:?}: expected KEY=VALUE"))
        })
        .collect::<Result<Settings, String>>()?;
    let plugin = load(file)?;
    let limits = Limits::default();
    let reply = plugin
        .handle(Invocation {
            event: &event,
            call: &call,
            settings: Arc::new(settings),
            tag: Arc::from(format!("{}/{}", call.tenant, call.id)),
            limits: &limits,
            mode: InstanceMode::Fresh,
            slots: None,
        })
        .map_err(|e| e.to_string())?;
    println!("{}", reply_json(&wit, &reply)?);
    Ok(())
}
