/**
 * Runs bench/inprocess.ts inside XS (xsnap-worker, driven by bench/speed.ts): installs the bare-XS
 * runtime (hosts/xs/install-host.ts: pure-TS SHA-256, random bytes injected by the driver) and
 * publishes `globalThis.__xsdotBench`. start() returns at once; the worker drains the promise jobs
 * before it answers, so the result is ready when the driver asks for it.
 */
import '../hosts/xs/install-host';
import { runInProcess, type InProcessOptions } from './inprocess';

let outcome: unknown;

(globalThis as unknown as Record<string, unknown>).__xsdotBench = {
  start(json: string): void {
    const options = JSON.parse(json) as Omit<InProcessOptions, 'providers'>;
    runInProcess({ ...options, providers: [] }).then(
      (result) => { outcome = { ok: true, result }; },
      (error: unknown) => { outcome = { ok: false, error: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error) }; },
    );
  },
  /** The outcome as UTF-8 JSON bytes (xsnap-worker returns an ArrayBuffer result to the driver). */
  result(): ArrayBuffer {
    return new TextEncoder().encode(JSON.stringify(outcome ?? { ok: false, error: 'not finished' })).buffer as ArrayBuffer;
  },
};
