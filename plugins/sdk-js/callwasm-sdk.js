// callwasm-sdk.js: the reply builder and helpers for callwasm plugins written in JavaScript.
//
// The JavaScript counterpart of the Rust SDK's `Reply` (plugins/sdk): one method per command,
// each returning the reply so a call flow reads as one chain, instead of jco's raw
// `{ tag: 'bridge-add', val: { bridge, channels } }`.
//
//   import { CALLER, Reply, cause } from './callwasm-sdk.js';
//
//   const reply = new Reply()
//     .create('agent', 'PJSIP/alice')
//     .setVar('agent', 'X_TENANT', 'acme')
//     .bridgeCreate('b1')
//     .bridgeAdd('b1', [CALLER, 'agent'])
//     .dial('agent', { caller: CALLER, timeoutS: 30 });
//   return reply.build(encodeState(state), call.state);
//
// Copy this file beside the plugin's entry module: jco componentize (QuickJS backend) follows
// relative imports under the entry's directory only, and builds them in. QuickJS has no
// TextEncoder/TextDecoder, so encodeState/decodeState convert JSON state to UTF-8 by hand.

import { log as hostLog, setting as hostSetting } from 'callwasm:router/host@0.1.0';

/** The handle of the call's inbound channel. */
export const CALLER = 'caller';

/** Q.850 cause codes a plugin commonly hangs up with. */
export const cause = Object.freeze({
  NORMAL: 16,
  BUSY: 17,
  NO_RESPONSE: 18,
  NO_ANSWER: 19,
  UNAVAILABLE: 20,
  REJECTED: 21,
  ANSWERED_ELSEWHERE: 26,
  CONGESTION: 34,
  TEMPORARY_FAILURE: 41,
});

/** What a created leg's callee sees: the caller's own ID without a number, else this name and
 * number. */
export function callerId(name, number) {
  if (number === undefined || number === null) return { tag: 'pass-through' };
  return { tag: 'given', val: { name: name ?? '', number } };
}

/** Whether the call still has a channel with this handle. */
export const hasChannel = (call, handle) => call.channels.some((c) => c.handle === handle);

/** One of the tenant's plugin settings, or `fallback` when it is not set. */
export function setting(key, fallback) {
  const value = hostSetting(key);
  return value === undefined || value === null ? fallback : value;
}

/** A line in the router's log, tagged with the tenant and the call ('debug', 'info', 'warn',
 * 'error'). */
export const log = (level, message) => hostLog(level, message);

/** JSON state as UTF-8 bytes. */
export function encodeState(value) {
  const bytes = [];
  for (const ch of JSON.stringify(value)) {
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

/** The call's state bytes as JSON; `empty` when it has none yet. */
export function decodeState(bytes, empty = {}) {
  if (bytes.length === 0) return empty;
  let text = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    let c = n === 1 ? b : b & (0xff >> (n + 1));
    for (let k = 1; k < n; k++) c = (c << 6) | (bytes[i + k] & 63);
    text += String.fromCodePoint(c);
    i += n;
  }
  return JSON.parse(text);
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The commands a plugin answers an event with, carried out in order. */
export class Reply {
  constructor() {
    this.commands = [];
  }

  /** Appends any command in jco's form (`{ tag, val }`). */
  push(command) {
    this.commands.push(command);
    return this;
  }

  /** Creates an outgoing leg to `endpoint` without dialing it (callerId: see `callerId()`;
   * default: the caller's own). */
  create(leg, endpoint, { callerId: shown, formats, originator } = {}) {
    return this.push({
      tag: 'create',
      val: { leg, endpoint, callerId: shown ?? { tag: 'pass-through' }, formats, originator },
    });
  }

  /** Sets a channel variable (or function, such as `PJSIP_HEADER(add,X-Foo)`). */
  setVar(channel, name, value) {
    return this.push({ tag: 'set-var', val: { channel, name, value } });
  }

  /** Dials a created leg on behalf of `caller`, ringing at most `timeoutS` seconds. */
  dial(leg, { caller, timeoutS = 30 } = {}) {
    return this.push({ tag: 'dial', val: { leg, caller, timeoutS } });
  }

  /** Answers a channel. */
  answer(channel) {
    return this.push({ tag: 'answer', val: channel });
  }

  /** Sends ringing to a channel. */
  ring(channel) {
    return this.push({ tag: 'ring', val: channel });
  }

  /** Sends progress (early media) to a channel. */
  progress(channel) {
    return this.push({ tag: 'progress', val: channel });
  }

  /** Hangs a channel up with a Q.850 cause (see `cause`). */
  hangup(channel, causeCode) {
    return this.push({ tag: 'hangup', val: { channel, cause: causeCode } });
  }

  /** Creates a bridge ('mixing' or 'holding'). */
  bridgeCreate(bridge, kind = 'mixing') {
    return this.push({ tag: 'bridge-create', val: { bridge, kind } });
  }

  /** Adds channels to a bridge; a created leg added before it is dialed is early bridging
   * (the caller hears its ringing and early media). */
  bridgeAdd(bridge, channels) {
    return this.push({ tag: 'bridge-add', val: { bridge, channels: [...channels] } });
  }

  /** Removes channels from a bridge. */
  bridgeRemove(bridge, channels) {
    return this.push({ tag: 'bridge-remove', val: { bridge, channels: [...channels] } });
  }

  /** Destroys a bridge. */
  bridgeDestroy(bridge) {
    return this.push({ tag: 'bridge-destroy', val: bridge });
  }

  /** Plays media URIs in turn to a channel (default: the caller) or a bridge. */
  play(playback, media, { channel, bridge } = {}) {
    const target =
      bridge !== undefined ? { tag: 'bridge', val: bridge } : { tag: 'channel', val: channel ?? CALLER };
    return this.push({ tag: 'play', val: { playback, target, media: [...media] } });
  }

  /** Stops a playback. */
  stopPlayback(playback) {
    return this.push({ tag: 'stop-playback', val: playback });
  }

  /** Starts music on hold on a channel (`mohClass` from musiconhold.conf). */
  startMoh(channel, mohClass) {
    return this.push({ tag: 'start-moh', val: { channel, class: mohClass } });
  }

  /** Stops music on hold on a channel. */
  stopMoh(channel) {
    return this.push({ tag: 'stop-moh', val: channel });
  }

  /** Hands a channel back to the dialplan; parts left out keep the channel's own. */
  continueInDialplan(channel, { context, extension, priority } = {}) {
    return this.push({ tag: 'continue-in-dialplan', val: { channel, context, extension, priority } });
  }

  /** Starts (or restarts) a named timer; a `timer` event follows after `ms`. */
  startTimer(name, ms) {
    return this.push({ tag: 'start-timer', val: { name, ms } });
  }

  /** Cancels a named timer. */
  cancelTimer(name) {
    return this.push({ tag: 'cancel-timer', val: name });
  }

  /** The reply for the router: these commands and the new state bytes (left out when they
   * equal `previous`, the call's state as it was). */
  build(state, previous) {
    const same = state === undefined || (previous !== undefined && sameBytes(state, previous));
    return { commands: this.commands, state: same ? undefined : state };
  }
}
