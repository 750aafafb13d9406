// The seed flow written the way node-ari-client's users write it: connect (the client builds
// itself from /ari/api-docs), start the app, and for the first caller create a leg, wait for
// its StasisStart, bridge both, dial, answer the caller when the leg answers, and end the
// call when the caller hangs up. Prints one JSON line of what happened and exits 0, or
// prints the error and exits 1.
//
//   node call.js <http://host:port> <app> <endpoint>
'use strict';

const ari = require('ari-client');

const [url, app, endpoint] = process.argv.slice(2);
const seen = [];
const fail = (err) => {
  console.error(`call.js: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
};
setTimeout(() => fail(new Error('no call completed within 20 s')), 20000).unref();

ari.connect(url, 'asterisk', 'asterisk').then((client) => {
  let done = false;
  client.on('StasisStart', async (event, channel) => {
    seen.push(`StasisStart ${channel.id}`);
    if (channel.id.endsWith('-leg')) {
      return;
    }
    try {
      const legId = `${channel.id}-leg`;
      const entered = new Promise((resolve) => {
        client.on('StasisStart', (e, c) => { if (c.id === legId) resolve(); });
      });
      const leg = client.Channel(legId);
      await leg.create({ endpoint, app });
      await entered;
      const bridge = client.Bridge();
      await bridge.create({ type: 'mixing', bridgeId: `${channel.id}-bridge` });
      await bridge.addChannel({ channel: [channel.id, legId] });
      const answered = new Promise((resolve) => {
        client.on('Dial', (e) => { if (e.peer.id === legId && e.dialstatus === 'ANSWER') resolve(); });
      });
      await leg.dial({ timeout: 10 });
      await answered;
      seen.push('leg answered');
      await channel.answer();
      channel.once('StasisEnd', async () => {
        seen.push('caller left');
        await leg.hangup();
        await bridge.destroy();
        done = true;
        const channels = await client.channels.list();
        const bridges = await client.bridges.list();
        console.log(JSON.stringify({ seen, channels: channels.length, bridges: bridges.length }));
        process.exit(0);
      });
    } catch (err) {
      fail(err);
    }
  });
  client.start(app);
  client.on('WebSocketConnected', () => console.error('call.js: connected'));
  return done;
}).catch(fail);
