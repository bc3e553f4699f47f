// Rejected WebSocket auth: the SDK's connectUser rejects with the server's code, and because
// the sandbox answers with an error frame + close 1000, the SDK does not retry. A counting proxy
// in front of the sandbox counts every WebSocket upgrade attempt.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRequire } from 'node:module';
import {
  TestEnv,
  StreamChat,
  assertNothingHappensWithin,
  parseConnectError,
  signJwt,
  upsertUsers,
  withDeadline,
} from './lib/sandbox.mjs';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');

const env = new TestEnv();
let sb, proxy;
const rejectedTokens = [];

before(async () => {
  sb = await env.sandbox();
  await upsertUsers(sb, ['alice', 'bob']);
  proxy = await env.proxy(sb.port);
});
after(() => env.cleanup());

/** connectUser through the proxy; returns the parsed SDK error (asserting that it rejected). */
async function expectRejected({ userId = 'alice', token, apiKey }) {
  const client = env.track(
    apiKey
      ? new StreamChat(apiKey, { baseURL: proxy.url, allowServerSideConnect: true })
      : sb.userClient({ baseURL: proxy.url }),
  );
  let error;
  await assert.rejects(
    withDeadline(client.connectUser({ id: userId }, token), 20_000, 'connectUser to settle'),
    (err) => {
      error = parseConnectError(err);
      return true;
    },
  );
  assert.equal(client.wsConnection?.isHealthy ?? false, false);
  return error;
}

function attempts(tokenString) {
  return proxy.connectAttempts(tokenString).length;
}

test('a token signed with the wrong secret: code 43, StatusCode 401, one upgrade attempt', async () => {
  const token = signJwt({ user_id: 'alice' }, 'not-the-secret');
  const e = await expectRejected({ token });
  assert.equal(e.code, 43, JSON.stringify(e));
  assert.equal(e.StatusCode, 401, JSON.stringify(e));
  assert.equal(e.isWSFailure, false, 'an API rejection, not a WS failure');
  assert.match(e.message, /43/);
  assert.equal(attempts(token), 1);
  rejectedTokens.push(token);
});

test('a tampered token (payload changed after signing): code 43, one attempt', async () => {
  const good = sb.token('bob');
  const [h, , s] = good.split('.');
  const payload = Buffer.from(JSON.stringify({ user_id: 'alice' })).toString('base64url');
  const token = `${h}.${payload}.${s}`;
  const e = await expectRejected({ token });
  assert.equal(e.code, 43, JSON.stringify(e));
  assert.equal(e.StatusCode, 401);
  assert.equal(e.isWSFailure, false);
  assert.equal(attempts(token), 1);
  rejectedTokens.push(token);
});

test('an unsigned token (alg "none") is rejected, one attempt', async () => {
  const token = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
    JSON.stringify({ user_id: 'alice' }),
  ).toString('base64url')}.`;
  const e = await expectRejected({ token });
  assert.ok([5, 43].includes(e.code), `code 5 or 43, got ${JSON.stringify(e)}`);
  assert.equal(e.StatusCode, 401);
  assert.equal(e.isWSFailure, false);
  assert.equal(attempts(token), 1);
  rejectedTokens.push(token);
});

test('a valid token for another user than user_details.id is rejected, one attempt', async () => {
  // a provider bypasses the SDK's own user_id check, as a buggy backend would
  const token = sb.token('bob');
  const e = await expectRejected({ userId: 'alice', token: () => token });
  assert.equal(typeof e.code, 'number', JSON.stringify(e));
  assert.notEqual(e.code, 40, 'not "expired" (that would make the SDK refresh and retry)');
  assert.equal(e.StatusCode, 401, JSON.stringify(e));
  assert.equal(e.isWSFailure, false);
  assert.equal(attempts(token), 1);
  rejectedTokens.push(token);
});

test('an unknown api_key is rejected (code 2), one attempt', async () => {
  const token = sb.token('alice');
  const e = await expectRejected({ token, apiKey: 'no-such-key' });
  assert.equal(e.code, 2, JSON.stringify(e));
  assert.equal(e.StatusCode, 401, JSON.stringify(e));
  assert.equal(e.isWSFailure, false);
  assert.equal(proxy.upgrades.filter((u) => u.query.get('api_key') === 'no-such-key').length, 1);
});

test('no rejected client retries: no new upgrade attempt within 3 s (quiet-period check)', async () => {
  const total = proxy.connectAttempts().length;
  await assertNothingHappensWithin(
    3000,
    () => proxy.connectAttempts().length !== total && proxy.connectAttempts().map((u) => u.url.slice(0, 80)),
    'a rejected client opened another WebSocket',
  );
  for (const t of rejectedTokens) assert.equal(attempts(t), 1);
});

test('on the wire: one connection.error frame, then close code 1000', async () => {
  const token = signJwt({ user_id: 'alice' }, 'not-the-secret');
  const params = new URLSearchParams({
    json: JSON.stringify({ user_id: 'alice', user_details: { id: 'alice' } }),
    api_key: sb.apiKey,
    authorization: token,
    'stream-auth-type': 'jwt',
  });
  const ws = new WebSocket(`${sb.url.replace('http', 'ws')}/connect?${params}`);
  const frames = [];
  ws.on('message', (data, isBinary) => frames.push(isBinary ? data : data.toString('utf8')));
  const closed = await withDeadline(
    new Promise((resolve, reject) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      ws.on('error', reject);
    }),
    5000,
    'the sandbox to close the rejected socket',
  );
  assert.equal(frames.length, 1, `exactly one frame before the close: ${frames}`);
  const f = JSON.parse(frames[0]);
  assert.equal(f.type, 'connection.error');
  assert.equal(f.error?.code, 43);
  assert.equal(f.error?.StatusCode, 401);
  assert.equal(typeof f.error?.message, 'string');
  assert.equal(closed.code, 1000, 'close 1000: the SDK treats it as final');
});

test('the sandbox exits 0 on SIGTERM', async () => {
  await sb.stop();
});
