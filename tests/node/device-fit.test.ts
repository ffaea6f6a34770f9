/**
 * The device-fit check: the login app's whole request pipeline on a 32-bit XS engine (16-byte slots,
 * as on the ESP32) with the Moddable Two creation block — chunks 78,848 bytes, heap 4,928 slots,
 * stack 512 slots, no growth — serving 8 concurrent session requests, then a login among 7 more, then
 * a request whose head is near the 2 KB limit (browser-sized heads: ~660 bytes with a session cookie),
 * as raw bytes over sockets driven as a device's event loop drives them; then the same in 70 % of the
 * heap slots and 70 % of the chunk bytes: ≥ 30 % headroom on both, the aim. The login app keeps
 * ~670 slots in RAM after boot and setup (one LoginApp: its state and route entries; its handlers,
 * patterns and pages are module-level, in flash when preloaded), and 8 clients need ~1,980 slots (40 %
 * of the heap) and ~24,900 chunk bytes (32 %) (`npm run bench:memory`).
 * Exceeding the budget aborts the engine ("memory full", "stack overflow"), so this fails loudly.
 * Then every request path that goes deep (bench/fit/entry.ts `paths`: setup and login with PBKDF2, the
 * largest page, a tampered and an oversized cookie, the error pages, a password change, a logout) runs
 * held to STACK_BUDGET (358 of the 512 stack slots: ≥ 30 % headroom), counted from the event loop as
 * on a device; `npm run bench:stack` says how many slots each path needs.
 *
 * Builds hosts/xs/fit (xsdot-fit) with `gcc -m32` on first use (build/fit/, ~20-40 s). Without
 * gcc-multilib: fails when CI=true (.ci/run installs it), skips with a message elsewhere.
 * Modules are preloaded into "flash" first, as manifest.json has Moddable builds do; see fit.c.
 * Behaviour only: no timing assertions. `npm run bench:memory` prints the figures.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFitHost, FitToolchainMissing } from '../../hosts/xs/fit/build';
import { bundleFitEntry, describeRun, MODDABLE_TWO, runFit, STACK_BUDGET } from '../../hosts/xs/fit/run';
import { HEADLINE_CLIENTS, PATH_STATUSES, PATHS, type FitResult, type FitScenario } from '../../bench/fit/entry';

async function fitHost(skip: (message: string) => void): Promise<string | undefined> {
  try {
    return await buildFitHost();
  } catch (error) {
    if (!(error instanceof FitToolchainMissing)) throw error;
    if (process.env.CI === 'true' || process.env.CI === '1') assert.fail(`device-fit check cannot run in CI: ${error.message}`);
    skip(`device-fit check skipped: ${error.message}`);
    return undefined;
  }
}

/**
 * Live memory after boot and setup (the fit harness's ~200 slots included): the login app's state and
 * route entries, what its first requests made, the host store. Its handlers, route patterns and page
 * pieces are module-level, in flash: a change that makes per-app closures again shows here (907 slots
 * and 5,108 chunk bytes when set, 1.75 KB of them the request-syntax expressions of modules/http/text.ts,
 * compiled by the first request, and 352 bytes the session ring's verified-token cache: its MAC table and
 * the cookies the setup's requests verified, of at most 4 kept; with per-app closures it was 2,020 slots,
 * ~90 of them the setup client's own Server, since closed).
 */
const BOOT_BUDGET = { slots: 935, chunks: 5_300 };

/** 8 session requests at once (a dashboard and /api/me from each of 4 browsers), then a login among 7 more, then a 2 KB head. */
const HEADLINE_STATUSES = [...new Array(HEADLINE_CLIENTS).fill(200), 303, ...new Array(HEADLINE_CLIENTS - 1).fill(200), 200];

test(`device fit: the login app serves ${HEADLINE_CLIENTS} concurrent session requests plus a login on Moddable Two's fixed 32-bit XS heap`, async (t) => {
  const binary = await fitHost((message) => t.skip(message));
  if (binary === undefined) return;
  const bundle = await bundleFitEntry();
  // The app's own PBKDF2 iteration count: the login is the real one.
  const run = await runFit(binary, bundle, { preload: true, arg: JSON.stringify({ scenario: 'headline' }) });
  assert.equal(run.exitCode, 0, `the app does not fit the Moddable Two budget: ${describeRun(run)}`);

  assert.deepEqual(run.budget, { chunk: MODDABLE_TWO.chunk, heap: MODDABLE_TWO.heap, stack: MODDABLE_TWO.stack, slotSize: 16 },
    'the engine must be 32-bit (16-byte slots) with the Moddable Two creation block');
  assert.equal(run.preload, true);
  assert.equal(run.shared?.preloadedRegExps, 0, 'nothing the XS linker refuses is left in flash');

  const result = run.result as FitResult;
  assert.deepEqual(result.statuses, HEADLINE_STATUSES, 'every request was answered as a browser expects');
  assert.equal(result.concurrency, HEADLINE_CLIENTS);
  assert.equal(result.phases.length, 5);
  const boot = result.phases[0];
  assert.ok(boot.slotsAfter <= BOOT_BUDGET.slots && boot.chunksAfter <= BOOT_BUDGET.chunks,
    `after boot and setup the device keeps ${boot.slotsAfter} slots and ${boot.chunksAfter} chunk bytes, budget ${BOOT_BUDGET.slots} and ${BOOT_BUDGET.chunks}`);

  // The device machine never grew: the peaks XS recorded are within the fixed heap and block.
  const done = run.phases.done;
  assert.ok(done !== undefined, 'the run reported its final memory');
  assert.equal(done.heapSlots, MODDABLE_TWO.heap - 1, 'heap slots (XS keeps one as the heap header)');
  assert.equal(done.chunkBytes, MODDABLE_TWO.chunk);
  assert.ok(done.peakSlots <= done.heapSlots, `peak slots ${done.peakSlots} within ${done.heapSlots}`);
  // XS counts a chunk being resized twice until the next collection, so its peak may pass the block
  // by a little; the block itself cannot grow (incremental 0), which the clean exit proves.
  const live = run.phases['after-gc'];
  assert.ok(live.slots < done.heapSlots / 2, `live slots after the run: ${live.slots}`);
  assert.ok(live.chunks < MODDABLE_TWO.chunk / 4, `live chunk bytes after the run: ${live.chunks}`);
  t.diagnostic(`device after the run: ${live.slots} live slots, ${live.chunks} live chunk bytes; ` +
    `flash: ${run.phases.flash.slots} slots, ${run.phases.flash.chunks} chunk bytes, ${run.shared?.aliases} aliasable; ${Math.round(run.ms)} ms`);
});

test(`device fit: the same ${HEADLINE_CLIENTS} clients fit in 70 % of Moddable Two's heap slots and 70 % of its chunk bytes (≥ 30 % headroom)`, async (t) => {
  const binary = await fitHost((message) => t.skip(message));
  if (binary === undefined) return;
  const bundle = await bundleFitEntry();
  const heap = Math.floor(MODDABLE_TWO.heap * 0.7);
  const chunk = Math.floor(MODDABLE_TWO.chunk * 0.7);
  const run = await runFit(binary, bundle, { preload: true, heap, chunk, arg: JSON.stringify({ scenario: 'headline' }) });
  assert.equal(run.exitCode, 0, `the app needs more than ${heap} heap slots or ${chunk} chunk bytes: ${describeRun(run)}`);
  assert.deepEqual({ heap: run.budget?.heap, chunk: run.budget?.chunk }, { heap, chunk });
  assert.deepEqual((run.result as FitResult).statuses, HEADLINE_STATUSES);
});

test(`device fit: every deep request path runs within ${STACK_BUDGET} of the ${MODDABLE_TWO.stack} stack slots (≥ 30 % headroom)`, async (t) => {
  const binary = await fitHost((message) => t.skip(message));
  if (binary === undefined) return;
  const bundle = await bundleFitEntry();
  // PBKDF2 with a few iterations: the depth of its call chain does not depend on the count.
  const scenario: FitScenario = { scenario: 'paths', iterations: 10, stackLimit: STACK_BUDGET };
  const run = await runFit(binary, bundle, { preload: true, arg: JSON.stringify(scenario) });
  assert.equal(run.exitCode, 0, `a request path needs more than ${STACK_BUDGET} stack slots: ${describeRun(run)}`);
  const result = run.result as FitResult;
  assert.deepEqual(result.phases.map((phase) => phase.name), [...PATHS]);
  assert.deepEqual(result.statuses, [...PATH_STATUSES], 'every path was answered as a browser expects');
});

test('device fit: a path over its stack budget is a loud failure, not a pass', async (t) => {
  const binary = await fitHost((message) => t.skip(message));
  if (binary === undefined) return;
  const bundle = await bundleFitEntry();
  // Any request parses its head: 200 slots cannot hold the parser's call chain.
  const run = await runFit(binary, bundle, { preload: true, arg: JSON.stringify({ scenario: 'paths', iterations: 10, stackLimit: 200, limitPhase: 0 }) });
  assert.equal(run.exitCode, 4, describeRun(run));
  assert.equal(run.aborted?.aborted, 'stack overflow');
  assert.match(run.stderr, /the phase needs more than the 200 stack slots it was held to \(of 512\)/);
  assert.match(run.stderr, /JavaScript frames \(innermost first/);
});

test('device fit: exceeding the budget is a loud failure, not a pass', async (t) => {
  const binary = await fitHost((message) => t.skip(message));
  if (binary === undefined) return;
  const bundle = await bundleFitEntry();
  const run = await runFit(binary, bundle, { preload: true, heap: 1_500, arg: JSON.stringify({ scenario: 'session', iterations: 10 }) });
  assert.equal(run.exitCode, 3, describeRun(run));
  assert.equal(run.aborted?.aborted, 'memory full');
  assert.equal(run.aborted?.machine, 'device');
  assert.match(run.stderr, /exceeded the device budget \(chunks 78848 bytes, heap 1500 slots of 16 bytes, stack 512 slots, no growth\)/);
});
