// Client-supplied message ids: re-sending an id fails with code 4 "already exists", and the
// other watcher sees exactly one message.new for it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestEnv, upsertUsers, randomUUID } from './lib/sandbox.mjs';

const env = new TestEnv();
let sb, alice, bob, chA, chB, aliceLog, bobLog;
const id = randomUUID();

before(async () => {
  sb = await env.sandbox();
  await upsertUsers(sb, ['alice', 'bob']);
  ({ client: alice } = await env.connect(sb, 'alice'));
  ({ client: bob } = await env.connect(sb, 'bob'));
  aliceLog = env.log(alice, 'alice');
  bobLog = env.log(bob, 'bob');
  chA = alice.channel('messaging', 'dup', { members: ['alice', 'bob'] });
  await chA.watch();
  chB = bob.channel('messaging', 'dup');
  await chB.watch();
});
after(() => env.cleanup());

test('the first send with a client-made id keeps that id', async () => {
  const res = await chA.sendMessage({ id, text: 'once' });
  assert.equal(res.message.id, id);
  assert.equal(res.message.text, 'once');
  const ev = await bobLog.waitFor('message.new', (e) => e.message?.id === id);
  assert.equal(ev.message.text, 'once');
});

test('re-sending the same id rejects with code 4, HTTP 400, "already exists"', async () => {
  await assert.rejects(chA.sendMessage({ id, text: 'twice' }), (err) => {
    assert.equal(err.code, 4, `code 4, got ${err.code}: ${err.message}`);
    assert.equal(err.status, 400);
    assert.match(err.message, /already exists/);
    const body = err.response?.data;
    assert.equal(body?.code, 4);
    assert.equal(body?.StatusCode, 400);
    assert.match(body?.message, new RegExp(`a message with ID ${id} already exists`));
    assert.equal(typeof body?.duration, 'string');
    assert.equal(typeof body?.more_info, 'string');
    return true;
  });
});

test('bob got exactly one message.new for the id (checked behind a later sentinel message)', async () => {
  const sentinel = await chA.sendMessage({ text: 'sentinel' });
  // events of one channel arrive in order: a message.new from the duplicate would precede this
  await bobLog.waitFor('message.new', (e) => e.message?.id === sentinel.message.id);
  await aliceLog.waitFor('message.new', (e) => e.message?.id === sentinel.message.id);
  assert.equal(bobLog.count('message.new', (e) => e.message?.id === id), 1);
  assert.equal(aliceLog.count('message.new', (e) => e.message?.id === id), 1, 'the sender too');
  assert.equal(bobLog.count('message.updated', (e) => e.message?.id === id), 0, 'no message.updated either');
});

test('channel state holds the message once, with the first text', async () => {
  assert.equal(chB.state.messages.filter((m) => m.id === id).length, 1);
  assert.equal(chA.state.messages.filter((m) => m.id === id).length, 1);
  const { messages } = await chB.getMessagesById([id]);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].text, 'once', 'the duplicate did not overwrite the message');
  const q = await chB.query({ messages: { limit: 50 } });
  assert.equal(q.messages.filter((m) => m.id === id).length, 1);
});

test('message ids are global: the same id in another channel is also a duplicate', async () => {
  const other = alice.channel('messaging', 'dup-other', { members: ['alice'] });
  await other.watch();
  await assert.rejects(other.sendMessage({ id, text: 'elsewhere' }), (err) => {
    assert.equal(err.code, 4);
    assert.match(err.message, /already exists/);
    return true;
  });
});

test('the sandbox exits 0 on SIGTERM', async () => {
  await Promise.all([alice.disconnectUser(500), bob.disconnectUser(500)]);
  await sb.stop();
});
