// connectUser over WebSocket: server-minted tokens, the first health.check, connection ids,
// dev tokens with and without --allow-dev-tokens, expired tokens.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestEnv, UUID_RE, nowSeconds, parseConnectError, assertNothingHappensWithin } from './lib/sandbox.mjs';

const env = new TestEnv();
let sb; // default sandbox: no dev tokens
let devSb; // --allow-dev-tokens
let proxy; // counts WebSocket upgrades to `sb`
let firstRes; // alice's connectUser result

before(async () => {
  [sb, devSb] = await Promise.all([env.sandbox(), env.sandbox({ allowDevTokens: true })]);
  proxy = await env.proxy(sb.port);
});
after(() => env.cleanup());

test('connectUser with a server-minted token resolves with the first health.check', async () => {
  const { client, res } = await env.connect(sb, 'alice', { user: { name: 'Alice' } });
  assert.equal(res.type, 'health.check', 'the first frame is a health.check');
  assert.match(res.connection_id, UUID_RE, 'connection_id is UUID-shaped');
  assert.equal(res.cid, '*', 'health.check cid is "*"');
  assert.ok(!Number.isNaN(Date.parse(res.created_at)), `created_at parses: ${res.created_at}`);
  assert.ok(res.me, 'the first health.check carries me');
  assert.equal(res.me.id, 'alice');
  assert.equal(client.wsConnection.isHealthy, true, 'wsConnection.isHealthy');
  assert.equal(client.wsConnection.connectionID, res.connection_id, 'wsConnection.connectionID');
  assert.equal(client.user.id, 'alice');
  assert.equal(client._getConnectionID(), res.connection_id);
  firstRes = res;
});

test('the first health.check carries a complete OwnUser in me', () => {
  assert.ok(firstRes, 'connected in the previous test');
  const res = firstRes;
  // OwnUserResponse: the SDK types the counters and lists as always present (types.ts
  // OwnUserBase); the reference (§1.4) lists them plus role, online, last_active, timestamps.
  const problems = [];
  for (const k of ['total_unread_count', 'unread_channels', 'unread_count', 'unread_threads']) {
    if (typeof res.me[k] !== 'number') problems.push(`me.${k} is not a number (${JSON.stringify(res.me[k])})`);
  }
  for (const k of ['devices', 'mutes', 'channel_mutes']) {
    if (!Array.isArray(res.me[k])) problems.push(`me.${k} is not an array`);
  }
  if (res.me.role !== 'user') problems.push(`me.role is ${JSON.stringify(res.me.role)}`);
  if (res.me.online !== true) problems.push(`me.online is ${JSON.stringify(res.me.online)}`);
  for (const k of ['created_at', 'updated_at', 'last_active']) {
    if (!res.me[k] || Number.isNaN(Date.parse(res.me[k]))) problems.push(`me.${k} is not a timestamp (${JSON.stringify(res.me[k])})`);
  }
  assert.deepEqual(problems, [], 'the OwnUser in the first health.check');
});

test('every connection gets its own connection_id', async () => {
  const a = await env.connect(sb, 'multi');
  const b = await env.connect(sb, 'multi');
  assert.match(a.res.connection_id, UUID_RE);
  assert.match(b.res.connection_id, UUID_RE);
  assert.notEqual(a.res.connection_id, b.res.connection_id);
  assert.equal(a.client.wsConnection.isHealthy, true);
  assert.equal(b.client.wsConnection.isHealthy, true);
});

test('the connected user exists server-side afterwards (REST works on the connection)', async () => {
  const { client } = await env.connect(sb, 'carl', { user: { name: 'Carl' } });
  const { users } = await client.queryUsers({ id: { $in: ['carl'] } });
  assert.equal(users.length, 1, 'queryUsers finds the user that connected');
  assert.equal(users[0].id, 'carl');
});

test('dev token is rejected without --allow-dev-tokens (code 43, one attempt, no reconnect loop)', async () => {
  const client = env.track(sb.userClient({ baseURL: proxy.url }));
  const devToken = client.devToken('dev-x');
  await assert.rejects(client.connectUser({ id: 'dev-x' }, devToken), (err) => {
    const e = parseConnectError(err);
    assert.equal(e.code, 43, `code 43 (token signature invalid), got ${JSON.stringify(e)}`);
    assert.equal(e.StatusCode, 401, `StatusCode 401, got ${JSON.stringify(e)}`);
    assert.equal(e.isWSFailure, false, 'an API rejection, not a WS failure');
    return true;
  });
  assert.equal(proxy.connectAttempts(devToken).length, 1, 'exactly one WebSocket upgrade attempt');
  await assertNothingHappensWithin(
    3000,
    () => (proxy.connectAttempts(devToken).length > 1 ? proxy.connectAttempts(devToken).length : false),
    'the SDK retried the WebSocket after a rejected dev token',
  );
  assert.equal(client.wsConnection.isHealthy, false);
});

test('dev token is accepted with --allow-dev-tokens', async () => {
  const client = env.track(devSb.userClient());
  const res = await client.connectUser({ id: 'dev-y' }, client.devToken('dev-y'));
  assert.equal(res.me.id, 'dev-y');
  assert.match(res.connection_id, UUID_RE);
  assert.equal(client.wsConnection.isHealthy, true);
  // and the dev token also authenticates REST calls
  const { users } = await client.queryUsers({ id: { $in: ['dev-y'] } });
  assert.deepEqual(users.map((u) => u.id), ['dev-y']);
});

test('a properly signed token still works on the --allow-dev-tokens sandbox', async () => {
  const { res } = await env.connect(devSb, 'signed');
  assert.equal(res.me.id, 'signed');
});

test('an expired static token is rejected with code 40 and is not retried', async () => {
  const client = env.track(sb.userClient({ baseURL: proxy.url }));
  const expired = sb.token('old', nowSeconds() - 60);
  await assert.rejects(client.connectUser({ id: 'old' }, expired), (err) => {
    const e = parseConnectError(err);
    assert.equal(e.code, 40, `code 40 (token expired), got ${JSON.stringify(e)}`);
    assert.equal(e.StatusCode, 401);
    assert.equal(e.isWSFailure, false);
    return true;
  });
  assert.equal(proxy.connectAttempts(expired).length, 1, 'exactly one WebSocket upgrade attempt');
});

test('the sandbox exits 0 on SIGTERM', async () => {
  await Promise.all(env.clients.map((c) => c.disconnectUser(500)));
  await sb.stop();
  await devSb.stop();
});
