/**
 * In-process time per request of the peer app (bench/peer-exchange.ts), raw request bytes in, response
 * bytes out: the xsdot side of mp_inprocess.py's "raw" figure. Portable: runs in xsnap-worker
 * (bench/xs-peer-entry.ts) and on the Moddable x-cli-lin build (bench/moddable/main.ts), with the
 * SDK's native Digest there.
 */
import { answered, DirectPeer, open } from './direct-socket';
import { BODIES, PEER_ROUTES, setUpPeer, type PeerBench, type PeerRoute } from './peer-exchange';

/**
 * What was timed: a route of the peer app, or `/me uncached`: GET /me from an app whose session keeps no
 * verified tokens (`tokenCacheSize: 0`), so each request computes its cookie's HMAC, as the first
 * request with a new cookie does. Plain `/me` sends the same cookie every time, as a browser does (and
 * microdot's measurement).
 */
export type TimedRoute = PeerRoute | '/me uncached';

export interface PeerTiming {
  route: TimedRoute;
  requests: number;
  meanUs: number;
  medianUs: number;
}

/** `requests` requests per route after a warm-up, each timed with `now` (milliseconds). Synchronous. */
export function timePeer(requests: number, now: () => number): { timings: PeerTiming[]; cookieBytes: number } {
  const bench = setUpPeer();
  const peer = new DirectPeer();
  const timings: PeerTiming[] = [];
  for (const route of PEER_ROUTES) timings.push(timeRoute(bench, peer, route, route, requests, now));
  timings.push(timeRoute(setUpPeer({ tokenCacheSize: 0 }), peer, '/me', '/me uncached', requests, now));
  return { timings, cookieBytes: bench.cookie.length };
}

function timeRoute(bench: PeerBench, peer: DirectPeer, route: PeerRoute, timed: TimedRoute, requests: number, now: () => number): PeerTiming {
  const request = bench.requests[route];
  for (let i = 0; i < Math.min(100, requests); i++) {
    open(bench.server, peer, request);
    if (!answered(peer, BODIES[route])) throw new Error(`${timed}: not answered 200 synchronously`);
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
  return { route: timed, requests, meanUs: total / requests, medianUs: samples[requests >> 1] };
}
