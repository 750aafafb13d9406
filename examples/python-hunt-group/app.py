"""hunt-group in Python: ring a list of endpoints, one after the other or all at once, and join
the caller with whoever answers first.

The same plugin as plugins/hunt-group (Rust) and examples/js-hunt-group (JavaScript): same
settings, same commands, same state bytes, held to the same scenario table
(tests/hunt_group/scenarios.toml). See plugins/hunt-group/src/lib.rs for the settings.

Built with componentize-py against wit/ (see build.sh); `wit_world` is generated at build time.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import (
    BridgeCreate,
    BridgeKind,
    BridgeMembers,
    CallerId_Given,
    CallerId_PassThrough,
    Command_Answer,
    Command_BridgeAdd,
    Command_BridgeCreate,
    Command_ContinueInDialplan,
    Command_Create,
    Command_Dial,
    Command_Hangup,
    Command_Play,
    Command_Progress,
    ContinueInDialplan,
    Create,
    Dial,
    DialStatus,
    Event_CommandFailed,
    Event_DialStatus,
    Event_HungUp,
    Event_PlaybackFinished,
        Event_Started,
    EventKind,
    HangupChannel,
    Party,
    Play,
    Reply,
    Target_Channel,
)

CALLER = "caller"
BRIDGE = "b1"
PROMPT = "prompt"
DEFAULT_PROMPT = "sound:vm-nobodyavail"
DEFAULT_RING_TIMEOUT = 20

NORMAL = 16
BUSY = 17
NO_ANSWER = 19
UNAVAILABLE = 20
ANSWERED_ELSEWHERE = 26
CONGESTION = 34
TEMPORARY_FAILURE = 41

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
    members = [m.strip() for m in (host.setting("members") or "").split(",") if m.strip()]
    if not members:
        raise Err("setting members: no endpoints to ring")
    strategy = (host.setting("strategy") or "sequential").strip()
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
    number = host.setting("caller_id_number")
    if number is None:
        caller_id = CallerId_PassThrough()
    else:
        caller_id = CallerId_Given(Party(name=host.setting("caller_id_name") or "", number=number))
    return members, strategy, ring_timeout, caller_id


def leg(index):
    return f"leg{index + 1}"


def leg_index(handle):
    if not handle.startswith("leg") or not handle[3:].isdigit():
        return None
    index = int(handle[3:]) - 1
    return index if index >= 0 else None


def has_channel(call, handle):
    return any(c.handle == handle for c in call.channels)


def hangup(commands, channel, cause):
    commands.append(Command_Hangup(HangupChannel(channel=channel, cause=cause)))


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
        commands = []
        if isinstance(event, Event_Started):
            settings = read_settings()
            commands.append(Command_BridgeCreate(BridgeCreate(bridge=BRIDGE, kind=BridgeKind.MIXING)))
            members = [0] if settings[1] == "sequential" else list(range(len(settings[0])))
            ring(settings, state, commands, members)
        elif isinstance(event, Event_DialStatus):
            index = leg_index(event.value.leg)
            if index is not None and index < state["dialed"]:
                leg_status(call, state, commands, index, event.value.status)
        elif isinstance(event, Event_PlaybackFinished) and event.value.playback == PROMPT:
            if state["pending_cause"] and has_channel(call, CALLER):
                hangup(commands, CALLER, state["pending_cause"])
            state["pending_cause"] = 0
        elif isinstance(event, Event_HungUp) and event.value.channel == CALLER:
            state["finishing"] = True
            for i in range(state["dialed"]):
                if has_channel(call, leg(i)):
                    hangup(commands, leg(i), NORMAL)
        elif isinstance(event, Event_HungUp) and event.value.channel == state["winner"]:
            if not state["finishing"] and has_channel(call, CALLER):
                state["finishing"] = True
                hangup(commands, CALLER, NORMAL)
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
                        hangup(commands, leg(i), NORMAL)
                if has_channel(call, CALLER):
                    hangup(commands, CALLER, TEMPORARY_FAILURE)
        encoded = json.dumps(state, separators=(",", ":")).encode()
        return Reply(commands=commands, state=None if encoded == call.state else encoded)


def ring(settings, state, commands, members):
    """Creates the legs for these members, bridges them (with the caller, the first time) and
    dials them."""
    endpoints, _, ring_timeout, caller_id = settings
    legs = [leg(i) for i in members]
    for i, handle in zip(members, legs):
        commands.append(
            Command_Create(
                Create(leg=handle, endpoint=endpoints[i], caller_id=caller_id, formats=None, originator=None)
            )
        )
    joining = ([CALLER] if state["dialed"] == 0 else []) + legs
    commands.append(Command_BridgeAdd(BridgeMembers(bridge=BRIDGE, channels=joining)))
    for handle in legs:
        commands.append(Command_Dial(Dial(leg=handle, caller=CALLER, timeout_s=ring_timeout)))
    state["dialed"] += len(legs)
    state["outcomes"] += [""] * len(legs)


def leg_status(call, state, commands, index, status):
    """A dialed leg's progress or outcome."""
    if status in (DialStatus.RINGING, DialStatus.PROGRESS) or state["outcomes"][index]:
        return
    state["outcomes"][index] = STATUS_NAMES[status]
    handle = leg(index)
    if status == DialStatus.ANSWER:
        if state["winner"] or state["finishing"]:
            hangup(commands, handle, ANSWERED_ELSEWHERE)
            return
        state["winner"] = handle
        if has_channel(call, CALLER):
            commands.append(Command_Answer(CALLER))
        for other in range(state["dialed"]):
            if other != index and has_channel(call, leg(other)):
                hangup(commands, leg(other), ANSWERED_ELSEWHERE)
        return
    if status == DialStatus.BUSY and has_channel(call, handle):
        hangup(commands, handle, BUSY)
    if state["finishing"] or state["winner"]:
        return
    settings = read_settings()
    if settings[1] == "sequential" and state["dialed"] < len(settings[0]):
        if index + 1 == state["dialed"]:
            ring(settings, state, commands, [state["dialed"]])
        return
    if all(state["outcomes"]):
        nobody_answered(call, state, commands)


def nobody_answered(call, state, commands):
    """The caller continues in the fallback context, or hears the prompt as early media and is
    hung up with the cause that tells why."""
    state["finishing"] = True
    if not has_channel(call, CALLER):
        return
    context = host.setting("fallback_context")
    if context is not None:
        try:
            priority = int((host.setting("fallback_priority") or "").strip())
        except ValueError:
            priority = 1
        commands.append(
            Command_ContinueInDialplan(
                ContinueInDialplan(
                    channel=CALLER,
                    context=context,
                    extension=host.setting("fallback_extension"),
                    priority=priority,
                )
            )
        )
        return
    cause = hunt_cause(state["outcomes"])
    prompt = host.setting("prompt")
    if prompt is None:
        prompt = DEFAULT_PROMPT
    media = [m.strip() for m in prompt.split(",") if m.strip()]
    if not media:
        hangup(commands, CALLER, cause)
        return
    state["pending_cause"] = cause
    commands.append(Command_Progress(CALLER))
    commands.append(Command_Play(Play(playback=PROMPT, target=Target_Channel(CALLER), media=media)))


def hunt_cause(outcomes):
    """No answer if any member rang out, else busy if any declined, else congestion, else
    unavailable."""
    for name, cause in (("no-answer", NO_ANSWER), ("busy", BUSY), ("congestion", CONGESTION), ("unavailable", UNAVAILABLE)):
        if name in outcomes:
            return cause
    return NORMAL
