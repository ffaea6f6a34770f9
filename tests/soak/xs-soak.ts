/**
 * The soak, inside the XS engine (xsnap-worker): the real Server, App and Session code serving mixed
 * traffic over in-memory ECMA-419 sockets, with device limits (4 connections, 2 KB heads, 4 KB bodies).
 * tests/soak/run-soak.ts (on Node) bundles this file, then sends it "step" again and again and
 * measures the heap ("gc", then the live-slot count xsnap reports) between rounds.
 *
 * Each step either starts a round of traffic or, while a round still has connections waiting on a
 * timeout, fires the next (virtual) timer. A round: one or two slow clients that hold a connection
 * until a timeout reclaims it (slowloris head, slow body, idle, a reader that never reads, a burst over
 * the connection cap), then, one after another, a keep-alive pipeline, logins, session reads with
 * valid, forged and stale cookies, logouts, "log out everywhere", bad requests and aborted connections.
 */
import { installRuntime, runtime } from '../../modules/runtime';
import { createXsRuntime } from '../../hosts/xs/runtime';
import { pendingTimers, runNextTimer } from '../../hosts/xs/timers';
import { base64urlEncode } from '../../modules/crypto/base64url';
import { latin1 } from '../../modules/http/bytes';
import { App, Response, abort } from '../../modules/http/index';
import { Server } from '../../modules/http/server';
import { Session, withSession } from '../../modules/session/session';
import { MemoryPeer, MemoryTCP } from '../../modules/http/memory-socket';

const encoder = new TextEncoder();

// ---- runtime: XS test host, with entropy refilled from the driver (node:crypto) ------------------------

let pool = new Uint8Array(0);
let used = 0;
/** Errors the server logged: any is a failure of the soak. */
const logged: string[] = [];

installRuntime({
  ...createXsRuntime({ log: (level, message) => { if (level === 'error' || level === 'warn') logged.push(`${level}: ${message}`); } }),
  randomBytes(length: number): Uint8Array {
    if (used + length > pool.length) {
      pool = new Uint8Array(issueCommand(encoder.encode(JSON.stringify({ entropy: Math.max(4096, length) })).buffer as ArrayBuffer));
      used = 0;
    }
    const bytes = pool.slice(used, used + length);
    pool.fill(0, used, used + length);
    used += length;
    return bytes;
  },
});

// ---- the device app ---------------------------------------------------------------------------------

const app = new App();
const sessions = new Session(app, { keys: [{ kid: 'k1', key: runtime().randomBytes(32) }] });
app.get('/', () => 'Hello, World!');
app.post('/login', withSession((request, session) => {
  const user = request.form?.get('user');
  if (user === undefined || request.form?.get('password') !== 'hunter2') abort(401, 'bad credentials');
  session.regenerate();
  session.set('user', user as string);
  return Response.redirect('/', 303);
}));
app.get('/me', withSession((_request, session) => session.get('user') ?? abort(401)));
app.post('/logout', withSession((_request, session) => {
  session.delete();
  return 'bye';
}));
app.post('/logout-everywhere', withSession((_request, session) => {
  const user = session.get('user');
  if (typeof user !== 'string') abort(401);
  sessions.revokeAll(user as string);
  session.delete();
  return 'bye everywhere';
}));
app.post('/echo', (request) => ({ form: request.form?.toObject() ?? null, json: request.json ?? null }));
// Streamed in pieces: a client that never reads it holds the connection until sendTimeout.
app.get('/count/<int:n>', (request) => new Response((function* () {
  for (let i = 0; i < Math.min(Number(request.params.n), 500); i++) yield `<li>${i}</li>`;
})(), 200, { 'Content-Type': 'text/html' }));

const server = new Server(app);

// ---- traffic ------------------------------------------------------------------------------------------

/** A small deterministic PRNG (XS's Math.random is unseeded anyway). */
let seed = 0x2545f491;
function random(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

const USERS = ['admin', 'alice', 'bob', 'carol', 'dave', 'eve', 'mallory', 'trent', 'zo\u00eb', '\u7ba1\u7406'];
const jar = new Map<string, string>();
const BAD = [
  'GET / HTTP/1.1\r\n\r\n',
  'GET / HTTP/2.0\r\nHost: d\r\n\r\n',
  'G\x00T / HTTP/1.1\r\nHost: d\r\n\r\n',
  `GET /${'a'.repeat(1100)} HTTP/1.1\r\nHost: d\r\n\r\n`,
  `GET / HTTP/1.1\r\nHost: d\r\nX: ${'b'.repeat(2100)}\r\n\r\n`,
  'POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 5000\r\n\r\n',
  'POST /echo HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
  'POST /echo HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1,',
  'POST /echo HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\n\r\na=%zz&',
  'GET /me HTTP/1.1\r\nHost: d\r\nExpect: teapot\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello\r\n\r\n',
  'DELETE / HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
  'GET /nowhere HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
];

const stats = {
  requests: 0,
  connections: 0,
  rounds: 0,
  statuses: {} as Record<string, number>,
  problems: [] as string[],
};
let inflight = 0;

function bytes(text: string): Uint8Array {
  return runtime().utf8Encode(text);
}

function problem(text: string): void {
  if (stats.problems.length < 20) stats.problems.push(text);
}

function count(outcome: string): void {
  stats.statuses[outcome] = (stats.statuses[outcome] ?? 0) + 1;
}

/** Every status line in what the client kept, in order. */
function statusesOf(peer: MemoryPeer): string[] {
  const text = latin1(peer.head);
  const found: string[] = [];
  const pattern = /HTTP\/1\.1 (\d{3}) /g;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) found.push(match[1]);
  return found;
}

/** Opens a connection and sends `raw`; resolves with the peer once the server closed it. */
async function connect(raw: string | Uint8Array, requests: number, options: { reads?: boolean; expect?: string[] } = {}): Promise<MemoryPeer> {
  const peer = new MemoryPeer({ reads: options.reads ?? true, keep: 2048, remoteAddress: '192.168.1.66' });
  stats.connections++;
  stats.requests += requests;
  server.accept(MemoryTCP, peer);
  if (raw.length > 0) peer.send(typeof raw === 'string' ? bytes(raw) : raw);
  await peer.done;
  const statuses = statusesOf(peer);
  if (statuses.length === 0) count('closed');
  for (const status of statuses) {
    count(status);
    if (status === '500') problem(`500 for ${JSON.stringify(typeof raw === 'string' ? raw.slice(0, 80) : '')}`);
  }
  if (options.expect !== undefined) {
    const first = statuses[0] ?? 'closed';
    if (!options.expect.includes(first) && first !== '503') problem(`expected ${options.expect.join('/')}, got ${first} for ${JSON.stringify(typeof raw === 'string' ? raw.slice(0, 60) : '')}`);
  }
  return peer;
}

function request(method: string, path: string, extra = '', body = ''): string {
  const length = body.length > 0 || method === 'POST' ? `Content-Length: ${bytes(body).length}\r\n` : '';
  return `${method} ${path} HTTP/1.1\r\nHost: device.local\r\n${extra}${length}Connection: close\r\n\r\n${body}`;
}

function cookieOf(peer: MemoryPeer): string | undefined {
  const match = /Set-Cookie: session=([\w.-]+);/.exec(latin1(peer.head));
  return match === null ? undefined : match[1];
}

async function login(user: string): Promise<void> {
  const form = `user=${encodeURIComponent(user)}&password=hunter2`;
  const peer = await connect(request('POST', '/login', 'Content-Type: application/x-www-form-urlencoded\r\n', form), 1, { expect: ['303'] });
  const token = cookieOf(peer);
  if (token !== undefined) jar.set(user, token);
}

async function me(user: string): Promise<void> {
  const token = jar.get(user);
  const peer = await connect(request('GET', '/me', token === undefined ? '' : `Cookie: session=${token}\r\n`), 1, { expect: ['200', '401'] });
  const first = statusesOf(peer)[0];
  // A token revoked or idle too long is no session: log in again next time.
  if (first === '401') jar.delete(user);
  const renewed = cookieOf(peer);
  if (renewed !== undefined) jar.set(user, renewed);
}

let fresh = 0;

async function forged(): Promise<void> {
  if (stats.rounds % 2 === 0) {
    // A header with member names never seen before, and a made-up MAC: refused without parsing the
    // names (XS would intern each one for good; see knownMemberNames in modules/session/jwt.ts).
    fresh++;
    const header = base64urlEncode(bytes(`{"alg":"HS256","kid":"k1","n${fresh}":0,"m${fresh}":{"o${fresh}":1}}`));
    const token = `${header}.${base64urlEncode(bytes(`{"user":"admin","p${fresh}":1}`))}.${base64urlEncode(runtime().randomBytes(32))}`;
    await connect(request('GET', '/me', `Cookie: session=${token}\r\n`), 1, { expect: ['401'] });
    return;
  }
  const token = jar.get(USERS[random(USERS.length)]) ?? 'eyJhbGciOiJIUzI1NiJ9.e30.AAAA';
  const i = random(token.length);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const c = alphabet[random(64)];
  const forgedToken = token.slice(0, i) + (token[i] === c ? (c === 'A' ? 'B' : 'A') : c) + token.slice(i + 1);
  await connect(request('GET', '/me', `Cookie: session=${forgedToken}\r\n`), 1, { expect: ['401'] });
}

/** Starts a client that holds its connection until a timeout reclaims it (not awaited by the round). */
function slow(kind: number): void {
  inflight++;
  const done = (() => {
    switch (kind) {
      case 0: return connect('GET / HTTP/1.1\r\nHost: device.local\r\nX-Slowloris: ', 1, { expect: ['408'] });
      case 1: return connect('POST /echo HTTP/1.1\r\nHost: device.local\r\nContent-Length: 100\r\n\r\nhalf a bo', 1, { expect: ['408'] });
      case 2: return connect('', 0, { expect: ['closed'] });
      case 3: return connect(request('GET', '/count/400'), 1, { reads: false });
      default: {
        // Over the cap: a burst of connections at once, some refused with 503.
        const burst = Array.from({ length: 5 }, () => connect(request('GET', '/'), 1, { expect: ['200'] }));
        return Promise.all(burst);
      }
    }
  })();
  void done.finally(() => { inflight--; });
}

async function aborted(variant: number): Promise<void> {
  const peer = new MemoryPeer({ keep: 2048, remoteAddress: '192.168.1.66' });
  stats.connections++;
  stats.requests++;
  server.accept(MemoryTCP, peer);
  const raw = variant === 0 ? 'GET / HTTP/1.1\r\nHost: dev' : request('POST', '/echo', 'Content-Type: application/json\r\n', '{"a":[1,2,3]}');
  peer.send(bytes(raw));
  for (let i = 0; i < variant * 2; i++) await Promise.resolve();
  peer.abort();
  count('aborted');
  await peer.done;
}

async function round(): Promise<void> {
  stats.rounds++;
  const r = stats.rounds;
  slow(r % 5);
  if (r % 3 === 0) slow((r + 2) % 4);
  await connect('GET / HTTP/1.1\r\nHost: d\r\n\r\nGET /me HTTP/1.1\r\nHost: d\r\n\r\nGET /count/5 HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n', 3, { expect: ['200'] });
  const user = USERS[random(USERS.length)];
  if (!jar.has(user)) await login(user);
  await me(user);
  await me(USERS[random(USERS.length)]);
  await forged();
  await connect(BAD[random(BAD.length)], 1);
  await aborted(random(4));
  if (r % 7 === 0) {
    const who = USERS[random(USERS.length)];
    const token = jar.get(who);
    await connect(request('POST', r % 14 === 0 ? '/logout-everywhere' : '/logout', token === undefined ? '' : `Cookie: session=${token}\r\n`), 1, { expect: ['200', '401'] });
    jar.delete(who);
  }
  if (r % 11 === 0) await connect(request('POST', '/login', 'Content-Type: application/x-www-form-urlencoded\r\n', 'user=admin&password=guess'), 1, { expect: ['401'] });
}

// ---- the driver's interface ---------------------------------------------------------------------------

export interface StepReply {
  requests: number;
  connections: number;
  rounds: number;
  inflight: number;
  timers: number;
  open: number;
  problems: string[];
  statuses: Record<string, number>;
}

let running: Promise<void> | undefined;

function step(): { readonly result: ArrayBuffer } {
  if (running === undefined && inflight === 0) {
    running = round()
      .catch((error: unknown) => problem(`round threw: ${error instanceof Error ? `${error.message} ${error.stack ?? ''}` : String(error)}`))
      .finally(() => { running = undefined; });
  } else if (pendingTimers() > 0) {
    runNextTimer();
  } else {
    problem(`stuck: ${inflight} slow clients wait and no timer is pending`);
  }
  return {
    get result(): ArrayBuffer {
      if (logged.length > 0) problem(logged.splice(0).join('; '));
      const reply: StepReply = {
        requests: stats.requests,
        connections: stats.connections,
        rounds: stats.rounds,
        inflight: inflight + (running === undefined ? 0 : 1),
        timers: pendingTimers(),
        open: server.connectionCount,
        problems: stats.problems.splice(0),
        statuses: stats.statuses,
      };
      return encoder.encode(JSON.stringify(reply)).buffer as ArrayBuffer;
    },
  };
}

/**
 * The driver sends "step" or "gc" through xsnap's handleCommand (not evaluate(): each evaluated script
 * keeps a slot alive, which would read as a leak of one slot per step).
 */
(globalThis as Record<string, unknown>).handleCommand = (message: ArrayBuffer) => {
  const command = new TextDecoder().decode(message);
  if (command === 'gc') {
    (globalThis as unknown as { gc: () => void }).gc();
    return { result: new ArrayBuffer(0) };
  }
  if (command === 'step') return step();
  throw new Error(`soak: unknown command ${JSON.stringify(command)}`);
};
