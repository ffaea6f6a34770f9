/** The XS side of bench/xsnap.ts (runs inside xsnap-worker: no Node imports here). */

/** Publishes `start`/`result` for a job that resolves with a JSON-able value. */
export function publishBench(run: (arg: unknown) => Promise<unknown>): void {
  let outcome: unknown;
  (globalThis as unknown as Record<string, unknown>).__xsdotBench = {
    start(json: string): void {
      run(JSON.parse(json)).then(
        (result) => { outcome = { ok: true, result }; },
        (error: unknown) => { outcome = { ok: false, error: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error) }; },
      );
    },
    /** The outcome as UTF-8 JSON bytes (xsnap-worker returns an ArrayBuffer result to the driver). */
    result(): ArrayBuffer {
      return new TextEncoder().encode(JSON.stringify(outcome ?? { ok: false, error: 'not finished' })).buffer as ArrayBuffer;
    },
  };
}
