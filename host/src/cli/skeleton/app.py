"""{{name}}: a callwasm routing plugin in Python. As written by `callwasm plugin new`, it
forwards each call to one endpoint with the create / bridge / dial flow: the caller hears the
leg ring (early bridging), is answered when the leg answers, and is hung up with the leg's
cause when it does not. Change `handle` to route as you need.

Settings: `endpoint` (default `PJSIP/` + the dialed extension), `ring_timeout` (seconds,
default 30).
"""

import json

from callwasm_sdk import CALLER, Reply, cause, has_channel, setting
from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import DialStatus, Event_DialStatus, Event_HungUp, Event_Started, EventKind

LEG = "agent"

CAUSES = {
    DialStatus.BUSY: cause.BUSY,
    DialStatus.NO_ANSWER: cause.NO_ANSWER,
    DialStatus.UNAVAILABLE: cause.UNAVAILABLE,
    DialStatus.CONGESTION: cause.CONGESTION,
    DialStatus.FAILED: cause.TEMPORARY_FAILURE,
}


class CallHandler(exports.CallHandler):
    def interests(self):
        return [EventKind.STARTED, EventKind.DIAL_STATUS, EventKind.HUNG_UP]

    def handle(self, event, call):
        state = json.loads(call.state) if call.state else {"finishing": False}
        reply = Reply()
        if isinstance(event, Event_Started):
            caller = next((c for c in call.channels if c.handle == CALLER), None)
            extension = caller.dialplan.extension if caller and caller.dialplan else ""
            endpoint = setting("endpoint", f"PJSIP/{extension}")
            try:
                ring_timeout = int(setting("ring_timeout", "30").strip())
            except ValueError:
                raise Err(f'setting ring_timeout: expected seconds, got "{setting("ring_timeout")}"')
            (reply.create(LEG, endpoint)
                  .bridge_create("b1")
                  .bridge_add("b1", [CALLER, LEG])
                  .dial(LEG, caller=CALLER, timeout_s=ring_timeout))
        elif isinstance(event, Event_DialStatus) and event.value.leg == LEG:
            status = event.value.status
            if status == DialStatus.ANSWER:
                reply.answer(CALLER)
            elif status in CAUSES and not state["finishing"] and has_channel(call, CALLER):
                state["finishing"] = True
                reply.hangup(CALLER, CAUSES[status])
        elif isinstance(event, Event_HungUp):
            other = LEG if event.value.channel == CALLER else CALLER
            if has_channel(call, other) and not (other == CALLER and state["finishing"]):
                state["finishing"] = True
                reply.hangup(other, cause.NORMAL)
        return reply.build(json.dumps(state, separators=(",", ":")).encode(), previous=call.state)
