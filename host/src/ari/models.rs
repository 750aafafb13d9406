//! ARI's resource models (Channel, Bridge, CallerID, DialplanCEP, Playback, …), as Asterisk 22
//! defines them in its API docs (channels.json, bridges.json, playbacks.json, …).
//!
//! Fields Asterisk marks required are plain fields, optional ones `Option`; fields of versions
//! newer or older than ours default when missing, and unknown fields are ignored, so a newer
//! Asterisk never breaks decoding.

use serde::{Deserialize, Serialize};

/// A caller ID: name and number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerId {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub number: String,
}

/// A channel's dialplan location (context, extension, priority, application).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialplanCep {
    #[serde(default)]
    pub context: String,
    #[serde(default)]
    pub exten: String,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub app_name: String,
    #[serde(default)]
    pub app_data: String,
}

/// A channel, as ARI reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Asterisk's unique id, such as `1795667013.2`, or the one the client chose.
    pub id: String,
    /// The channel name, such as `PJSIP/alice-00000002`.
    #[serde(default)]
    pub name: String,
    /// `Down`, `Rsrved`, `OffHook`, `Dialing`, `Ring`, `Ringing`, `Up`, `Busy`,
    /// `Dialing Offhook`, `Pre-ring` or `Unknown`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub protocol_id: String,
    #[serde(default)]
    pub caller: CallerId,
    #[serde(default)]
    pub connected: CallerId,
    #[serde(default)]
    pub accountcode: String,
    #[serde(default)]
    pub dialplan: DialplanCep,
    #[serde(default)]
    pub creationtime: String,
    #[serde(default)]
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channelvars: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_rdnis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenantid: Option<String>,
}

/// A bridge, as ARI reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bridge {
    pub id: String,
    #[serde(default)]
    pub technology: String,
    /// `mixing` or `holding`.
    #[serde(default)]
    pub bridge_type: String,
    #[serde(default)]
    pub bridge_class: String,
    #[serde(default)]
    pub creator: String,
    #[serde(default)]
    pub name: String,
    /// Ids of the channels in the bridge.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_source_id: Option<String>,
    #[serde(default)]
    pub creationtime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridgevars: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A playback of media to a channel or bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playback {
    pub id: String,
    #[serde(default)]
    pub media_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_media_uri: Option<String>,
    /// `channel:<id>` or `bridge:<id>`.
    #[serde(default)]
    pub target_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `queued`, `playing`, `continuing`, `done` or `failed`.
    #[serde(default)]
    pub state: String,
}

/// A Stasis application, as `GET /applications/{name}` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub channel_ids: Vec<String>,
    #[serde(default)]
    pub bridge_ids: Vec<String>,
    #[serde(default)]
    pub endpoint_ids: Vec<String>,
    #[serde(default)]
    pub device_names: Vec<String>,
    #[serde(default)]
    pub events_allowed: Vec<serde_json::Value>,
    #[serde(default)]
    pub events_disallowed: Vec<serde_json::Value>,
}

/// The answer to `GET /asterisk/ping`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsteriskPing {
    #[serde(default)]
    pub asterisk_id: String,
    #[serde(default)]
    pub ping: String,
    #[serde(default)]
    pub timestamp: String,
}

/// A variable's value, as `GET /channels/{id}/variable` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    pub value: String,
}
