// --demo: seeded users and channels, and POST /sandbox/demo-token handing out tokens that the
// SDK connects with. Without --demo the endpoint does not exist.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestEnv, decodeJwtPayload, rawRequest } from './lib/sandbox.mjs';

const env = new TestEnv();
let demo, plain;

async function demoToken(sb, body) {
  const r = await rawRequest(sb.url, {
    method: 'POST',
    path: '/sandbox/demo-token',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return r;
}

before(async () => {
  [demo, plain] = await Promise.all([env.sandbox({ demo: true }), env.sandbox()]);
});
after(() => env.cleanup());

test('POST /sandbox/demo-token returns api_key, token and user_id', async () => {
  const r = await demoToken(demo, { user_id: 'alice' });
  assert.ok(r.status === 200 || r.status === 201, `200 or 201, got ${r.status}: ${r.text}`);
  assert.equal(r.json.api_key, demo.apiKey);
  assert.equal(r.json.user_id, 'alice');
  assert.equal(typeof r.json.token, 'string');
  assert.equal(r.json.token.split('.').length, 3, 'a JWT');
  assert.equal(decodeJwtPayload(r.json.token).user_id, 'alice');
});

test('the demo token connects through the SDK and the demo channels have history', async () => {
  const { token } = (await demoToken(demo, { user_id: 'alice' })).json;
  const raw = [];
  const { client: alice, res } = await env.connect(demo, 'alice', { token });
  assert.equal(res.me.id, 'alice');
  const sub = alice.on('channels.queried', (e) => raw.push(...e.queriedChannels.channels));
  const channels = await alice.queryChannels(
    { members: { $in: ['alice'] } },
    { last_message_at: -1 },
    { watch: true, state: true },
  );
  sub.unsubscribe();
  const cids = channels.map((c) => c.cid);
  assert.ok(cids.includes('messaging:general'), `messaging:general among ${cids}`);
  assert.ok(cids.length >= 2, `a couple of demo channels, got ${cids}`);
  const general = raw.find((s) => s.channel.cid === 'messaging:general');
  assert.deepEqual(
    general.members.map((m) => m.user_id).filter((id) => ['alice', 'bob', 'carol'].includes(id)).sort(),
    ['alice', 'bob', 'carol'],
  );
  assert.ok(general.messages.length > 0, 'general has history');
  for (const m of general.messages) {
    assert.equal(typeof m.id, 'string');
    assert.equal(typeof m.user?.id, 'string', 'history messages have senders');
  }
  const times = general.messages.map((m) => Date.parse(m.created_at));
  assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]), 'history is in chronological order');
  // sorted by last_message_at desc
  const lm = raw.map((s) => Date.parse(s.channel.last_message_at || 0));
  assert.ok(lm.every((t, i) => i === 0 || t <= lm[i - 1]), 'channels sorted by last_message_at desc');
});

test('demo users exist and messages flow live between demo users', async () => {
  const [ta, tb] = await Promise.all([demoToken(demo, { user_id: 'alice' }), demoToken(demo, { user_id: 'bob' })]);
  const { client: alice } = await env.connect(demo, 'alice', { token: ta.json.token });
  const { client: bob } = await env.connect(demo, 'bob', { token: tb.json.token });
  const { users } = await alice.queryUsers({ id: { $in: ['alice', 'bob', 'carol'] } });
  assert.deepEqual(users.map((u) => u.id).sort(), ['alice', 'bob', 'carol']);
  const bobLog = env.log(bob, 'bob');
  const chA = alice.channel('messaging', 'general');
  const chB = bob.channel('messaging', 'general');
  await Promise.all([chA.watch(), chB.watch()]);
  const { message } = await chA.sendMessage({ text: 'hello demo' });
  const ev = await bobLog.waitFor('message.new', (e) => e.message?.id === message.id);
  assert.equal(ev.message.text, 'hello demo');
});

test('an unknown demo user gets an error', async () => {
  const r = await demoToken(demo, { user_id: 'mallory' });
  assert.ok(r.status >= 400 && r.status < 500, `4xx, got ${r.status}: ${r.text}`);
  assert.equal(typeof r.json?.code, 'number', `a Stream error body: ${r.text}`);
  assert.equal(r.json.StatusCode, r.status);
  assert.equal(r.json.token, undefined);
});

test('a malformed demo-token request gets 400 code 4', async () => {
  for (const body of ['{"user_id":', '[]', '{}', '{"user_id":5}']) {
    const r = await demoToken(demo, body);
    assert.equal(r.status, 400, `${body} → ${r.status} ${r.text}`);
    assert.equal(r.json?.code, 4, `${body} → ${r.text}`);
  }
});

test('without --demo the endpoint is 404 and there are no demo users', async () => {
  const r = await demoToken(plain, { user_id: 'alice' });
  assert.equal(r.status, 404, r.text);
  const server = plain.serverClient();
  const { users } = await server.queryUsers({ id: { $in: ['alice', 'bob', 'carol'] } });
  assert.deepEqual(users, []);
});

test('--demo-messages sets the size of the seeded history', async () => {
  const small = await env.sandbox({ demo: true, demoMessages: 3 });
  const big = await env.sandbox({ demo: true, demoMessages: 40 });
  const count = async (sb) => {
    const server = sb.serverClient();
    const ch = server.channel('messaging', 'general');
    const st = await ch.query({ messages: { limit: 100 }, state: true, watch: false });
    return st.messages.length;
  };
  const [n3, n40] = await Promise.all([count(small), count(big)]);
  assert.ok(n3 > 0, `some history with --demo-messages 3 (got ${n3})`);
  assert.ok(n40 > n3, `more history with 40 than with 3 (${n40} vs ${n3})`);
  await Promise.all([small.stop(), big.stop()]);
});

test('the sandboxes exit 0 on SIGTERM', async () => {
  await Promise.all(env.clients.map((c) => c.disconnectUser(500)));
  await Promise.all([demo.stop(), plain.stop()]);
});
