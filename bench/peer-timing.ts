/**
 * In-process time per request of the peer app (bench/peer-exchange.ts), raw request bytes in, response
 * bytes out: the xsdot side of mp_inprocess.py's "raw" figure. Portable: runs in xsnap-worker
 * (bench/xs-peer-entry.ts) and on the Moddable x-cli-lin build (bench/moddable/main.ts).
 */
import { answered, DirectPeer, open } from './direct-socket';
import { BODIES, PEER_ROUTES, setUpPeer, type PeerRoute } from './peer-exchange';

export interface PeerTiming {
  route: PeerRoute;
  requests: number;
  meanUs: number;
  medianUs: number;
}

/** `requests` requests per route after a warm-up, each timed with `now` (milliseconds). */
export async function timePeer(requests: number, now: () => number): Promise<{ timings: PeerTiming[]; cookieBytes: number }> {
  const bench = await setUpPeer();
  const peer = new DirectPeer();
  const timings: PeerTiming[] = [];
  for (const route of PEER_ROUTES) {
    const request = bench.requests[route];
    for (let i = 0; i < Math.min(100, requests); i++) {
      open(bench.server, peer, request);
      if (!answered(peer, BODIES[route])) throw new Error(`${route}: not answered 200 synchronously`);
    }
    const samples: number[] = [];
    for (let i = 0; i < requests; i++) {
      const started = now();
      open(bench.server, peer, request);
      samples.push((now() - started) * 1000);
    }
    samples.sort((a, b) => a - b);
    timings.push({ route, requests, meanUs: samples.reduce((a, b) => a + b, 0) / requests, medianUs: samples[requests >> 1] });
  }
  return { timings, cookieBytes: bench.cookie.length };
}
