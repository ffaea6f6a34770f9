/**
 * `npm run soak`: mixed traffic through the real server code on the XS engine (xsnap-worker) for
 * SOAK_SECONDS (default 600), measuring the heap. Runs on Node (via tsx); tests/node/soak.test.ts runs
 * a short version in `npm test`.
 *
 * tests/soak/xs-soak.ts is bundled and evaluated in a fresh worker; each "step" command starts a round
 * of traffic or fires a timer (virtual time: timeouts cost no wall time). Between rounds, when no
 * connection is open, the driver sends "gc" and reads the live-slot count xsnap's meter reports for
 * that command (exact right after a collection). Commands go through handleCommand, not evaluate():
 * xsnap keeps one slot per evaluated script. After a warm-up the first reading is the
 * baseline; then one reading per checkpoint (every 10,000 requests by default). The heap must return
 * to its baseline: no reading above baseline + tolerance, and no growth per 10k requests (least-squares
 * slope over the checkpoints).
 *
 * Environment: SOAK_SECONDS, SOAK_CHECKPOINT (requests between readings), XSNAP_WORKER.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { findWorkerBinary, XsnapWorker, type Reply } from '../../hosts/xs/driver/worker';
import type { StepReply } from './xs-soak';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const STEP = Buffer.from('step');
const GC = Buffer.from('gc');

export interface SoakOptions {
  /** Wall-clock seconds of traffic after the warm-up. */
  seconds: number;
  /** Requests served before the baseline is taken (caches filled, code paths compiled). */
  warmup?: number;
  /** Requests between heap readings. */
  checkpoint?: number;
  /** Slots a reading may exceed the baseline by (noise: pooled buffers, the PRNG state, …). */
  tolerance?: number;
  /** Progress lines (a checkpoint each). */
  log?: (line: string) => void;
}

export interface Checkpoint {
  requests: number;
  seconds: number;
  /** Live slots right after gc(). */
  slots: number;
  /** Bytes the machine has reserved (chunks and slots; only grows). */
  allocate: number;
}

export interface SoakReport {
  requests: number;
  connections: number;
  rounds: number;
  seconds: number;
  baseline: Checkpoint;
  checkpoints: Checkpoint[];
  /** Highest reading minus the baseline, in slots. */
  maxGrowth: number;
  /** Least-squares slope of the readings, in slots per 10,000 requests. */
  slopePer10k: number;
  statuses: Record<string, number>;
  problems: string[];
  tolerance: number;
}


async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [join(ROOT, 'tests/soak/xs-soak.ts')],
    bundle: true,
    format: 'iife',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    banner: { js: '"use strict"; try {' },
    footer: { js: '} catch (error) { throw error instanceof Error && typeof error.stack === "string" ? error.stack : error; }' },
  });
  return result.outputFiles[0].text;
}

function ok(reply: Reply, what: string): Extract<Reply, { ok: true }> {
  if (!reply.ok) throw new Error(`${what} threw in XS: ${reply.message}`);
  return reply;
}

function slope(points: Checkpoint[]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.requests, 0) / n;
  const my = points.reduce((s, p) => s + p.slots, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.requests - mx) * (p.slots - my);
    den += (p.requests - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 10_000;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const warmup = options.warmup ?? 3_000;
  const every = options.checkpoint ?? 10_000;
  const tolerance = options.tolerance ?? 256;
  const log = options.log ?? (() => {});
  const code = await bundle();
  const problems: string[] = [];
  const worker = new XsnapWorker(findWorkerBinary(ROOT), {
    onCommand(message) {
      const request = JSON.parse(message.toString('utf8')) as { entropy?: number };
      return randomBytes(Math.min(request.entropy ?? 0, 1 << 16));
    },
    onStdout: (text) => log(`xs: ${text.trimEnd()}`),
    onStderr: (text) => problems.push(`xs stderr: ${text.trimEnd()}`),
  });
  try {
    ok(await worker.evaluate(code), 'loading the soak');
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    let last: StepReply | undefined;
    let baseline: Checkpoint | undefined;
    let trafficStart = 0;
    const checkpoints: Checkpoint[] = [];
    let next = warmup;
    const measure = async (state: StepReply): Promise<Checkpoint> => {
      const reply = ok(await worker.command(GC), 'gc');
      return { requests: state.requests, seconds: Math.round(elapsed() * 10) / 10, slots: reply.meter.currentHeapCount, allocate: reply.meter.allocate };
    };
    for (;;) {
      const reply = ok(await worker.command(STEP), 'step');
      const state = JSON.parse(reply.body.toString('utf8')) as StepReply;
      last = state;
      problems.push(...state.problems);
      if (problems.length > 0) break;
      // Readings only between rounds, with every connection closed: comparable states.
      if (state.inflight > 0 || state.open > 0 || state.requests < next) continue;
      const point = await measure(state);
      if (baseline === undefined) {
        baseline = point;
        trafficStart = elapsed();
        log(`baseline after ${point.requests} warm-up requests: ${point.slots} live slots, ${point.allocate} bytes reserved`);
      } else {
        checkpoints.push(point);
        log(`${String(point.requests).padStart(9)} requests, ${point.seconds.toFixed(0).padStart(4)} s: ${point.slots} live slots (${point.slots - baseline.slots >= 0 ? '+' : ''}${point.slots - baseline.slots}), ${point.allocate} bytes reserved, ${state.timers} timers`);
      }
      next = state.requests - (state.requests % every) + every;
      if (elapsed() - trafficStart >= options.seconds && checkpoints.length >= 2) break;
    }
    if (baseline === undefined || last === undefined) throw new Error(`the soak stopped before its baseline: ${problems.join('; ')}`);
    const all = [baseline, ...checkpoints];
    return {
      requests: last.requests - baseline.requests,
      connections: last.connections,
      rounds: last.rounds,
      seconds: Math.round((elapsed() - trafficStart) * 10) / 10,
      baseline,
      checkpoints,
      maxGrowth: Math.max(0, ...checkpoints.map((p) => p.slots - baseline.slots)),
      slopePer10k: Math.round(slope(all) * 10) / 10,
      statuses: last.statuses,
      problems,
      tolerance,
    };
  } finally {
    await worker.quit().catch(() => undefined);
    worker.kill();
  }
}

/** The verdict: an empty list when the heap returned to its baseline and nothing went wrong. */
export function soakFailures(report: SoakReport): string[] {
  const failures = [...report.problems];
  if (report.maxGrowth > report.tolerance) failures.push(`the heap grew ${report.maxGrowth} slots over its baseline (tolerance ${report.tolerance})`);
  // Growth per 10k requests must stay within the noise: a leak of one slot per request would be +10,000.
  if (report.slopePer10k > report.tolerance / 4) failures.push(`the heap grows ${report.slopePer10k} slots per 10k requests`);
  if ((report.statuses['500'] ?? 0) > 0) failures.push(`${report.statuses['500']} responses were 500`);
  return failures;
}

export function formatReport(report: SoakReport): string {
  const lines = [
    `Soak on the XS engine: ${report.requests} requests (${report.connections} connections, ${report.rounds} rounds) in ${report.seconds} s after warm-up`,
    '| requests | seconds | live slots | vs baseline | bytes reserved |',
    '|---------:|--------:|-----------:|------------:|---------------:|',
    ...[report.baseline, ...report.checkpoints].map((p, i) =>
      `| ${String(p.requests).padStart(8)} | ${p.seconds.toFixed(1).padStart(7)} | ${String(p.slots).padStart(10)} | ${(i === 0 ? 'baseline' : `${p.slots - report.baseline.slots >= 0 ? '+' : ''}${p.slots - report.baseline.slots}`).padStart(11)} | ${String(p.allocate).padStart(14)} |`),
    `max growth ${report.maxGrowth} slots (tolerance ${report.tolerance}); slope ${report.slopePer10k} slots per 10k requests`,
    `outcomes: ${Object.entries(report.statuses).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}: ${v}`).join(', ')}`,
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 600);
  const checkpoint = Number(process.env.SOAK_CHECKPOINT ?? 10_000);
  if (!(seconds > 0) || !(checkpoint > 0)) throw new Error('SOAK_SECONDS and SOAK_CHECKPOINT must be positive numbers');
  console.log(`soak: ${seconds} s of mixed traffic on the XS engine, a heap reading every ${checkpoint} requests`);
  const report = await runSoak({ seconds, checkpoint, log: (line) => console.log(line) });
  console.log(`\n${formatReport(report)}`);
  const failures = soakFailures(report);
  if (failures.length > 0) {
    console.log(`\nsoak FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exitCode = 1;
  } else {
    console.log('\nsoak passed: the heap returned to its baseline, no growth per 10k requests, no 500, nothing logged');
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`soak: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
