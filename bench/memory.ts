/**
 * `npm run bench:memory`: how the login app fits a device's XS heap, measured on the 32-bit XS host of
 * hosts/xs/fit (16-byte slots, as on the ESP32). Prints tables and writes bench/results/memory.json.
 *
 * - Flash: the XS built-ins and the preloaded modules, which a Moddable build keeps in ROM, and the
 *   bytecode of each module (as xsc compiles it for a release build).
 * - Device: per request type, at 1 and 4 concurrent connections —
 *   "allocated": slots and chunk bytes allocated per request with a heap so large that nothing is
 *   collected (churn: what the collector must reclaim), and the smallest heap (chunk block at
 *   Moddable Two's 78,848 bytes) and the smallest chunk block (heap at Moddable Two's 4,928 slots) in
 *   which the whole scenario — boot, setup, then the requests — still completes (binary search).
 * - The device-fit scenario (the npm test check) at Moddable Two's budget, its smallest heap, chunk
 *   block and stack; and the same app with its modules not preloaded.
 *
 * PBKDF2 runs with 100 iterations in the searches (its memory is per-iteration garbage, the same at any
 * count; the Moddable Two run of the device-fit scenario uses the app's own count). XSDOT_BENCH_QUICK=1
 * skips the searches.
 */
import { transform } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { buildFitHost, BUILD_DIR, FitToolchainMissing, ROOT } from '../hosts/xs/fit/build';
import { bundleFitEntry, compileModules, describeRun, MODDABLE_TWO, runFit, type FitOptions, type FitRun } from '../hosts/xs/fit/run';
import type { FitResult, FitScenario, PartsResult, PhaseMemory } from './fit/entry';
import { num, pool, table, writeResults } from './report';
import { REQUEST_LABELS, type RequestKind } from './workload';

const SEARCH_ITERATIONS = 100;
const QUICK = process.env.XSDOT_BENCH_QUICK === '1';
const JOBS = Math.max(1, Math.min(4, availableParallelism()));
const KINDS: RequestKind[] = ['home', 'session', 'write', 'login', 'static'];
/** Room for everything, so nothing is collected during a phase. */
const HUGE = { chunk: 64 * 1024 * 1024, heap: 1_000_000 };

let binary = '';
let bundle = '';

function fit(scenario: FitScenario, options: FitOptions = {}): Promise<FitRun> {
  return runFit(binary, bundle, { preload: true, ...options, arg: JSON.stringify(scenario) });
}

const lastPhase = (run: FitRun): PhaseMemory | undefined => (run.result as FitResult | undefined)?.phases.at(-1);

/**
 * Smallest value of `dimension` (heap slots or chunk bytes) at which `scenario` completes, the other
 * dimensions at Moddable Two's; undefined when even 16× Moddable Two's value is not enough.
 */
async function smallest(dimension: 'heap' | 'chunk' | 'stack', scenario: FitScenario, preload = true): Promise<number | undefined> {
  const start: number = MODDABLE_TWO[dimension];
  const resolution = dimension === 'chunk' ? 256 : dimension === 'heap' ? 16 : 8;
  const passes = async (value: number) => (await fit(scenario, { preload, [dimension]: value })).exitCode === 0;
  let high = start;
  let low = 0;
  while (!(await passes(high))) {
    low = high;
    high *= 2;
    if (high > start * 16) return undefined;
  }
  while (high - low > resolution) {
    const middle = Math.floor((low + high) / 2);
    if (await passes(middle)) high = middle;
    else low = middle;
  }
  return high;
}

function moduleFiles(): string[] {
  const files = ['main.ts'];
  for (const dir of ['app', 'modules']) {
    for (const name of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(join(dir, name));
    }
  }
  return files.sort();
}

async function bytecode(): Promise<{ file: string; code: number; symbols: number }[]> {
  const outDir = join(BUILD_DIR, 'modules-js');
  const sources = moduleFiles();
  const outputs: string[] = [];
  for (const file of sources) {
    const { code } = await transform(readFileSync(join(ROOT, file), 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: file });
    const out = join(outDir, file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, code);
    outputs.push(out);
  }
  const rows = await compileModules(binary, outputs);
  return rows.map((row, i) => {
    if (row.code === undefined) throw new Error(`${sources[i]}: ${row.error ?? 'does not compile'}`);
    return { file: sources[i], code: row.code, symbols: row.symbols ?? 0 };
  });
}

interface KindRow {
  kind: RequestKind;
  concurrency: number;
  allocatedSlots: number;
  allocatedChunks: number;
  liveSlots: number;
  liveChunks: number;
  smallestHeap?: number;
  smallestChunk?: number;
}

async function measureKind(kind: RequestKind, concurrency: number): Promise<KindRow> {
  const scenario: FitScenario = { scenario: kind, concurrency, iterations: SEARCH_ITERATIONS };
  const churn = await fit(scenario, HUGE);
  const phase = lastPhase(churn);
  if (churn.exitCode !== 0 || phase === undefined) throw new Error(`${kind} ×${concurrency}: ${describeRun(churn)}`);
  const row: KindRow = {
    kind, concurrency,
    allocatedSlots: (phase.peakSlots - phase.slotsBefore) / concurrency,
    allocatedChunks: (phase.peakChunks - phase.chunksBefore) / concurrency,
    liveSlots: phase.slotsAfter,
    liveChunks: phase.chunksAfter,
  };
  if (!QUICK) {
    row.smallestHeap = await smallest('heap', scenario);
    row.smallestChunk = await smallest('chunk', scenario);
  }
  return row;
}

async function main(): Promise<void> {
  try {
    binary = await buildFitHost((line) => console.log(line));
  } catch (error) {
    if (error instanceof FitToolchainMissing) {
      console.log(`bench:memory needs the 32-bit XS host: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
  bundle = await bundleFitEntry();
  const startedAt = performance.now();
  const headline: FitScenario = { scenario: 'headline' };
  const headlineSearch: FitScenario = { scenario: 'headline', iterations: SEARCH_ITERATIONS };

  const [device, notPreloaded, codeRows, partsRun] = await Promise.all([
    fit(headline),
    fit(headlineSearch, { preload: false }),
    bytecode(),
    fit({ scenario: 'parts', iterations: SEARCH_ITERATIONS }, HUGE),
  ]);
  if (partsRun.exitCode !== 0) throw new Error(`parts: ${describeRun(partsRun)}`);
  const parts = partsRun.result as PartsResult;
  if (device.exitCode !== 0) console.log(`!! the device-fit scenario FAILS on Moddable Two: ${describeRun(device)}`);

  const kindJobs = KINDS.flatMap((kind) => [1, 4].map((concurrency) => () => measureKind(kind, concurrency)));
  const searchJobs = QUICK ? [] : [
    () => smallest('heap', headlineSearch),
    () => smallest('chunk', headlineSearch),
    () => smallest('stack', headlineSearch),
    () => smallest('heap', headlineSearch, false),
  ];
  const results = await pool<unknown>([...kindJobs, ...searchJobs], JOBS);
  const rows = results.slice(0, kindJobs.length) as KindRow[];
  const [headlineHeap, headlineChunk, headlineStack, notPreloadedHeap] = results.slice(kindJobs.length) as (number | undefined)[];

  const slot = device.budget?.slotSize ?? 16;
  const builtins = device.phases.builtins;
  const flash = device.phases.flash;
  console.log(`\n# xsdot bench:memory — 32-bit XS ${slot}-byte slots; Moddable Two creation: chunk ${num(MODDABLE_TWO.chunk)} B, ` +
    `heap ${num(MODDABLE_TWO.heap)} slots (${num(MODDABLE_TWO.heap * slot)} B), stack ${MODDABLE_TWO.stack} slots, no growth`);
  console.log('Modules preloaded (manifest.json): their code and objects are in flash; the device heap holds what runs.\n');

  console.log('## Flash (ROM on a device, outside the heap budget)\n');
  console.log(table(['what', 'slots', 'slot bytes', 'chunk bytes'], [
    ['XS built-ins', builtins.slots, builtins.slots * slot, builtins.chunks],
    ['xsdot modules, preloaded (objects, closures)', flash.slots - builtins.slots, (flash.slots - builtins.slots) * slot, flash.chunks - builtins.chunks],
  ]));
  const aliases = device.shared?.aliases ?? 0;
  console.log(`\nAliasable (mutable) preloaded objects and closures: ${num(aliases)} — one RAM pointer each on a device ` +
    `(${num(aliases * 4)} B outside the XS heap; the XS linker also freezes built-ins and functions, so fewer there).\n`);

  const totalCode = codeRows.reduce((sum, row) => sum + row.code, 0);
  const totalSymbols = codeRows.reduce((sum, row) => sum + row.symbols, 0);
  console.log('## Bytecode per module (XS release compile, no debug info; flash)\n');
  console.log(table(['module', 'bytecode B', 'symbols B'], [
    ...codeRows.map((row) => [row.file, row.code, row.symbols]),
    ['total', totalCode, totalSymbols],
  ]));

  console.log('\n## Device heap per request type (after boot and setup; 1 and 4 concurrent connections)\n');
  console.log('allocated: per request, nothing collected (XS peak counters with a heap that never fills); live after: the whole');
  console.log('device right after the requests and a collection; peak need: the smallest heap / chunk block in which boot, setup');
  console.log('and the requests still complete, the other dimension at Moddable Two\'s value (at 1 connection the chunk need is');
  console.log('set by the first-boot setup, not by the request).\n');
  console.log(table(
    ['request', 'conn', 'allocated slots', 'allocated chunk B', 'live slots after', 'live chunk B after', 'peak need: heap slots', 'peak need: chunk B'],
    rows.map((row) => [REQUEST_LABELS[row.kind], row.concurrency, Math.round(row.allocatedSlots), Math.round(row.allocatedChunks),
      row.liveSlots, row.liveChunks, num(row.smallestHeap), num(row.smallestChunk)]),
  ));

  console.log('\n## Where it goes\n');
  console.log(table(['live memory (after a collection)', 'slots', 'chunk B'], parts.live.map((point) => [point.name, point.slots, point.chunks])));
  console.log('');
  console.log(table(['allocated by one operation (nothing collected)', 'slots', 'chunk B'],
    parts.parts.map((part) => [part.name, Math.round(part.slots), Math.round(part.chunks)])));
  const perConnection = (kind: RequestKind, key: 'smallestHeap' | 'smallestChunk') => {
    const one = rows.find((row) => row.kind === kind && row.concurrency === 1)?.[key];
    const four = rows.find((row) => row.kind === kind && row.concurrency === 4)?.[key];
    return one === undefined || four === undefined ? undefined : (four - one) / 3;
  };
  if (!QUICK) {
    console.log(`\nEach further concurrent connection needs about ${num(perConnection('session', 'smallestHeap'))} slots (session GET) to ` +
      `${num(perConnection('login', 'smallestHeap'))} (login) of heap, and ${num(perConnection('session', 'smallestChunk'))} (session GET) to ` +
      `${num(perConnection('home', 'smallestChunk'))} (dashboard) chunk bytes — in-flight request, response and in-memory client together.`);
  }

  const phases = (device.result as FitResult | undefined)?.phases ?? [];
  console.log('\n## The device-fit scenario (npm test) on Moddable Two\n');
  console.log(`Result: ${device.exitCode === 0 ? 'FITS' : 'DOES NOT FIT'} (${describeRun(device).split('\n')[0]}), PBKDF2 ${num((device.result as FitResult | undefined)?.iterations)} iterations.`);
  console.log(table(['phase', 'live slots before', 'live slots after', 'live chunk B after'], phases.map((p) => [p.name, p.slotsBefore, p.slotsAfter, p.chunksAfter])));
  console.log(`\nSmallest budget that still serves it: heap ${num(headlineHeap)} slots (Moddable Two: ${num(MODDABLE_TWO.heap)}), ` +
    `chunk block ${num(headlineChunk)} B (${num(MODDABLE_TWO.chunk)}), stack ${num(headlineStack)} slots (${MODDABLE_TWO.stack}).`);
  const loaded = notPreloaded.phases.loaded;
  console.log(`Modules not preloaded (loaded into RAM at boot): ${describeRun(notPreloaded).split('\n')[0]}; their objects alone hold ` +
    `${num(loaded?.slots)} slots and ${num(loaded?.chunks)} chunk bytes; the scenario needs a heap of ${num(notPreloadedHeap)} slots.`);
  console.log(`\n(${((performance.now() - startedAt) / 1000).toFixed(0)} s)`);

  const file = writeResults('memory', {
    date: new Date().toISOString(),
    engine: { slotSize: slot, bits: slot === 16 ? 32 : 64, source: '@agoric/xsnap XS sources, hosts/xs/fit' },
    budget: MODDABLE_TWO,
    flash: { builtins, preloaded: flash, aliases, keys: device.shared?.keys },
    bytecode: { modules: codeRows, totalCode, totalSymbols },
    requests: rows,
    parts,
    deviceFit: {
      fits: device.exitCode === 0, run: describeRun(device), phases, device: device.phases,
      smallest: { heap: headlineHeap, chunk: headlineChunk, stack: headlineStack },
    },
    notPreloaded: { run: describeRun(notPreloaded), loaded, smallestHeap: notPreloadedHeap },
    searchIterations: SEARCH_ITERATIONS,
  });
  console.log(`JSON: ${relative(process.cwd(), join(ROOT, file))}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exitCode = 1;
});
