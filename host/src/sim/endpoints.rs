//! Scripted far ends: what a dialed endpoint does, chosen by a pattern on its name.

use std::time::Duration;

/// How the far end of a dialed channel behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Rings, then answers after this long.
    Answer { after: Duration },
    /// Rings until the dial times out or the channel is hung up.
    RingForever,
    /// Answers busy at once (Asterisk hangs the channel up ~5 s later, cause 17).
    Busy,
    /// The endpoint cannot be reached (CHANUNAVAIL).
    Unavailable,
    /// The network is congested (CONGESTION).
    Congestion,
    /// Answers after `after`, then hangs up `hold` later.
    AnswerThenHangup { after: Duration, hold: Duration },
    /// Sends early media (progress) at once, answers after `after`.
    EarlyMedia { after: Duration },
    /// A Local channel whose `;2` half enters the dialing channel's application (as
    /// `Stasis(app,${EXTEN})` in its dialplan would) and answers.
    Stasis,
    /// A Local channel whose `;2` half runs `StasisBroadcast(timeout, filter, args, notify)`
    /// (ari-samples t8): offered to every app matching `filter` (a regular expression), the
    /// first `POST /events/claim` wins; unclaimed after `timeout` it goes on in the dialplan
    /// and hangs up. `args` are `:`-separated.
    Broadcast {
        timeout: Duration,
        filter: String,
        args: String,
        notify_claimed: bool,
    },
}

/// A rule: endpoints whose name matches `pattern` behave like this. `*` matches any run of
/// characters; the first matching rule wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRule {
    pub pattern: String,
    pub behaviour: Behaviour,
}

impl EndpointRule {
    pub fn new(pattern: &str, behaviour: Behaviour) -> Self {
        EndpointRule {
            pattern: pattern.into(),
            behaviour,
        }
    }
}

/// Technologies the simulator can allocate channels for; others fail as Asterisk does, with
/// 500 "Allocation failed".
pub const TECHNOLOGIES: &[&str] = &["PJSIP", "SIP", "IAX2", "Local", "DAHDI"];

/// The rules the simulator starts with, after the dialplan of the captured samples
/// (`local-test`: 1XX/2XX answer, 3XX both Local halves in Stasis, 4XX ring forever, 5XX busy, 6XX answer then hang up after
/// 2 s, 7XX/8XX/9XX answer) and names that say what they do (`PJSIP/busy-…`, `PJSIP/unavailable-…`).
pub fn default_rules() -> Vec<EndpointRule> {
    use Behaviour::*;
    let ms = Duration::from_millis;
    vec![
        EndpointRule::new("*busy*", Busy),
        EndpointRule::new("*unavailable*", Unavailable),
        EndpointRule::new("*congest*", Congestion),
        EndpointRule::new("*noanswer*", RingForever),
        EndpointRule::new("*ringforever*", RingForever),
        EndpointRule::new("*early*", EarlyMedia { after: ms(200) }),
        EndpointRule::new(
            "*hangup*",
            AnswerThenHangup {
                after: ms(100),
                hold: ms(2000),
            },
        ),
        EndpointRule::new(
            "Local/1??@*",
            Answer {
                after: Duration::ZERO,
            },
        ),
        EndpointRule::new(
            "Local/2??@*",
            Answer {
                after: Duration::ZERO,
            },
        ),
        EndpointRule::new("Local/3??@*", Stasis),
        EndpointRule::new("Local/4??@*", RingForever),
        EndpointRule::new("Local/5??@*", Busy),
        EndpointRule::new(
            "Local/6??@*",
            AnswerThenHangup {
                after: Duration::ZERO,
                hold: ms(2000),
            },
        ),
        EndpointRule::new(
            "Local/7??@*",
            Answer {
                after: Duration::ZERO,
            },
        ),
        EndpointRule::new(
            "Local/8??@*",
            Answer {
                after: Duration::ZERO,
            },
        ),
        EndpointRule::new(
            "Local/9??@*",
            Answer {
                after: Duration::ZERO,
            },
        ),
        // The dialplan of ari-samples t8's rig (context bcast-test).
        EndpointRule::new(
            "Local/s@bcast-test",
            Broadcast {
                timeout: ms(3000),
                filter: "^router2?$".into(),
                args: "argA:argB".into(),
                notify_claimed: true,
            },
        ),
        EndpointRule::new(
            "Local/quiet@bcast-test",
            Broadcast {
                timeout: ms(3000),
                filter: "^router2?$".into(),
                args: "argA:argB".into(),
                notify_claimed: false,
            },
        ),
        EndpointRule::new("*", Answer { after: ms(100) }),
    ]
}

/// The behaviour of `endpoint` under `rules` (answer after 100 ms when nothing matches).
pub fn behaviour_of(rules: &[EndpointRule], endpoint: &str) -> Behaviour {
    rules
        .iter()
        .find(|r| crate::pattern::matches(&r.pattern, endpoint))
        .map(|r| r.behaviour.clone())
        .unwrap_or(Behaviour::Answer {
            after: Duration::from_millis(100),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_pick_behaviours() {
        let rules = default_rules();
        assert_eq!(behaviour_of(&rules, "PJSIP/busy-1"), Behaviour::Busy);
        assert_eq!(
            behaviour_of(&rules, "Local/500@local-test"),
            Behaviour::Busy
        );
        assert_eq!(
            behaviour_of(&rules, "Local/400@local-test"),
            Behaviour::RingForever
        );
        assert_eq!(
            behaviour_of(&rules, "Local/200@local-test"),
            Behaviour::Answer {
                after: Duration::ZERO
            }
        );
        assert_eq!(
            behaviour_of(&rules, "PJSIP/alice"),
            Behaviour::Answer {
                after: Duration::from_millis(100)
            }
        );
        assert!(!crate::pattern::matches("Local/1??@*", "Local/10@x"));
    }
}
