//! REST over the event WebSocket, as Asterisk 22 takes it (ari-samples t7): a client sends a
//! `RESTRequest` frame on its ordinary `/ari/events` socket and gets a `RESTResponse` frame
//! back on the same socket, correlated by `transaction_id` / `request_id`. The request runs
//! through the same operations as one over HTTP.

use super::server::{Shared, journal};
use super::state::timestamp;
use hyper::{Method, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(serde::Deserialize)]
struct Request {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    transaction_id: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    uri: String,
    #[serde(default)]
    query_strings: Vec<QueryString>,
    content_type: Option<String>,
    message_body: Option<String>,
}

#[derive(serde::Deserialize)]
struct QueryString {
    name: String,
    #[serde(default)]
    value: String,
}

/// The `RESTResponse` frame for a text frame `text` received on a socket of `app`; None when
/// the frame is not a `RESTRequest` (Asterisk ignores other frames).
pub(super) fn answer(shared: &Arc<Shared>, app: &str, text: &str) -> Option<String> {
    let request: Request = serde_json::from_str(text).ok()?;
    if request.kind != "RESTRequest" {
        return None;
    }
    let (path, query_text) = request
        .uri
        .split_once('?')
        .unwrap_or((request.uri.as_str(), ""));
    let (status, reason, body) = run(shared, &request, path, query_text);
    let mut response = serde_json::json!({
        "type": "RESTResponse",
        "transaction_id": request.transaction_id,
        "request_id": request.request_id,
        "status_code": status.as_u16(),
        "reason_phrase": reason,
        "uri": path,
        "application": app,
        "timestamp": timestamp(),
        "asterisk_id": "sim",
    });
    // A 204 carries neither.
    if !body.is_empty() {
        response["content_type"] = "application/json".into();
        response["message_body"] = body.into();
    }
    Some(response.to_string())
}

/// Status, reason phrase and body text of one request.
fn run(
    shared: &Arc<Shared>,
    request: &Request,
    path: &str,
    query_text: &str,
) -> (StatusCode, String, String) {
    let error = |status: StatusCode, reason: &str, message: &str| {
        let body = serde_json::json!({ "message": message }).to_string();
        (status, reason.to_string(), body)
    };
    // Asterisk takes the uri relative to /ari: a leading slash finds no method (t7).
    if path.starts_with('/') {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            "Invalid method",
        );
    }
    if request.message_body.is_some() && request.content_type.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "No 'content_type' for 'message_body'.",
        );
    }
    let Ok(method) = Method::from_bytes(request.method.as_bytes()) else {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            "Invalid method",
        );
    };
    let mut query: HashMap<String, String> = form_urlencoded::parse(query_text.as_bytes())
        .into_owned()
        .collect();
    for q in &request.query_strings {
        query.insert(q.name.clone(), q.value.clone());
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let body = request
        .message_body
        .as_deref()
        .unwrap_or_default()
        .as_bytes();
    if shared.config.journal {
        journal(
            shared,
            &method,
            &format!("/{path}"),
            &query,
            &segments,
            body,
            "",
        );
    }
    let response = super::operations::route(shared, &method, &segments, &query, body);
    super::operations::release_held(shared, &segments, &query);
    let status = response.status();
    let text = response_text(response);
    let reason = status.canonical_reason().unwrap_or_default().to_string();
    (status, reason, text)
}

/// The body of a response the operations built (always a full, in-memory body).
fn response_text(response: hyper::Response<super::server::Body>) -> String {
    use http_body_util::BodyExt;
    use std::future::Future;
    let body = response.into_body();
    // A `Full` body is ready at once: poll it without a runtime.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut collect = std::pin::pin!(body.collect());
    match collect.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(collected)) => {
            String::from_utf8_lossy(&collected.to_bytes()).into_owned()
        }
        _ => String::new(),
    }
}
