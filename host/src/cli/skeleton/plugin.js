// {{name}}: a callwasm routing plugin in JavaScript. As written by `callwasm plugin new`, it
// forwards each call to one endpoint with the create / bridge / dial flow: the caller hears the
// leg ring (early bridging), is answered when the leg answers, and is hung up with the leg's
// cause when it does not. Change `handle` to route as you need.
//
// Settings: `endpoint` (default `PJSIP/` + the dialed extension), `ring_timeout` (seconds,
// default 30).

import { CALLER, Reply, cause, decodeState, encodeState, hasChannel, setting } from './callwasm-sdk.js';

const LEG = 'agent';

const CAUSES = {
  busy: cause.BUSY,
  'no-answer': cause.NO_ANSWER,
  unavailable: cause.UNAVAILABLE,
  congestion: cause.CONGESTION,
  failed: cause.TEMPORARY_FAILURE,
};

export const callHandler = {
  interests() {
    return ['started', 'dial-status', 'hung-up'];
  },

  handle(event, call) {
    const state = decodeState(call.state, { finishing: false });
    const reply = new Reply();
    if (event.tag === 'started') {
      const caller = call.channels.find((c) => c.handle === CALLER);
      const extension = caller?.dialplan?.extension ?? '';
      const endpoint = setting('endpoint', `PJSIP/${extension}`);
      const timeout = setting('ring_timeout', '30').trim();
      if (!/^\d+$/.test(timeout)) throw `setting ring_timeout: expected seconds, got "${timeout}"`;
      reply
        .create(LEG, endpoint)
        .bridgeCreate('b1')
        .bridgeAdd('b1', [CALLER, LEG])
        .dial(LEG, { caller: CALLER, timeoutS: Number(timeout) });
    } else if (event.tag === 'dial-status' && event.val.leg === LEG) {
      const status = event.val.status;
      if (status === 'answer') {
        reply.answer(CALLER);
      } else if (status in CAUSES && !state.finishing && hasChannel(call, CALLER)) {
        state.finishing = true;
        reply.hangup(CALLER, CAUSES[status]);
      }
    } else if (event.tag === 'hung-up') {
      const other = event.val.channel === CALLER ? LEG : CALLER;
      if (hasChannel(call, other) && !(other === CALLER && state.finishing)) {
        state.finishing = true;
        reply.hangup(other, cause.NORMAL);
      }
    }
    return reply.build(encodeState(state), call.state);
  },
};
