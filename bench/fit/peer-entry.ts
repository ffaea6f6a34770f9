/**
 * The peer comparison on the device-fit host (hosts/xs/fit: 32-bit XS, 16-byte slots, modules
 * preloaded): the xsdot side of the rows that `/work/shared/peers/mp_inprocess.py` and `mp_heap.py`
 * measure for microdot on 32-bit MicroPython with its code frozen. Same protocol as bench/fit/entry.ts.
 *
 * Scenarios (`start`'s JSON):
 * - `{ "scenario": "alloc" }` — slots and chunk bytes allocated per request of each peer route (one
 *   connection per request, raw bytes in and out), nothing collected: run it with a heap that never fills;
 * - `{ "scenario": "concurrent", "clients": k, "rounds": r }` — after boot and a login, r rounds of k
 *   concurrent `GET /me`, each with half its head sent first (mp_heap.py's search workload); fails
 *   unless every answer is 200 with the user. Run it under a budget: completing is the result.
 */
import { fitCryptoProvider } from '../../hosts/xs/fit/digest';
import { createXsRuntime } from '../../hosts/xs/runtime';
import { pendingTimers, runNextTimer } from '../../hosts/xs/timers';
import { installRuntime } from '../../modules/runtime';
import { answered, DirectPeer, open } from '../direct-socket';
import { BODIES, concurrentMe, PEER_ROUTES, setUpPeer, type PeerRoute } from '../peer-exchange';

declare function __fitRandom(length: number): ArrayBuffer;
declare function __fitMemory(): number[];
declare function __fitResetPeak(): void;
declare function __fitGC(): void;

export interface PeerScenario {
  scenario: 'alloc' | 'concurrent';
  clients?: number;
  rounds?: number;
}

/** Allocation of one request of a route, averaged over `requests` (after a warm-up). */
export interface PeerAllocation {
  route: PeerRoute;
  slots: number;
  chunks: number;
  requests: number;
}

export interface PeerFitResult {
  scenario: string;
  allocations?: PeerAllocation[];
  /** Requests answered 200 with the user, per round (concurrent). */
  answered?: number[];
  cookieBytes: number;
}

const REQUESTS = 20;

async function allocations(): Promise<PeerFitResult> {
  const bench = setUpPeer();
  const peer = new DirectPeer(256);
  const rows: PeerAllocation[] = [];
  for (const route of PEER_ROUTES) {
    const request = bench.requests[route];
    for (let i = 0; i < 5; i++) {
      open(bench.server, peer, request);
      if (!answered(peer, BODIES[route])) throw new Error(`${route}: not answered 200 synchronously`);
    }
    __fitGC();
    __fitResetPeak();
    const [slotsBefore, , chunksBefore] = __fitMemory();
    for (let i = 0; i < REQUESTS; i++) open(bench.server, peer, request);
    const [, peakSlots, , peakChunks] = __fitMemory();
    rows.push({ route, slots: (peakSlots - slotsBefore) / REQUESTS, chunks: (peakChunks - chunksBefore) / REQUESTS, requests: REQUESTS });
  }
  return { scenario: 'alloc', allocations: rows, cookieBytes: bench.cookie.length };
}

async function concurrent(options: PeerScenario): Promise<PeerFitResult> {
  const bench = setUpPeer();
  // The clients keep 256 bytes of each answer (GET /me's is ~150): their buffers share the device's heap.
  const peers = Array.from({ length: options.clients ?? 4 }, () => new DirectPeer(256));
  const counts: number[] = [];
  for (let round = 0; round < (options.rounds ?? 10); round++) {
    const ok = concurrentMe(bench, peers);
    if (ok !== peers.length) throw new Error(`round ${round}: ${ok} of ${peers.length} GET /me answered`);
    counts.push(ok);
  }
  return { scenario: 'concurrent', answered: counts, cookieBytes: bench.cookie.length };
}

let state: 'idle' | 'running' | 'done' | 'failed' = 'idle';
let outcome = '';

export function start(json: string): void {
  const options = JSON.parse(json) as PeerScenario;
  installRuntime({
    ...createXsRuntime({ log: (level, message) => print(`[${level}] ${message}`) }),
    randomBytes: (length) => new Uint8Array(__fitRandom(length)),
    crypto: fitCryptoProvider,
  });
  state = 'running';
  (options.scenario === 'alloc' ? allocations() : concurrent(options)).then(
    (result) => { state = 'done'; outcome = JSON.stringify(result); },
    (error: unknown) => { state = 'failed'; outcome = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error); },
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
