// sdk-client.mjs: the official stream-chat SDK as a benchmark client, printing JSON lines
// the way `confab-cli connect --json` does, so the orchestrator reads both alike.
//
//   node sdk-client.mjs --variant default|fallback|brief --base-url URL --api-key KEY
//                       --user ID --token JWT [--watch]
//
// Variants: default = `new StreamChat(key, {baseURL})`; fallback = the same with
// `enableWSFallback: true`; brief = the user's original pattern, a singleton from
// `StreamChat.getInstance()` and `Promise.race` of connectUser against a 30 s timeout.
//
// Lines (each has elapsed_ms since just before connectUser, and kind):
//   {"kind":"usable","time_to_usable_ms","client_built_ms","transport":"websocket|longpoll","connection_id"}
//   {"kind":"error","message"}                           connectUser rejected (exit 1)
//   --watch only, after usable:
//   {"kind":"health","healthy":bool,"transport"}          the SDK's own health flag flipped
//                                                         (WS: _setHealth; long-poll: _setState)
//   {"kind":"connection.changed","online":bool}          the public event (offline is held 5 s)
//   {"kind":"transport.changed","mode"} / {"kind":"connection.recovered"}
//
// Without --watch it exits 0 once usable. It never exits by itself while connectUser is
// pending: the orchestrator's hard timeout ends the run, so a pending connect is measured
// as what it is.
//
// The SDK is the one tests/conformance installs (package-lock.json there, `npm ci`).
//
// SPDX-License-Identifier: GPL-3.0-or-later

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'conformance', 'package.json'));
const { StreamChat } = require('stream-chat');

// The brief's pattern gives connectUser 30 s, no more.
const BRIEF_TIMEOUT_MS = 30 * 1000;

const { values: opts } = parseArgs({
  options: {
    variant: { type: 'string', default: 'default' },
    'base-url': { type: 'string' },
    'api-key': { type: 'string' },
    user: { type: 'string' },
    token: { type: 'string' },
    watch: { type: 'boolean', default: false },
  },
  strict: true,
});

function usage(message) {
  process.stderr.write(`sdk-client: ${message}\n`);
  process.exit(2);
}

if (!['default', 'fallback', 'brief'].includes(opts.variant)) usage(`unknown --variant ${opts.variant}`);
for (const k of ['base-url', 'api-key', 'user', 'token']) if (!opts[k]) usage(`--${k} is required`);

let t0 = performance.now();
const elapsed = () => Math.round(performance.now() - t0);

function line(kind, fields = {}) {
  process.stdout.write(JSON.stringify({ elapsed_ms: elapsed(), kind, ...fields }) + '\n');
}

const options = {
  baseURL: opts['base-url'],
  allowServerSideConnect: true,
  // The SDK logs to the console by default; the benchmark reads stdout.
  logger: () => {},
};

// The user's singleton (their StreamChatClient.getInstance()).
class StreamChatClient {
  static instance = null;

  static getInstance() {
    if (!StreamChatClient.instance) StreamChatClient.instance = StreamChat.getInstance(opts['api-key'], options);
    return StreamChatClient.instance;
  }
}

function makeClient() {
  if (opts.variant === 'brief') return StreamChatClient.getInstance();
  return new StreamChat(opts['api-key'], {
    ...options,
    ...(opts.variant === 'fallback' ? { enableWSFallback: true } : {}),
  });
}

function transportOf(client) {
  return client.wsFallback ? 'longpoll' : 'websocket';
}

// Reports the SDK's internal health flips as they happen (the public offline event is
// held back 5 s, so this is the earliest the SDK itself knows).
function watchHealth(client) {
  const ws = client.wsConnection;
  if (ws && !ws.__impairHooked) {
    const setHealth = ws._setHealth;
    ws._setHealth = (healthy) => {
      if (healthy !== ws.isHealthy) line('health', { healthy, transport: 'websocket' });
      setHealth(healthy);
    };
    ws.__impairHooked = true;
  }
  const fb = client.wsFallback;
  if (fb && !fb.__impairHooked) {
    const setState = fb._setState.bind(fb);
    fb._setState = (state) => {
      const before = fb.isHealthy();
      setState(state);
      const after = fb.isHealthy();
      if (before !== after) line('health', { healthy: after, transport: 'longpoll' });
    };
    fb.__impairHooked = true;
  }
}

async function connect(client) {
  const user = { id: opts.user };
  if (opts.variant !== 'brief') return client.connectUser(user, opts.token);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('Stream Chat WebSocket connection timeout (30s)')),
      BRIEF_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([client.connectUser(user, opts.token), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// The clock starts at connectUser, after the client is built; the build is timed beside it.
const tBuild = performance.now();
const client = makeClient();
const clientBuiltMs = Math.round(performance.now() - tBuild);
client.on('connection.changed', (e) => {
  if (opts.watch) line('connection.changed', { online: e.online });
  watchHealth(client);
});
client.on('transport.changed', (e) => {
  line('transport.changed', { mode: e.mode });
  watchHealth(client);
});
client.on('connection.recovered', () => {
  if (opts.watch) line('connection.recovered', { transport: transportOf(client) });
});

t0 = performance.now();
try {
  const res = await connect(client);
  line('usable', {
    time_to_usable_ms: elapsed(),
    client_built_ms: clientBuiltMs,
    transport: transportOf(client),
    connection_id: res?.connection_id ?? client._getConnectionID() ?? null,
  });
} catch (err) {
  line('error', { message: String(err?.message ?? err).slice(0, 300) });
  process.exit(1);
}

if (!opts.watch) process.exit(0);
watchHealth(client);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
