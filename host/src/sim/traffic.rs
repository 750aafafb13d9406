//! Generated inbound calls: a TOML file (or the same structs in code) says how many calls to
//! place, how fast, into which application, and how their callers behave, so a demo, a load
//! test or a plugin author's session gets realistic traffic without scripting it by hand.

use super::calls::{CallerBehaviour, InboundCall};
use super::endpoints::{Behaviour, EndpointRule};
use super::server::{Sim, SimConfig};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// A simulator set-up file: where it listens, what endpoints do, what calls come in.
///
/// ```toml
/// listen = "127.0.0.1:8088"
/// [[endpoints]]               # tried before the built-in rules
/// pattern = "PJSIP/alice*"
/// behaviour = "answer"        # answer | ring-forever | busy | unavailable | congestion
/// after_ms = 300              #  | answer-then-hangup (after_ms, hold_ms) | early-media | stasis
/// [[traffic]]
/// app = "router"
/// rate = 5.0                  # calls per second
/// count = 20                  # calls in all
/// exten = "100"
/// numbers = ["5550100", "5550101"]   # caller numbers, used in turn
/// hangup_after_ms = 20000
/// dtmf = "1@1500,#@1800"      # digit@ms after entering
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFile {
    pub listen: Option<SocketAddr>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// How long a busy channel lingers before Asterisk hangs it up.
    pub busy_hangup_after_ms: Option<u64>,
    #[serde(default)]
    pub endpoints: Vec<EndpointSpec>,
    #[serde(default)]
    pub traffic: Vec<Traffic>,
}

/// One `[[endpoints]]` rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub pattern: String,
    pub behaviour: BehaviourName,
    #[serde(default)]
    pub after_ms: u64,
    #[serde(default)]
    pub hold_ms: u64,
}

/// The behaviours an endpoint rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BehaviourName {
    Answer,
    RingForever,
    Busy,
    Unavailable,
    Congestion,
    AnswerThenHangup,
    EarlyMedia,
    Stasis,
}

/// One `[[traffic]]` stream of inbound calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// The Stasis application the calls enter.
    pub app: String,
    /// Calls per second.
    pub rate: f64,
    /// Calls in all.
    pub count: u64,
    /// The dialed extension.
    #[serde(default = "default_exten")]
    pub exten: String,
    /// Caller numbers, used in turn (one default number when empty).
    #[serde(default)]
    pub numbers: Vec<String>,
    /// Caller name.
    #[serde(default)]
    pub name: String,
    /// `Stasis(app, args…)` arguments; empty means the extension.
    #[serde(default)]
    pub args: Vec<String>,
    pub hangup_after_ms: Option<u64>,
    pub hangup_after_answer_ms: Option<u64>,
    /// `digit@ms,…`: DTMF sent at these times after entering.
    #[serde(default)]
    pub dtmf: String,
}

fn default_exten() -> String {
    "100".into()
}

/// A simulator file that could not be used: says which file, where and what was expected.
pub type SimFileError = crate::toml_error::FileError;

impl SimFile {
    /// Reads and checks a simulator file.
    pub fn load(path: &Path) -> Result<SimFile, SimFileError> {
        crate::toml_error::load(path, Self::parse)
    }

    /// Parses and checks a simulator file's text; the error names line, key and expectation.
    pub fn parse(text: &str) -> Result<SimFile, String> {
        let file: SimFile =
            toml::from_str(text).map_err(|e| crate::toml_error::describe(text, &e))?;
        for (n, t) in file.traffic.iter().enumerate() {
            if !(t.rate.is_finite() && t.rate > 0.0) {
                return Err(format!(
                    "traffic[{n}].rate: expected a number of calls per second above 0, got {}",
                    t.rate
                ));
            }
            t.behaviour()
                .map_err(|e| format!("traffic[{n}].dtmf: {e}"))?;
        }
        Ok(file)
    }

    /// The simulator configuration this file describes, over the defaults.
    pub fn config(&self) -> SimConfig {
        let mut config = SimConfig::default();
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(user) = &self.user {
            config.user = user.clone();
        }
        if let Some(password) = &self.password {
            config.password = password.clone();
        }
        if let Some(ms) = self.busy_hangup_after_ms {
            config.busy_hangup_after = Duration::from_millis(ms);
        }
        let rules: Vec<EndpointRule> = self.endpoints.iter().map(EndpointSpec::rule).collect();
        config.endpoints.splice(0..0, rules);
        config
    }
}

impl EndpointSpec {
    /// The simulator rule this spec describes.
    pub fn rule(&self) -> EndpointRule {
        let after = Duration::from_millis(self.after_ms);
        let behaviour = match self.behaviour {
            BehaviourName::Answer => Behaviour::Answer { after },
            BehaviourName::RingForever => Behaviour::RingForever,
            BehaviourName::Busy => Behaviour::Busy,
            BehaviourName::Unavailable => Behaviour::Unavailable,
            BehaviourName::Congestion => Behaviour::Congestion,
            BehaviourName::AnswerThenHangup => Behaviour::AnswerThenHangup {
                after,
                hold: Duration::from_millis(self.hold_ms),
            },
            BehaviourName::EarlyMedia => Behaviour::EarlyMedia { after },
            BehaviourName::Stasis => Behaviour::Stasis,
        };
        EndpointRule::new(&self.pattern, behaviour)
    }
}

impl Traffic {
    /// The callers' behaviour.
    pub fn behaviour(&self) -> Result<CallerBehaviour, String> {
        let mut query = std::collections::HashMap::new();
        query.insert("app".to_string(), self.app.clone());
        query.insert("dtmf".to_string(), self.dtmf.clone());
        let mut behaviour = InboundCall::from_query(&query)?.behaviour;
        behaviour.hangup_after = self.hangup_after_ms.map(Duration::from_millis);
        behaviour.hangup_after_answer = self.hangup_after_answer_ms.map(Duration::from_millis);
        Ok(behaviour)
    }

    /// The `n`th call of this stream.
    pub fn call(&self, n: u64, behaviour: &CallerBehaviour) -> InboundCall {
        let number = match self.numbers.len() {
            0 => "5550100".to_string(),
            len => self.numbers[(n % len as u64) as usize].clone(),
        };
        let mut call = InboundCall::new(&self.app, &number, &self.exten);
        call.caller_name = self.name.clone();
        call.args = if self.args.is_empty() {
            vec![self.exten.clone()]
        } else {
            self.args.clone()
        };
        call.behaviour = behaviour.clone();
        call
    }
}

/// What a traffic run placed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placed {
    /// Caller channel ids, in the order placed.
    pub channels: Vec<String>,
}

impl Sim {
    /// Waits until the application has an event socket (calls into an application nobody
    /// listens to would fail, as Stasis() does on a real Asterisk), then places the stream's
    /// calls at its rate (paced against the clock, so a late tick does not lower the rate),
    /// and returns once the last is placed.
    pub async fn run_traffic(&self, traffic: &Traffic) -> Result<Placed, String> {
        let behaviour = traffic.behaviour()?;
        while !self.listening(&traffic.app) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let began = Instant::now();
        let mut placed = Placed::default();
        for n in 0..traffic.count {
            let due = began + Duration::from_secs_f64(n as f64 / traffic.rate);
            tokio::time::sleep_until(due.into()).await;
            placed
                .channels
                .push(self.place_call(&traffic.call(n, &behaviour)));
        }
        Ok(placed)
    }
}
