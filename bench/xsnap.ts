/**
 * Runs a benchmark entry inside XS (xsnap-worker from @agoric/xsnap, 64-bit) from Node: bundles it,
 * injects random bytes (hosts/xs/install-host.ts takes them), calls `globalThis.__xsdotBench.start(arg)`,
 * lets the worker drain the promise jobs, and returns what `__xsdotBench.result()` published as JSON
 * (`{ok: true, result}` or `{ok: false, error}`).
 */
import { build } from 'esbuild';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { portabilityPlugin } from '../hosts/xs/driver/bundle';
import { findWorkerBinary, XsnapWorker } from '../hosts/xs/driver/worker';
import { ENTROPY_GLOBAL } from '../hosts/xs/protocol';
import { BENCH_DIR } from './report';

const ROOT = join(BENCH_DIR, '..');

/** The result, or `{ skipped }` when there is no xsnap-worker; throws when the run fails. */
export async function runInXsnap<T>(entry: string, arg: unknown): Promise<T | { skipped: string }> {
  let bin: string;
  try {
    bin = findWorkerBinary(ROOT);
  } catch (error) {
    return { skipped: (error as Error).message };
  }
  const bundled = await build({
    entryPoints: [join(BENCH_DIR, entry)],
    bundle: true, format: 'iife', platform: 'neutral', mainFields: ['module', 'main'], target: 'es2022',
    banner: { js: '"use strict";' }, write: false, logLevel: 'silent', plugins: [portabilityPlugin(ROOT)],
  });
  const output: string[] = [];
  const worker = new XsnapWorker(bin, { onStdout: (text) => output.push(text), onStderr: (text) => output.push(text) });
  try {
    const steps = [
      `globalThis.${ENTROPY_GLOBAL} = "${randomBytes(256 * 1024).toString('hex')}";`,
      bundled.outputFiles[0].text,
      `globalThis.__xsdotBench.start(${JSON.stringify(JSON.stringify(arg))});`,
    ];
    for (const code of steps) {
      const reply = await worker.evaluate(code);
      if (!reply.ok) throw new Error(reply.message);
    }
    const reply = await worker.evaluate('globalThis.__xsdotBench.result()');
    if (!reply.ok) throw new Error(reply.message);
    const outcome = JSON.parse(reply.body.toString('utf8')) as { ok: boolean; result?: T; error?: string };
    if (!outcome.ok || outcome.result === undefined) throw new Error(outcome.error ?? 'no result');
    return outcome.result;
  } catch (error) {
    throw new Error(`XS run of ${entry} failed: ${(error as Error).message}\n${output.join('')}`);
  } finally {
    await worker.quit().catch(() => undefined);
    worker.kill();
  }
}
