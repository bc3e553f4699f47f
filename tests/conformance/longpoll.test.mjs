// Long-poll fallback: with --no-websocket the SDK (enableWSFallback) gives up on WebSocket,
// switches to GET /longpoll and still exchanges messages live.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRequire } from 'node:module';
import { TestEnv, UUID_RE, upsertUsers, withDeadline } from './lib/sandbox.mjs';

const WebSocket = createRequire(import.meta.url)('ws');

const env = new TestEnv();
let sb;
let alice, bob, aliceRes, bobRes, aliceLog, bobLog;
let chA, chB;

before(async () => {
  sb = await env.sandbox({ noWebsocket: true });
  await upsertUsers(sb, ['alice', 'bob']);
  // both log from before connectUser so transport.changed is seen
  alice = env.track(sb.userClient({ enableWSFallback: true }));
  bob = env.track(sb.userClient({ enableWSFallback: true }));
  aliceLog = env.log(alice, 'alice');
  bobLog = env.log(bob, 'bob');
  [aliceRes, bobRes] = await Promise.all([
    alice.connectUser({ id: 'alice' }, sb.token('alice')),
    bob.connectUser({ id: 'bob' }, sb.token('bob')),
  ]);
});
after(() => env.cleanup());

test('connectUser resolves over long-poll with a health.check', () => {
  for (const [res, id] of [
    [aliceRes, 'alice'],
    [bobRes, 'bob'],
  ]) {
    assert.equal(res.type, 'health.check');
    assert.match(res.connection_id, UUID_RE);
    assert.equal(res.me?.id, id);
  }
  assert.notEqual(aliceRes.connection_id, bobRes.connection_id);
});

test('the client is on the fallback transport, not on WebSocket', () => {
  for (const [c, log] of [
    [alice, aliceLog],
    [bob, bobLog],
  ]) {
    assert.ok(c.wsFallback, 'client.wsFallback exists');
    assert.equal(c.wsFallback.isHealthy(), true, 'wsFallback.isHealthy()');
    assert.equal(c.wsFallback.connectionID, c._getConnectionID());
    assert.equal(c.wsConnection.isHealthy, false, 'the WebSocket is not healthy');
    const tc = log.all('transport.changed');
    assert.equal(tc.length, 1, 'one transport.changed');
    assert.equal(tc[0].mode, 'longpoll');
    assert.ok(log.count('connection.changed', (e) => e.online === true) >= 1, 'connection.changed online:true');
  }
});

test('messages flow both ways between two long-poll clients', async () => {
  chA = alice.channel('messaging', 'lp', { members: ['alice', 'bob'] });
  await chA.watch();
  chB = bob.channel('messaging', 'lp');
  await chB.watch();

  const r1 = await chA.sendMessage({ text: 'over long-poll' });
  const e1 = await bobLog.waitFor('message.new', (e) => e.message?.id === r1.message.id);
  assert.equal(e1.message.text, 'over long-poll');
  assert.equal(e1.cid, 'messaging:lp');

  const r2 = await chB.sendMessage({ text: 'and back' });
  const e2 = await aliceLog.waitFor('message.new', (e) => e.message?.id === r2.message.id);
  assert.equal(e2.message.text, 'and back');
  await aliceLog.waitFor(() => chA.state.messages.some((m) => m.id === r2.message.id), {
    what: 'alice’s state has bob’s message',
  });
});

test('several events queued between polls all arrive, in order', async () => {
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push((await chA.sendMessage({ text: `burst ${i}` })).message.id);
  const got = await bobLog.waitForCount(5, 'message.new', (e) => sent.includes(e.message?.id));
  assert.deepEqual(got.map((e) => e.message.id), sent);
});

test('mark read is delivered over long-poll', async () => {
  const res = await chB.markRead();
  assert.equal(res?.event?.type, 'message.read');
  const ev = await aliceLog.waitFor('message.read', (e) => e.user?.id === 'bob');
  assert.equal(ev.cid, 'messaging:lp');
});

test('polling with an unknown connection_id answers code 46', async () => {
  const token = sb.token('alice');
  const r = await fetch(
    `${sb.url}/longpoll?api_key=${sb.apiKey}&user_id=alice&connection_id=00000000-0000-0000-0000-000000000000`,
    { headers: { Authorization: token, 'stream-auth-type': 'jwt' } },
  );
  assert.ok(r.status >= 400 && r.status < 500, `a 4xx status, got ${r.status}`);
  const body = await r.json();
  assert.equal(body.code, 46, JSON.stringify(body));
  assert.equal(body.StatusCode, r.status);
});

test('/connect does not upgrade to a WebSocket with --no-websocket', async () => {
  const params = new URLSearchParams({
    json: JSON.stringify({ user_id: 'alice', user_details: { id: 'alice' } }),
    api_key: sb.apiKey,
    authorization: sb.token('alice'),
    'stream-auth-type': 'jwt',
  });
  const ws = new WebSocket(`${sb.url.replace('http', 'ws')}/connect?${params}`);
  const outcome = await withDeadline(
    new Promise((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('unexpected-response', (req, res) => {
        resolve(`http ${res.statusCode}`);
        req.destroy();
      });
      ws.on('error', (e) => resolve(`error ${e.message}`));
    }),
    5000,
    'the upgrade attempt to settle',
  );
  ws.terminate();
  assert.notEqual(outcome, 'open', 'no WebSocket is opened');
});

test('disconnectUser closes the long-poll connection', async () => {
  const id = bob.wsFallback.connectionID;
  await bob.disconnectUser(2000);
  const token = sb.token('bob');
  const r = await fetch(`${sb.url}/longpoll?api_key=${sb.apiKey}&user_id=bob&connection_id=${id}`, {
    headers: { Authorization: token, 'stream-auth-type': 'jwt' },
  });
  const body = await r.json();
  assert.equal(body.code, 46, `the closed connection_id is gone: ${JSON.stringify(body)}`);
});

test('the sandbox exits 0 on SIGTERM', async () => {
  await alice.disconnectUser(2000);
  await sb.stop();
});
