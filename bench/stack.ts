/**
 * `npm run bench:stack`: the stack each request path of the login app needs on the 32-bit XS host of
 * hosts/xs/fit — the smallest number of slots with which the phase of bench/fit/entry.ts's `paths`
 * scenario still completes (binary search, to the slot; the other phases get the whole 512), counted
 * from the event loop as on a device. Prints a table and writes bench/results/stack.json.
 * The device-fit check (npm test) holds every path to STACK_BUDGET; this says how far each is from it.
 */
import { availableParallelism } from 'node:os';
import { buildFitHost } from '../hosts/xs/fit/build';
import { bundleFitEntry, MODDABLE_TWO, runFit, STACK_BUDGET } from '../hosts/xs/fit/run';
import { PATHS, type FitScenario } from './fit/entry';
import { pool, table, writeResults } from './report';

/** PBKDF2's iteration count does not change the depth of a call chain; few keep each run short. */
const ITERATIONS = 10;

const binary = await buildFitHost((line) => console.error(line));
const bundle = await bundleFitEntry();

async function passes(limitPhase: number, stackLimit: number): Promise<boolean> {
  const scenario: FitScenario = { scenario: 'paths', iterations: ITERATIONS, stackLimit, limitPhase };
  const run = await runFit(binary, bundle, { preload: true, arg: JSON.stringify(scenario) });
  return run.exitCode === 0;
}

/** Smallest limit in (low, high] that passes; undefined when even the whole stack does not. */
async function smallest(phase: number): Promise<number | undefined> {
  let low = 0;
  let high: number = MODDABLE_TWO.stack;
  if (!(await passes(phase, high))) return undefined;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (await passes(phase, middle)) high = middle;
    else low = middle;
  }
  return high;
}

const needs = await pool(PATHS.map((_, phase) => () => smallest(phase)), Math.max(1, Math.min(2, availableParallelism())));
const rows = PATHS.map((path, i) => {
  const slots = needs[i];
  return [path, slots ?? '> 512', slots === undefined ? '—' : `${Math.round((1 - slots / MODDABLE_TWO.stack) * 100)}%`];
});
console.log(`Stack slots each request path needs (stack ${MODDABLE_TWO.stack}; the device-fit check holds each to ${STACK_BUDGET}):\n`);
console.log(table(['path', 'slots', `headroom at ${MODDABLE_TWO.stack}`], rows));
const file = writeResults('stack', { stack: MODDABLE_TWO.stack, budget: STACK_BUDGET, paths: PATHS.map((path, i) => ({ path, slots: needs[i] ?? null })) });
console.log(`\n${file}`);
