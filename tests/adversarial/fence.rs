//! The tenant fence, class by class (issue 15): each hostile reply is refused before anything
//! of it reaches Asterisk, with its reason; each per-call limit stops what it bounds; the
//! router keeps serving the well-behaved tenant meanwhile.

use super::support::{self, Rig, TOKEN};
use callwasm::router::observe::Observation;
use callwasm::sim::{InboundCall, Sim, SimConfig};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A hostile tenant: its name, the rogue's settings (TOML lines) and extra tenant keys.
struct Hostile {
    name: &'static str,
    settings: String,
    extra: &'static str,
}

/// A tenant whose plugin answers `started` with `script` (see the rogue's `script`).
fn scripted(name: &'static str, script: &str, extra: &'static str) -> Hostile {
    Hostile {
        name,
        settings: format!("misbehave = \"script\"\nscript = '''\n{script}\n'''"),
        extra,
    }
}

fn config(hostile: &[Hostile], runtime: &str) -> String {
    let mut text = format!(
        "{runtime}\n[tenants.good]\napps = [\"good\"]\nplugin = \"{{swap_blue}}\"\n[tenants.good.settings]\nhold_ms = 50\n"
    );
    for h in hostile {
        let name = h.name;
        text.push_str(&format!(
            "\n[tenants.{name}]\napps = [\"{name}\"]\nplugin = \"{{rogue}}\"\nendpoints = [\"PJSIP/alice*\", \"PJSIP/agent\", \"Local/*@from-router\"]\ncontexts = [\"from-router\"]\nadmin_token = \"{name}-tenant-token-0123456789\"\n{extra}\n[tenants.{name}.settings]\n{settings}\n",
            extra = h.extra,
            settings = h.settings
        ));
    }
    text
}

fn call(app: &str, n: u64) -> InboundCall {
    let mut call = InboundCall::new(app, &format!("555{n:07}"), "s");
    call.args = vec!["s".into()];
    call.behaviour.hangup_after = Some(Duration::from_secs(3));
    call
}

/// What happened to each hostile tenant's one call.
struct Outcome {
    /// Tenant → the reason the router gave when it applied the failure policy.
    reasons: BTreeMap<String, String>,
    /// Tenant → every request the simulator got for that call (its caller or its legs).
    requests: BTreeMap<String, Vec<String>>,
    /// Tenant → its caller's channel id.
    callers: BTreeMap<String, String>,
    /// The good tenant's callers were each hung up by their plugin with 16.
    good_served: bool,
}

/// Places one call per hostile tenant among good calls, waits until every call is over, and
/// reads what the router did.
async fn run(hostile: &[Hostile], runtime: &str) -> (Outcome, Rig) {
    let sim = Sim::start(SimConfig {
        journal: true,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let mut rig = Rig::start(sim, &config(hostile, runtime)).await;
    let mut callers = BTreeMap::new();
    let mut good = Vec::new();
    for (n, h) in hostile.iter().enumerate() {
        callers.insert(
            h.name.to_string(),
            rig.sim.place_call(&call(h.name, n as u64)),
        );
        good.push(rig.sim.place_call(&call("good", 1000 + n as u64)));
    }
    rig.until(Duration::from_secs(60), "every call over", |sim| {
        sim.channel_ids().is_empty()
    })
    .await;
    rig.until_no_calls(Duration::from_secs(30)).await;
    let mut opened: BTreeMap<String, String> = BTreeMap::new(); // call id → tenant
    let mut reasons = BTreeMap::new();
    for o in rig.drain() {
        match o {
            Observation::Opened { call, tenant, .. } => {
                opened.insert(call, tenant);
            }
            Observation::PluginFailed { call, reason, .. } => {
                if let Some(tenant) = opened.get(&call) {
                    reasons.entry(tenant.clone()).or_insert(reason);
                }
            }
            _ => {}
        }
    }
    let journal = rig.sim.journal();
    let mut requests = BTreeMap::new();
    for (call, tenant) in &opened {
        let Some(caller) = callers.get(tenant) else {
            continue;
        };
        let legs = format!("cw-{call}-");
        let sent: Vec<String> = journal
            .iter()
            .filter(|l| mentions(l, caller) || l.contains(&legs))
            .cloned()
            .collect();
        requests.insert(tenant.clone(), sent);
    }
    let good_served = good.iter().all(|caller| {
        journal
            .iter()
            .filter(|l| l.starts_with(&format!("DELETE /channels/{caller}?")))
            .eq([&format!("DELETE /channels/{caller}?reason_code=16")])
    });
    (
        Outcome {
            reasons,
            requests,
            callers,
            good_served,
        },
        rig,
    )
}

/// Whether a journal line names the channel `id` (as a path segment or a parameter value),
/// not merely an id it is the prefix of.
fn mentions(line: &str, id: &str) -> bool {
    line.split(['/', '?', '&', '=', ',', ' '])
        .any(|part| part == id)
}

/// Asserts each refused tenant's reason, and that the only request its call caused was the
/// failure policy's hangup of the caller (nothing of the reply was sent).
fn assert_refused(outcome: &Outcome, expected: &[(&str, &str)]) {
    for (tenant, reason) in expected {
        assert_eq!(
            outcome.reasons.get(*tenant).map(String::as_str),
            Some(*reason),
            "{tenant}"
        );
        let caller = &outcome.callers[*tenant];
        assert_eq!(
            outcome.requests[*tenant],
            vec![format!("DELETE /channels/{caller}?reason_code=41")],
            "{tenant}: nothing of the refused reply may reach Asterisk"
        );
    }
    assert!(outcome.good_served, "the good tenant's calls were served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_endpoints_media_and_dialplan_are_parsed_and_fenced() {
    let hostile = [
        // Variables reaching Asterisk functions.
        scripted(
            "v_handler",
            "setvar|caller|CHANNEL(hangup_handler_push)|admin-only,s,1",
            "",
        ),
        scripted("v_wipe", "setvar|caller|CHANNEL(hangup_handler_wipe)|x", ""),
        scripted("v_global", "setvar|caller|GLOBAL(TRUNK)|evil", ""),
        scripted("v_db", "setvar|caller|DB(othertenant/key)|x", ""),
        scripted("v_shared", "setvar|caller|SHARED(X,PJSIP/other-0001)|x", ""),
        scripted(
            "v_device",
            "setvar|caller|DEVICE_STATE(Custom:other)|INUSE",
            "",
        ),
        scripted("v_account", "setvar|caller|CHANNEL(accountcode)|other", ""),
        scripted(
            "v_identity",
            "create|x|PJSIP/agent\nsetvar|x|PJSIP_HEADER(add,P-Asserted-Identity)|<sip:911@x>",
            "",
        ),
        scripted(
            "v_crlf",
            "create|x|PJSIP/agent\nsetvar|x|PJSIP_HEADER(add,X-Route)|a\\r\\nVia: evil",
            "",
        ),
        scripted("v_callerid", "setvar|caller|CALLERID(num)|911", ""),
        // An operator's allow-list cannot grant what is denied.
        scripted(
            "v_granted",
            "setvar|caller|GLOBAL(X)|1",
            "[tenants.v_granted.variables]\nany = [\"*\", \"*(*)\"]",
        ),
        // Endpoints globbing across separators.
        scripted(
            "e_uri",
            "create|x|PJSIP/alice/sip:+900123456@198.51.100.7",
            "",
        ),
        scripted("e_user", "create|x|PJSIP/900123456@alice-trunk", ""),
        scripted("e_local", "create|x|Local/100@admin-only", ""),
        scripted("e_list", "create|x|PJSIP/alice&PJSIP/bob", ""),
        scripted("e_newline", "create|x|PJSIP/alice\\nX", ""),
        // Media lists smuggling URIs.
        scripted("m_list", "play|p|sound:beep,recording:othertenant/x", ""),
        scripted(
            "m_absolute",
            "play|p|sound:/var/spool/asterisk/recording/x",
            "",
        ),
        scripted("m_climb", "play|p|sound:../recording/othertenant/x", ""),
        // continue-in-dialplan edges.
        scripted("c_priority", "continue|caller||s|-5", ""),
        scripted("c_newline", "continue|caller||s\\n|1", ""),
        scripted("c_leg", "create|x|PJSIP/agent\ncontinue|x|default|s|1", ""),
        scripted("c_other", "continue|caller|admin-only|s|1", ""),
        // Contract: handles are what the WIT says.
        scripted("h_dot", "create|a.b|PJSIP/agent", ""),
        // Allowed, for contrast: these must go through.
        scripted(
            "ok_vars",
            "create|x|PJSIP/alice2\nsetvar|x|CALLERID(num)|5551000\nsetvar|x|PJSIP_HEADER(add,X-Route)|a\nsetvar|caller|X_TENANT|acme\nhangup|x|16\nhangup|caller|16",
            "",
        ),
        scripted("ok_own_context", "continue|caller|||", ""),
    ];
    let (outcome, rig) = run(&hostile, "").await;
    let e = |what: &str| format!("reply refused: command 0 (create): {what}");
    assert_refused(
        &outcome,
        &[
            (
                "v_handler",
                "reply refused: command 0 (set-var): \"CHANNEL(hangup_handler_push)\" is denied: hangup handlers run dialplan the tenant does not own",
            ),
            (
                "v_wipe",
                "reply refused: command 0 (set-var): \"CHANNEL(hangup_handler_wipe)\" is denied: hangup handlers run dialplan the tenant does not own",
            ),
            (
                "v_global",
                "reply refused: command 0 (set-var): \"GLOBAL(TRUNK)\" is denied: GLOBAL() reaches beyond the channel",
            ),
            (
                "v_db",
                "reply refused: command 0 (set-var): \"DB(othertenant/key)\" is denied: DB() reaches beyond the channel",
            ),
            (
                "v_shared",
                "reply refused: command 0 (set-var): \"SHARED(X,PJSIP/other-0001)\" is denied: SHARED() reaches beyond the channel",
            ),
            (
                "v_device",
                "reply refused: command 0 (set-var): \"DEVICE_STATE(Custom:other)\" is denied: DEVICE_STATE() reaches beyond the channel",
            ),
            (
                "v_account",
                "reply refused: command 0 (set-var): \"CHANNEL(accountcode)\" is not on the tenant's variables for a caller",
            ),
            (
                "v_identity",
                "reply refused: command 1 (set-var): \"PJSIP_HEADER(add,P-Asserted-Identity)\" is not on the tenant's variables for a leg",
            ),
            (
                "v_crlf",
                "reply refused: command 1 (set-var): the value holds control characters",
            ),
            (
                "v_callerid",
                "reply refused: command 0 (set-var): \"CALLERID(num)\" is not on the tenant's variables for a caller",
            ),
            (
                "v_granted",
                "reply refused: command 0 (set-var): \"GLOBAL(X)\" is denied: GLOBAL() reaches beyond the channel",
            ),
            (
                "e_uri",
                &e(
                    "endpoint \"PJSIP/alice/sip:+900123456@198.51.100.7\" is not on the tenant's allow-list",
                ),
            ),
            (
                "e_user",
                &e("endpoint \"PJSIP/900123456@alice-trunk\" is not on the tenant's allow-list"),
            ),
            (
                "e_local",
                &e("endpoint \"Local/100@admin-only\" is not on the tenant's allow-list"),
            ),
            (
                "e_list",
                &e(
                    "endpoint \"PJSIP/alice&PJSIP/bob\": \"alice&PJSIP\" is not an endpoint or context name",
                ),
            ),
            (
                "e_newline",
                &e(
                    "endpoint \"PJSIP/alice\\nX\": \"alice\\nX\" is not an endpoint or context name",
                ),
            ),
            (
                "m_list",
                "reply refused: command 0 (play): media \"sound:beep,recording:othertenant/x\": \"beep,recording:othertenant/x\" is not a sound: resource",
            ),
            (
                "m_absolute",
                "reply refused: command 0 (play): media \"sound:/var/spool/asterisk/recording/x\": \"/var/spool/asterisk/recording/x\" is not a sound: resource",
            ),
            (
                "m_climb",
                "reply refused: command 0 (play): media \"sound:../recording/othertenant/x\": \"../recording/othertenant/x\" is not a sound: resource",
            ),
            (
                "c_priority",
                "reply refused: command 0 (continue-in-dialplan): priority -5 is below 1",
            ),
            (
                "c_newline",
                "reply refused: command 0 (continue-in-dialplan): \"s\\n\" is not an extension",
            ),
            (
                "c_leg",
                "reply refused: command 1 (continue-in-dialplan): context \"default\" is not on the tenant's list of dialplan contexts",
            ),
            (
                "c_other",
                "reply refused: command 0 (continue-in-dialplan): context \"admin-only\" is not on the tenant's list of dialplan contexts",
            ),
            (
                "h_dot",
                "reply refused: command 0 (create): \"a.b\" cannot name a new channel",
            ),
        ],
    );
    // What the capabilities allow goes through, field for field.
    assert_eq!(outcome.reasons.get("ok_vars"), None);
    let sent = &outcome.requests["ok_vars"];
    let caller = &outcome.callers["ok_vars"];
    let leg = sent
        .first()
        .and_then(|l| l.split("channelId=").nth(1))
        .and_then(|l| l.split('&').next())
        .unwrap_or_default()
        .to_string();
    assert!(
        leg.starts_with("cw-rig.") && leg.ends_with("-x"),
        "{sent:?}"
    );
    assert_eq!(
        sent,
        &vec![
            format!(
                "POST /channels/create?app=ok_vars&channelId={leg}&endpoint=PJSIP/alice2 variables: CALLERID(num)=5551000, PJSIP_HEADER(add,X-Route)=a"
            ),
            format!("POST /channels/{caller}/variable?value=acme&variable=X_TENANT"),
            format!("DELETE /channels/{leg}?reason_code=16"),
            format!("DELETE /channels/{caller}?reason_code=16"),
        ]
    );
    assert_eq!(outcome.reasons.get("ok_own_context"), None);
    assert!(
        outcome.requests["ok_own_context"]
            .iter()
            .any(|l| l.starts_with(&format!(
                "POST /channels/{caller_own}/continue",
                caller_own = outcome.callers["ok_own_context"]
            ))),
        "{:?}",
        outcome.requests["ok_own_context"]
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cannot_grow_past_its_limits() {
    let hostile = [
        // 1,000 timers per event, each a new name.
        Hostile {
            name: "timers",
            settings: "misbehave = \"timer-storm\"\ncount = 1000\nms = 20".into(),
            extra: "",
        },
        // A 0 ms timer loop.
        Hostile {
            name: "spinner",
            settings: "misbehave = \"timer-storm\"\ncount = 1\nms = 0".into(),
            extra: "",
        },
        // Creating and dialing a hundred legs per event.
        Hostile {
            name: "legs",
            settings: "misbehave = \"leg-storm\"\ncount = 100".into(),
            extra: "",
        },
        // Fifty requests in one reply at one request per second.
        scripted(
            "chatty",
            &(0..50)
                .map(|i| format!("setvar|caller|X_{i}|{i}"))
                .collect::<Vec<_>>()
                .join("\n"),
            "[tenants.chatty.limits]\nmax_requests_per_second = 1",
        ),
    ];
    let began = Instant::now();
    let (outcome, rig) = run(&hostile, "").await;
    let elapsed = began.elapsed();
    assert!(outcome.good_served, "the good tenant's calls were served");
    // Each timer storm ran into the timer limits until the policy hung the call up.
    for tenant in ["timers", "spinner"] {
        assert_eq!(
            outcome.reasons.get(tenant).map(String::as_str),
            Some("the plugin kept answering failures with failing commands"),
            "{tenant}"
        );
        let caller = &outcome.callers[tenant];
        assert!(
            outcome.requests[tenant].contains(&format!("DELETE /channels/{caller}?reason_code=41")),
            "{tenant}: {:?}",
            outcome.requests[tenant]
        );
    }
    // 16 channels per call: the caller and 15 legs were created, not one more.
    let creates = outcome.requests["legs"]
        .iter()
        .filter(|l| l.starts_with("POST /channels/create?"))
        .count();
    assert_eq!(creates, 15, "{:?}", outcome.requests["legs"]);
    // One request per second with a burst of two: never more than the rate allows over the
    // time the test ran.
    let variables = outcome.requests["chatty"]
        .iter()
        .filter(|l| l.contains("/variable?"))
        .count();
    assert!(variables >= 2, "{:?}", outcome.requests["chatty"]);
    assert!(
        variables as u64 <= 2 + elapsed.as_secs() + 1,
        "{variables} requests in {elapsed:?}"
    );
    assert_eq!(
        outcome.reasons.get("chatty").map(String::as_str),
        None,
        "one over-limit command comes back as command-failed, not the failure policy"
    );
    let (status, t) =
        support::admin(rig.admin, "GET", "/tenants/chatty", Some(TOKEN), Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(t["counters"]["limits_hit"], 1, "{t}");
    let (_, t) = support::admin(rig.admin, "GET", "/tenants/legs", Some(TOKEN), Vec::new()).await;
    assert_eq!(t["counters"]["channels_in_progress"], 0, "{t}");
    rig.stop().await;
}

/// An upload of `bytes` as a new version of `tenant`, with the tenant's own token.
async fn push(rig: &Rig, tenant: &str, label: &str, bytes: Vec<u8>) -> (u16, serde_json::Value) {
    let token = format!("{tenant}-tenant-token-0123456789");
    support::admin(
        rig.admin,
        "PUT",
        &format!("/tenants/{tenant}/plugin?label={label}"),
        Some(&token),
        bytes,
    )
    .await
}

/// A component whose core instances hold five memories: more than any plugin needs.
fn many_memories() -> Vec<u8> {
    let instances: String = (0..5)
        .map(|i| format!("(core instance $i{i} (instantiate $m))"))
        .collect();
    wat::parse_str(format!(
        "(component (core module $m (memory 1)) {instances})"
    ))
    .expect("component text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeps_hold_no_thread_and_loads_are_bounded() {
    let hostile = [
        // Sleeping forever in WASI while handling `started`.
        Hostile {
            name: "sleeper",
            settings: "misbehave = \"sleep\"".into(),
            extra: "",
        },
        // Pushes: a version that sleeps forever when asked its interests, a hog of memories,
        // a compile far over its CPU budget, a label forging a log line.
        Hostile {
            name: "pusher",
            settings: "misbehave = \"sleep\"".into(),
            extra: "",
        },
    ];
    let sim = Sim::start(SimConfig {
        journal: true,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    // An empty code cache: every push compiles.
    let cache = tempfile::tempdir().expect("cache dir");
    let runtime = format!(
        "[runtime]\ncompile_cpu_s = 5\ncache_dir = {:?}",
        cache.path().display().to_string()
    );
    let rig = Rig::start(sim, &config(&hostile, &runtime)).await;
    // A sleep is over at once: the call is answered by its plugin, within the deadline.
    let caller = rig.sim.place_call(&call("sleeper", 1));
    rig.until(
        Duration::from_secs(30),
        "the sleeper's call answered",
        |sim| {
            sim.journal()
                .contains(&format!("POST /channels/{caller}/answer"))
        },
    )
    .await;
    let (_, t) = support::admin(
        rig.admin,
        "GET",
        "/tenants/sleeper",
        Some(TOKEN),
        Vec::new(),
    )
    .await;
    assert_eq!(t["counters"]["plugin_failures"], 0, "{t}");

    let rogue = std::fs::read(super::common::plugin_path("rogue")).expect("rogue component");
    // A new version gets a smoke call with the tenant's settings: one that sleeps there
    // (forever, as it asks) is checked and made live all the same, time after time.
    let sleepy = {
        // Same code, another hash each time: the settings decide what it does, so change a
        // custom section.
        |n: u8| {
            let mut bytes = rogue.clone();
            bytes.extend_from_slice(&[0, 4, 1, b'x', n, n]);
            bytes
        }
    };
    for n in 0..3 {
        let (status, body) = push(&rig, "pusher", &format!("s{n}"), sleepy(n)).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = push(&rig, "pusher", "hog", many_memories()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            422,
            Some(
                "version rejected: invalid component: The component transitively contains 5 Wasm linear memories, which exceeds the configured maximum of 4 in the pooling allocator"
            )
        ),
        "{body}"
    );
    // A compile over its CPU budget is killed; a second push of the tenant meanwhile is
    // refused; the good tenant is served all along.
    let python = super::common::hunt_groups()
        .into_iter()
        .find(|(language, _)| *language == "python")
        .map(|(_, path)| std::fs::read(path).expect("python component"))
        .expect("python build");
    let admin = rig.admin;
    let slow = tokio::spawn(async move {
        support::admin(
            admin,
            "PUT",
            "/tenants/pusher/plugin?label=big",
            Some("pusher-tenant-token-0123456789"),
            python,
        )
        .await
    });
    // While the big one is being checked (the tenant's load turn is taken), a second push of
    // the tenant is refused.
    let mut busy = None;
    while !slow.is_finished() {
        let (_, t) =
            support::admin(rig.admin, "GET", "/tenants/pusher", Some(TOKEN), Vec::new()).await;
        if t["loading"] == true {
            let (status, body) = push(&rig, "pusher", "second", sleepy(9)).await;
            if status == 409 {
                busy = Some(body);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut good = Vec::new();
    for n in 0..3 {
        good.push(rig.sim.place_call(&call("good", n)));
    }
    let (status, body) = slow.await.expect("upload task");
    assert_eq!(
        (status, body["error"].as_str()),
        (
            422,
            Some(
                "version rejected: invalid component: compiling used more than its 5 s of CPU time"
            )
        ),
        "{body}"
    );
    assert_eq!(
        busy.map(|b| b["error"].as_str().map(String::from)),
        Some(Some(
            "another version of tenant \"pusher\" is being checked; try again when it is done"
                .into()
        ))
    );
    rig.until(Duration::from_secs(30), "good calls over", |sim| {
        good.iter().all(|c| !sim.channel_ids().contains(c))
    })
    .await;
    let journal = rig.sim.journal();
    for caller in &good {
        assert!(
            journal.contains(&format!("DELETE /channels/{caller}?reason_code=16")),
            "good call {caller}"
        );
    }
    // A label with a line break is refused before anything is read.
    let (status, body) = push(
        &rig,
        "pusher",
        "v2%0A2026-11-27T00:00:00Z%20INFO%20forged",
        sleepy(7),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            400,
            Some(
                "the label \"v2\\n2026-11-27T00:00:00Z INFO forged\" is not 1-64 characters of A-Z a-z 0-9 . _ - +"
            )
        )
    );
    rig.stop().await;
}

/// A raw HTTP request to the admin API from the local address `from`; the status line's code,
/// or None when the server closed the connection without answering.
async fn raw_get(admin: std::net::SocketAddr, from: [u8; 4], path: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    let mut stream = socket.connect(admin).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_cannot_be_held_without_a_token() {
    use tokio::io::AsyncReadExt;
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let rig = Rig::start(sim, &config(&[], "")).await;
    // Eight half-open connections from one address: its share.
    let mut held = Vec::new();
    for _ in 0..8 {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, 5], 0)))
            .expect("bind");
        held.push(socket.connect(rig.admin).await.expect("connect"));
    }
    // The ninth from that address is closed unanswered; another address is served.
    assert_eq!(raw_get(rig.admin, [127, 0, 0, 5], "/tenants").await, None);
    assert_eq!(
        raw_get(rig.admin, [127, 0, 0, 6], "/tenants").await,
        Some(200)
    );
    // A connection that never sends its request head is closed by the server.
    let mut buf = [0u8; 16];
    for stream in &mut held {
        let read = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "a silent connection must be closed: {read:?}"
        );
    }
    assert_eq!(
        raw_get(rig.admin, [127, 0, 0, 5], "/tenants").await,
        Some(200)
    );
    // Requests past the rate of one address get 429; the first ones (a burst of 40) do not.
    let mut statuses = Vec::new();
    for _ in 0..60 {
        statuses.push(raw_get(rig.admin, [127, 0, 0, 7], "/tenants").await);
    }
    assert!(
        statuses[..30].iter().all(|s| *s == Some(200)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&Some(429)), "{statuses:?}");
    rig.stop().await;
}

#[test]
fn wasi_random_is_seeded_by_the_call_so_a_call_replays() {
    use callwasm::runtime::Event;
    let runtime = super::common::runtime();
    let plugin = super::common::load(&runtime, "rogue");
    let settings = super::common::settings(&[("misbehave", "random")]);
    let random_of = |id: &str| {
        let mut call = super::common::call(&["s"], vec![super::common::caller("s")]);
        call.id = id.into();
        call.now_ms = 1_795_000_000_000;
        let reply = super::common::handle(&plugin, &Event::Started, &call, &settings)
            .expect("rogue replies");
        match reply.commands.first() {
            Some(callwasm::runtime::Command::SetVar(v)) if v.name == "X_RANDOM" => v.value.clone(),
            other => panic!("expected set-var X_RANDOM, got {other:?}"),
        }
    };
    let first = random_of("r1.a1");
    assert_eq!(random_of("r1.a1"), first, "the same event of the same call");
    assert_ne!(random_of("r1.a2"), first, "another call");
}
