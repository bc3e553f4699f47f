// queryChannels (filter, sort, state, watch), distinct member channels, presence events and
// queryUsers with presence.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestEnv, upsertUsers } from './lib/sandbox.mjs';

const env = new TestEnv();
let sb, server;
let alice, bob;
let aliceLog, bobLog;
const sent = {}; // cid -> [message ids in send order]

async function serverSend(cid, userId, text) {
  const [type, id] = cid.split(':');
  const res = await server.channel(type, id).sendMessage({ text, user_id: userId });
  (sent[cid] ||= []).push(res.message.id);
  return res.message;
}

before(async () => {
  sb = await env.sandbox();
  server = await upsertUsers(sb, ['alice', 'bob', 'carol', 'dave']);
  // server-side channels; creation order and last_message_at differ on purpose
  const defs = [
    ['c-a', ['alice', 'bob']],
    ['c-b', ['alice', 'carol']],
    ['c-other', ['bob', 'carol']],
  ];
  for (const [id, members] of defs) {
    await server.channel('messaging', id, { members, created_by_id: members[0] }).create();
  }
  await serverSend('messaging:c-a', 'alice', 'a1');
  await serverSend('messaging:c-a', 'bob', 'a2');
  await serverSend('messaging:c-other', 'bob', 'o1');
  await serverSend('messaging:c-b', 'carol', 'b1'); // c-b has the latest message

  ({ client: alice } = await env.connect(sb, 'alice'));
  ({ client: bob } = await env.connect(sb, 'bob'));
  aliceLog = env.log(alice, 'alice');
  bobLog = env.log(bob, 'bob');
});
after(() => env.cleanup());

test('queryChannels returns alice’s channels, sorted by last_message_at, with state', async () => {
  const raw = [];
  const sub = alice.on('channels.queried', (e) => raw.push(...e.queriedChannels.channels));
  let channels;
  try {
    channels = await alice.queryChannels(
      { members: { $in: ['alice'] } },
      { last_message_at: -1 },
      { watch: true, state: true, presence: true },
    );
  } finally {
    sub.unsubscribe();
  }
  assert.deepEqual(
    channels.map((c) => c.cid),
    ['messaging:c-b', 'messaging:c-a'],
    'exactly alice’s channels, newest last_message_at first',
  );
  assert.equal(raw.length, 2, 'raw channel states in the response');
  const byCid = Object.fromEntries(raw.map((s) => [s.channel.cid, s]));
  const a = byCid['messaging:c-a'];
  assert.deepEqual(a.messages.map((m) => m.id), sent['messaging:c-a'], 'messages, oldest first');
  assert.deepEqual(a.messages.map((m) => m.text), ['a1', 'a2']);
  assert.deepEqual(a.members.map((m) => m.user_id).sort(), ['alice', 'bob']);
  assert.ok(Array.isArray(a.read), 'read is an array');
  assert.deepEqual(a.read.map((r) => r.user?.id).sort(), ['alice', 'bob'], 'one read entry per member');
  for (const r of a.read) {
    assert.ok(!Number.isNaN(Date.parse(r.last_read)), 'read.last_read parses');
    assert.equal(typeof r.unread_messages, 'number');
  }
  assert.equal(a.read.find((r) => r.user.id === 'alice').unread_messages, 1, 'alice has one unread (bob’s a2)');
  assert.ok(Date.parse(a.channel.last_message_at) > 0, 'channel.last_message_at set');
  assert.equal(a.channel.member_count, 2);
  assert.deepEqual(byCid['messaging:c-b'].messages.map((m) => m.text), ['b1']);

  const chA = channels.find((c) => c.cid === 'messaging:c-a');
  assert.deepEqual(chA.state.messages.map((m) => m.id), sent['messaging:c-a']);
  assert.deepEqual(Object.keys(chA.state.members).sort(), ['alice', 'bob']);
});

test('queryChannels with watch:true subscribes the connection (live message.new)', async () => {
  const m = await serverSend('messaging:c-a', 'bob', 'live after query');
  const ev = await aliceLog.waitFor('message.new', (e) => e.message?.id === m.id);
  assert.equal(ev.cid, 'messaging:c-a');
  const m2 = await serverSend('messaging:c-b', 'carol', 'live in c-b');
  await aliceLog.waitFor('message.new', (e) => e.message?.id === m2.id);
});

test('queryChannels filters by cid and by type, limit and offset', async () => {
  const one = await alice.queryChannels({ cid: { $in: ['messaging:c-a'] } }, {}, { watch: false });
  assert.deepEqual(one.map((c) => c.cid), ['messaging:c-a']);
  const page1 = await alice.queryChannels({ type: 'messaging', members: { $in: ['alice'] } }, { last_message_at: -1 }, { limit: 1, watch: false });
  const page2 = await alice.queryChannels({ type: 'messaging', members: { $in: ['alice'] } }, { last_message_at: -1 }, { limit: 1, offset: 1, watch: false });
  assert.equal(page1.length, 1);
  assert.equal(page2.length, 1);
  assert.notEqual(page1[0].cid, page2[0].cid);
  assert.deepEqual([page1[0].cid, page2[0].cid].sort(), ['messaging:c-a', 'messaging:c-b']);
});

test('distinct channel by members: same cid from both sides, messaging:!members-…', async () => {
  const chAlice = alice.channel('messaging', { members: ['alice', 'bob'] });
  const sA = await chAlice.watch();
  assert.ok(sA.channel.cid.startsWith('messaging:!members-'), `distinct cid, got ${sA.channel.cid}`);
  assert.equal(chAlice.cid, sA.channel.cid, 'the SDK adopted the server-made id');
  assert.equal(sA.channel.id, sA.channel.cid.slice('messaging:'.length));
  assert.deepEqual(sA.members.map((m) => m.user_id).sort(), ['alice', 'bob']);

  const chBob = bob.channel('messaging', { members: ['bob', 'alice'] });
  const sB = await chBob.watch();
  assert.equal(sB.channel.cid, sA.channel.cid, 'same members in another order → same channel');

  const { message } = await chAlice.sendMessage({ text: 'distinct hello' });
  const ev = await bobLog.waitFor('message.new', (e) => e.message?.id === message.id);
  assert.equal(ev.cid, sA.channel.cid);

  const other = alice.channel('messaging', { members: ['alice', 'carol'] });
  const sO = await other.watch();
  assert.notEqual(sO.channel.cid, sA.channel.cid, 'different members → different channel');
});

test('presence: bob (watching with presence:true) sees carol come online and go offline', async () => {
  const ch = bob.channel('messaging', 'c-other');
  const st = await ch.watch({ presence: true });
  const carolMember = st.members.find((m) => m.user_id === 'carol');
  assert.ok(carolMember, 'carol is a member');
  assert.equal(carolMember.user.online, false, 'carol is offline before connecting');

  const { client: carol } = await env.connect(sb, 'carol');
  const on = await bobLog.waitFor('user.presence.changed', (e) => e.user?.id === 'carol' && e.user.online === true);
  assert.ok(!Number.isNaN(Date.parse(on.created_at)));
  assert.ok(on.user.last_active && !Number.isNaN(Date.parse(on.user.last_active)), 'user.last_active set');

  await carol.disconnectUser(1000);
  const off = await bobLog.waitFor('user.presence.changed', (e) => e.user?.id === 'carol' && e.user.online === false, {
    timeout: 10_000,
  });
  assert.ok(bobLog.events.indexOf(off) > bobLog.events.indexOf(on), 'offline after online');
});

test('presence: a second connection of an online user does not announce again; the last disconnect does', async () => {
  // alice is already online; a second alice connection must not produce online:true again
  const baseline = bobLog.count('user.presence.changed', (e) => e.user?.id === 'alice');
  const ch = bob.channel('messaging', 'c-a');
  await ch.watch({ presence: true });
  const { client: alice2 } = await env.connect(sb, 'alice');
  // sentinel: a message through the same channel arrives after any presence event of the connect
  const m = await serverSend('messaging:c-a', 'bob', 'sentinel');
  await bobLog.waitFor('message.new', (e) => e.message?.id === m.id);
  assert.equal(
    bobLog.count('user.presence.changed', (e) => e.user?.id === 'alice'),
    baseline,
    'no presence change while another connection of alice stays up',
  );
  await alice2.disconnectUser(1000);
  const m2 = await serverSend('messaging:c-a', 'bob', 'sentinel 2');
  await bobLog.waitFor('message.new', (e) => e.message?.id === m2.id);
  assert.equal(
    bobLog.count('user.presence.changed', (e) => e.user?.id === 'alice' && e.user.online === false),
    0,
    'alice is still online through her first connection',
  );
});

test('user custom fields are stored and returned flat', async () => {
  await server.upsertUsers([{ id: 'erin', name: 'Erin', favorite_color: 'teal', level: 7 }]);
  const { users } = await alice.queryUsers({ id: { $in: ['erin'] } });
  assert.equal(users.length, 1);
  assert.equal(users[0].name, 'Erin');
  assert.equal(users[0].favorite_color, 'teal');
  assert.equal(users[0].level, 7);
  assert.ok(!Number.isNaN(Date.parse(users[0].created_at)), 'created_at');
  assert.equal(users[0].role, 'user', 'default role');
});

test('queryUsers with presence:true returns online flags and subscribes to presence', async () => {
  const { users } = await alice.queryUsers({ id: { $in: ['bob', 'carol', 'dave'] } }, {}, { presence: true });
  const byId = Object.fromEntries(users.map((u) => [u.id, u]));
  assert.deepEqual(Object.keys(byId).sort(), ['bob', 'carol', 'dave']);
  assert.equal(byId.bob.online, true, 'bob is connected');
  assert.equal(byId.carol.online, false, 'carol disconnected');
  assert.equal(byId.dave.online, false, 'dave never connected');

  await env.connect(sb, 'dave');
  const ev = await aliceLog.waitFor('user.presence.changed', (e) => e.user?.id === 'dave' && e.user.online === true);
  assert.equal(ev.user.id, 'dave');
});

test('the sandbox exits 0 on SIGTERM', async () => {
  await Promise.all(env.clients.map((c) => c.disconnectUser(500)));
  await sb.stop();
});
