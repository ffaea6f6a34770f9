/**
 * bench/peer-timing.ts inside XS (xsnap-worker, 64-bit, pure-TS SHA-256), driven by bench/peers.ts
 * through bench/xsnap.ts.
 */
import '../hosts/xs/install-host';
import { timePeer } from './peer-timing';
import { publishBench } from './xs-publish';

publishBench(async (requests) => timePeer(requests as number, () => performance.now()));
