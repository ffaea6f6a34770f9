/**
 * Allocation budgets of the request path on the device's engine: the slots and chunk bytes the server
 * allocates per request, counted by XS itself on the 32-bit fit host (hosts/xs/fit, modules preloaded,
 * native SHA-256 as a device's Digest), with a heap so large that nothing is collected. The counts are
 * deterministic (same code, same bytes in, same count), so a change that makes the request path heavier
 * fails here, naming the request and the figure. Tighten a budget when a change lowers its figure.
 *
 * The requests: the microdot peer app (bench/peer-app.ts, the same raw bytes microdot is measured with,
 * bench/peer-exchange.ts) and the login app's request kinds with a desktop browser's ~660-byte head
 * (bench/fit/entry.ts, scenario "budgets"), one at a time and 4 in flight at once, plus the smallest
 * fixed heap for 4 concurrent session requests of the peer app. No times: those live in bench/.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFitHost, FitToolchainMissing } from '../../hosts/xs/fit/build';
import { bundleFitEntry, describeRun, runFit } from '../../hosts/xs/fit/run';
import type { KindAllocation } from '../../bench/fit/entry';
import type { PeerFitResult } from '../../bench/fit/peer-entry';
import type { ExtensionAllocation } from '../../bench/fit/extensions-entry';
import type { LiveIdleCost } from '../../bench/fit/live-entry';

/** A heap that never fills: allocation is counted, not collected. */
const HUGE = { chunk: 64 * 1024 * 1024, heap: 1_000_000 };

interface Budget {
  slots: number;
  chunks: number;
}

/** Per request of the peer app, one connection each. */
const PEER_BUDGETS: Record<string, Budget> = {
  '/': { slots: 130, chunks: 420 },
  '/me': { slots: 185, chunks: 1_580 },
};

/**
 * Per request of the login app, keyed `kind×concurrency`. The dashboard renders the uptime and the
 * session's expiry, whose text varies by a few bytes from run to run: its chunk budgets keep 1 % of room.
 * `settings` is the admin's GET /settings (one user): a new kind, so it does not weigh on the others.
 * The dashboard's live script (app/live.ts: its script tag and ids, the CSP allowing it) adds 4 slots
 * and ~500 chunk bytes to `home`; the `/live/<name>` route, tried before the bench's static route,
 * 11 slots to `static` (a route with parameters splits the path when it is tried). Streamed request
 * bodies and static files cost every request 4 slots; the stylesheet, no longer inline, took ~200 slots
 * and ~5 KB off `home` and `write`. Heads read in place (parser.ts: one text, fields found when asked)
 * took 220–330 slots off each kind: a browser's head has a dozen fields nobody reads; private methods made
 * static or public 35 more (XS gives every instance a slot per private method: a connection had 26), and
 * routing without a for-of loop or a returned tuple 18 more (each allocates an iterator on XS).
 * Form pages pass the device name to their render closure (main.ts), which then captures one variable
 * less: 1 slot off `home` and `write`. The session key ring's verified-token cache (session/jwt.ts) took
 * 27 slots and 230–440 chunk bytes off each kind that reads a session from a cookie it verified before.
 */
const LOGIN_BUDGETS: Record<string, Budget> = {
  'home×1': { slots: 524, chunks: 18_340 },
  'home×4': { slots: 502, chunks: 18_970 },
  'session×1': { slots: 285, chunks: 6_350 },
  'session×4': { slots: 261, chunks: 6_940 },
  'write×1': { slots: 547, chunks: 20_580 },
  'write×4': { slots: 523, chunks: 20_920 },
  'static×1': { slots: 445, chunks: 7_080 },
  'static×4': { slots: 367, chunks: 7_030 },
  'settings×1': { slots: 791, chunks: 37_930 },
  'settings×4': { slots: 713, chunks: 38_130 },
  // A static file (GET /static/style.css, 739 B from a memory source: app/assets.ts, modules/http/static.ts),
  // its 304 revalidation, and an 8 KiB multipart upload streamed through request.stream (bench/fit/entry.ts).
  'asset×1': { slots: 1_408, chunks: 11_240 },
  'asset×4': { slots: 1_145, chunks: 11_200 },
  'asset304×1': { slots: 909, chunks: 7_760 },
  'asset304×4': { slots: 752, chunks: 7_770 },
  'upload×1': { slots: 2_430, chunks: 22_870 },
  'upload×4': { slots: 2_067, chunks: 22_110 },
};

/**
 * Per request of microdot's extensions (bench/fit/extensions-entry.ts: an app of the peer app's size). An app
 * that does not use them allocates nothing for them (the budgets above). `remember` is a GET restored from
 * the remember-me cookie (verify, load, a new session cookie minted); `preflight` goes through the 405 path.
 */
const EXTENSION_BUDGETS: Record<string, Budget> = {
  login: { slots: 292, chunks: 2_500 },
  'login-redirect': { slots: 297, chunks: 1_990 },
  remember: { slots: 517, chunks: 6_160 },
  basic: { slots: 320, chunks: 3_020 },
  token: { slots: 264, chunks: 2_440 },
  cors: { slots: 175, chunks: 1_600 },
  preflight: { slots: 322, chunks: 4_130 },
};

/**
 * Live memory each idle live connection keeps (bench/fit/live-entry.ts: 4 at once, a browser's head):
 * an event stream or WebSocket whose handler returned (the app sends from elsewhere), and one whose async
 * handler is still running (its suspended frame keeps the request, and so its head's text: ~660 bytes).
 * For comparison, an idle keep-alive HTTP connection keeps 40 slots + 7 chunk bytes.
 */
const LIVE_BUDGETS: Record<string, Budget> = {
  sse: { slots: 63, chunks: 13 },
  'sse-awaiting': { slots: 195, chunks: 890 },
  websocket: { slots: 87, chunks: 37 },
  'websocket-awaiting': { slots: 285, chunks: 2_330 },
};

/**
 * 4 concurrent GET /me of the peer app (10 rounds after boot and a login) complete in this fixed heap. They
 * need 975 slots and ~6,880 chunk bytes, of which the regular expressions that check a request's syntax
 * natively (modules/http/text.ts), compiled by the first request and kept, are 1.75 KB (routes sharing
 * their app's hook and method lists took 25 slots and ~390 bytes off; the session ring's verified-token
 * cache, its MAC table and the one cookie it remembers, adds 21 slots and ~240 bytes; a connection with
 * no queue array, limits or client fields, 23 slots off).
 */
const PEER_CONCURRENT_HEAP = { heap: 1_000, chunk: 6_900 };

async function fitHost(skip: (message: string) => void): Promise<string | undefined> {
  try {
    return await buildFitHost();
  } catch (error) {
    if (!(error instanceof FitToolchainMissing)) throw error;
    if (process.env.CI === 'true' || process.env.CI === '1') assert.fail(`allocation budgets cannot run in CI: ${error.message}`);
    skip(`allocation budgets skipped: ${error.message}`);
    return undefined;
  }
}

function within(what: string, measured: Budget, budget: Budget): string[] {
  const over: string[] = [];
  if (measured.slots > budget.slots) over.push(`${what}: ${measured.slots} slots allocated per request, budget ${budget.slots}`);
  if (measured.chunks > budget.chunks) over.push(`${what}: ${measured.chunks} chunk bytes allocated per request, budget ${budget.chunks}`);
  return over;
}

test('allocation budgets: the peer app per request, and 4 concurrent GET /me in a fixed heap', async (t) => {
  const binary = await fitHost((message) => t.skip(message));
  if (binary === undefined) return;
  const bundle = await bundleFitEntry('bench/fit/peer-entry.ts');
  const run = await runFit(binary, bundle, { preload: true, ...HUGE, arg: JSON.stringify({ scenario: 'alloc' }) });
  assert.equal(run.exitCode, 0, describeRun(run));
  const rows = (run.result as PeerFitResult).allocations ?? [];
  assert.deepEqual(rows.map((row) => row.route), Object.keys(PEER_BUDGETS));
  const over = rows.flatMap((row) => within(`peer GET ${row.route}`, row, PEER_BUDGETS[row.route]));
  for (const row of rows) t.diagnostic(`peer GET ${row.route}: ${row.slots} slots + ${row.chunks} chunk bytes = ${Math.round(row.slots * 16 + row.chunks)} B per request`);
  assert.deepEqual(over, [], 'the request path allocates more than its budget');

  const concurrent = await runFit(binary, bundle, { preload: true, ...PEER_CONCURRENT_HEAP, arg: JSON.stringify({ scenario: 'concurrent', clients: 4, rounds: 10 }) });
  assert.equal(concurrent.exitCode, 0, `4 concurrent GET /me do not fit ${PEER_CONCURRENT_HEAP.heap} slots + ${PEER_CONCURRENT_HEAP.chunk} chunk bytes: ${describeRun(concurrent)}`);
  assert.deepEqual((concurrent.result as PeerFitResult).answered, new Array(10).fill(4));
});

test('allocation budgets: the login app\'s request kinds, alone and 4 at once', async (t) => {
  const binary = await fitHost((message) => t.skip(message));
  if (binary === undefined) return;
  const bundle = await bundleFitEntry();
  const run = await runFit(binary, bundle, { preload: true, ...HUGE, arg: JSON.stringify({ scenario: 'budgets', iterations: 100, concurrency: 4 }) });
  assert.equal(run.exitCode, 0, describeRun(run));
  const rows = (run.result as { allocations: KindAllocation[] }).allocations;
  assert.deepEqual(rows.map((row) => `${row.kind}×${row.concurrency}`), Object.keys(LOGIN_BUDGETS));
  for (const row of rows) t.diagnostic(`${row.kind} ×${row.concurrency}: ${row.slots} slots + ${row.chunks} chunk bytes per request`);
  const over = rows.flatMap((row) => within(`${row.kind} ×${row.concurrency}`, row, LOGIN_BUDGETS[`${row.kind}×${row.concurrency}`]));
  assert.deepEqual(over, [], 'the request path allocates more than its budget');
});

test('allocation budgets: the request kinds of Login, BasicAuth, TokenAuth and CORS', async (t) => {
  const binary = await fitHost((message) => t.skip(message));
  if (binary === undefined) return;
  const bundle = await bundleFitEntry('bench/fit/extensions-entry.ts');
  const run = await runFit(binary, bundle, { preload: true, ...HUGE, arg: '{}' });
  assert.equal(run.exitCode, 0, describeRun(run));
  const rows = (run.result as { allocations: ExtensionAllocation[] }).allocations;
  assert.deepEqual(rows.map((row) => row.kind), Object.keys(EXTENSION_BUDGETS));
  for (const row of rows) t.diagnostic(`${row.kind} (${row.status}): ${row.slots} slots + ${row.chunks} chunk bytes per request`);
  assert.deepEqual(rows.map((row) => row.status), [200, 303, 200, 200, 200, 200, 204]);
  const over = rows.flatMap((row) => within(row.kind, row, EXTENSION_BUDGETS[row.kind]));
  assert.deepEqual(over, [], 'the request path allocates more than its budget');
});

test('memory budgets: an idle Server-Sent Events stream and an idle WebSocket', async (t) => {
  const binary = await fitHost((message) => t.skip(message));
  if (binary === undefined) return;
  const bundle = await bundleFitEntry('bench/fit/live-entry.ts');
  const run = await runFit(binary, bundle, { preload: true, ...HUGE, arg: JSON.stringify({ connections: 4 }) });
  assert.equal(run.exitCode, 0, describeRun(run));
  const rows = (run.result as { idle: LiveIdleCost[] }).idle;
  assert.deepEqual(rows.map((row) => row.kind), ['keep-alive', ...Object.keys(LIVE_BUDGETS)]);
  for (const row of rows) t.diagnostic(`idle ${row.kind}: ${row.slots} slots + ${row.chunks} chunk bytes = ${Math.round(row.slots * 16 + row.chunks)} B per connection`);
  const over = rows.filter((row) => row.kind !== 'keep-alive').flatMap((row) => within(`idle ${row.kind}`, row, LIVE_BUDGETS[row.kind]).map((line) => line.replace('per request', 'per connection')));
  assert.deepEqual(over, [], 'an idle live connection keeps more than its budget');
});

test('allocation budgets: a heavier request path fails, naming the figure', () => {
  assert.deepEqual(within('peer GET /', { slots: 131, chunks: 10 }, PEER_BUDGETS['/']), ['peer GET /: 131 slots allocated per request, budget 130']);
  assert.deepEqual(within('x', { slots: 1, chunks: 99_999 }, { slots: 1, chunks: 1 }), ['x: 99999 chunk bytes allocated per request, budget 1']);
});
