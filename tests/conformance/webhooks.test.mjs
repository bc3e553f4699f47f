// Webhooks: POST of the event JSON with X-Signature (hex HMAC-SHA256 of the body, keyed by the
// secret), X-Webhook-Id, X-Webhook-Attempt and X-Api-Key; a 5xx answer is retried with the same
// webhook id and the next attempt number. Verified with the SDK's own verifyWebhook.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { TestEnv, UUID_RE, StreamChat, upsertUsers } from './lib/sandbox.mjs';

const env = new TestEnv();
let sb, server, alice, ch;
const deliveries = []; // {headers, raw: Buffer, body, status}
let failFirst = () => false; // decides which first attempts get a 500

before(async () => {
  const receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = undefined;
      }
      const d = { method: req.method, url: req.url, headers: req.headers, raw, body };
      const seen = deliveries.some((x) => x.headers['x-webhook-id'] === req.headers['x-webhook-id']);
      d.status = !seen && body && failFirst(body) ? 500 : 200;
      deliveries.push(d);
      res.writeHead(d.status, { 'content-type': 'text/plain' });
      res.end(d.status === 200 ? 'ok' : 'try again');
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  env.server(receiver);
  const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

  sb = await env.sandbox({ webhookUrl: hookUrl });
  server = await upsertUsers(sb, ['alice', 'bob']);
  ({ client: alice } = await env.connect(sb, 'alice'));
  ch = alice.channel('messaging', 'hooks', { members: ['alice', 'bob'] });
  await ch.watch();
});
after(() => env.cleanup());

function messageNewDeliveries(id) {
  return deliveries.filter((d) => d.body?.type === 'message.new' && d.body?.message?.id === id);
}

test('sending a message delivers a signed message.new webhook', async () => {
  const { message } = await ch.sendMessage({ text: 'hook me' });
  const [d] = await env.waitFor(() => {
    const got = messageNewDeliveries(message.id);
    return got.length ? got : null;
  }, { what: 'the message.new webhook' });
  assert.equal(d.method, 'POST');
  assert.equal(d.url, '/hook');
  assert.match(d.headers['content-type'] || '', /^application\/json/);
  assert.equal(d.body.cid, 'messaging:hooks');
  assert.equal(d.body.message.text, 'hook me');
  assert.equal(d.body.user?.id, 'alice');
  assert.ok(!Number.isNaN(Date.parse(d.body.created_at)));

  assert.match(d.headers['x-webhook-id'] || '', UUID_RE, 'X-Webhook-Id is a UUID');
  assert.equal(d.headers['x-webhook-attempt'], '1');
  assert.equal(d.headers['x-api-key'], sb.apiKey);
  const sig = d.headers['x-signature'];
  assert.match(sig || '', /^[0-9a-f]{64}$/, 'X-Signature is lowercase hex SHA-256');
  assert.equal(sig, createHmac('sha256', sb.apiSecret).update(d.raw).digest('hex'));
  assert.equal(server.verifyWebhook(d.raw, sig), true, 'serverClient.verifyWebhook accepts it');
  assert.equal(server.verifyWebhook(d.raw.toString('utf8'), sig), true, 'also as a string');
  const parsed = server.verifyAndParseWebhook(d.raw, sig);
  assert.equal(parsed.type, 'message.new');
});

test('a tampered body or another secret fails verification', async () => {
  const d = deliveries.find((x) => x.body?.type === 'message.new');
  assert.ok(d, 'a delivery to tamper with');
  const sig = d.headers['x-signature'];
  const tampered = Buffer.from(d.raw.toString('utf8').replace('hook me', 'hook mE'));
  assert.notDeepEqual(tampered, d.raw);
  assert.equal(server.verifyWebhook(tampered, sig), false);
  const flipped = Buffer.from(d.raw);
  flipped[flipped.length - 1] ^= 0x01;
  assert.equal(server.verifyWebhook(flipped, sig), false);
  const other = new StreamChat(sb.apiKey, 'some-other-secret', { baseURL: sb.url });
  assert.equal(other.verifyWebhook(d.raw, sig), false);
  assert.throws(() => server.verifyAndParseWebhook(tampered, sig), /signature mismatch/);
});

test('each event has its own X-Webhook-Id', async () => {
  const a = await ch.sendMessage({ text: 'first of two' });
  const b = await ch.sendMessage({ text: 'second of two' });
  const [da, db] = await env.waitFor(() => {
    const x = messageNewDeliveries(a.message.id)[0];
    const y = messageNewDeliveries(b.message.id)[0];
    return x && y ? [x, y] : null;
  }, { what: 'two message.new webhooks' });
  assert.notEqual(da.headers['x-webhook-id'], db.headers['x-webhook-id']);
});

test('a 500 answer is retried with the same X-Webhook-Id and X-Webhook-Attempt 2', async () => {
  failFirst = (body) => body.type === 'message.new' && body.message?.text === 'retry me';
  const { message } = await ch.sendMessage({ text: 'retry me' });
  const [first, second] = await env.waitFor(() => {
    const got = messageNewDeliveries(message.id);
    return got.length >= 2 ? got : null;
  }, { timeout: 30_000, what: 'the retried message.new webhook' });
  assert.equal(first.status, 500);
  assert.equal(first.headers['x-webhook-attempt'], '1');
  assert.equal(second.headers['x-webhook-attempt'], '2');
  assert.equal(second.headers['x-webhook-id'], first.headers['x-webhook-id'], 'same id across retries');
  assert.equal(second.status, 200);
  assert.deepEqual(second.raw, first.raw, 'same body');
  assert.equal(server.verifyWebhook(second.raw, second.headers['x-signature']), true);
});

test('other events are delivered too (message.read)', async () => {
  const bob = (await env.connect(sb, 'bob')).client;
  const chB = bob.channel('messaging', 'hooks');
  await chB.watch();
  await chB.markRead();
  const d = await env.waitFor(
    () => deliveries.find((x) => x.body?.type === 'message.read' && x.body?.user?.id === 'bob'),
    { what: 'the message.read webhook' },
  );
  assert.equal(d.body.cid, 'messaging:hooks');
  assert.equal(server.verifyWebhook(d.raw, d.headers['x-signature']), true);
});

test('the sandbox exits 0 on SIGTERM', async () => {
  await Promise.all(env.clients.map((c) => c.disconnectUser(500)));
  await sb.stop();
});
