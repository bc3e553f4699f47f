// Live messaging between two WebSocket users: message.new both ways, unread counts,
// message.read / notification.mark_read, notification.message_new for a member who is not
// watching, typing events, edits and deletes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestEnv, upsertUsers } from './lib/sandbox.mjs';

const env = new TestEnv();
let sb;
let alice, bob, carol; // user clients
let chA, chB; // alice's and bob's view of messaging:room-1
let aliceLog, bobLog, carolLog;
let firstMsgId; // alice's first message in room-1
let lastSentId; // the newest message in room-1 when bob marks it read

before(async () => {
  sb = await env.sandbox();
  await upsertUsers(sb, ['alice', 'bob', 'carol']);
  [alice, bob, carol] = (
    await Promise.all(['alice', 'bob', 'carol'].map((id) => env.connect(sb, id)))
  ).map((r) => r.client);
  aliceLog = env.log(alice, 'alice');
  bobLog = env.log(bob, 'bob');
  carolLog = env.log(carol, 'carol');
});
after(() => env.cleanup());

function assertMessageShape(m, { text, userId, cid }) {
  assert.equal(typeof m.id, 'string');
  assert.ok(m.id.length > 0);
  assert.equal(m.text, text);
  assert.equal(m.type, 'regular');
  assert.equal(m.user?.id, userId);
  assert.equal(m.cid, cid);
  assert.ok(!Number.isNaN(Date.parse(m.created_at)), `created_at parses: ${m.created_at}`);
  assert.ok(!Number.isNaN(Date.parse(m.updated_at)), `updated_at parses: ${m.updated_at}`);
  for (const k of ['attachments', 'latest_reactions', 'own_reactions', 'mentioned_users']) {
    assert.ok(Array.isArray(m[k]), `message.${k} is an array`);
  }
  assert.equal(typeof m.reply_count, 'number', 'message.reply_count is a number');
}

test('alice creates messaging:room-1 with members and both watch it', async () => {
  chA = alice.channel('messaging', 'room-1', { members: ['alice', 'bob', 'carol'], name: 'Room One', topic: 'testing' });
  const state = await chA.watch();
  assert.equal(state.channel.name, 'Room One', 'channel name');
  assert.equal(state.channel.topic, 'testing', 'channel custom data is flat');
  assert.equal(state.channel.cid, 'messaging:room-1');
  assert.equal(state.channel.id, 'room-1');
  assert.equal(state.channel.type, 'messaging');
  assert.equal(state.channel.created_by?.id, 'alice');
  assert.deepEqual(state.members.map((m) => m.user_id).sort(), ['alice', 'bob', 'carol']);
  for (const m of state.members) assert.equal(m.user?.id, m.user_id, 'member.user is embedded');
  assert.equal(state.channel.member_count, 3);
  assert.deepEqual(state.messages, []);
  assert.equal(state.channel.config?.typing_events, true, 'config.typing_events');
  assert.equal(state.channel.config?.read_events, true, 'config.read_events');
  assert.ok(Array.isArray(state.channel.own_capabilities), 'own_capabilities is an array');
  for (const cap of ['send-message', 'read-events', 'send-typing-events']) {
    assert.ok(state.channel.own_capabilities.includes(cap), `own_capabilities includes ${cap}`);
  }

  chB = bob.channel('messaging', 'room-1');
  const stateB = await chB.watch();
  assert.equal(stateB.channel.cid, 'messaging:room-1');
  assert.equal(stateB.channel.member_count, 3);
  // bob's watch makes alice see him start watching
  const ev = await aliceLog.waitFor('user.watching.start', (e) => e.user?.id === 'bob' && e.cid === 'messaging:room-1');
  assert.equal(typeof ev.watcher_count, 'number');
});

test('alice → bob: message.new reaches bob with the same id and text, and unread counts', async () => {
  const res = await chA.sendMessage({ text: 'hello bob' });
  assertMessageShape(res.message, { text: 'hello bob', userId: 'alice', cid: 'messaging:room-1' });
  const id = res.message.id;
  firstMsgId = id;

  const ev = await bobLog.waitFor('message.new', (e) => e.message?.id === id);
  assert.equal(ev.cid, 'messaging:room-1');
  assert.equal(ev.channel_id, 'room-1');
  assert.equal(ev.channel_type, 'messaging');
  assert.equal(ev.user?.id, 'alice');
  assert.equal(ev.message.text, 'hello bob');
  assertMessageShape(ev.message, { text: 'hello bob', userId: 'alice', cid: 'messaging:room-1' });
  assert.ok(!Number.isNaN(Date.parse(ev.created_at)), 'event created_at parses');
  assert.equal(typeof ev.watcher_count, 'number', 'message.new watcher_count');
  assert.ok(ev.unread_count >= 1, `bob's unread_count >= 1, got ${ev.unread_count}`);
  assert.ok(ev.total_unread_count >= 1, `bob's total_unread_count >= 1, got ${ev.total_unread_count}`);
  assert.ok(ev.unread_channels >= 1, `bob's unread_channels >= 1, got ${ev.unread_channels}`);

  await bobLog.waitFor(() => chB.state.messages.some((m) => m.id === id), { what: "bob's channel state has the message" });
  assert.equal(chB.countUnread(), 1, "bob's SDK counts one unread message");

  // the sender gets its own message.new too, without counting it as unread
  const own = await aliceLog.waitFor('message.new', (e) => e.message?.id === id);
  assert.equal(own.unread_count, 0, 'own message is not unread for the sender');
});

test('carol (member, connected, not watching) gets notification.message_new with the channel', async () => {
  const ev = await carolLog.waitFor('notification.message_new', (e) => e.message?.id === firstMsgId);
  assert.equal(ev.cid, 'messaging:room-1');
  assert.equal(ev.channel?.cid, 'messaging:room-1', 'notification.message_new carries the channel');
  assert.equal(ev.message.text, 'hello bob');
  assert.equal(carolLog.count('message.new', (e) => e.cid === 'messaging:room-1'), 0, 'no message.new for a non-watcher');
});

test('bob → alice: message.new reaches alice', async () => {
  const res = await chB.sendMessage({ text: 'hi alice' });
  const id = res.message.id;
  const ev = await aliceLog.waitFor('message.new', (e) => e.message?.id === id);
  assert.equal(ev.message.text, 'hi alice');
  assert.equal(ev.user?.id, 'bob');
  assert.ok(ev.unread_count >= 1, `alice's unread_count >= 1, got ${ev.unread_count}`);
  await aliceLog.waitFor(() => chA.state.messages.some((m) => m.id === id), { what: "alice's state has bob's message" });
  await bobLog.waitFor(() => chB.state.messages.some((m) => m.id === id), { what: "bob's own state has his message" });
  lastSentId = id;
});

test('bob marks read: message.read reaches alice, notification.mark_read reaches bob', async () => {
  const lastId = lastSentId;
  const res = await chB.markRead();
  assert.ok(res, 'markRead sent a request (read events enabled and capability present)');
  assert.equal(res.event?.type, 'message.read');
  assert.equal(res.event?.user?.id, 'bob');
  assert.equal(res.event?.cid, 'messaging:room-1');

  const ev = await aliceLog.waitFor('message.read', (e) => e.user?.id === 'bob');
  assert.equal(ev.cid, 'messaging:room-1');
  assert.equal(ev.channel_type, 'messaging');
  assert.equal(ev.channel_id, 'room-1');
  if (ev.last_read_message_id !== undefined) assert.equal(ev.last_read_message_id, lastId);
  await aliceLog.waitFor(() => chA.state.read.bob?.unread_messages === 0, { what: "alice's view: bob has 0 unread" });

  const n = await bobLog.waitFor('notification.mark_read', (e) => e.cid === 'messaging:room-1');
  assert.equal(n.unread_count, 0, 'notification.mark_read unread_count');
  assert.equal(n.total_unread_count, 0, 'notification.mark_read total_unread_count');
  assert.equal(n.unread_channels, 0, 'notification.mark_read unread_channels');
  await bobLog.waitFor('message.read', (e) => e.user?.id === 'bob', { what: 'bob’s own message.read (he watches the channel)' });
  assert.equal(chB.countUnread(), 0);
});

test('after mark read, unread_count counts up exactly: 1 then 2', async () => {
  const r1 = await chA.sendMessage({ text: 'one' });
  const e1 = await bobLog.waitFor('message.new', (e) => e.message?.id === r1.message.id);
  const r2 = await chA.sendMessage({ text: 'two' });
  const e2 = await bobLog.waitFor('message.new', (e) => e.message?.id === r2.message.id);
  assert.equal(e1.unread_count, 1);
  assert.equal(e2.unread_count, 2);
  assert.equal(e2.total_unread_count, 2);
  assert.equal(e2.unread_channels, 1);

  // the REST view agrees: bob's read entry says 2 unread
  const q = await chB.query({ messages: { limit: 10 } });
  const mine = (q.read || []).find((r) => r.user?.id === 'bob');
  assert.ok(mine, 'channel query returns a read entry for bob');
  assert.equal(mine.unread_messages, 2);
  assert.ok(!Number.isNaN(Date.parse(mine.last_read)), 'read.last_read parses');
});

test('typing.start / typing.stop from alice reach bob', async () => {
  assert.equal(chA.getConfig()?.typing_events, true, 'typing events enabled in the channel config');
  assert.equal(alice.wsConnection.isHealthy, true);
  await chA.keystroke();
  const start = await bobLog.waitFor('typing.start', (e) => e.user?.id === 'alice');
  assert.equal(start.cid, 'messaging:room-1');
  assert.equal(start.channel_id, 'room-1');
  assert.equal(start.channel_type, 'messaging');
  assert.ok(chB.state.typing.alice, "bob's channel state shows alice typing");

  await chA.stopTyping();
  const stop = await bobLog.waitFor('typing.stop', (e) => e.user?.id === 'alice');
  assert.equal(stop.cid, 'messaging:room-1');
  await bobLog.waitFor(() => !chB.state.typing.alice, { what: "bob's state drops alice's typing" });
});

test('custom message fields travel flat', async () => {
  const { message } = await chA.sendMessage({ text: 'with extras', mood: 'happy', priority: 3 });
  assert.equal(message.mood, 'happy');
  assert.equal(message.priority, 3);
  const ev = await bobLog.waitFor('message.new', (e) => e.message?.id === message.id);
  assert.equal(ev.message.mood, 'happy', 'custom field flat on the message in message.new');
  assert.equal(ev.message.priority, 3);
  const { messages } = await chB.getMessagesById([message.id]);
  assert.equal(messages[0].mood, 'happy', 'and when read back');
});

test('sendEvent echoes the broadcast event', async () => {
  const res = await chA.sendEvent({ type: 'typing.start' });
  assert.equal(res.event?.type, 'typing.start');
  assert.equal(res.event?.user?.id, 'alice');
  assert.equal(res.event?.cid, 'messaging:room-1');
  await chA.sendEvent({ type: 'typing.stop' });
  await bobLog.waitForCount(2, 'typing.stop', (e) => e.user?.id === 'alice');
});

test('message edits and deletes reach the other watcher', async () => {
  const { message } = await chA.sendMessage({ text: 'to be edited' });
  await bobLog.waitFor('message.new', (e) => e.message?.id === message.id);

  const up = await alice.updateMessage({ id: message.id, text: 'edited' });
  assert.equal(up.message.text, 'edited');
  const ue = await bobLog.waitFor('message.updated', (e) => e.message?.id === message.id);
  assert.equal(ue.message.text, 'edited');
  assert.equal(ue.cid, 'messaging:room-1');

  const del = await alice.deleteMessage(message.id);
  assert.equal(del.message.id, message.id);
  assert.equal(del.message.type, 'deleted');
  const de = await bobLog.waitFor('message.deleted', (e) => e.message?.id === message.id);
  assert.equal(de.message.type, 'deleted');
  assert.ok(de.message.deleted_at && !Number.isNaN(Date.parse(de.message.deleted_at)), 'deleted_at set');
});

test('the sandbox exits 0 on SIGTERM', async () => {
  await Promise.all([alice, bob, carol].map((c) => c.disconnectUser(500)));
  await sb.stop();
});
