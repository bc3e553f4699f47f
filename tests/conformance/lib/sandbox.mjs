// Harness for the confab-sandbox conformance suite.
//
// Everything a test file needs to run the sandbox under the official stream-chat SDK:
// starting and stopping sandbox processes, building server-side and user clients,
// minting tokens, and waiting for conditions and events with deadlines (never with
// fixed sleeps). `TestEnv` owns every resource a test file creates and releases it
// in an `after` hook, in a fixed order, even when a test failed.

import { spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { StreamChat } from 'stream-chat';

export { StreamChat };

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..', '..');

const STARTUP_DEADLINE_MS = 10_000;
const SHUTDOWN_DEADLINE_MS = 10_000;
const DEBUG = !!process.env.CONFORMANCE_DEBUG;

/* ------------------------------------------------------------------------------------------ */
/* Small utilities                                                                             */
/* ------------------------------------------------------------------------------------------ */

function isExecutable(p) {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The sandbox binary: $CONFAB_SANDBOX, else a build in the usual meson build dirs. */
export function sandboxBinary() {
  const fromEnv = process.env.CONFAB_SANDBOX;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new Error(`CONFAB_SANDBOX=${fromEnv} is not an executable file`);
    }
    return fromEnv;
  }
  for (const dir of ['_build', 'build', 'builddir']) {
    const p = path.join(REPO, dir, 'src', 'sandbox', 'confab-sandbox');
    if (isExecutable(p)) return p;
  }
  throw new Error(
    'confab-sandbox binary not found: set CONFAB_SANDBOX to its path (meson sets it for `meson test`)',
  );
}

export function randomId(prefix = '') {
  return prefix + randomBytes(6).toString('hex');
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** An HS256 JWT signed with `secret`, built by hand (for wrong-secret and tampered tokens). */
export function signJwt(payload, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const head = b64url(JSON.stringify(header));
  const body = b64url(JSON.stringify(payload));
  const sig = b64url(createHmac('sha256', secret).update(`${head}.${body}`).digest());
  return `${head}.${body}.${sig}`;
}

export function decodeJwtPayload(token) {
  const part = token.split('.')[1];
  return JSON.parse(Buffer.from(part.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
}

export function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

/**
 * Parse the error thrown by `connectUser` when the server refuses the connection. The SDK
 * throws `new Error(JSON.stringify({code, StatusCode, message, isWSFailure}))`.
 */
export function parseConnectError(err) {
  try {
    return JSON.parse(err.message);
  } catch {
    throw new Error(`connectUser error is not the SDK's JSON form: ${err && err.stack}`);
  }
}

/**
 * Wait until `predicate()` returns a truthy value (sync or async) and return that value.
 * Polls every `interval` ms until the deadline, then fails with `what`. This is waiting on a
 * condition: the deadline only bounds a failure, it never paces success.
 */
export async function waitFor(predicate, { timeout = 5000, interval = 20, what = 'condition', check } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    if (check) check();
    try {
      const v = await predicate();
      if (v) return v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const err = new Error(
        `timed out after ${timeout} ms waiting for ${what}` +
          (lastError ? `; last error: ${lastError && (lastError.stack || lastError)}` : ''),
      );
      throw err;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

const NOTHING_POLL_MS = 25;

/**
 * The explicit "nothing happened within N ms" check: polls `happened()` for `duration` ms and
 * fails as soon as it returns truthy. Only for asserting the absence of something (e.g. no
 * reconnect loop), never as synchronisation.
 */
export async function assertNothingHappensWithin(duration, happened, what) {
  const end = Date.now() + duration;
  while (Date.now() < end) {
    const v = await happened();
    if (v) throw new Error(`expected nothing within ${duration} ms, but: ${what} (${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, NOTHING_POLL_MS));
  }
  const v = await happened();
  if (v) throw new Error(`expected nothing within ${duration} ms, but: ${what} (${JSON.stringify(v)})`);
}

/** True when 127.0.0.1:port can be bound right now (probe: bind and release). */
export function portIsFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Race a promise against a deadline; rejects with `what` on timeout. */
export async function withDeadline(promise, timeout, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms: ${what}`)), timeout);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Records every event a StreamChat client (or a Channel) dispatches, from the moment it is
 * created, so that a test can start recording before an action and then wait for an event
 * that may already have arrived.
 */
export class EventLog {
  constructor(target, name = 'events') {
    this.name = name;
    this.events = [];
    this._sub = target.on((event) => {
      this.events.push(event);
    });
  }

  static match(typeOrPred, pred) {
    if (typeof typeOrPred === 'function') return typeOrPred;
    return (e) => e.type === typeOrPred && (!pred || pred(e));
  }

  all(typeOrPred, pred) {
    const m = EventLog.match(typeOrPred, pred);
    return this.events.filter((e) => {
      try {
        return m(e);
      } catch {
        return false;
      }
    });
  }

  count(typeOrPred, pred) {
    return this.all(typeOrPred, pred).length;
  }

  /** Wait for the first event (past or future) matching; returns it. */
  async waitFor(typeOrPred, pred, { timeout = 5000, what } = {}) {
    if (typeof pred === 'object' && pred !== null) {
      ({ timeout = 5000, what } = pred);
      pred = undefined;
    }
    const label =
      what || `${this.name}: event ${typeof typeOrPred === 'string' ? typeOrPred : '<predicate>'}`;
    return waitFor(() => this.all(typeOrPred, pred)[0], { timeout, what: label, interval: 10 });
  }

  /** Wait until at least `n` matching events were recorded; returns them. */
  async waitForCount(n, typeOrPred, pred, { timeout = 5000, what } = {}) {
    const label = what || `${this.name}: ${n} x ${typeof typeOrPred === 'string' ? typeOrPred : '<predicate>'}`;
    return waitFor(
      () => {
        const got = this.all(typeOrPred, pred);
        return got.length >= n ? got : null;
      },
      { timeout, what: label, interval: 10 },
    );
  }

  types() {
    return this.events.map((e) => e.type);
  }

  stop() {
    this._sub.unsubscribe();
  }
}

/* ------------------------------------------------------------------------------------------ */
/* The sandbox process                                                                         */
/* ------------------------------------------------------------------------------------------ */

// Every sandbox process this test process started; none may outlive it, even when the runner
// kills the test process (timeout) or a test crashed before its cleanup ran.
const LIVE_PROCS = new Set();
function killLiveProcs() {
  for (const p of LIVE_PROCS) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', killLiveProcs);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, () => {
    killLiveProcs();
    process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15));
  });
}

export class Sandbox {
  constructor({ proc, args, apiKey, apiSecret, dataDir }) {
    this.proc = proc;
    this.args = args;
    this.apiKey = apiKey;
    this.apiSecret = apiSecret;
    this.dataDir = dataDir;
    this.url = undefined;
    this.port = undefined;
    this.stdoutLines = [];
    this.stderr = '';
    this.exit = undefined; // {code, signal} once exited
    this.stopping = false;
    this.stopped = false;
    this._exitPromise = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      this.stderr += chunk;
      if (this.stderr.length > 256 * 1024) this.stderr = this.stderr.slice(-128 * 1024);
      if (DEBUG) process.stderr.write(chunk);
    });
  }

  get alive() {
    return this.exit === undefined;
  }

  stderrTail(n = 4000) {
    return this.stderr.slice(-n);
  }

  describe() {
    return `confab-sandbox ${this.args.join(' ')}`;
  }

  /** Throw if the process died without being asked to. */
  assertAlive() {
    if (!this.alive && !this.stopping) {
      throw new Error(
        `${this.describe()} exited unexpectedly (code ${this.exit.code}, signal ${this.exit.signal}); stderr:\n${this.stderrTail()}`,
      );
    }
  }

  /**
   * SIGTERM and wait for exit; asserts a clean exit (code 0, no signal) and that stdout held
   * exactly the one "listening" line. Idempotent: a second call returns the first result.
   */
  stop() {
    if (!this._stopPromise) this._stopPromise = this._stop();
    return this._stopPromise;
  }

  async _stop() {
    const diedEarly = !this.alive;
    this.stopping = true;
    if (diedEarly) {
      throw new Error(
        `${this.describe()} had already exited before stop() (code ${this.exit.code}, signal ${this.exit.signal}); stderr:\n${this.stderrTail()}`,
      );
    }
    this.proc.kill('SIGTERM');
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), SHUTDOWN_DEADLINE_MS);
    });
    const r = await Promise.race([this._exitPromise, timedOut]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.proc.kill('SIGKILL');
      await this._exitPromise;
      throw new Error(
        `${this.describe()} did not exit within ${SHUTDOWN_DEADLINE_MS} ms of SIGTERM; stderr:\n${this.stderrTail()}`,
      );
    }
    this.stopped = true;
    await withDeadline(this._stdoutDone || Promise.resolve(), 2000, 'sandbox stdout to close').catch(() => {});
    if (this.exit.code !== 0 || this.exit.signal !== null) {
      throw new Error(
        `${this.describe()} did not exit cleanly on SIGTERM (code ${this.exit.code}, signal ${this.exit.signal}); stderr:\n${this.stderrTail()}`,
      );
    }
    if (this.stdoutLines.length !== 1) {
      throw new Error(
        `${this.describe()} printed ${this.stdoutLines.length} stdout lines, expected exactly one JSON line:\n${this.stdoutLines.join('\n')}`,
      );
    }
    return this.exit;
  }

  /** Last-resort kill for cleanup after a failure (no assertions). */
  async kill() {
    if (!this.alive) return;
    this.stopping = true;
    this.proc.kill('SIGKILL');
    await this._exitPromise;
  }

  /** A server-side client (API secret): it signs its own server token. */
  serverClient(options = {}) {
    return new StreamChat(this.apiKey, this.apiSecret, {
      baseURL: this.url,
      timeout: 10_000,
      logger: sdkLogger('server'),
      ...options,
    });
  }

  /** A user client (no secret), as a browser or app would build it. Never a singleton. */
  userClient(options = {}) {
    return new StreamChat(this.apiKey, {
      baseURL: this.url,
      allowServerSideConnect: true,
      logger: sdkLogger('user'),
      ...options,
    });
  }

  /** A user JWT signed with the app secret, the way `serverClient.createToken` makes it. */
  token(userId, exp, iat) {
    if (!this._tokenClient) {
      this._tokenClient = new StreamChat(this.apiKey, this.apiSecret, { baseURL: this.url });
    }
    return this._tokenClient.createToken(userId, exp, iat);
  }
}

function sdkLogger(tag) {
  if (!DEBUG) return undefined;
  return (level, message, extra) => {
    if (level === 'info' && !/connection|_connect|reconnect|longpoll|Fallback/i.test(message)) return;
    process.stderr.write(`[sdk:${tag}] ${level} ${message}\n`);
    if (extra && extra.err) process.stderr.write(`  ${extra.err}\n`);
  };
}

/**
 * Start a sandbox. Options:
 *   listen (default "127.0.0.1:0"), apiKey, apiSecret (random by default), dataDir (a path),
 *   allowDevTokens, demo, demoMessages, noWebsocket, webhookUrl, extraArgs.
 * Resolves once the sandbox printed its `{"listening": URL}` line.
 */
/** A self-signed certificate for 127.0.0.1 (test only); trust it with NODE_EXTRA_CA_CERTS. */
export const TLS_CERT = fileURLToPath(new URL('../../sandbox/data/test-cert.pem', import.meta.url));
const TLS_KEY = fileURLToPath(new URL('../../sandbox/data/test-key.pem', import.meta.url));

export async function startSandbox(opts = {}) {
  const apiKey = opts.apiKey || randomId('key');
  const apiSecret = opts.apiSecret || randomBytes(24).toString('hex');
  const args = ['--listen', opts.listen || '127.0.0.1:0', '--api-key', apiKey, '--api-secret', apiSecret];
  if (opts.allowDevTokens) args.push('--allow-dev-tokens');
  if (opts.demo) args.push('--demo');
  if (opts.demoMessages !== undefined) args.push('--demo-messages', String(opts.demoMessages));
  if (opts.dataDir) args.push('--data-dir', opts.dataDir);
  if (opts.noWebsocket) args.push('--no-websocket');
  if (opts.webhookUrl) args.push('--webhook-url', opts.webhookUrl);
  if (opts.tls) args.push('--tls-cert', TLS_CERT, '--tls-key', TLS_KEY);
  if (opts.extraArgs) args.push(...opts.extraArgs);

  const bin = sandboxBinary();
  const env = { ...process.env };
  // LeakSanitizer's exit-time tracer has crashed (SIGSEGV in StopTheWorld) with the TLS
  // backend's threads alive; the TLS sandbox keeps ASan and UBSan but skips the leak scan.
  if (opts.tls && env.ASAN_OPTIONS) env.ASAN_OPTIONS += ':detect_leaks=0';
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  LIVE_PROCS.add(proc);
  proc.on('exit', () => LIVE_PROCS.delete(proc));
  const sb = new Sandbox({ proc, args, apiKey, apiSecret, dataDir: opts.dataDir });

  const rl = readline.createInterface({ input: proc.stdout });
  sb._stdoutDone = new Promise((resolve) => rl.on('close', resolve));
  const ready = new Promise((resolve, reject) => {
    rl.on('line', (line) => {
      sb.stdoutLines.push(line);
      if (sb.url) return;
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch {
        reject(new Error(`first stdout line of ${sb.describe()} is not JSON: ${JSON.stringify(line)}`));
        return;
      }
      const scheme = opts.tls ? 'https' : 'http';
      const m = typeof parsed?.listening === 'string' && new RegExp(`^${scheme}://127\\.0\\.0\\.1:(\\d+)$`).exec(parsed.listening);
      if (!m) {
        reject(new Error(`first stdout line of ${sb.describe()} is not {"listening":"${scheme}://127.0.0.1:PORT"}: ${line}`));
        return;
      }
      sb.url = parsed.listening;
      sb.port = Number(m[1]);
      resolve();
    });
    proc.on('error', (e) => reject(new Error(`cannot spawn ${bin}: ${e.message}`)));
    sb._exitPromise.then(({ code, signal }) => {
      if (!sb.url) {
        reject(new Error(`${sb.describe()} exited before it was ready (code ${code}, signal ${signal}); stderr:\n${sb.stderrTail()}`));
      }
    });
  });

  try {
    await withDeadline(ready, STARTUP_DEADLINE_MS, `${sb.describe()} to print its listening line`);
  } catch (e) {
    await sb.kill();
    e.message += `\nstderr:\n${sb.stderrTail()}`;
    throw e;
  }
  return sb;
}

/* ------------------------------------------------------------------------------------------ */
/* A counting proxy: forwards HTTP and WebSocket upgrades, records every upgrade               */
/* ------------------------------------------------------------------------------------------ */

export class CountingProxy {
  constructor(targetPort) {
    this.targetPort = targetPort;
    this.upgrades = []; // {url, path, query: URLSearchParams, at}
    this.requests = []; // {method, url}
    this._sockets = new Set();
    this.server = http.createServer((req, res) => this._forward(req, res));
    this.server.on('upgrade', (req, socket, head) => this._upgrade(req, socket, head));
    this.server.on('connection', (s) => {
      this._sockets.add(s);
      s.on('close', () => this._sockets.delete(s));
    });
  }

  async listen() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  /** Upgrade attempts to /connect, optionally only those carrying `token`. */
  connectAttempts(token) {
    return this.upgrades.filter(
      (u) => u.path === '/connect' && (token === undefined || u.query.get('authorization') === token),
    );
  }

  _forward(req, res) {
    this.requests.push({ method: req.method, url: req.url });
    const preq = http.request(
      { host: '127.0.0.1', port: this.targetPort, method: req.method, path: req.url, headers: req.headers },
      (pres) => {
        res.writeHead(pres.statusCode, pres.headers);
        pres.pipe(res);
      },
    );
    preq.on('error', () => res.destroy());
    req.pipe(preq);
  }

  _upgrade(req, socket, head) {
    const u = new URL(req.url, 'http://proxy');
    this.upgrades.push({ url: req.url, path: u.pathname, query: u.searchParams, at: Date.now() });
    const upstream = net.connect(this.targetPort, '127.0.0.1', () => {
      let h = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) h += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      upstream.write(h + '\r\n');
      if (head && head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    this._sockets.add(upstream);
    this._sockets.add(socket);
    upstream.on('close', () => {
      this._sockets.delete(upstream);
      socket.destroy();
    });
    socket.on('close', () => {
      this._sockets.delete(socket);
      upstream.destroy();
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  }

  async close() {
    for (const s of this._sockets) s.destroy();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Raw HTTP for the HTTP-level tests                                                           */
/* ------------------------------------------------------------------------------------------ */

/**
 * One HTTP request with node:http; resolves {status, headers, text, json} as soon as a response
 * arrives, even if the server stopped reading the body (e.g. 413 before the upload finished).
 */
export function rawRequest(baseUrl, { method = 'GET', path: p = '/', headers = {}, body } = {}, timeout = 10_000) {
  return new Promise((resolve, reject) => {
    const u = new URL(p, baseUrl);
    let done = false;
    const finish = (fn, v) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        fn(v);
      }
    };
    const buf = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    const hdrs = { ...headers };
    if (buf) hdrs['content-length'] = String(buf.length);
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: u.pathname + u.search, headers: hdrs, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', () => {
          /* the body may be cut when the server closes; keep what arrived */
        });
        const settle = () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          finish(resolve, { status: res.statusCode, headers: res.headers, text, json });
        };
        res.on('end', settle);
        res.on('close', settle);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish(reject, new Error(`no HTTP response to ${method} ${p} within ${timeout} ms`));
    }, timeout);
    req.on('error', (e) => {
      // EPIPE/ECONNRESET while uploading: wait briefly for a response already in flight.
      setTimeout(() => finish(reject, new Error(`${method} ${p}: ${e.message}`)), 500);
    });
    if (buf) {
      req.write(buf, () => {});
    }
    req.end();
  });
}

/* ------------------------------------------------------------------------------------------ */
/* TestEnv: owns everything a test file starts                                                 */
/* ------------------------------------------------------------------------------------------ */

export class TestEnv {
  constructor() {
    this.sandboxes = [];
    this.clients = [];
    this.proxies = [];
    this.servers = [];
    this.dirs = [];
    this.logs = [];
  }

  async sandbox(opts = {}) {
    const sb = await startSandbox(opts);
    this.sandboxes.push(sb);
    return sb;
  }

  async tempDir(prefix = 'confab-conformance-') {
    const d = await mkdtemp(path.join(os.tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  track(client) {
    this.clients.push(client);
    return client;
  }

  log(target, name) {
    const l = new EventLog(target, name);
    this.logs.push(l);
    return l;
  }

  async proxy(targetPort) {
    const p = await new CountingProxy(targetPort).listen();
    this.proxies.push(p);
    return p;
  }

  /** Register an http.Server (already listening) to be closed at cleanup. */
  server(srv) {
    this.servers.push(srv);
    return srv;
  }

  /** Throws at once if any sandbox of this file crashed; used by env.waitFor. */
  checkSandboxes() {
    for (const sb of this.sandboxes) sb.assertAlive();
  }

  waitFor(predicate, opts = {}) {
    return waitFor(predicate, { ...opts, check: () => this.checkSandboxes() });
  }

  /**
   * A user client connected as `userId`. `token` may be a string or a provider function;
   * the default is a long-lived server-minted token.
   */
  async connect(sb, userId, { user, token, options, baseURL } = {}) {
    const client = this.track(sb.userClient({ ...(baseURL ? { baseURL } : {}), ...options }));
    const u = { id: userId, ...user };
    const res = await client.connectUser(u, token === undefined ? sb.token(userId) : token);
    return { client, res };
  }

  async cleanup() {
    const errors = [];
    const attempt = async (what, fn) => {
      try {
        await fn();
      } catch (e) {
        errors.push(new Error(`${what}: ${e && e.message}`));
      }
    };
    for (const l of this.logs) l.stop();
    for (const c of this.clients) {
      await attempt('disconnectUser', () => withDeadline(Promise.resolve(c.disconnectUser(500)), 5000, 'disconnectUser'));
    }
    for (const p of this.proxies) await attempt('close proxy', () => p.close());
    for (const sb of this.sandboxes) {
      if (sb.stopped) continue;
      await attempt(`stop sandbox`, async () => {
        try {
          await sb.stop();
        } finally {
          await sb.kill();
        }
      });
    }
    for (const s of this.servers) {
      await attempt('close server', async () => {
        if (s.closeAllConnections) s.closeAllConnections();
        await new Promise((resolve) => s.close(() => resolve()));
      });
    }
    for (const d of this.dirs) await attempt(`rm ${d}`, () => rm(d, { recursive: true, force: true }));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join('\n'));
  }
}

/** Upsert users through the server-side client; returns the server client. */
export async function upsertUsers(sb, ids) {
  const server = sb.serverClient();
  await server.upsertUsers(ids.map((id) => (typeof id === 'string' ? { id, name: id[0].toUpperCase() + id.slice(1) } : id)));
  return server;
}

export { randomUUID };
