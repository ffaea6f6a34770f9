/**
 * In-process time per request of the peer app (bench/peer-exchange.ts), raw request bytes in, response
 * bytes out: the xsdot side of mp_inprocess.py's "raw" figure. Portable: runs in xsnap-worker
 * (bench/xs-peer-entry.ts) and on the Moddable x-cli-lin build (bench/moddable/main.ts), with the
 * SDK's native Digest there.
 */
import { answered, DirectPeer, open } from './direct-socket';
import { BODIES, PEER_ROUTES, setUpPeer, type PeerRoute } from './peer-exchange';

export interface PeerTiming {
  route: PeerRoute;
  requests: number;
  meanUs: number;
  medianUs: number;
}

/** `requests` requests per route after a warm-up, each timed with `now` (milliseconds). Synchronous. */
export function timePeer(requests: number, now: () => number): { timings: PeerTiming[]; cookieBytes: number } {
  const bench = setUpPeer();
  const peer = new DirectPeer();
  const timings: PeerTiming[] = [];
  for (const route of PEER_ROUTES) {
    const request = bench.requests[route];
    for (let i = 0; i < Math.min(100, requests); i++) {
      open(bench.server, peer, request);
      if (!answered(peer, BODIES[route])) throw new Error(`${route}: not answered 200 synchronously`);
    }
    // A typed array: an array of numbers would take 16 bytes a sample from the device's fixed heap.
    const samples = new Float64Array(requests);
    let total = 0;
    for (let i = 0; i < requests; i++) {
      const started = now();
      open(bench.server, peer, request);
      samples[i] = (now() - started) * 1000;
      total += samples[i];
    }
    samples.sort();
    timings.push({ route, requests, meanUs: total / requests, medianUs: samples[requests >> 1] });
  }
  return { timings, cookieBytes: bench.cookie.length };
}
