//! The router against a real Asterisk 22 (built by scripts/asterisk) with SIPp callers and
//! agents: the seed flow's endings, load, and an Asterisk and a router restart, each ending
//! with no channel and no bridge left on the Asterisk and no call in the router.
//!
//! A real Asterisk is the truth the simulator is checked against (ari-samples). When it is
//! not built or SIPp is missing, each test says so loudly and passes without running, unless
//! CALLWASM_REQUIRE_ASTERISK=1 (scripts/test sets it), when that is a failure.
//! The tests take turns: each starts its own Asterisk, and two at once on a 2-core machine
//! would measure the machine, not the router.

#[path = "../../host/tests/common/mod.rs"]
mod common;
#[path = "../../host/tests/replay/mod.rs"]
mod replay;
mod rig;

use rig::{Agent, Pbx, RouterRun, Sipp};
use std::time::Duration;

/// What the callee must see (the tenant's caller ID, set on the leg's connected line).
const CALLER_ID_ON_INVITE: &str = "From: \"ACME Support\" <sip:5551000@";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_flow_ends_clean_whoever_hangs_up_and_however_the_leg_fails() {
    let Some(_turn) = rig::turn().await else {
        return;
    };
    let pbx = Pbx::start(&Agent::all()).expect("start Asterisk");
    let router = RouterRun::start(&pbx, "seed").await;

    // The caller hangs up first: the agent gets a BYE, the bridge goes.
    let agent = pbx.agent("agent").answer_after(200).once();
    let caller = Sipp::caller(&pbx, "caller_hangs_up.xml", "2001").pause_ms(1000);
    let outcome = caller.run_to_end().await;
    assert_eq!(outcome.exit, 0, "caller: {}", outcome.messages);
    let agent = agent.finish().await;
    assert!(
        agent.messages.contains(CALLER_ID_ON_INVITE),
        "the agent's INVITE must carry the tenant's caller ID:\n{}",
        agent.messages
    );
    assert!(
        agent.messages.contains("BYE sip:agent@"),
        "the agent got no BYE:\n{}",
        agent.messages
    );
    pbx.until_empty(&router, "caller hung up first").await;

    // The agent hangs up first: the caller gets a BYE.
    let agent = pbx.agent("agent_bye").answer_after(0).pause_ms(1000).once();
    let outcome = Sipp::caller(&pbx, "caller_waits.xml", "2002")
        .run_to_end()
        .await;
    assert_eq!(outcome.exit, 0, "caller: {}", outcome.messages);
    agent.finish().await;
    pbx.until_empty(&router, "agent hung up first").await;

    // Busy: the caller hears busy (486) at once, not 5 s later when Asterisk drops the leg.
    let agent = pbx.agent("busy").once();
    let outcome = Sipp::caller(&pbx, "caller_refused.xml", "2003")
        .run_to_end()
        .await;
    assert_eq!(outcome.exit, 0, "caller: {}", outcome.messages);
    assert_eq!(outcome.final_status(), Some(486), "{}", outcome.messages);
    agent.finish().await;
    pbx.until_empty(&router, "busy").await;

    // No answer within the dial timeout (3 s): 480, and the agent's ringing is cancelled.
    let agent = pbx.agent("noanswer").once();
    let outcome = Sipp::caller(&pbx, "caller_refused.xml", "2004")
        .run_to_end()
        .await;
    assert_eq!(outcome.exit, 0, "caller: {}", outcome.messages);
    assert_eq!(outcome.final_status(), Some(480), "{}", outcome.messages);
    let agent = agent.finish().await;
    assert!(
        agent.messages.contains("CANCEL sip:agent@"),
        "{}",
        agent.messages
    );
    pbx.until_empty(&router, "no answer").await;

    // Unreachable (nothing listens at the agent's address): the call fails, nothing is left.
    let outcome = Sipp::caller(&pbx, "caller_refused.xml", "2005")
        .run_to_end()
        .await;
    assert_eq!(outcome.exit, 0, "caller: {}", outcome.messages);
    let status = outcome.final_status().expect("a final status");
    assert!((400..700).contains(&status), "{}", outcome.messages);
    pbx.until_empty(&router, "unreachable").await;

    // The caller gives up while the agent rings: the agent's INVITE is cancelled.
    let agent = pbx.agent("noanswer").once();
    let outcome = Sipp::caller(&pbx, "caller_abandons.xml", "2004")
        .pause_ms(1000)
        .run_to_end()
        .await;
    assert_eq!(outcome.exit, 0, "caller: {}", outcome.messages);
    let agent = agent.finish().await;
    assert!(
        agent.messages.contains("CANCEL sip:agent@"),
        "{}",
        agent.messages
    );
    pbx.until_empty(&router, "caller abandoned while ringing")
        .await;

    let report = router.stop().await;
    assert_eq!(report.opened, 6, "{report:?}");
    assert_eq!(report.ended, 6, "{report:?}");
    assert_eq!(report.plugin_failures, Vec::<String>::new());
    assert_eq!(report.command_failures, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_calls_a_second_for_thirty_seconds_fail_none_and_leave_nothing() {
    let Some(_turn) = rig::turn().await else {
        return;
    };
    let pbx = Pbx::start(&Agent::all()).expect("start Asterisk");
    let router = RouterRun::start(&pbx, "load").await;
    let agent = pbx.agent("agent").answer_after(100).many();
    let outcome = Sipp::caller(&pbx, "caller_hangs_up.xml", "2001")
        .pause_ms(2000)
        .rate(20, 600)
        .run_to_end()
        .await;
    assert_eq!(
        outcome.exit, 0,
        "SIPp counted failed calls:\n{}",
        outcome.stats
    );
    pbx.until_empty(&router, "after the load").await;
    drop(agent);
    let report = router.stop().await;
    println!("20 calls/s for 30 s: {report:?}");
    assert_eq!((report.opened, report.ended), (600, 600), "{report:?}");
    assert_eq!(report.plugin_failures, Vec::<String>::new());
    assert_eq!(report.command_failures, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asterisk_restart_mid_call_ends_the_calls_and_the_next_calls_work() {
    let Some(_turn) = rig::turn().await else {
        return;
    };
    let mut pbx = Pbx::start(&Agent::all()).expect("start Asterisk");
    let router = RouterRun::start(&pbx, "restart").await;
    // Three answered calls that would talk for a minute.
    let agent = pbx.agent("agent").answer_after(0).many();
    let callers = Sipp::caller(&pbx, "caller_hangs_up.xml", "2001")
        .pause_ms(60_000)
        .rate(10, 3)
        .start();
    router.until_calls(3).await;
    pbx.until_bridges(3).await;
    pbx.restart().expect("restart Asterisk");
    // The router reconnects, finds the calls' channels gone and ends them. (Calls placed
    // before it is back fail in Stasis() on Asterisk's side: no app to enter.)
    router.until_resyncs(2).await;
    router.until_calls(0).await;
    drop(callers);
    drop(agent);
    // New calls work on the restarted Asterisk.
    let agent = pbx.agent("agent").answer_after(100).many();
    let outcome = Sipp::caller(&pbx, "caller_hangs_up.xml", "2001")
        .pause_ms(500)
        .rate(5, 10)
        .run_to_end()
        .await;
    pbx.until_empty(&router, "after the restart").await;
    drop(agent);
    let report = router.stop().await;
    assert_eq!(
        outcome.exit, 0,
        "after the restart: {report:?}\n{}\n{}",
        outcome.stats, outcome.messages
    );
    assert_eq!((report.opened, report.ended), (13, 13), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_that_died_leaves_no_caller_in_silence_and_a_second_router_spares_its_calls() {
    let Some(_turn) = rig::turn().await else {
        return;
    };
    let pbx = Pbx::start(&Agent::all()).expect("start Asterisk");
    let first = RouterRun::start(&pbx, "r1").await;
    let agent = pbx.agent("agent").answer_after(0).many();
    let callers = Sipp::caller(&pbx, "caller_hangs_up.xml", "2001")
        .pause_ms(60_000)
        .rate(10, 2)
        .start();
    first.until_calls(2).await;
    pbx.until_bridges(2).await;

    // A second router instance on the same app: Asterisk gives it the app, but it must not
    // touch the first one's calls (their ids name r1).
    let second = RouterRun::start(&pbx, "r2").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        pbx.bridges().await.len(),
        2,
        "the second router destroyed a live call's bridge"
    );
    assert!(
        first.replaced(),
        "the first router was not told its app was taken"
    );
    second.stop().await;

    // r1 dies without a word (its calls were in memory) and comes back: its bridges and
    // legs are orphans it removes, and the callers sitting in the app get the failure policy
    // (here: continue to router-fallback, which hangs up with cause 41) within seconds.
    first.crash();
    let again = RouterRun::start(&pbx, "r1").await;
    pbx.until_empty(&again, "after the router's restart").await;
    drop(callers);
    drop(agent);
    let report = again.stop().await;
    assert_eq!(report.opened, 0, "{report:?}");
}

/// Scale-out against the real Asterisk: two routers sharing a throwaway PostgreSQL claim the
/// calls StasisBroadcast offers (both get some), and when one dies mid-call the other takes
/// its calls and its app over and ends them cleanly when the callers hang up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_share_broadcast_calls_and_a_survivor_carries_on_the_dead_ones() {
    let Some(_turn) = rig::turn().await else {
        return;
    };
    let pg = callwasm::store::throwaway::ThrowawayPostgres::start().expect("PostgreSQL");
    let pbx = Pbx::start(&Agent::all()).expect("start Asterisk");
    let first = RouterRun::start_shared(&pbx, "r1", &pg.url()).await;
    let second = RouterRun::start_shared(&pbx, "r2", &pg.url()).await;
    let agent = pbx.agent("agent").answer_after(0).many();
    let callers = Sipp::caller(&pbx, "caller_hangs_up.xml", "3001")
        .pause_ms(15_000)
        .rate(10, 20)
        .start();
    pbx.until_bridges(20).await;
    let (on_first, on_second) = (first.table.len(), second.table.len());
    println!("20 broadcast calls: r1 claimed {on_first}, r2 {on_second}");
    assert_eq!(on_first + on_second, 20);
    assert!(on_first > 0 && on_second > 0, "both routers claim calls");

    // r1 dies with its calls up; r2 takes them (and r1's app) over within its lease.
    first.crash();
    second.until_calls(20).await;
    let outcome = callers.finish().await;
    assert_eq!(
        outcome.exit, 0,
        "SIPp counted failed calls:\n{}",
        outcome.stats
    );
    pbx.until_empty(&second, "after the callers hung up").await;
    drop(agent);
    let report = second.stop().await;
    assert_eq!(report.plugin_failures, Vec::<String>::new());
    assert_eq!(report.command_failures, Vec::<String>::new());
}

/// The simulator's replay tests, run against the real Asterisk too: where a sample needs no
/// SIP caller, the same requests at the same pace must give the recorded answers and events,
/// so the recordings, the simulator and this Asterisk never drift apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorded_samples_replay_against_the_real_asterisk() {
    let Some(_turn) = rig::turn().await else {
        return;
    };
    for name in [
        "a_asterisk_info.json",
        "b_originate_local.json",
        "c_create_bridge_dial.json",
        "c3_dial_busy_noanswer_farhangup.json",
        "c4_local_both_halves.json",
        "e_error_codes.json",
        "w_stasis_app_not_registered.json",
        "w_two_websockets_same_app.json",
        "t8_stasis_broadcast_claim.json",
    ] {
        // A fresh Asterisk each: channel numbering and lists start as in the recording.
        let pbx = Pbx::start(&Agent::all()).expect("start Asterisk");
        println!("replaying {name} against Asterisk");
        replay::replay_at(name, pbx.addr(), &|_| panic!("{name} needs a SIP caller")).await;
    }
    println!("replaying t7_rest_over_websocket.json against Asterisk");
    let pbx = Pbx::start(&Agent::all()).expect("start Asterisk");
    replay::replay_rest_over_websocket(pbx.addr(), false).await;
}
