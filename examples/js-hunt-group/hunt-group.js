// hunt-group in JavaScript: ring a list of endpoints, one after the other or all at once, and
// join the caller with whoever answers first.
//
// The same plugin as plugins/hunt-group (Rust) and examples/python-hunt-group (Python): same
// settings, same commands, same state bytes, held to the same scenario table
// (tests/hunt_group/scenarios.toml). See plugins/hunt-group/src/lib.rs for the settings.
//
// Replies are built with callwasm-sdk.js's Reply (plugins/sdk-js), the JavaScript counterpart of
// the Rust SDK's; `npm run build` copies it beside this file (jco takes modules from the entry's
// directory only) and builds with `jco componentize --backend qjs` against wit/ (see
// package.json; docs/plugins.md says why QuickJS).

import {
  CALLER,
  Reply,
  callerId,
  cause,
  decodeState,
  encodeState,
  hasChannel,
  log,
  setting,
} from './callwasm-sdk.js';

const BRIDGE = 'b1';
const PROMPT = 'prompt';
const DEFAULT_PROMPT = 'sound:vm-nobodyavail';
const DEFAULT_RING_TIMEOUT = 20;

const { NORMAL, BUSY, NO_ANSWER, UNAVAILABLE, ANSWERED_ELSEWHERE, CONGESTION, TEMPORARY_FAILURE } =
  cause;

/** The hunt's settings; throws a message naming the setting that is wrong. */
function readSettings() {
  const members = setting('members', '')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (members.length === 0) {
    throw 'setting members: no endpoints to ring';
  }
  const strategy = setting('strategy', 'sequential').trim();
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
  const shown = callerId(setting('caller_id_name'), setting('caller_id_number'));
  return { members, strategy, ringTimeout, shown };
}

const leg = (index) => `leg${index + 1}`;

function legIndex(handle) {
  const m = /^leg(\d+)$/.exec(handle);
  if (!m) return null;
  const index = Number(m[1]) - 1;
  return index >= 0 ? index : null;
}

export const callHandler = {
  // Outcomes only: state changes and bridge moves would each cost an instance for nothing.
  interests() {
    return ['started', 'dial-status', 'hung-up', 'playback-finished', 'command-failed'];
  },

  handle(event, call) {
    const saved = decodeState(call.state);
    const state = {
      dialed: saved.dialed ?? 0,
      outcomes: saved.outcomes ?? [],
      winner: saved.winner ?? '',
      finishing: saved.finishing ?? false,
      pending_cause: saved.pending_cause ?? 0,
    };
    const reply = new Reply();
    switch (event.tag) {
      case 'started': {
        const settings = readSettings();
        reply.bridgeCreate(BRIDGE);
        const members =
          settings.strategy === 'sequential' ? [0] : settings.members.map((_, i) => i);
        ring(settings, state, reply, members);
        break;
      }
      case 'dial-status': {
        const index = legIndex(event.val.leg);
        if (index !== null && index < state.dialed) {
          legStatus(call, state, reply, index, event.val.status);
        }
        break;
      }
      case 'playback-finished':
        if (event.val.playback === PROMPT) {
          if (state.pending_cause !== 0 && hasChannel(call, CALLER)) {
            reply.hangup(CALLER, state.pending_cause);
          }
          state.pending_cause = 0;
        }
        break;
      case 'hung-up':
        if (event.val.channel === CALLER) {
          state.finishing = true;
          for (let i = 0; i < state.dialed; i++) {
            if (hasChannel(call, leg(i))) reply.hangup(leg(i), NORMAL);
          }
        } else if (event.val.channel === state.winner) {
          if (!state.finishing && hasChannel(call, CALLER)) {
            state.finishing = true;
            reply.hangup(CALLER, NORMAL);
          }
        }
        break;
      case 'command-failed': {
        const f = event.val;
        log('warn', `${f.command} (command ${f.index}) failed: ${f.status} ${f.message}`);
        if (!state.finishing) {
          state.finishing = true;
          for (let i = 0; i < state.dialed; i++) {
            if (hasChannel(call, leg(i))) reply.hangup(leg(i), NORMAL);
          }
          if (hasChannel(call, CALLER)) reply.hangup(CALLER, TEMPORARY_FAILURE);
        }
        break;
      }
      default:
        break;
    }
    return reply.build(encodeState(state), call.state);
  },
};

/** Creates the legs for these members, bridges them (with the caller, the first time) and
 * dials them. */
function ring(settings, state, reply, members) {
  const legs = members.map(leg);
  members.forEach((i, n) => reply.create(legs[n], settings.members[i], { callerId: settings.shown }));
  const joining = (state.dialed === 0 ? [CALLER] : []).concat(legs);
  reply.bridgeAdd(BRIDGE, joining);
  for (const handle of legs) reply.dial(handle, { caller: CALLER, timeoutS: settings.ringTimeout });
  state.dialed += legs.length;
  for (const _ of legs) state.outcomes.push('');
}

/** A dialed leg's progress or outcome. */
function legStatus(call, state, reply, index, status) {
  if (status === 'ringing' || status === 'progress' || state.outcomes[index] !== '') return;
  state.outcomes[index] = status;
  const handle = leg(index);
  if (status === 'answer') {
    if (state.winner !== '' || state.finishing) {
      reply.hangup(handle, ANSWERED_ELSEWHERE);
      return;
    }
    state.winner = handle;
    if (hasChannel(call, CALLER)) reply.answer(CALLER);
    for (let other = 0; other < state.dialed; other++) {
      if (other !== index && hasChannel(call, leg(other))) {
        reply.hangup(leg(other), ANSWERED_ELSEWHERE);
      }
    }
    return;
  }
  if (status === 'busy' && hasChannel(call, handle)) reply.hangup(handle, BUSY);
  if (state.finishing || state.winner !== '') return;
  const settings = readSettings();
  if (settings.strategy === 'sequential' && state.dialed < settings.members.length) {
    if (index + 1 === state.dialed) ring(settings, state, reply, [state.dialed]);
    return;
  }
  if (state.outcomes.every((o) => o !== '')) nobodyAnswered(call, state, reply);
}

/** The caller continues in the fallback context, or hears the prompt as early media and is
 * hung up with the cause that tells why. */
function nobodyAnswered(call, state, reply) {
  state.finishing = true;
  if (!hasChannel(call, CALLER)) return;
  const context = setting('fallback_context');
  if (context !== undefined) {
    const p = setting('fallback_priority', '').trim();
    const priority = /^[+-]?\d+$/.test(p) ? Number(p) : 1;
    reply.continueInDialplan(CALLER, { context, extension: setting('fallback_extension'), priority });
    return;
  }
  const causeCode = huntCause(state.outcomes);
  const media = setting('prompt', DEFAULT_PROMPT)
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (media.length === 0) {
    reply.hangup(CALLER, causeCode);
    return;
  }
  state.pending_cause = causeCode;
  reply.progress(CALLER).play(PROMPT, media, { channel: CALLER });
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
