// Message pagination on a 120-message channel: id_lt walking back, id_gt walking forward,
// id_lte / id_gte / id_around, getMessagesById, default page size and message_limit.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestEnv, upsertUsers } from './lib/sandbox.mjs';

const env = new TestEnv();
const TOTAL = 120;
const PAGE = 25;
let sb, alice, ch;
const ids = []; // in send order = chronological order

before(async () => {
  sb = await env.sandbox();
  const server = await upsertUsers(sb, ['alice', 'bob']);
  const sch = server.channel('messaging', 'long', { members: ['alice', 'bob'], created_by_id: 'alice' });
  await sch.create();
  for (let i = 0; i < TOTAL; i++) {
    // alternate senders; sequential so created_at strictly follows send order
    const res = await sch.sendMessage({ text: `m${i}`, user_id: i % 2 ? 'bob' : 'alice' });
    ids.push(res.message.id);
  }
  assert.equal(new Set(ids).size, TOTAL, 'the server made unique ids');
  ({ client: alice } = await env.connect(sb, 'alice'));
  ch = alice.channel('messaging', 'long');
});
after(() => env.cleanup());

const idx = (list) => list.map((m) => ids.indexOf(m.id));

test('first page: the latest 25, oldest first', async () => {
  const res = await ch.query({ messages: { limit: PAGE } });
  assert.deepEqual(idx(res.messages), [...Array(PAGE).keys()].map((i) => TOTAL - PAGE + i));
  assert.deepEqual(res.messages.map((m) => m.text), res.messages.map((m) => `m${ids.indexOf(m.id)}`));
});

test('id_lt walks back through all 120 with no gaps or duplicates', async () => {
  let page = (await ch.query({ messages: { limit: PAGE } })).messages;
  const seen = [...page];
  const sizes = [page.length];
  for (let guard = 0; guard < 10; guard++) {
    const oldest = page[0].id;
    page = (await ch.query({ messages: { limit: PAGE, id_lt: oldest } })).messages;
    if (page.length === 0) break;
    sizes.push(page.length);
    const pi = idx(page);
    assert.ok(pi.every((v) => v >= 0), 'only known messages');
    assert.ok(pi.every((v, i) => i === 0 || v === pi[i - 1] + 1), `page is contiguous and ascending: ${pi}`);
    assert.equal(pi.at(-1), ids.indexOf(oldest) - 1, 'page ends right before the previous oldest');
    seen.unshift(...page);
  }
  assert.deepEqual(sizes, [25, 25, 25, 25, 20]);
  assert.deepEqual(seen.map((m) => m.id), ids, 'all messages exactly once, in order');
});

test('id_gt walks forward from the first message', async () => {
  const got = [];
  let cursor = ids[0];
  for (let guard = 0; guard < 10; guard++) {
    const page = (await ch.query({ messages: { limit: PAGE, id_gt: cursor } })).messages;
    if (page.length === 0) break;
    const pi = idx(page);
    assert.equal(pi[0], ids.indexOf(cursor) + 1, 'page starts right after the cursor');
    assert.ok(pi.every((v, i) => i === 0 || v === pi[i - 1] + 1), `page is contiguous and ascending: ${pi}`);
    got.push(...page);
    cursor = page.at(-1).id;
  }
  assert.deepEqual(got.map((m) => m.id), ids.slice(1));
});

test('id_lte and id_gte include the cursor', async () => {
  const lte = (await ch.query({ messages: { limit: 3, id_lte: ids[50] } })).messages;
  assert.deepEqual(idx(lte), [48, 49, 50]);
  const gte = (await ch.query({ messages: { limit: 3, id_gte: ids[50] } })).messages;
  assert.deepEqual(idx(gte), [50, 51, 52]);
});

test('id_around returns a contiguous window containing the message', async () => {
  const around = (await ch.query({ messages: { limit: 5, id_around: ids[60] } })).messages;
  const pi = idx(around);
  assert.equal(pi.length, 5);
  assert.ok(pi.includes(60), `window contains the message: ${pi}`);
  assert.ok(pi.every((v, i) => i === 0 || v === pi[i - 1] + 1), `contiguous ascending: ${pi}`);
  assert.ok(pi[0] >= 56 && pi.at(-1) <= 64, `window is around the message: ${pi}`);
});

test('getMessagesById returns exactly the requested messages', async () => {
  const want = [ids[3], ids[77], ids[119]];
  const res = await ch.getMessagesById(want);
  assert.deepEqual(res.messages.map((m) => m.id).sort(), [...want].sort());
  for (const m of res.messages) assert.equal(m.text, `m${ids.indexOf(m.id)}`);
  const withUnknown = await ch.getMessagesById([ids[5], 'does-not-exist']);
  assert.deepEqual(withUnknown.messages.map((m) => m.id), [ids[5]], 'unknown ids are left out');
});

test('a channel query without a messages limit returns the latest 100 (the SDK’s assumed page)', async () => {
  const res = await ch.query({});
  assert.deepEqual(idx(res.messages), [...Array(100).keys()].map((i) => TOTAL - 100 + i));
});

test('queryChannels message_limit bounds the messages per channel', async () => {
  const raw = [];
  const sub = alice.on('channels.queried', (e) => raw.push(...e.queriedChannels.channels));
  try {
    await alice.queryChannels({ cid: { $in: ['messaging:long'] } }, {}, { message_limit: 10, watch: false });
  } finally {
    sub.unsubscribe();
  }
  assert.equal(raw.length, 1);
  assert.deepEqual(idx(raw[0].messages), [...Array(10).keys()].map((i) => TOTAL - 10 + i));
  assert.equal(raw[0].channel.message_count ?? TOTAL, TOTAL, 'message_count, when present, is 120');
});

test('SDK state: paginating with id_lt fills channel.state.messages with all 120 in order', async () => {
  // a fresh client, so the channel state starts empty
  const { client: fresh } = await env.connect(sb, 'alice');
  const c = fresh.channel('messaging', 'long');
  await c.watch({ messages: { limit: PAGE } });
  assert.deepEqual(c.state.messages.map((m) => m.id), ids.slice(-PAGE));
  let queries = 0;
  for (let guard = 0; guard < 10 && c.state.messages.length < TOTAL; guard++) {
    await c.query({ messages: { limit: PAGE, id_lt: c.state.messages[0].id } }, 'current');
    queries += 1;
  }
  assert.equal(queries, 4, 'four older pages');
  assert.deepEqual(c.state.messages.map((m) => m.id), ids);
});

test('the sandbox exits 0 on SIGTERM', async () => {
  await Promise.all(env.clients.map((c) => c.disconnectUser(500)));
  await sb.stop();
});
