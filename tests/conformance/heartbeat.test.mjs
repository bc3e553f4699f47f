// Keep-alive timing, the slowest checks (about 32 s each, run concurrently: both start in
// `before` and each test awaits its own; top-level tests keep meson's TAP parser happy):
// - over WebSocket the sandbox sends its own health.check at least every 30 s, even to a client
//   that never pings (the SDK's watchdog reconnects after 35 s of silence);
// - over long-poll an idle poll is answered before the SDK's 30 s request timeout, so an idle
//   long-poll client stays connected and still gets the next message.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { TestEnv, assertNothingHappensWithin, upsertUsers } from './lib/sandbox.mjs';

const WebSocket = createRequire(import.meta.url)('ws');

const env = new TestEnv();
let wsSb, lpSb;

let wsCheck, lpCheck;

// The outcome of a check started early: null, or what it threw.
const settle = (promise) => promise.then(() => null, (err) => err);
async function outcome(check) {
  const err = await check;
  if (err) throw err;
}

before(async () => {
  [wsSb, lpSb] = await Promise.all([env.sandbox(), env.sandbox({ noWebsocket: true })]);
  await Promise.all([upsertUsers(wsSb, ['alice']), upsertUsers(lpSb, ['alice', 'bob'])]);
  wsCheck = settle(websocketKeepAlive());
  lpCheck = settle(longPollKeepAlive());
});
after(() => env.cleanup());

test('WebSocket: an unsolicited health.check within 30 s of the first, to a client that never pings', () =>
  outcome(wsCheck));

test('long-poll: an idle client stays connected past the SDK’s 30 s poll timeout', () => outcome(lpCheck));

async function websocketKeepAlive() {
  const params = new URLSearchParams({
    json: JSON.stringify({ user_id: 'alice', user_details: { id: 'alice' } }),
    api_key: wsSb.apiKey,
    authorization: wsSb.token('alice'),
    'stream-auth-type': 'jwt',
  });
  const ws = new WebSocket(`${wsSb.url.replace('http', 'ws')}/connect?${params}`);
  const checks = [];
  let closed;
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString('utf8'));
    if (f.type === 'health.check') checks.push({ at: Date.now(), f });
  });
  ws.on('close', (code) => {
    closed = code;
  });
  try {
    await env.waitFor(() => checks.length >= 1, { what: 'the first health.check' });
    const second = await env.waitFor(() => checks[1], {
      timeout: 32_000,
      interval: 100,
      what: 'a second, unsolicited health.check (the sandbox must send one at least every 30 s)',
    });
    assert.ok(second.at - checks[0].at <= 30_500, `gap ${second.at - checks[0].at} ms`);
    assert.equal(second.f.connection_id, checks[0].f.connection_id);
    assert.equal(closed, undefined, 'socket still open');
  } finally {
    ws.close(1000);
  }
}

async function longPollKeepAlive() {
  const [{ client: alice }, { client: bob }] = await Promise.all(
    ['alice', 'bob'].map((id) => env.connect(lpSb, id, { options: { enableWSFallback: true } })),
  );
  assert.ok(alice.wsFallback?.isHealthy(), 'alice on long-poll');
  const aliceLog = env.log(alice, 'alice');
  const chA = alice.channel('messaging', 'idle', { members: ['alice', 'bob'] });
  await chA.watch();
  const chB = bob.channel('messaging', 'idle');
  await chB.watch();
  // the first poll started before the watch calls, so it hits the 30 s client timeout inside this window
  await assertNothingHappensWithin(
    31_000,
    () => aliceLog.count('connection.changed', (e) => e.online === false) > 0 || !alice.wsFallback.isHealthy(),
    'alice’s idle long-poll connection dropped (an idle poll held past the 30 s client timeout?)',
  );
  const { message } = await chB.sendMessage({ text: 'after the idle period' });
  const ev = await aliceLog.waitFor('message.new', (e) => e.message?.id === message.id);
  assert.equal(ev.message.text, 'after the idle period');
}

test('the sandboxes exit 0 on SIGTERM', async () => {
  await Promise.all(env.clients.map((c) => c.disconnectUser(1000)));
  await Promise.all([wsSb.stop(), lpSb.stop()]);
});
