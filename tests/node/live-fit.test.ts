/**
 * Device fit with a live connection open: the login app on the 32-bit fit engine with Moddable Two's
 * fixed heap (78,848 chunk bytes, 4,928 slots, stack 512), a signed-in dashboard's Server-Sent Events
 * stream open while 3 session requests run at once (the device's 4 connection slots), then the app's
 * timer pushing the next status (bench/fit/live-entry.ts, scenario "fit"). Fails when it does not fit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFitHost, FitToolchainMissing } from '../../hosts/xs/fit/build';
import { bundleFitEntry, describeRun, MODDABLE_TWO, runFit } from '../../hosts/xs/fit/run';
import type { LiveFitResult } from '../../bench/fit/live-entry';

test('device fit: the dashboard\'s live stream open beside 3 concurrent session requests, on Moddable Two\'s heap', async (t) => {
  let binary: string;
  try {
    binary = await buildFitHost();
  } catch (error) {
    if (!(error instanceof FitToolchainMissing)) throw error;
    if (process.env.CI === 'true' || process.env.CI === '1') assert.fail(`device fit cannot run in CI: ${error.message}`);
    t.skip(`device fit skipped: ${error.message}`);
    return;
  }
  const bundle = await bundleFitEntry('bench/fit/live-entry.ts');
  const run = await runFit(binary, bundle, { preload: true, ...MODDABLE_TWO, arg: JSON.stringify({ scenario: 'fit' }) });
  assert.equal(run.exitCode, 0, `a live dashboard does not fit the Moddable Two budget: ${describeRun(run)}`);
  assert.deepEqual(run.budget, { ...MODDABLE_TWO, slotSize: 16 });
  const result = run.result as LiveFitResult;
  assert.deepEqual(result.statuses, [200, 200, 200, 200], 'the stream and every request answered');
  assert.equal(result.events, 2, 'a status event at once and one from the timer');
  const done = run.phases.done;
  t.diagnostic(`peak ${done.peakSlots} of ${done.heapSlots} slots, ${done.peakChunks} of ${done.chunkBytes} chunk bytes`);
});
