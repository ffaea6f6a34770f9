/**
 * The device-fit bundle: runs inside the XS machine of hosts/xs/fit (xsdot-fit), on the device's fixed
 * heap. Installs the bare-XS runtime (hosts/xs/runtime.ts; random bytes from the host's getrandom, as a
 * device takes them from its hardware generator), boots the login app, drives a scenario through
 * in-memory sockets (bench/workload.ts) and reports the memory of each phase.
 *
 * The fit host calls `start(json)` once, then `step()` after draining the promise jobs each time, until
 * step() returns "done <json>" (or a failure). Timers are virtual (hosts/xs/timers.ts): a step with no
 * job left fires the next one.
 *
 * Scenarios (`start`'s JSON):
 * - `{ "scenario": "headline", "concurrency": n }` — the device-fit check: n (default HEADLINE_CLIENTS, 8)
 *   concurrent session requests (a dashboard and /api/me from each of n/2 signed-in browsers), then n
 *   concurrent connections again with a login POST among n - 1 session requests, then a session
 *   request whose head is near the 2 KB limit; raw requests over bench/direct-socket.ts (the browsers
 *   are remote: only their cookies and 256 bytes of each answer are in the device's heap);
 * - `{ "scenario": <kind>, "concurrency": n }` — n concurrent requests of one kind (bench/workload.ts),
 *   after one warm-up round.
 * - `{ "scenario": "budgets", "concurrency": n }` — for each request kind but the login, slots and chunk
 *   bytes allocated per request, alone and n at once (run it with a heap that never fills);
 * `iterations` sets the PBKDF2 iterations of the password (default: the app's).
 */
import { dashboardPage } from '../../app/pages';
import { latin1, latin1Bytes } from '../../modules/http/bytes';
import { resolveLimits } from '../../modules/http/limits';
import { RequestParser } from '../../modules/http/parser';
import { contentETag, memoryFiles } from '../../modules/http/static';
import { MultipartParser, multipartBoundary } from '../../modules/http/multipart';
import { Server } from '../../modules/http/server';
import { Request } from '../../modules/http/request';
import { hmacSha256 } from '../../modules/crypto/index';
import { runtime } from '../../modules/runtime';
import { KeyRing, signToken, verifyToken } from '../../modules/session/index';
import { DirectPeer, exchange, open, WINDOW } from '../direct-socket';
import { runScenario } from './scenario';
import type { TestResponse } from '../../modules/http/testclient';
import { tamperSignature } from '../../tests/support/tamper';
import { BROWSER_HEADERS, bootDevice, PASSWORD, prepare, send, sessionCookie, startDevice, type Browser, type Device, type RequestKind } from '../workload';

/** Globals of the fit host (hosts/xs/fit/fit.c). */
declare function __fitMemory(): number[];
declare function __fitResetPeak(): void;
declare function __fitStackLimit(slots: number): void;
declare function __fitGC(): void;

/** Concurrent connections of the device-fit check: the login app's `maxConnections` (manifest.json's config). */
export const HEADLINE_CLIENTS = 8;

export interface FitScenario {
  scenario: 'headline' | 'parts' | 'budgets' | 'paths' | RequestKind;
  concurrency?: number;
  iterations?: number;
  /** `paths`: the stack slots each phase may use (fewer than the machine's: an overflow aborts the run). */
  stackLimit?: number;
  /** `paths`: hold only the phase of this index to `stackLimit` (the others get the whole stack). */
  limitPhase?: number;
}

/** Memory of one phase: live before and after (each right after a collection), and the peaks in between. */
export interface PhaseMemory {
  name: string;
  slotsBefore: number;
  chunksBefore: number;
  /** Highest slot count during the phase, garbage included until XS collected it. */
  peakSlots: number;
  peakChunks: number;
  slotsAfter: number;
  chunksAfter: number;
  /** Statuses of the phase's requests, when it sent any. */
  statuses?: number[];
}

/** Allocation of one operation (nothing collected: run `parts` with a heap that never fills). */
export interface PartAllocation {
  name: string;
  slots: number;
  chunks: number;
}

/** Live memory (right after a collection) at successive points of a boot. */
export interface LivePoint {
  name: string;
  slots: number;
  chunks: number;
}

export interface PartsResult {
  scenario: 'parts';
  live: LivePoint[];
  parts: PartAllocation[];
}

export interface FitResult {
  scenario: string;
  concurrency: number;
  iterations: number;
  phases: PhaseMemory[];
  statuses: number[];
}

function memory(): { slots: number; peakSlots: number; chunks: number; peakChunks: number } {
  const [slots, peakSlots, chunks, peakChunks] = __fitMemory();
  return { slots, peakSlots, chunks, peakChunks };
}

/**
 * Lets the caller's frames go: what follows runs from a promise job, as a device's event loop runs
 * socket callbacks — so the stack depth measured is the server's, not this harness's call chain.
 */
const fromTheEventLoop = () => Promise.resolve();

async function phase<T>(phases: PhaseMemory[], name: string, work: () => Promise<T>): Promise<T> {
  print(`phase: ${name}`); // the last one printed names the phase of an abort
  __fitGC();
  __fitResetPeak();
  const before = memory();
  await fromTheEventLoop();
  const value = await work();
  const during = memory();
  __fitGC();
  const after = memory();
  phases.push({
    name,
    slotsBefore: before.slots, chunksBefore: before.chunks,
    peakSlots: during.peakSlots, peakChunks: during.peakChunks,
    slotsAfter: after.slots, chunksAfter: after.chunks,
  });
  return value;
}

/** Sends a request, checks it (workload.send) and keeps only its status. */
async function status(kind: RequestKind, browser: Browser): Promise<number> {
  await fromTheEventLoop();
  return (await send(kind, browser)).status;
}

/**
 * Runs `requests` at once, one connection each, as remote browsers would: every connection is opened
 * with half its head, then all heads complete and the server writes as the socket lets it (WINDOW bytes
 * per turn). The clients keep 256 bytes of each answer in the device's heap (raw bytes, bench/direct-socket.ts):
 * what is counted is the server's memory, not an in-memory browser's. Returns the statuses.
 */
async function inFlight(server: Server, peers: DirectPeer[], requests: Uint8Array[]): Promise<number[]> {
  requests.forEach((request, i) => open(server, peers[i], request, request.length >> 1));
  requests.forEach((request, i) => peers[i].arrive(request.length));
  for (let turns = 0; peers.some((peer, i) => i < requests.length && !peer.closed); turns++) {
    if (turns > 100_000) throw new Error('headline: the server never closed the connections');
    await null;
    for (const peer of peers) if (!peer.closed && peer.socket !== undefined) peer.socket.options.onWritable?.call(peer.socket, WINDOW);
  }
  return requests.map((_, i) => peers[i].status);
}

async function headline(options: FitScenario): Promise<FitResult> {
  const clients = options.concurrency ?? HEADLINE_CLIENTS;
  if (!(clients >= 2 && clients % 2 === 0)) throw new Error('headline: concurrency must be an even number of at least 2');
  const phases: PhaseMemory[] = [];
  const device = await phase(phases, 'boot and setup', () => bootDevice({ iterations: options.iterations }));
  // The device's server, with the login app's connection limit (manifest.json's config).
  const server = new Server(device.app, { limits: { maxConnections: clients } });
  const peers = Array.from({ length: clients }, () => new DirectPeer(256));
  // Browsers sign in through the in-memory client; only their cookies are kept (a browser's jar is remote).
  const cookies = await phase(phases, `${clients / 2} sign-ins`, async () => {
    const signedIn: string[] = [];
    for (let i = 0; i < clients / 2; i++) {
      const browser = await device.signedIn();
      signedIn.push(sessionCookie(browser));
      // Its in-memory client's own Server would stay alive until its deadline timer fires.
      browser.client.server.close();
    }
    return signedIn;
  });
  // Each signed-in browser asks for its dashboard and /api/me at once: `clients` connections in flight.
  const sessionRequests = cookies.flatMap((cookie) => [rawRequest('/', cookie), rawRequest('/api/me', cookie)]);
  const first = await phase(phases, `${clients} concurrent session requests`, () => inFlight(server, peers, sessionRequests));
  const visitor = await prepare(device, 'login');
  const body = `csrf_token=${visitor.token}&username=admin&password=${encodeURIComponent(PASSWORD)}`;
  const login = rawRequest('/login', sessionCookie(visitor), { method: 'POST', body, headers: { Origin: 'http://localhost', Referer: 'http://localhost/login' } });
  const second = await phase(phases, `login POST + ${clients - 1} concurrent session requests`, () =>
    inFlight(server, peers, [login, ...sessionRequests.slice(1)]));
  // A head near the limit (maxHeaderBytes 2048): parsing it must not overflow the 512-slot stack.
  const padded = rawRequest('/api/me', cookies[0], { headers: { 'X-Padding': 'x'.repeat(1300) } });
  const large = await phase(phases, 'a session request with a 2 KB head', () => inFlight(server, peers, [padded]));
  return { scenario: 'headline', concurrency: clients, iterations: device.iterations, phases, statuses: [...first, ...second, ...large] };
}

/**
 * The deepest request paths, one phase each: first boot with setup (PBKDF2), the login form, a wrong
 * password, a login (PBKDF2), the dashboard (the largest page), the password page, /api/me, a tampered
 * cookie, an oversized cookie (under and over maxHeaderBytes), the error pages (404, 405, a stale CSRF
 * token: 403), a password change (PBKDF2 twice), the account and settings pages, adding a user (PBKDF2),
 * a role change, a logout and a sign-out everywhere. With `stackLimit`, each phase (or the
 * one `limitPhase` names) runs with only that many stack slots: one that needs more aborts the run with
 * "stack overflow" and its call chain (fit.c).
 */
export const PATHS = [
  'GET /setup (first boot)',
  'POST /setup (PBKDF2, the admin password)',
  'GET /login (form, new session cookie)',
  'POST /login, wrong password (401 form page, PBKDF2)',
  'POST /login (PBKDF2, new session)',
  'GET / (dashboard, the largest page)',
  'GET /settings/password (form page)',
  'GET /api/me (session read, JSON)',
  'GET / with a tampered cookie (303)',
  'GET / with a 1.5 KB cookie (303)',
  'GET / with a cookie over maxHeaderBytes (431)',
  'GET /nope (404 page)',
  'DELETE / (405 page)',
  'POST /settings/password with a stale CSRF token (403 page)',
  'POST /settings/password (PBKDF2 twice, revokes other sessions)',
  'GET /account (session count)',
  'GET /settings (admin page, user list)',
  'POST /settings, add a user (PBKDF2, two store writes)',
  'POST /settings, change a role (revokes the user\'s sessions)',
  'POST /logout',
  'POST /logout, everywhere (revokes every session of the user)',
] as const;

/** The statuses a browser expects from PATHS, in order. */
export const PATH_STATUSES = [200, 303, 200, 401, 303, 200, 200, 200, 303, 303, 431, 404, 405, 403, 303, 200, 200, 303, 303, 303, 303] as const;

async function paths(options: FitScenario): Promise<FitResult> {
  const phases: PhaseMemory[] = [];
  const statuses: number[] = [];
  let index = 0;
  const measure = async (work: () => Promise<TestResponse>): Promise<void> => {
    const name = PATHS[index];
    const limited = options.stackLimit !== undefined && (options.limitPhase === undefined || options.limitPhase === index);
    index++;
    const response = await phase(phases, name, async () => {
      // The limit starts in a job of its own, queued before the request: the harness's calls that build
      // the request run before it, the server (which TestClient starts from a later job) after it.
      if (limited) void Promise.resolve().then(() => __fitStackLimit(options.stackLimit as number));
      try {
        return await work();
      } finally {
        if (limited) __fitStackLimit(0);
      }
    });
    statuses.push(response.status);
  };
  // Creating the app is not a request: it runs once, from the device's main().
  const { device: app, setupCode } = startDevice({ iterations: options.iterations });
  const admin = app.browser();
  await measure(() => admin.get('/setup'));
  await measure(() => admin.post('/setup', { code: setupCode, password: PASSWORD, confirm: PASSWORD }));
  const user = app.browser();
  await measure(() => user.get('/login'));
  const staleToken = user.token; // bound to the session the login replaces
  await measure(() => user.post('/login', { username: 'admin', password: 'not the password' }));
  await measure(() => user.post('/login', { username: 'admin', password: PASSWORD }));
  await measure(() => user.get('/'));
  await measure(() => user.get('/settings/password'));
  await measure(() => user.get('/api/me'));
  const intruder = app.browser();
  intruder.client.cookies.set('session', tamperSignature(sessionCookie(user).slice('session='.length)));
  await measure(() => intruder.get('/'));
  intruder.client.cookies.set('session', 'A'.repeat(1500));
  await measure(() => intruder.get('/'));
  intruder.client.cookies.set('session', 'A'.repeat(2100));
  await measure(() => intruder.get('/'));
  await measure(() => user.get('/nope'));
  await measure(() => user.client.request('DELETE', '/', { headers: BROWSER_HEADERS }));
  const freshToken = user.token;
  user.token = staleToken;
  const changed = { old_password: PASSWORD, password: 'a new secret phrase', confirm: 'a new secret phrase' };
  await measure(() => user.post('/settings/password', changed));
  user.token = freshToken;
  await measure(() => user.post('/settings/password', changed));
  await user.get('/'); // the form token of the session the password change renewed
  await measure(() => user.get('/account'));
  await measure(() => user.get('/settings'));
  const viewer = { action: 'add', username: 'viewer1', role: 'viewer', password: PASSWORD, confirm: PASSWORD };
  await measure(() => user.post('/settings', viewer));
  await measure(() => user.post('/settings', { action: 'role', user: 'viewer1', role: 'admin' }));
  await measure(() => user.post('/logout', {}));
  await user.get('/login');
  await user.post('/login', { username: 'admin', password: 'a new secret phrase' });
  await user.get('/');
  await measure(() => user.post('/logout', { everywhere: '1' }));
  return { scenario: 'paths', concurrency: 1, iterations: app.iterations, phases, statuses };
}

async function oneKind(kind: RequestKind, options: FitScenario): Promise<FitResult> {
  const concurrency = options.concurrency ?? 1;
  const phases: PhaseMemory[] = [];
  const device: Device = await phase(phases, 'boot and setup', () => bootDevice({ iterations: options.iterations }));
  const browsers: Browser[] = [];
  for (let i = 0; i < concurrency; i++) browsers.push(await prepare(device, kind));
  await phase(phases, 'warm-up', () => Promise.all(browsers.map((browser) => status(kind, browser))));
  for (const browser of browsers) await prepare(device, kind, browser);
  const statuses = await phase(phases, `${concurrency} × ${kind}`, () => Promise.all(browsers.map((browser) => status(kind, browser))));
  return { scenario: kind, concurrency, iterations: device.iterations, phases, statuses };
}

/** Allocation per request of one kind, `concurrency` at once (nothing collected). */
export interface KindAllocation {
  /** A request kind of bench/workload.ts, or `asset`, `asset304`, `upload` (below). */
  kind: RequestKind | 'asset' | 'asset304' | 'upload';
  concurrency: number;
  slots: number;
  chunks: number;
}

const BUDGET_PATHS: Partial<Record<RequestKind, string>> = { home: '/', session: '/api/me', write: '/login', static: '/bench/static', settings: '/settings' };

/**
 * A browser's raw request for `path` (its navigation headers, `extra` headers, the cookie when given, a
 * form body for POST; the connection closes after it).
 */
function rawRequest(path: string, cookie?: string, extra: { method?: string; body?: string; headers?: Record<string, string> } = {}): Uint8Array {
  let head = `${extra.method ?? 'GET'} ${path} HTTP/1.1\r\nHost: localhost\r\n`;
  for (const [name, value] of Object.entries({ ...BROWSER_HEADERS, ...extra.headers })) head += `${name}: ${value}\r\n`;
  if (cookie !== undefined) head += `Cookie: ${cookie}\r\n`;
  if (extra.body !== undefined) head += `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${extra.body.length}\r\n`;
  return latin1Bytes(`${head}Connection: close\r\n\r\n${extra.body ?? ''}`);
}

/** The login app's stylesheet stand-in: as large as app/static/style.css (the fit host reads no files). */
const STYLESHEET = 'body{font:16px/1.5 system-ui,sans-serif}'.repeat(18);
/** The upload the `upload` row sends: a CSRF-less multipart form with one 8 KiB file, to /bench/upload. */
const UPLOAD_BOUNDARY = '----xsdotFitBoundary7MA4YWxkTrZu0gW';
const UPLOAD_FILE_BYTES = 8192;

function uploadRequest(): Uint8Array {
  const head = `--${UPLOAD_BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\nfit\r\n` +
    `--${UPLOAD_BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="fw.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${UPLOAD_BOUNDARY}--\r\n`;
  const body = new Uint8Array(head.length + UPLOAD_FILE_BYTES + tail.length);
  body.set(latin1Bytes(head), 0);
  for (let i = 0; i < UPLOAD_FILE_BYTES; i++) body[head.length + i] = (i * 31) & 0xff;
  body.set(latin1Bytes(tail), head.length + UPLOAD_FILE_BYTES);
  const request = rawRequest('/bench/upload', undefined, { method: 'POST', headers: { Origin: 'http://localhost', 'Content-Type': `multipart/form-data; boundary=${UPLOAD_BOUNDARY}`, 'Content-Length': String(body.length) } });
  const out = new Uint8Array(request.length + body.length);
  out.set(request, 0);
  out.set(body, request.length);
  return out;
}

/**
 * What the allocation budgets of tests/node/budgets.test.ts guard: for each request kind but the login,
 * slots and chunk bytes the server allocates per request (raw request in, response out, over
 * bench/direct-socket.ts), one at a time and `concurrency` in flight at once. Then the static-file and
 * upload paths: GET /static/style.css (200, from a memory source), the same with its ETag (304), and an
 * 8 KiB multipart upload streamed (request.stream) through the multipart parser into a SHA-256 sink.
 */
async function budgets(options: FitScenario): Promise<{ scenario: 'budgets'; allocations: KindAllocation[] }> {
  const device = await bootDevice({ iterations: options.iterations, assets: memoryFiles({ 'style.css': STYLESHEET }) });
  device.app.post('/bench/upload', async (request) => {
    const hash = runtime().crypto.createSha256();
    let size = 0;
    const parser = new MultipartParser(multipartBoundary(request.headers.getLower('content-type')), {
      file: () => ({ write: (bytes: Uint8Array) => { hash.update(bytes); size += bytes.length; }, close() {}, abort() {} }),
    });
    for await (const piece of request.stream as AsyncIterable<Uint8Array>) parser.write(piece);
    parser.end();
    hash.digest();
    return size === UPLOAD_FILE_BYTES ? 'ok' : 'short';
  }, { maxStreamBody: 64 * 1024 });
  const cookie = sessionCookie(await device.signedIn());
  const server = new Server(device.app);
  const allocations: KindAllocation[] = [];
  const concurrency = options.concurrency ?? 4;
  const peers = Array.from({ length: concurrency }, () => new DirectPeer());
  const measure = async (kind: KindAllocation['kind'], request: Uint8Array, status: number) => {
    // From the event loop, as a device's socket callbacks run: this harness's frames stay off the stack.
    await fromTheEventLoop();
    const one = peers[0];
    for (let i = 0; i < 3; i++) {
      await exchange(server, one, request);
      if (one.status !== status) throw new Error(`${kind}: status ${one.status}`);
    }
    __fitGC();
    __fitResetPeak();
    let before = memory();
    const times = 4;
    for (let i = 0; i < times; i++) await exchange(server, one, request);
    let after = memory();
    allocations.push({ kind, concurrency: 1, slots: (after.peakSlots - before.slots) / times, chunks: (after.peakChunks - before.chunks) / times });

    __fitGC();
    __fitResetPeak();
    before = memory();
    // Each connection sends half its head, then all finish: `concurrency` requests in flight at once.
    for (const peer of peers) open(server, peer, request, request.length >> 1);
    for (const peer of peers) peer.arrive(request.length);
    for (let turns = 0; peers.some((peer) => !peer.closed); turns++) {
      if (turns > 10_000) throw new Error(`${kind}: the server never closed the connections`);
      await null;
      for (const peer of peers) if (!peer.closed && peer.socket !== undefined) peer.socket.options.onWritable?.call(peer.socket, WINDOW);
    }
    after = memory();
    for (const peer of peers) if (peer.status !== status) throw new Error(`${kind} ×${concurrency}: status ${peer.status}`);
    allocations.push({ kind, concurrency, slots: (after.peakSlots - before.slots) / concurrency, chunks: (after.peakChunks - before.chunks) / concurrency });
  };
  for (const kind of ['home', 'session', 'write', 'static', 'settings'] as RequestKind[]) {
    await measure(kind, rawRequest(BUDGET_PATHS[kind] as string, kind === 'write' || kind === 'static' ? undefined : cookie), 200);
  }
  await measure('asset', rawRequest('/static/style.css'), 200);
  await measure('asset304', rawRequest('/static/style.css', undefined, { headers: { 'If-None-Match': contentETag(latin1Bytes(STYLESHEET)) } }), 304);
  await measure('upload', uploadRequest(), 200);
  return { scenario: 'budgets', allocations };
}

/**
 * Where memory goes: live memory at points of a boot, and what single operations allocate (averaged
 * over a few runs, after a first run that creates caches).
 */
async function parts(options: FitScenario): Promise<PartsResult> {
  const live: LivePoint[] = [];
  const mark = (name: string) => {
    __fitGC();
    const { slots, chunks } = memory();
    live.push({ name, slots, chunks });
  };
  const results: PartAllocation[] = [];
  const allocation = async (name: string, operation: () => unknown, times = 8) => {
    await operation();
    __fitGC();
    __fitResetPeak();
    const before = memory();
    for (let i = 0; i < times; i++) await operation();
    const after = memory();
    results.push({ name, slots: (after.peakSlots - before.slots) / times, chunks: (after.peakChunks - before.chunks) / times });
  };

  mark('runtime installed (harness included)');
  const device = await bootDevice({ iterations: options.iterations });
  mark('login app created, admin password set');
  const browser = await device.signedIn();
  mark('+ one signed-in browser (its in-memory client and cookie jar)');

  const cookie = sessionCookie(browser);
  let head = 'GET /api/me HTTP/1.1\r\nHost: localhost\r\n';
  for (const [name, value] of Object.entries(BROWSER_HEADERS)) head += `${name}: ${value}\r\n`;
  const raw = latin1Bytes(`${head}Cookie: ${cookie}\r\nConnection: close\r\n\r\n`);
  const rawStatic = latin1Bytes(`${head.replace('/api/me', '/bench/static')}Connection: close\r\n\r\n`);
  const token = cookie.slice('session='.length);
  const ring = new KeyRing([{ kid: 'k1', key: runtime().randomBytes(32) }]);
  const payload = { user: 'admin', sid: 'AAAAAAAAAAAA', exp: 1_800_003_600 };
  const signed = signToken(payload, ring);
  const page = dashboardPage({ device: 'xsdot device', token: 'x'.repeat(43), user: 'admin', uptime: '1 hour', freeMemory: undefined, expires: 'in 8 hours' });
  const pageBytes = runtime().utf8Encode(page);
  const key = runtime().randomBytes(32);
  const data = runtime().randomBytes(200);

  await allocation('session GET /api/me: in-memory browser and server', () => send('session', browser));
  await allocation('session GET /api/me: server only (raw request in, raw response out)', () => browser.client.exchange(raw));
  await allocation('static page: server only', () => browser.client.exchange(rawStatic));
  const limits = resolveLimits();
  const parse = (bytes: Uint8Array) => {
    const parser = new RequestParser(limits);
    parser.push(bytes);
    const parsed = parser.next();
    if (parsed === undefined) throw new Error('parts: the request does not parse');
    return parsed;
  };
  await allocation('  of which: parse the request head', () => parse(raw));
  const handle = (bytes: Uint8Array) => {
    const parsed = parse(bytes);
    return device.app.handle(new Request(parsed.head, parsed.body, '192.0.2.1', limits));
  };
  await allocation('  of which: parse + app.handle() for GET /api/me (hooks, session, handler)', () => handle(raw));
  await allocation('  of which: parse + app.handle() for the static page', () => handle(rawStatic));
  const now = { now: 1_800_000_100 };
  await allocation(`verify a session token (${signed.length} chars, HS256, the ring's own key)`, () => verifyToken(signed, ring, now));
  await allocation(`refuse the app's cookie under another kid (${token.length} chars: the header is parsed)`, () => verifyToken(token, ring, now));
  await allocation('sign a session token', () => signToken(payload, ring));
  await allocation('HMAC-SHA256 of 200 bytes (pure-TS SHA-256)', () => hmacSha256(key, data));
  await allocation(`render the dashboard page (${page.length} chars)`, () => dashboardPage({ device: 'xsdot device', token: 'x'.repeat(43), user: 'admin', uptime: '1 hour', freeMemory: undefined, expires: 'in 8 hours' }));
  await allocation(`utf8Encode the page (${page.length} chars)`, () => runtime().utf8Encode(page));
  await allocation(`utf8Decode the page (${pageBytes.length} bytes)`, () => runtime().utf8Decode(pageBytes));
  await allocation(`latin1 of the request head (${raw.length} bytes)`, () => latin1(raw));
  const text = latin1(raw);
  await allocation(`${text.length} × text.charCodeAt(i) on the head (XS boxes a primitive string per method call)`, () => {
    let sum = 0;
    for (let i = 0; i < text.length; i++) sum += text.charCodeAt(i);
    return sum;
  });
  await allocation(`${raw.length} × bytes[i] on the head's Uint8Array`, () => {
    let sum = 0;
    for (let i = 0; i < raw.length; i++) sum += raw[i];
    return sum;
  });
  return { scenario: 'parts', live, parts: results };
}

export { step } from './scenario';

export function start(json: string): void {
  const options = JSON.parse(json) as FitScenario;
  runScenario((): Promise<unknown> => (options.scenario === 'headline' ? headline(options)
    : options.scenario === 'parts' ? parts(options)
      : options.scenario === 'budgets' ? budgets(options)
      : options.scenario === 'paths' ? paths(options)
      : oneKind(options.scenario, options)));
}
