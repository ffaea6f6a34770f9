/**
 * `npm run test:xs`: runs the portable tests (tests/core/**\/*.test.ts, or the files given) on the
 * real XS engine, one fresh xsnap-worker per file. Runs on Node (via tsx).
 *
 * Per file: bundle it (driver/bundle.ts), inject fresh random bytes, evaluate the bundle, then call
 * the test shim's step() until it reports done (see test-shim.ts for what a step does). A file fails
 * when it does not bundle, throws while loading, crashes the worker, runs no tests, or exceeds the
 * time limit; the run fails when any test or file fails.
 *
 * Environment: XSDOT_XS_FILE_TIMEOUT (seconds per file, default 120), XSDOT_XS_JOBS (files run in
 * parallel, default 2), XSNAP_WORKER (another xsnap-worker binary, e.g. a 32-bit build).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BundleError, bundleTest, type Bundle } from './driver/bundle';
import { rewriteFrames } from './driver/source-map';
import { describeExit, findWorkerBinary, WorkerExited, XsnapWorker, type Reply } from './driver/worker';
import { ENTROPY_GLOBAL, RUNNER_GLOBAL, type StartEvent, type StepReply, type TestResult } from './protocol';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Random bytes per file for runtime().randomBytes (XS has no secure source of its own). */
const ENTROPY_BYTES = 64 * 1024;
const FILE_TIME_LIMIT_MS = Number(process.env.XSDOT_XS_FILE_TIMEOUT ?? 120) * 1000;
const JOBS = Math.max(1, Number(process.env.XSDOT_XS_JOBS ?? Math.min(2, availableParallelism())));

interface FileReport {
  file: string;
  results: TestResult[];
  /** Failures of the file itself (bundle, load, crash, time limit, no tests). */
  problems: string[];
  output: string[];
  summary: string;
}

function findTests(): string[] {
  const dir = join(ROOT, 'tests/core');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.test.ts'))
    .map((name) => join(dir, name))
    .sort();
}

const ms = (since: number) => Math.round(performance.now() - since);

async function runFile(bin: string, file: string): Promise<FileReport> {
  const report: FileReport = { file: relative(ROOT, file), results: [], problems: [], output: [], summary: '' };
  const startedAt = performance.now();
  let bundle: Bundle;
  try {
    bundle = await bundleTest(ROOT, file);
  } catch (error) {
    report.problems.push(`bundle failed:\n${error instanceof BundleError ? error.message : String(error)}`);
    return report;
  }
  const bundledAt = performance.now();
  // Next to the test's own lines, these frames are noise: the shims', anonymous ones, and those the
  // source map cannot place (the driver's one-line step() scripts, the bundle's wrapper).
  const noise = /^\s*at (.*\(hosts\/xs\/.*\)|\w*\s*\(\)|.*\(#\d+:\d+\))$/;
  const sourceOf = (text: string) => rewriteFrames(text, bundle.sourceLine)
    .split('\n')
    .filter((line) => !noise.test(line))
    .join('\n');

  let current = '(loading the bundle)';
  const worker = new XsnapWorker(bin, {
    onCommand(message) {
      try {
        const event = JSON.parse(message.toString('utf8')) as Partial<StartEvent>;
        if (typeof event.started === 'string') current = event.started;
      } catch {
        // not ours (a test calling issueCommand itself): answer empty
      }
      return Buffer.alloc(0);
    },
    onStdout: (text) => report.output.push(...text.replace(/\n$/, '').split('\n').map((line) => `# xs: ${line}`)),
    onStderr: (text) => report.output.push(...text.replace(/\n$/, '').split('\n').map((line) => `# xs stderr: ${line}`)),
  });
  let timedOut = false;
  const limit = setTimeout(() => { timedOut = true; worker.kill(); }, FILE_TIME_LIMIT_MS);
  let steps = 0;
  let compute = 0;
  let last: Reply | undefined;
  let threw = false;
  const evaluate = async (code: string) => {
    last = await worker.evaluate(code);
    if (last.ok) compute += last.meter.compute;
    else threw = true;
    return last;
  };
  try {
    const injected = await evaluate(`globalThis.${ENTROPY_GLOBAL} = "${randomBytes(ENTROPY_BYTES).toString('hex')}";`);
    if (!injected.ok) throw new Error(`injecting entropy failed: ${injected.message}`);
    const loaded = await evaluate(bundle.code);
    if (!loaded.ok) {
      report.problems.push(`threw while loading (top level): ${sourceOf(loaded.message)}`);
    } else {
      for (let done = false; !done; steps++) {
        const reply = await evaluate(`globalThis.${RUNNER_GLOBAL}.step()`);
        if (!reply.ok) throw new Error(`the runner's step() threw: ${sourceOf(reply.message)}`);
        const parsed = JSON.parse(reply.body.toString('utf8')) as StepReply;
        for (const result of parsed.results) report.results.push({ ...result, message: result.message && sourceOf(result.message) });
        done = parsed.done;
      }
    }
    const { code, signal } = await worker.quit();
    // After a command threw, the worker exits 15 (unhandled exception): already reported.
    if (code !== 0 && !(code === 15 && threw)) report.problems.push(`xsnap-worker ended badly: ${describeExit(code, signal)}`);
  } catch (error) {
    if (timedOut) report.problems.push(`time limit of ${FILE_TIME_LIMIT_MS / 1000} s exceeded while running "${current}" (worker killed)`);
    else if (error instanceof WorkerExited) report.problems.push(`xsnap-worker crashed while running "${current}": ${describeExit(error.code, error.signal)}`);
    else report.problems.push(String(error instanceof Error ? error.message : error));
  } finally {
    clearTimeout(limit);
    worker.kill();
  }
  if (report.results.length === 0 && report.problems.length === 0) report.problems.push('no tests ran (a test file must register at least one test)');
  const heap = last?.ok ? `, ${last.meter.currentHeapCount} live slots` : '';
  report.summary = `# ${report.file}: ${report.results.length} tests in ${ms(startedAt)} ms ` +
    `(bundle ${Math.round(bundledAt - startedAt)} ms, ${Math.round(bundle.code.length / 1024)} KiB; xs ${ms(bundledAt)} ms, ${steps} steps, ${compute} compute${heap})`;
  return report;
}

function indent(text: string): string {
  return text.split('\n').map((line) => `    ${line}`).join('\n');
}

const totals = { passed: 0, failed: 0, skipped: 0, todo: 0 };

function printReport(report: FileReport): void {
  const lines: string[] = [...report.output];
  for (const result of report.results) {
    const name = `${report.file} > ${result.name}`;
    const reason = result.message ? ` ${result.message.split('\n')[0]}` : '';
    if (result.status === 'pass') {
      totals.passed++;
      lines.push(`ok ${name} (${result.ms} ms)`);
    } else if (result.status === 'fail') {
      totals.failed++;
      lines.push(`not ok ${name} (${result.ms} ms)`, indent(result.message ?? 'failed'));
    } else if (result.status === 'skip') {
      totals.skipped++;
      lines.push(`ok ${name} # SKIP${reason}`);
    } else {
      totals.todo++;
      lines.push(`ok ${name} # TODO${reason}`);
    }
  }
  for (const problem of report.problems) {
    totals.failed++;
    lines.push(`not ok ${report.file}`, indent(problem));
  }
  if (report.summary) lines.push(report.summary);
  console.log(lines.join('\n'));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const files = args.length > 0 ? args.map((arg) => resolve(arg)) : findTests();
  if (files.length === 0) {
    console.log('xs: no test files found under tests/core');
    process.exitCode = 1;
    return;
  }
  const missing = files.filter((file) => !existsSync(file));
  if (missing.length > 0) throw new Error(`no such test file: ${missing.join(', ')}`);
  const bin = findWorkerBinary(ROOT);
  const startedAt = performance.now();

  // Files run JOBS at a time, in order; reports print in file order as soon as they are ready.
  let active = 0;
  const queued: (() => void)[] = [];
  const acquire = () => (active < JOBS ? (active++, Promise.resolve()) : new Promise<void>((go) => queued.push(go)));
  const release = () => (queued.length > 0 ? queued.shift()!() : active--);
  const reports = files.map(async (file) => {
    await acquire();
    try {
      return await runFile(bin, file);
    } finally {
      release();
    }
  });
  for (const report of reports) printReport(await report);

  const todo = totals.todo > 0 ? `, ${totals.todo} todo` : '';
  console.log(`# ${files.length} files in ${ms(startedAt)} ms`);
  console.log(`xs: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped${todo}`);
  if (totals.failed > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(`xs: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
