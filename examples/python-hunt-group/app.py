"""hunt-group in Python: ring a list of endpoints, one after the other or all at once, and join
the caller with whoever answers first.

The same plugin as plugins/hunt-group (Rust) and examples/js-hunt-group (JavaScript): same
settings, same commands, same state bytes, held to the same scenario table
(tests/hunt_group/scenarios.toml). See plugins/hunt-group/src/lib.rs for the settings.

Replies are built with callwasm_sdk's Reply (plugins/sdk-python), the Python counterpart of the
Rust SDK's. Built with componentize-py against wit/, with plugins/sdk-python on its Python path
(see scripts/build-examples); `wit_world` is generated at build time.
"""

import json

from callwasm_sdk import CALLER, Reply, caller_id, cause, has_channel, setting
from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import (
    DialStatus,
    Event_CommandFailed,
    Event_DialStatus,
    Event_HungUp,
    Event_PlaybackFinished,
    Event_Started,
    EventKind,
)

BRIDGE = "b1"
PROMPT = "prompt"
DEFAULT_PROMPT = "sound:vm-nobodyavail"
DEFAULT_RING_TIMEOUT = 20

NORMAL = cause.NORMAL
BUSY = cause.BUSY
NO_ANSWER = cause.NO_ANSWER
UNAVAILABLE = cause.UNAVAILABLE
ANSWERED_ELSEWHERE = cause.ANSWERED_ELSEWHERE
CONGESTION = cause.CONGESTION
TEMPORARY_FAILURE = cause.TEMPORARY_FAILURE

# The contract's names of the dial statuses, as the state keeps them.
STATUS_NAMES = {
    DialStatus.RINGING: "ringing",
    DialStatus.PROGRESS: "progress",
    DialStatus.ANSWER: "answer",
    DialStatus.BUSY: "busy",
    DialStatus.NO_ANSWER: "no-answer",
    DialStatus.UNAVAILABLE: "unavailable",
    DialStatus.CONGESTION: "congestion",
    DialStatus.CANCEL: "cancel",
    DialStatus.FAILED: "failed",
}


def read_settings():
    """The hunt's settings; raises Err naming the setting that is wrong."""
    members = [m.strip() for m in setting("members", "").split(",") if m.strip()]
    if not members:
        raise Err("setting members: no endpoints to ring")
    strategy = setting("strategy", "sequential").strip()
    if strategy not in ("sequential", "parallel"):
        raise Err(f'setting strategy: expected sequential or parallel, got "{strategy}"')
    timeout = host.setting("ring_timeout")
    if timeout is None:
        ring_timeout = DEFAULT_RING_TIMEOUT
    else:
        try:
            ring_timeout = int(timeout.strip())
            if ring_timeout < 0:
                raise ValueError
        except ValueError:
            raise Err(f'setting ring_timeout: expected seconds, got "{timeout}"')
    shown = caller_id(setting("caller_id_name"), setting("caller_id_number"))
    return members, strategy, ring_timeout, shown


def leg(index):
    return f"leg{index + 1}"


def leg_index(handle):
    if not handle.startswith("leg") or not handle[3:].isdigit():
        return None
    index = int(handle[3:]) - 1
    return index if index >= 0 else None


class CallHandler(exports.CallHandler):
    def interests(self):
        # Outcomes only: state changes and bridge moves would each cost an instance for nothing.
        return [
            EventKind.STARTED,
            EventKind.DIAL_STATUS,
            EventKind.HUNG_UP,
            EventKind.PLAYBACK_FINISHED,
            EventKind.COMMAND_FAILED,
        ]

    def handle(self, event, call):
        state = json.loads(call.state) if call.state else {}
        state = {
            "dialed": state.get("dialed", 0),
            "outcomes": state.get("outcomes", []),
            "winner": state.get("winner", ""),
            "finishing": state.get("finishing", False),
            "pending_cause": state.get("pending_cause", 0),
        }
        reply = Reply()
        if isinstance(event, Event_Started):
            settings = read_settings()
            reply.bridge_create(BRIDGE)
            members = [0] if settings[1] == "sequential" else list(range(len(settings[0])))
            ring(settings, state, reply, members)
        elif isinstance(event, Event_DialStatus):
            index = leg_index(event.value.leg)
            if index is not None and index < state["dialed"]:
                leg_status(call, state, reply, index, event.value.status)
        elif isinstance(event, Event_PlaybackFinished) and event.value.playback == PROMPT:
            if state["pending_cause"] and has_channel(call, CALLER):
                reply.hangup(CALLER, state["pending_cause"])
            state["pending_cause"] = 0
        elif isinstance(event, Event_HungUp) and event.value.channel == CALLER:
            state["finishing"] = True
            for i in range(state["dialed"]):
                if has_channel(call, leg(i)):
                    reply.hangup(leg(i), NORMAL)
        elif isinstance(event, Event_HungUp) and event.value.channel == state["winner"]:
            if not state["finishing"] and has_channel(call, CALLER):
                state["finishing"] = True
                reply.hangup(CALLER, NORMAL)
        elif isinstance(event, Event_CommandFailed):
            failure = event.value
            host.log(
                host.Level.WARN,
                f"{failure.command} (command {failure.index}) failed: {failure.status} {failure.message}",
            )
            if not state["finishing"]:
                state["finishing"] = True
                for i in range(state["dialed"]):
                    if has_channel(call, leg(i)):
                        reply.hangup(leg(i), NORMAL)
                if has_channel(call, CALLER):
                    reply.hangup(CALLER, TEMPORARY_FAILURE)
        return reply.build(json.dumps(state, separators=(",", ":")).encode(), previous=call.state)


def ring(settings, state, reply, members):
    """Creates the legs for these members, bridges them (with the caller, the first time) and
    dials them."""
    endpoints, _, ring_timeout, shown = settings
    legs = [leg(i) for i in members]
    for i, handle in zip(members, legs):
        reply.create(handle, endpoints[i], caller_id=shown)
    joining = ([CALLER] if state["dialed"] == 0 else []) + legs
    reply.bridge_add(BRIDGE, joining)
    for handle in legs:
        reply.dial(handle, caller=CALLER, timeout_s=ring_timeout)
    state["dialed"] += len(legs)
    state["outcomes"] += [""] * len(legs)


def leg_status(call, state, reply, index, status):
    """A dialed leg's progress or outcome."""
    if status in (DialStatus.RINGING, DialStatus.PROGRESS) or state["outcomes"][index]:
        return
    state["outcomes"][index] = STATUS_NAMES[status]
    handle = leg(index)
    if status == DialStatus.ANSWER:
        if state["winner"] or state["finishing"]:
            reply.hangup(handle, ANSWERED_ELSEWHERE)
            return
        state["winner"] = handle
        if has_channel(call, CALLER):
            reply.answer(CALLER)
        for other in range(state["dialed"]):
            if other != index and has_channel(call, leg(other)):
                reply.hangup(leg(other), ANSWERED_ELSEWHERE)
        return
    if status == DialStatus.BUSY and has_channel(call, handle):
        reply.hangup(handle, BUSY)
    if state["finishing"] or state["winner"]:
        return
    settings = read_settings()
    if settings[1] == "sequential" and state["dialed"] < len(settings[0]):
        if index + 1 == state["dialed"]:
            ring(settings, state, reply, [state["dialed"]])
        return
    if all(state["outcomes"]):
        nobody_answered(call, state, reply)


def nobody_answered(call, state, reply):
    """The caller continues in the fallback context, or hears the prompt as early media and is
    hung up with the cause that tells why."""
    state["finishing"] = True
    if not has_channel(call, CALLER):
        return
    context = setting("fallback_context")
    if context is not None:
        try:
            priority = int(setting("fallback_priority", "").strip())
        except ValueError:
            priority = 1
        reply.continue_in_dialplan(CALLER, context, setting("fallback_extension"), priority)
        return
    cause_code = hunt_cause(state["outcomes"])
    prompt = setting("prompt", DEFAULT_PROMPT)
    media = [m.strip() for m in prompt.split(",") if m.strip()]
    if not media:
        reply.hangup(CALLER, cause_code)
        return
    state["pending_cause"] = cause_code
    reply.progress(CALLER).play(PROMPT, media, channel=CALLER)


def hunt_cause(outcomes):
    """No answer if any member rang out, else busy if any declined, else congestion, else
    unavailable."""
    for name, cause in (("no-answer", NO_ANSWER), ("busy", BUSY), ("congestion", CONGESTION), ("unavailable", UNAVAILABLE)):
        if name in outcomes:
            return cause
    return NORMAL
