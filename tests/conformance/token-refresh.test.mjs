// Token providers: an expired token makes REST calls fail with code 40 (the SDK reloads the
// token and replays), and makes a WebSocket reconnect fail with code 40 (the SDK reloads the
// token and reconnects). Short-lived tokens expire for real; every wait is a deadline wait.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestEnv, UUID_RE, nowSeconds, upsertUsers } from './lib/sandbox.mjs';

const env = new TestEnv();
const SHORT = 4; // seconds of validity of a provider's first token (3-4 s after flooring)
let sb;
let alice, bob;
let aliceProv, bobProv;
let chA, chB, aliceLog, bobLog;

/** A token provider whose first token expires in SHORT s and whose later tokens live 1 h. */
function makeProvider(userId, firstExpOffset = SHORT) {
  const p = {
    calls: 0,
    firstExp: undefined,
    fn: async () => {
      p.calls += 1;
      if (p.calls === 1) {
        p.firstExp = nowSeconds() + firstExpOffset;
        return sb.token(userId, p.firstExp);
      }
      return sb.token(userId, nowSeconds() + 3600);
    },
  };
  return p;
}

before(async () => {
  sb = await env.sandbox();
  const server = await upsertUsers(sb, ['alice', 'bob', 'carol']);
  await server.channel('messaging', 'tr', { members: ['alice', 'bob'], created_by_id: 'alice' }).create();
  aliceProv = makeProvider('alice');
  bobProv = makeProvider('bob');
  const [a, b] = await Promise.all([
    env.connect(sb, 'alice', { token: aliceProv.fn }),
    env.connect(sb, 'bob', { token: bobProv.fn }),
  ]);
  alice = a.client;
  bob = b.client;
  aliceLog = env.log(alice, 'alice');
  bobLog = env.log(bob, 'bob');
  chA = alice.channel('messaging', 'tr');
  chB = bob.channel('messaging', 'tr');
  await Promise.all([chA.watch(), chB.watch()]);
  // the scenarios below need the setup to finish while the first tokens are still valid
  assert.ok(
    Date.now() / 1000 < Math.min(aliceProv.firstExp, bobProv.firstExp),
    'setup finished after the short tokens expired (machine too slow for SHORT)',
  );
});
after(() => env.cleanup());

test('connectUser with a provider calls it once and connects', () => {
  assert.equal(aliceProv.calls, 1);
  assert.equal(bobProv.calls, 1);
  assert.equal(alice.wsConnection.isHealthy, true);
  assert.equal(bob.wsConnection.isHealthy, true);
});

test('after expiry a REST call gets code 40, the SDK reloads the token and the replay succeeds', async () => {
  await env.waitFor(() => Date.now() / 1000 > aliceProv.firstExp + 1, {
    timeout: (SHORT + 5) * 1000,
    what: 'alice’s first token to expire',
  });
  assert.equal(aliceProv.calls, 1, 'nothing refreshed the token before the REST call');
  const res = await chA.sendMessage({ text: 'after expiry' });
  assert.ok(aliceProv.calls >= 2, `provider called again (calls=${aliceProv.calls})`);
  assert.equal(res.message.text, 'after expiry');
  assert.equal(res.message.user.id, 'alice');
  const ev = await bobLog.waitFor('message.new', (e) => e.message?.id === res.message.id);
  assert.equal(ev.message.text, 'after expiry');
});

test('a static expired token on REST is an error the SDK surfaces (code 40, HTTP 401)', async () => {
  // the same request shape with the expired token, sent directly: what the SDK got above
  const expired = sb.token('alice', nowSeconds() - 10);
  const r = await fetch(`${sb.url}/channels/messaging/tr/message?api_key=${sb.apiKey}&user_id=alice`, {
    method: 'POST',
    headers: { Authorization: expired, 'stream-auth-type': 'jwt', 'Content-Type': 'application/json' },
    body: JSON.stringify({ message: { text: 'nope' } }),
  });
  assert.equal(r.status, 401);
  const body = await r.json();
  assert.equal(body.code, 40);
  assert.equal(body.StatusCode, 401);
});

test('after expiry a dropped WebSocket reconnects with a reloaded token (new connection_id)', async () => {
  await env.waitFor(() => Date.now() / 1000 > bobProv.firstExp + 1, {
    timeout: (SHORT + 5) * 1000,
    what: 'bob’s first token to expire',
  });
  assert.equal(bobProv.calls, 1, 'bob’s token was not reloaded yet');
  const oldId = bob.wsConnection.connectionID;
  assert.match(oldId, UUID_RE);
  const recoveredBefore = bobLog.count('connection.recovered');

  bob.wsConnection.ws.terminate(); // a network drop: no close frame

  await env.waitFor(
    () =>
      bobLog.count('connection.recovered') > recoveredBefore &&
      bob.wsConnection.isHealthy &&
      bob.wsConnection.connectionID &&
      bob.wsConnection.connectionID !== oldId,
    { timeout: 20_000, what: 'bob to reconnect with a new connection_id' },
  );
  assert.ok(bobProv.calls >= 2, `provider called again (calls=${bobProv.calls})`);
  assert.match(bob.wsConnection.connectionID, UUID_RE);

  // the recovered connection watches the channel again
  const { message } = await chA.sendMessage({ text: 'after reconnect' });
  await bobLog.waitFor('message.new', (e) => e.message?.id === message.id, { what: 'live message after reconnect' });
});

test('a provider whose first token is already expired: connectUser refreshes and resolves', async () => {
  const prov = makeProvider('carol', -30);
  const { client, res } = await env.connect(sb, 'carol', { token: prov.fn });
  assert.equal(res.me?.id, 'carol');
  assert.equal(client.user.id, 'carol');
  assert.equal(prov.calls, 2, 'one expired token, then one good one');
  assert.equal(client.wsConnection.isHealthy, true);
  assert.match(client.wsConnection.connectionID, UUID_RE);
});

test('the sandbox exits 0 on SIGTERM', async () => {
  await Promise.all(env.clients.map((c) => c.disconnectUser(500)));
  await sb.stop();
});
