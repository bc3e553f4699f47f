// --tls-cert/--tls-key: the sandbox serves https:// and wss:// only, and the official SDK
// connects and chats through it when it trusts the certificate (a self-signed test
// certificate for 127.0.0.1, trusted through NODE_EXTRA_CA_CERTS, which meson sets).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { after, before, test } from 'node:test';
import { TLS_CERT, TestEnv, UUID_RE, rawRequest, upsertUsers } from './lib/sandbox.mjs';

const env = new TestEnv();
let sb;

before(async () => {
  assert.equal(process.env.NODE_EXTRA_CA_CERTS, TLS_CERT, 'NODE_EXTRA_CA_CERTS names the test certificate');
  sb = await env.sandbox({ tls: true });
  await upsertUsers(sb, ['alice', 'bob']);
});
after(() => env.cleanup());

test('the ready line says https', () => {
  assert.match(sb.url, /^https:\/\/127\.0\.0\.1:\d+$/);
});

test('connectUser over wss:// and messages both ways', async () => {
  const { client: alice, res } = await env.connect(sb, 'alice');
  assert.match(res.connection_id, UUID_RE);
  assert.equal(res.me.id, 'alice');
  assert.match(alice.wsConnection.ws.url, /^wss:\/\//, 'the SDK derived wss:// from the https base URL');
  const { client: bob } = await env.connect(sb, 'bob');

  const chA = alice.channel('messaging', 'tls-room', { members: ['alice', 'bob'] });
  await chA.watch();
  const chB = bob.channel('messaging', 'tls-room');
  await chB.watch();
  const bobLog = env.log(bob, 'bob');

  const sent = await chA.sendMessage({ text: 'over TLS' });
  const ev = await bobLog.waitFor('message.new', (e) => e.message?.id === sent.message.id);
  assert.equal(ev.message.text, 'over TLS');
});

test('an HTTPS request with the certificate pinned as the only CA succeeds', async () => {
  const status = await new Promise((resolve, reject) => {
    const req = https.request(`${sb.url}/hi`, { ca: readFileSync(TLS_CERT), agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 200);
});

test('plain HTTP to the TLS port gets no answer as if it were HTTP', async () => {
  const plain = sb.url.replace('https://', 'http://');
  const outcome = await rawRequest(plain, { path: '/hi' }, 5000).then(
    (r) => `answered ${r.status}`,
    (e) => `refused: ${e.message}`,
  );
  assert.match(outcome, /^refused/, `a plaintext request must fail, got ${outcome}`);
  sb.assertAlive();
});
