/**
 * The fit host's protocol (hosts/xs/fit/run.ts), shared by the bench/fit entries: `start(json)` installs the
 * fit runtime (host CSPRNG, native SHA-256) and runs one scenario; `step()` is called until it reports
 * "done <json>" or why not.
 */
import { fitCryptoProvider } from '../../hosts/xs/fit/digest';
import { createXsRuntime } from '../../hosts/xs/runtime';
import { pendingTimers, runNextTimer } from '../../hosts/xs/timers';
import { installRuntime } from '../../modules/runtime';

declare function __fitRandom(length: number): ArrayBuffer;

let state: 'idle' | 'running' | 'done' | 'failed' = 'idle';
let outcome = '';

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return typeof error.stack === 'string' && error.stack.length > 0 ? error.stack : `${error.name}: ${error.message}`;
}

/** Installs the fit host's runtime, then runs `scenario` (called after, so that it finds the runtime). */
export function runScenario(scenario: () => Promise<unknown>): void {
  installRuntime({
    ...createXsRuntime({ log: (level, message) => print(`[${level}] ${message}`) }),
    randomBytes: (length) => new Uint8Array(__fitRandom(length)),
    crypto: fitCryptoProvider,
  });
  state = 'running';
  scenario().then(
    (result) => { state = 'done'; outcome = JSON.stringify(result); },
    (error: unknown) => { state = 'failed'; outcome = describe(error); },
  );
}

/** "continue" while the scenario runs, "done <json>" at the end, or a sentence saying why not. */
export function step(): string {
  if (state === 'done') return `done ${outcome}`;
  if (state === 'failed') return `failed: ${outcome}`;
  if (state === 'idle') return 'failed: start() was not called';
  if (pendingTimers() > 0) {
    runNextTimer();
    return 'continue';
  }
  return 'stuck: no promise job or timer is left and the scenario has not finished';
}
