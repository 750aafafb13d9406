//! `callwasm plugin push | rollback | versions`: the admin API from the command line.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::Path;

/// Where the admin API is and how to get in.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminAccess {
    /// The admin API's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8089", env = "CALLWASM_ADMIN")]
    admin: String,
    /// The operator token (better passed in the environment than on the command line).
    #[arg(long, env = "CALLWASM_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
}

/// One request; the answer's body is printed. Err carries the API's error.
fn request(
    access: &AdminAccess,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<serde_json::Value, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let url = format!("{}{path}", access.admin.trim_end_matches('/'));
        let request = hyper::Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Bearer {}", access.token))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("{url}: {e}"))?;
        let response = client.request(request).await.map_err(|e| {
            if e.is_connect() {
                // The client's own words ("client error (Connect)") hide the cause one level down.
                let mut causes = Vec::new();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    causes.push(cause.to_string());
                    source = cause.source();
                }
                let cause = causes.join(": ");
                format!(
                    "cannot reach the admin API at {} ({cause}): is `callwasm run` running with an [admin] section whose listen address this is? Point --admin (or CALLWASM_ADMIN) at it",
                    access.admin
                )
            } else {
                format!("{url}: {e}")
            }
        })?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| format!("{url}: HTTP {status}: {}", String::from_utf8_lossy(&bytes)))?;
        if status.is_success() {
            Ok(json)
        } else {
            Err(format!(
                "HTTP {}: {}",
                status.as_u16(),
                json["error"].as_str().unwrap_or("(no message)")
            ))
        }
    })
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Uploads `file` as a new version of `tenant`.
pub fn push(
    access: &AdminAccess,
    file: &Path,
    tenant: &str,
    label: Option<&str>,
) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let label = label
        .map(String::from)
        .or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let path = format!(
        "/tenants/{}/plugin?label={}",
        encode(tenant),
        encode(&label)
    );
    let version = request(access, "PUT", &path, bytes)?;
    println!(
        "{}: version {} ({}) is live",
        tenant,
        version["name"].as_str().unwrap_or("?"),
        version["hash"].as_str().unwrap_or("?")
    );
    if let Some(note) = version["note"].as_str() {
        println!("note: {note}");
    }
    Ok(())
}

/// Makes the kept version `to` live again.
pub fn rollback(access: &AdminAccess, tenant: &str, to: &str) -> Result<(), String> {
    let path = format!("/tenants/{}/rollback?to={}", encode(tenant), encode(to));
    let version = request(access, "POST", &path, Vec::new())?;
    println!(
        "{}: rolled back to {} ({})",
        tenant,
        version["name"].as_str().unwrap_or("?"),
        version["hash"].as_str().unwrap_or("?")
    );
    Ok(())
}

/// Lists a tenant's versions.
pub fn versions(access: &AdminAccess, tenant: &str) -> Result<(), String> {
    let t = request(
        access,
        "GET",
        &format!("/tenants/{}", encode(tenant)),
        Vec::new(),
    )?;
    for v in t["versions"].as_array().into_iter().flatten() {
        println!(
            "{} {:<16} {}  calls {:>5}  served {:>7}  failed {:>5}{}",
            if v["live"] == true { "*" } else { " " },
            v["name"].as_str().unwrap_or("?"),
            v["hash"]
                .as_str()
                .unwrap_or("?")
                .chars()
                .take(12)
                .collect::<String>(),
            v["calls"],
            v["served"],
            v["failed_calls"],
            if v["loaded"] == true { "" } else { "  (freed)" }
        );
    }
    if let Some(reason) = t["last_rollback"].as_str() {
        println!("last automatic rollback: {reason}");
    }
    Ok(())
}
