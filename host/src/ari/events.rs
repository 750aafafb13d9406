//! ARI events: one typed model for every event type in Asterisk 22's events.json.
//!
//! Decoding is tolerant: an unknown event type decodes as [`Event::Unknown`] (the stream logs
//! it once per type), unknown fields are ignored and missing ones default, so a newer Asterisk
//! never breaks the stream. Fields of models the router does not use (endpoints, recordings,
//! peers, …) are kept as raw JSON.
//!
//! Written from events.json (Swagger 1.2): required fields are plain, optional ones `Option`.

use super::models::{Bridge, Channel, Playback};
use serde::{Deserialize, Serialize};

/// Error event sent when required params are missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MissingParams {
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// A list of the missing parameters
    #[serde(default)]
    pub params: Vec<String>,
}

/// Notification that a device state has changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceStateChanged {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Device state object
    #[serde(default)]
    pub device_state: serde_json::Value,
}

/// Event showing the start of a media playback operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlaybackStarted {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Playback control object
    #[serde(default)]
    pub playback: Playback,
}

/// Event showing the continuation of a media playback operation from one media URI to the next in the list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlaybackContinuing {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Playback control object
    #[serde(default)]
    pub playback: Playback,
}

/// Event showing the completion of a media playback operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlaybackFinished {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Playback control object
    #[serde(default)]
    pub playback: Playback,
}

/// Event showing the start of a recording operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingStarted {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Recording control object
    #[serde(default)]
    pub recording: serde_json::Value,
}

/// Event showing the completion of a recording operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingFinished {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Recording control object
    #[serde(default)]
    pub recording: serde_json::Value,
}

/// Event showing failure of a recording operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingFailed {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Recording control object
    #[serde(default)]
    pub recording: serde_json::Value,
}

/// Notification that trying to move a channel to another Stasis application failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplicationMoveFailed {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub channel: Channel,
    #[serde(default)]
    pub destination: String,
    /// Arguments to the application
    #[serde(default)]
    pub args: Vec<String>,
}

/// Notification that a Stasis app has been registered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplicationRegistered {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
}

/// Notification that a Stasis app has been unregistered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplicationUnregistered {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
}

/// Notification that another WebSocket has taken over for an application.  An application may only be subscribed to by a single WebSocket at a time. If multiple WebSockets attempt to subscribe to the same application, the newer WebSocket wins, and the older one receives this event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplicationReplaced {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
}

/// Notification that a bridge has been created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeCreated {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub bridge: Bridge,
}

/// Notification that a bridge has been destroyed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeDestroyed {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub bridge: Bridge,
}

/// Notification that one bridge has merged into another.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeMerged {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub bridge: Bridge,
    #[serde(default)]
    pub bridge_from: Bridge,
}

/// Notification that a blind transfer has occurred.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeBlindTransfer {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel performing the blind transfer
    #[serde(default)]
    pub channel: Channel,
    /// The channel that is replacing transferer when the transferee(s) can not be transferred directly
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_channel: Option<Channel>,
    /// The channel that is being transferred
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferee: Option<Channel>,
    /// The extension transferred to
    #[serde(default)]
    pub exten: String,
    /// The context transferred to
    #[serde(default)]
    pub context: String,
    /// The result of the transfer attempt
    #[serde(default)]
    pub result: String,
    /// Whether the transfer was externally initiated or not
    #[serde(default)]
    pub is_external: bool,
    /// The bridge being transferred
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<Bridge>,
}

/// Notification that an attended transfer has occurred.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeAttendedTransfer {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// First leg of the transferer
    #[serde(default)]
    pub transferer_first_leg: Channel,
    /// Second leg of the transferer
    #[serde(default)]
    pub transferer_second_leg: Channel,
    /// The channel that is replacing transferer_first_leg in the swap
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_channel: Option<Channel>,
    /// The channel that is being transferred
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferee: Option<Channel>,
    /// The channel that is being transferred to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_target: Option<Channel>,
    /// The result of the transfer attempt
    #[serde(default)]
    pub result: String,
    /// Whether the transfer was externally initiated or not
    #[serde(default)]
    pub is_external: bool,
    /// Bridge the transferer first leg is in
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferer_first_leg_bridge: Option<Bridge>,
    /// Bridge the transferer second leg is in
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferer_second_leg_bridge: Option<Bridge>,
    /// How the transfer was accomplished
    #[serde(default)]
    pub destination_type: String,
    /// Bridge that survived the merge result
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_bridge: Option<String>,
    /// Application that has been transferred into
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_application: Option<String>,
    /// First leg of a link transfer result
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_link_first_leg: Option<Channel>,
    /// Second leg of a link transfer result
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_link_second_leg: Option<Channel>,
    /// Transferer channel that survived the threeway result
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_threeway_channel: Option<Channel>,
    /// Bridge that survived the threeway result
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_threeway_bridge: Option<Bridge>,
}

/// Notification that the source of video in a bridge has changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeVideoSourceChanged {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub bridge: Bridge,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_video_source_id: Option<String>,
}

/// Notification that a channel has been created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelCreated {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub channel: Channel,
}

/// Notification that a channel has been destroyed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelDestroyed {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Integer representation of the cause of the hangup
    #[serde(default)]
    pub cause: i64,
    /// Text representation of the cause of the hangup
    #[serde(default)]
    pub cause_txt: String,
    /// Integer representation of the technology-specific off-nominal cause of the hangup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tech_cause: Option<i64>,
    #[serde(default)]
    pub channel: Channel,
}

/// Notification that a channel has entered a bridge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelEnteredBridge {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub bridge: Bridge,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

/// Notification that a channel has left a bridge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelLeftBridge {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub bridge: Bridge,
    #[serde(default)]
    pub channel: Channel,
}

/// Notification of a channel's state change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelStateChange {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub channel: Channel,
}

/// DTMF received on a channel.  This event is sent when the DTMF ends. There is no notification about the start of DTMF
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelDtmfReceived {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// DTMF digit received (0-9, A-E, # or *)
    #[serde(default)]
    pub digit: String,
    /// Number of milliseconds DTMF was received
    #[serde(default)]
    pub duration_ms: i64,
    /// The channel on which DTMF was received
    #[serde(default)]
    pub channel: Channel,
}

/// Channel changed location in the dialplan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelDialplan {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel that changed dialplan location.
    #[serde(default)]
    pub channel: Channel,
    /// The application about to be executed.
    #[serde(default)]
    pub dialplan_app: String,
    /// The data to be passed to the application.
    #[serde(default)]
    pub dialplan_app_data: String,
}

/// Channel changed Caller ID.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelCallerId {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The integer representation of the Caller Presentation value.
    #[serde(default)]
    pub caller_presentation: i64,
    /// The text representation of the Caller Presentation value.
    #[serde(default)]
    pub caller_presentation_txt: String,
    /// The channel that changed Caller ID.
    #[serde(default)]
    pub channel: Channel,
}

/// User-generated event with additional user-defined fields in the object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelUserevent {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The name of the user event.
    #[serde(default)]
    pub eventname: String,
    /// A channel that is signaled with the user event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// A bridge that is signaled with the user event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<Bridge>,
    /// A endpoint that is signaled with the user event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<serde_json::Value>,
    /// Custom Userevent data
    #[serde(default)]
    pub userevent: serde_json::Value,
}

/// A hangup was requested on the channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelHangupRequest {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Integer representation of the cause of the hangup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<i64>,
    /// Integer representation of the technology-specific off-nominal cause of the hangup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tech_cause: Option<i64>,
    /// Whether the hangup request was a soft hangup request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft: Option<bool>,
    /// The channel on which the hangup was requested.
    #[serde(default)]
    pub channel: Channel,
}

/// Channel variable changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelVarset {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The variable that changed.
    #[serde(default)]
    pub variable: String,
    /// The new value of the variable.
    #[serde(default)]
    pub value: String,
    /// The channel on which the variable was set.  If missing, the variable is a global variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

/// Tone was detected on the channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelToneDetected {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel the tone was detected on.
    #[serde(default)]
    pub channel: Channel,
}

/// Talking was detected on the channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelTalkingStarted {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel on which talking started.
    #[serde(default)]
    pub channel: Channel,
}

/// Talking is no longer detected on the channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelTalkingFinished {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel on which talking completed.
    #[serde(default)]
    pub channel: Channel,
    /// The length of time, in milliseconds, that talking was detected on the channel
    #[serde(default)]
    pub duration: i64,
}

/// A channel initiated a media hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelHold {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel that initiated the hold event.
    #[serde(default)]
    pub channel: Channel,
    /// The music on hold class that the initiator requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub musicclass: Option<String>,
}

/// A channel initiated a media unhold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelUnhold {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel that initiated the unhold event.
    #[serde(default)]
    pub channel: Channel,
}

/// The state of a contact on an endpoint has changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactStatusChange {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub endpoint: serde_json::Value,
    #[serde(default)]
    pub contact_info: serde_json::Value,
}

/// Endpoint state changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointStateChange {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub endpoint: serde_json::Value,
}

/// Dialing state has changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dial {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The calling channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Channel>,
    /// The dialed channel.
    #[serde(default)]
    pub peer: Channel,
    /// Forwarding target requested by the original dialed channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<String>,
    /// Channel that the caller has been forwarded to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<Channel>,
    /// The dial string for calling the peer channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialstring: Option<String>,
    /// Current status of the dialing attempt to the peer.
    #[serde(default)]
    pub dialstatus: String,
}

/// Notification that a channel has left a Stasis application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StasisEnd {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub channel: Channel,
}

/// Notification that a channel has entered a Stasis application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StasisStart {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Arguments to the application
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_channel: Option<Channel>,
}

/// A text message was received from an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextMessageReceived {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub message: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<serde_json::Value>,
}

/// Channel changed Connected Line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelConnectedLine {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel whose connected line has changed.
    #[serde(default)]
    pub channel: Channel,
}

/// The state of a peer associated with an endpoint has changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerStatusChange {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    #[serde(default)]
    pub endpoint: serde_json::Value,
    #[serde(default)]
    pub peer: serde_json::Value,
}

/// transfer on a channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelTransfer {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Transfer State
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Refer-To information with optionally both affected channels
    #[serde(default)]
    pub refer_to: serde_json::Value,
    /// Referred-By SIP Header according rfc3892
    #[serde(default)]
    pub referred_by: serde_json::Value,
}

/// REST over Websocket Response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RESTResponse {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// Opaque transaction id.  Will be whatever was specified on the original request.
    #[serde(default)]
    pub transaction_id: String,
    /// Opaque request id.  Will be whatever was specified on the original request.
    #[serde(default)]
    pub request_id: String,
    /// HTTP status code
    #[serde(default)]
    pub status_code: i64,
    /// HTTP reason phrase
    #[serde(default)]
    pub reason_phrase: String,
    /// Original request resource URI
    #[serde(default)]
    pub uri: String,
    /// The Content-Type of the message body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Response message body
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_body: Option<String>,
}

/// Notification that a channel is being broadcast to ARI applications for claiming.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallBroadcast {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel being broadcast.
    #[serde(default)]
    pub channel: Channel,
    /// The caller ID number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The called number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called: Option<String>,
}

/// Notification that a broadcast channel has been successfully claimed by an ARI application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallClaimed {
    /// The application the event is for.
    #[serde(default)]
    pub application: String,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: String,
    /// The unique id of the Asterisk instance that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asterisk_id: Option<String>,
    /// The channel that was claimed.
    #[serde(default)]
    pub channel: Channel,
    /// The name of the ARI application that claimed the channel.
    #[serde(default)]
    pub winner_app: String,
}

/// Every message on the ARI event WebSocket, tagged by its `type`.
// Variants differ in size (a transfer event carries several channels); events are boxed where
// they are queued (`StreamItem::Event`), so the enum itself stays unboxed for easy matching.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    MissingParams(MissingParams),
    DeviceStateChanged(DeviceStateChanged),
    PlaybackStarted(PlaybackStarted),
    PlaybackContinuing(PlaybackContinuing),
    PlaybackFinished(PlaybackFinished),
    RecordingStarted(RecordingStarted),
    RecordingFinished(RecordingFinished),
    RecordingFailed(RecordingFailed),
    ApplicationMoveFailed(ApplicationMoveFailed),
    ApplicationRegistered(ApplicationRegistered),
    ApplicationUnregistered(ApplicationUnregistered),
    ApplicationReplaced(ApplicationReplaced),
    BridgeCreated(BridgeCreated),
    BridgeDestroyed(BridgeDestroyed),
    BridgeMerged(BridgeMerged),
    BridgeBlindTransfer(BridgeBlindTransfer),
    BridgeAttendedTransfer(BridgeAttendedTransfer),
    BridgeVideoSourceChanged(BridgeVideoSourceChanged),
    ChannelCreated(ChannelCreated),
    ChannelDestroyed(ChannelDestroyed),
    ChannelEnteredBridge(ChannelEnteredBridge),
    ChannelLeftBridge(ChannelLeftBridge),
    ChannelStateChange(ChannelStateChange),
    ChannelDtmfReceived(ChannelDtmfReceived),
    ChannelDialplan(ChannelDialplan),
    ChannelCallerId(ChannelCallerId),
    ChannelUserevent(ChannelUserevent),
    ChannelHangupRequest(ChannelHangupRequest),
    ChannelVarset(ChannelVarset),
    ChannelToneDetected(ChannelToneDetected),
    ChannelTalkingStarted(ChannelTalkingStarted),
    ChannelTalkingFinished(ChannelTalkingFinished),
    ChannelHold(ChannelHold),
    ChannelUnhold(ChannelUnhold),
    ContactStatusChange(ContactStatusChange),
    EndpointStateChange(EndpointStateChange),
    Dial(Dial),
    StasisEnd(StasisEnd),
    StasisStart(StasisStart),
    TextMessageReceived(TextMessageReceived),
    ChannelConnectedLine(ChannelConnectedLine),
    PeerStatusChange(PeerStatusChange),
    ChannelTransfer(ChannelTransfer),
    RESTResponse(RESTResponse),
    CallBroadcast(CallBroadcast),
    CallClaimed(CallClaimed),
    /// An event type this version does not know.
    #[serde(other)]
    Unknown,
}

/// The `type` of every event with a model, as Asterisk names it.
pub const EVENT_TYPES: &[&str] = &[
    "MissingParams",
    "DeviceStateChanged",
    "PlaybackStarted",
    "PlaybackContinuing",
    "PlaybackFinished",
    "RecordingStarted",
    "RecordingFinished",
    "RecordingFailed",
    "ApplicationMoveFailed",
    "ApplicationRegistered",
    "ApplicationUnregistered",
    "ApplicationReplaced",
    "BridgeCreated",
    "BridgeDestroyed",
    "BridgeMerged",
    "BridgeBlindTransfer",
    "BridgeAttendedTransfer",
    "BridgeVideoSourceChanged",
    "ChannelCreated",
    "ChannelDestroyed",
    "ChannelEnteredBridge",
    "ChannelLeftBridge",
    "ChannelStateChange",
    "ChannelDtmfReceived",
    "ChannelDialplan",
    "ChannelCallerId",
    "ChannelUserevent",
    "ChannelHangupRequest",
    "ChannelVarset",
    "ChannelToneDetected",
    "ChannelTalkingStarted",
    "ChannelTalkingFinished",
    "ChannelHold",
    "ChannelUnhold",
    "ContactStatusChange",
    "EndpointStateChange",
    "Dial",
    "StasisEnd",
    "StasisStart",
    "TextMessageReceived",
    "ChannelConnectedLine",
    "PeerStatusChange",
    "ChannelTransfer",
    "RESTResponse",
    "CallBroadcast",
    "CallClaimed",
];

impl Event {
    /// The event's `type`, or "Unknown".
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::MissingParams(_) => "MissingParams",
            Event::DeviceStateChanged(_) => "DeviceStateChanged",
            Event::PlaybackStarted(_) => "PlaybackStarted",
            Event::PlaybackContinuing(_) => "PlaybackContinuing",
            Event::PlaybackFinished(_) => "PlaybackFinished",
            Event::RecordingStarted(_) => "RecordingStarted",
            Event::RecordingFinished(_) => "RecordingFinished",
            Event::RecordingFailed(_) => "RecordingFailed",
            Event::ApplicationMoveFailed(_) => "ApplicationMoveFailed",
            Event::ApplicationRegistered(_) => "ApplicationRegistered",
            Event::ApplicationUnregistered(_) => "ApplicationUnregistered",
            Event::ApplicationReplaced(_) => "ApplicationReplaced",
            Event::BridgeCreated(_) => "BridgeCreated",
            Event::BridgeDestroyed(_) => "BridgeDestroyed",
            Event::BridgeMerged(_) => "BridgeMerged",
            Event::BridgeBlindTransfer(_) => "BridgeBlindTransfer",
            Event::BridgeAttendedTransfer(_) => "BridgeAttendedTransfer",
            Event::BridgeVideoSourceChanged(_) => "BridgeVideoSourceChanged",
            Event::ChannelCreated(_) => "ChannelCreated",
            Event::ChannelDestroyed(_) => "ChannelDestroyed",
            Event::ChannelEnteredBridge(_) => "ChannelEnteredBridge",
            Event::ChannelLeftBridge(_) => "ChannelLeftBridge",
            Event::ChannelStateChange(_) => "ChannelStateChange",
            Event::ChannelDtmfReceived(_) => "ChannelDtmfReceived",
            Event::ChannelDialplan(_) => "ChannelDialplan",
            Event::ChannelCallerId(_) => "ChannelCallerId",
            Event::ChannelUserevent(_) => "ChannelUserevent",
            Event::ChannelHangupRequest(_) => "ChannelHangupRequest",
            Event::ChannelVarset(_) => "ChannelVarset",
            Event::ChannelToneDetected(_) => "ChannelToneDetected",
            Event::ChannelTalkingStarted(_) => "ChannelTalkingStarted",
            Event::ChannelTalkingFinished(_) => "ChannelTalkingFinished",
            Event::ChannelHold(_) => "ChannelHold",
            Event::ChannelUnhold(_) => "ChannelUnhold",
            Event::ContactStatusChange(_) => "ContactStatusChange",
            Event::EndpointStateChange(_) => "EndpointStateChange",
            Event::Dial(_) => "Dial",
            Event::StasisEnd(_) => "StasisEnd",
            Event::StasisStart(_) => "StasisStart",
            Event::TextMessageReceived(_) => "TextMessageReceived",
            Event::ChannelConnectedLine(_) => "ChannelConnectedLine",
            Event::PeerStatusChange(_) => "PeerStatusChange",
            Event::ChannelTransfer(_) => "ChannelTransfer",
            Event::RESTResponse(_) => "RESTResponse",
            Event::CallBroadcast(_) => "CallBroadcast",
            Event::CallClaimed(_) => "CallClaimed",
            Event::Unknown => "Unknown",
        }
    }

    /// The application the event is for (none for messages that are not events).
    pub fn application(&self) -> Option<&str> {
        match self {
            Event::DeviceStateChanged(e) => Some(&e.application),
            Event::PlaybackStarted(e) => Some(&e.application),
            Event::PlaybackContinuing(e) => Some(&e.application),
            Event::PlaybackFinished(e) => Some(&e.application),
            Event::RecordingStarted(e) => Some(&e.application),
            Event::RecordingFinished(e) => Some(&e.application),
            Event::RecordingFailed(e) => Some(&e.application),
            Event::ApplicationMoveFailed(e) => Some(&e.application),
            Event::ApplicationRegistered(e) => Some(&e.application),
            Event::ApplicationUnregistered(e) => Some(&e.application),
            Event::ApplicationReplaced(e) => Some(&e.application),
            Event::BridgeCreated(e) => Some(&e.application),
            Event::BridgeDestroyed(e) => Some(&e.application),
            Event::BridgeMerged(e) => Some(&e.application),
            Event::BridgeBlindTransfer(e) => Some(&e.application),
            Event::BridgeAttendedTransfer(e) => Some(&e.application),
            Event::BridgeVideoSourceChanged(e) => Some(&e.application),
            Event::ChannelCreated(e) => Some(&e.application),
            Event::ChannelDestroyed(e) => Some(&e.application),
            Event::ChannelEnteredBridge(e) => Some(&e.application),
            Event::ChannelLeftBridge(e) => Some(&e.application),
            Event::ChannelStateChange(e) => Some(&e.application),
            Event::ChannelDtmfReceived(e) => Some(&e.application),
            Event::ChannelDialplan(e) => Some(&e.application),
            Event::ChannelCallerId(e) => Some(&e.application),
            Event::ChannelUserevent(e) => Some(&e.application),
            Event::ChannelHangupRequest(e) => Some(&e.application),
            Event::ChannelVarset(e) => Some(&e.application),
            Event::ChannelToneDetected(e) => Some(&e.application),
            Event::ChannelTalkingStarted(e) => Some(&e.application),
            Event::ChannelTalkingFinished(e) => Some(&e.application),
            Event::ChannelHold(e) => Some(&e.application),
            Event::ChannelUnhold(e) => Some(&e.application),
            Event::ContactStatusChange(e) => Some(&e.application),
            Event::EndpointStateChange(e) => Some(&e.application),
            Event::Dial(e) => Some(&e.application),
            Event::StasisEnd(e) => Some(&e.application),
            Event::StasisStart(e) => Some(&e.application),
            Event::TextMessageReceived(e) => Some(&e.application),
            Event::ChannelConnectedLine(e) => Some(&e.application),
            Event::PeerStatusChange(e) => Some(&e.application),
            Event::ChannelTransfer(e) => Some(&e.application),
            Event::RESTResponse(e) => Some(&e.application),
            Event::CallBroadcast(e) => Some(&e.application),
            Event::CallClaimed(e) => Some(&e.application),
            Event::MissingParams(_) | Event::Unknown => None,
        }
    }
}
