// Persistence and reconnection across a sandbox restart: SIGTERM the sandbox, start a new one
// on the same port and data dir; the SDK reconnects by itself, recovers channel state, and
// live messaging continues.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestEnv, UUID_RE, portIsFree, upsertUsers } from './lib/sandbox.mjs';

const env = new TestEnv();
let dataDir, sb1, sb2, port, apiKey, apiSecret;
let alice, bob, aliceLog, bobLog, chA, chB;
const before_ids = [];
let oldAliceConn, oldBobConn;

before(async () => {
  dataDir = await env.tempDir();
  sb1 = await env.sandbox({ dataDir });
  ({ port, apiKey, apiSecret } = sb1);
  await upsertUsers(sb1, ['alice', 'bob']);
  ({ client: alice } = await env.connect(sb1, 'alice'));
  ({ client: bob } = await env.connect(sb1, 'bob'));
  aliceLog = env.log(alice, 'alice');
  bobLog = env.log(bob, 'bob');
  chA = alice.channel('messaging', 'persist', { members: ['alice', 'bob'] });
  await chA.watch();
  chB = bob.channel('messaging', 'persist');
  await chB.watch();
});
after(() => env.cleanup());

test('before the restart: messages are exchanged and read state is set', async () => {
  for (const text of ['one', 'two', 'three']) {
    const { message } = await chA.sendMessage({ text });
    before_ids.push(message.id);
    await bobLog.waitFor('message.new', (e) => e.message?.id === message.id);
  }
  const r = await chB.markRead();
  assert.equal(r?.event?.type, 'message.read');
  oldAliceConn = alice.wsConnection.connectionID;
  oldBobConn = bob.wsConnection.connectionID;
  assert.match(oldAliceConn, UUID_RE);
  assert.match(oldBobConn, UUID_RE);
});

test('SIGTERM: the sandbox exits 0', async () => {
  await sb1.stop();
});

test('a new sandbox on the same port and data dir: both SDK clients reconnect by themselves', async () => {
  const recA = aliceLog.count('connection.recovered');
  const recB = bobLog.count('connection.recovered');
  // the port was just freed; should something else hold it meanwhile, wait until it is free
  // again (a condition with a deadline) and retry instead of flaking
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      sb2 = await env.sandbox({ dataDir, listen: `127.0.0.1:${port}`, apiKey, apiSecret });
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await env.waitFor(() => portIsFree(port), { timeout: 10_000, what: `port ${port} to be free again` });
    }
  }
  assert.equal(sb2.port, port, 'listening on the requested port');
  for (const [c, log, rec, old, name] of [
    [alice, aliceLog, recA, oldAliceConn, 'alice'],
    [bob, bobLog, recB, oldBobConn, 'bob'],
  ]) {
    await env.waitFor(
      () =>
        log.count('connection.recovered') > rec &&
        c.wsConnection.isHealthy &&
        c.wsConnection.connectionID &&
        c.wsConnection.connectionID !== old,
      { timeout: 30_000, what: `${name} to reconnect and recover (connection.recovered, new connection_id)` },
    );
    assert.match(c.wsConnection.connectionID, UUID_RE);
  }
});

test('recovered channel state holds the messages from before the restart', async () => {
  const ids = chB.state.messages.map((m) => m.id);
  for (const id of before_ids) assert.ok(ids.includes(id), `bob's state has ${id}`);
  assert.deepEqual(
    chB.state.messages.filter((m) => before_ids.includes(m.id)).map((m) => m.text),
    ['one', 'two', 'three'],
  );
});

test('the new sandbox serves the persisted data to a fresh client', async () => {
  const { client: fresh } = await env.connect(sb2, 'alice');
  const q = await fresh.channel('messaging', 'persist').query({ messages: { limit: 50 } });
  assert.deepEqual(q.messages.map((m) => m.id), before_ids, 'messages survived, in order');
  assert.deepEqual(q.members.map((m) => m.user_id).sort(), ['alice', 'bob'], 'members survived');
  const bobRead = (q.read || []).find((r) => r.user?.id === 'bob');
  assert.ok(bobRead, 'bob’s read state survived');
  assert.equal(bobRead.unread_messages, 0);
  const { users } = await fresh.queryUsers({ id: { $in: ['alice', 'bob'] } });
  assert.deepEqual(users.map((u) => u.id).sort(), ['alice', 'bob'], 'users survived');
  const { message } = await fresh.getMessage(before_ids[1]);
  assert.equal(message.text, 'two');
  await fresh.disconnectUser(500);
});

test('live messaging works after the restart on the recovered watches', async () => {
  const { message } = await chA.sendMessage({ text: 'after restart' });
  const ev = await bobLog.waitFor('message.new', (e) => e.message?.id === message.id);
  assert.equal(ev.message.text, 'after restart');
  const back = await chB.sendMessage({ text: 'welcome back' });
  await aliceLog.waitFor('message.new', (e) => e.message?.id === back.message.id);
  // a message id from before the restart is still taken
  await assert.rejects(chA.sendMessage({ id: before_ids[0], text: 'dup' }), (err) => err.code === 4);
});

test('the second sandbox exits 0 on SIGTERM', async () => {
  await Promise.all(env.clients.map((c) => c.disconnectUser(500)));
  await sb2.stop();
});
