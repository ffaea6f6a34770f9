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
import { answered, DirectPeer, open } from '../direct-socket';
import { BODIES, concurrentMe, PEER_ROUTES, setUpPeer, type PeerRoute } from '../peer-exchange';
import { runScenario } from './scenario';

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

export { step } from './scenario';

export function start(json: string): void {
  const options = JSON.parse(json) as PeerScenario;
  runScenario(() => (options.scenario === 'alloc' ? allocations() : concurrent(options)));
}
