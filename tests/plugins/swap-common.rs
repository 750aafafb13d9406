// Shared source of the swap-* test plugins: each crate sets COLOUR and FAULT, then includes
// this file. Every reply reveals the version: it sets X_VERSION=<COLOUR> on the caller.
//
// A call: `started` → answer the caller, set X_VERSION, start timer `bye` (setting `hold_ms`,
// default 500); `bye` → set X_VERSION, hang the caller up (16). FAULT "trap-on-start" panics on
// `started` (a version the smoke call must reject); "trap-later" panics on any later event
// but the timer (a version that passes the smoke call and fails in real calls).

use callwasm_sdk::prelude::*;

struct Swap;

impl Plugin for Swap {
    type State = ();

    fn handle(event: Event, _call: &Call, _state: &mut ()) -> Result<Reply, String> {
        let mut reply = Reply::new();
        match event {
            Event::Started => {
                if FAULT == "trap-on-start" {
                    panic!("{COLOUR}: broken on started");
                }
                let hold: u32 = setting("hold_ms")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(500);
                reply
                    .answer(CALLER)
                    .set_var(CALLER, "X_VERSION", COLOUR)
                    .start_timer("bye", hold);
            }
            Event::Timer(name) if name == "bye" => {
                reply
                    .set_var(CALLER, "X_VERSION", COLOUR)
                    .hangup(CALLER, 16);
            }
            _ if FAULT == "trap-later" => panic!("{COLOUR}: broken after started"),
            _ => {}
        }
        Ok(reply)
    }
}

callwasm_sdk::export_plugin!(Swap);
