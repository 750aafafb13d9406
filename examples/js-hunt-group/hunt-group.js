// hunt-group in JavaScript: ring a list of endpoints, one after the other or all at once, and
// join the caller with whoever answers first.
//
// The same plugin as plugins/hunt-group (Rust) and examples/python-hunt-group (Python): same
// settings, same commands, same state bytes, held to the same scenario table
// (tests/hunt_group/scenarios.toml). See plugins/hunt-group/src/lib.rs for the settings.
//
// Built with `jco componentize --backend qjs` against wit/ (see package.json; docs/plugins.md
// says why QuickJS).

import { log, setting } from 'callwasm:router/host@0.1.0';

const CALLER = 'caller';
const BRIDGE = 'b1';
const PROMPT = 'prompt';
const DEFAULT_PROMPT = 'sound:vm-nobodyavail';
const DEFAULT_RING_TIMEOUT = 20;

const NORMAL = 16;
const BUSY = 17;
const NO_ANSWER = 19;
const UNAVAILABLE = 20;
const ANSWERED_ELSEWHERE = 26;
const CONGESTION = 34;
const TEMPORARY_FAILURE = 41;

/** The hunt's settings; throws a message naming the setting that is wrong. */
function readSettings() {
  const members = (setting('members') ?? '')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (members.length === 0) {
    throw 'setting members: no endpoints to ring';
  }
  const strategy = (setting('strategy') ?? 'sequential').trim();
  if (strategy !== 'sequential' && strategy !== 'parallel') {
    throw `setting strategy: expected sequential or parallel, got "${strategy}"`;
  }
  const timeout = setting('ring_timeout');
  let ringTimeout = DEFAULT_RING_TIMEOUT;
  if (timeout !== undefined && timeout !== null) {
    if (!/^\+?\d+$/.test(timeout.trim()) || Number(timeout.trim()) > 0xffffffff) {
      throw `setting ring_timeout: expected seconds, got "${timeout}"`;
    }
    ringTimeout = Number(timeout.trim());
  }
  const number = setting('caller_id_number');
  const callerId =
    number === undefined || number === null
      ? { tag: 'pass-through' }
      : { tag: 'given', val: { name: setting('caller_id_name') ?? '', number } };
  return { members, strategy, ringTimeout, callerId };
}

const leg = (index) => `leg${index + 1}`;

function legIndex(handle) {
  const m = /^leg(\d+)$/.exec(handle);
  if (!m) return null;
  const index = Number(m[1]) - 1;
  return index >= 0 ? index : null;
}

const hasChannel = (call, handle) => call.channels.some((c) => c.handle === handle);

const hangup = (commands, channel, cause) =>
  commands.push({ tag: 'hangup', val: { channel, cause } });

// QuickJS has no TextEncoder/TextDecoder: state bytes are UTF-8, converted by hand.
function utf8Encode(text) {
  const bytes = [];
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else {
      bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return new Uint8Array(bytes);
}

function utf8Decode(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    let c = n === 1 ? b : b & (0xff >> (n + 1));
    for (let k = 1; k < n; k++) c = (c << 6) | (bytes[i + k] & 63);
    text += String.fromCodePoint(c);
    i += n;
  }
  return text;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const callHandler = {
  // Outcomes only: state changes and bridge moves would each cost an instance for nothing.
  interests() {
    return ['started', 'dial-status', 'hung-up', 'playback-finished', 'command-failed'];
  },

  handle(event, call) {
    const saved = call.state.length > 0 ? JSON.parse(utf8Decode(call.state)) : {};
    const state = {
      dialed: saved.dialed ?? 0,
      outcomes: saved.outcomes ?? [],
      winner: saved.winner ?? '',
      finishing: saved.finishing ?? false,
      pending_cause: saved.pending_cause ?? 0,
    };
    const commands = [];
    switch (event.tag) {
      case 'started': {
        const settings = readSettings();
        commands.push({ tag: 'bridge-create', val: { bridge: BRIDGE, kind: 'mixing' } });
        const members =
          settings.strategy === 'sequential' ? [0] : settings.members.map((_, i) => i);
        ring(settings, state, commands, members);
        break;
      }
      case 'dial-status': {
        const index = legIndex(event.val.leg);
        if (index !== null && index < state.dialed) {
          legStatus(call, state, commands, index, event.val.status);
        }
        break;
      }
      case 'playback-finished':
        if (event.val.playback === PROMPT) {
          if (state.pending_cause !== 0 && hasChannel(call, CALLER)) {
            hangup(commands, CALLER, state.pending_cause);
          }
          state.pending_cause = 0;
        }
        break;
      case 'hung-up':
        if (event.val.channel === CALLER) {
          state.finishing = true;
          for (let i = 0; i < state.dialed; i++) {
            if (hasChannel(call, leg(i))) hangup(commands, leg(i), NORMAL);
          }
        } else if (event.val.channel === state.winner) {
          if (!state.finishing && hasChannel(call, CALLER)) {
            state.finishing = true;
            hangup(commands, CALLER, NORMAL);
          }
        }
        break;
      case 'command-failed': {
        const f = event.val;
        log('warn', `${f.command} (command ${f.index}) failed: ${f.status} ${f.message}`);
        if (!state.finishing) {
          state.finishing = true;
          for (let i = 0; i < state.dialed; i++) {
            if (hasChannel(call, leg(i))) hangup(commands, leg(i), NORMAL);
          }
          if (hasChannel(call, CALLER)) hangup(commands, CALLER, TEMPORARY_FAILURE);
        }
        break;
      }
      default:
        break;
    }
    const encoded = utf8Encode(JSON.stringify(state));
    return { commands, state: sameBytes(encoded, call.state) ? undefined : encoded };
  },
};

/** Creates the legs for these members, bridges them (with the caller, the first time) and
 * dials them. */
function ring(settings, state, commands, members) {
  const legs = members.map(leg);
  members.forEach((i, n) => {
    commands.push({
      tag: 'create',
      val: { leg: legs[n], endpoint: settings.members[i], callerId: settings.callerId },
    });
  });
  const joining = (state.dialed === 0 ? [CALLER] : []).concat(legs);
  commands.push({ tag: 'bridge-add', val: { bridge: BRIDGE, channels: joining } });
  for (const handle of legs) {
    commands.push({
      tag: 'dial',
      val: { leg: handle, caller: CALLER, timeoutS: settings.ringTimeout },
    });
  }
  state.dialed += legs.length;
  for (const _ of legs) state.outcomes.push('');
}

/** A dialed leg's progress or outcome. */
function legStatus(call, state, commands, index, status) {
  if (status === 'ringing' || status === 'progress' || state.outcomes[index] !== '') return;
  state.outcomes[index] = status;
  const handle = leg(index);
  if (status === 'answer') {
    if (state.winner !== '' || state.finishing) {
      hangup(commands, handle, ANSWERED_ELSEWHERE);
      return;
    }
    state.winner = handle;
    if (hasChannel(call, CALLER)) commands.push({ tag: 'answer', val: CALLER });
    for (let other = 0; other < state.dialed; other++) {
      if (other !== index && hasChannel(call, leg(other))) {
        hangup(commands, leg(other), ANSWERED_ELSEWHERE);
      }
    }
    return;
  }
  if (status === 'busy' && hasChannel(call, handle)) hangup(commands, handle, BUSY);
  if (state.finishing || state.winner !== '') return;
  const settings = readSettings();
  if (settings.strategy === 'sequential' && state.dialed < settings.members.length) {
    if (index + 1 === state.dialed) ring(settings, state, commands, [state.dialed]);
    return;
  }
  if (state.outcomes.every((o) => o !== '')) nobodyAnswered(call, state, commands);
}

/** The caller continues in the fallback context, or hears the prompt as early media and is
 * hung up with the cause that tells why. */
function nobodyAnswered(call, state, commands) {
  state.finishing = true;
  if (!hasChannel(call, CALLER)) return;
  const context = setting('fallback_context');
  if (context !== undefined && context !== null) {
    const p = (setting('fallback_priority') ?? '').trim();
    const priority = /^[+-]?\d+$/.test(p) ? Number(p) : 1;
    commands.push({
      tag: 'continue-in-dialplan',
      val: {
        channel: CALLER,
        context,
        extension: setting('fallback_extension') ?? undefined,
        priority,
      },
    });
    return;
  }
  const cause = huntCause(state.outcomes);
  const media = (setting('prompt') ?? DEFAULT_PROMPT)
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (media.length === 0) {
    hangup(commands, CALLER, cause);
    return;
  }
  state.pending_cause = cause;
  commands.push({ tag: 'progress', val: CALLER });
  commands.push({
    tag: 'play',
    val: { playback: PROMPT, target: { tag: 'channel', val: CALLER }, media },
  });
}

/** No answer if any member rang out, else busy if any declined, else congestion, else
 * unavailable. */
function huntCause(outcomes) {
  if (outcomes.includes('no-answer')) return NO_ANSWER;
  if (outcomes.includes('busy')) return BUSY;
  if (outcomes.includes('congestion')) return CONGESTION;
  if (outcomes.includes('unavailable')) return UNAVAILABLE;
  return NORMAL;
}
