/**
 * The peer app on the Moddable x-cli-lin executable (bench/moddable/manifest.json), with the SDK's
 * native Digest, on the device's fixed heap. bench/peers.ts builds and runs it, two ways:
 * - XSDOT_PORT unset: bench/peer-timing.ts's in-process loop, timed by the host's monotonic clock; prints
 *   one `@peer <json>` line per route; the exit status is 0 when every request was answered;
 * - XSDOT_PORT set: serves the peer app on that port through the SDK's ECMA-419 sockets (its Linux
 *   listener binds all interfaces: run it in a private network namespace) for bench/peer-sockets.ts;
 *   prints `@listening <port>`.
 */
import { installRuntime, runtime } from '../../modules/runtime';
import { createModdableRuntime } from '../../hosts/moddable/runtime';
import { serve } from '../../hosts/moddable/serve';
import { getenv } from '../../hosts/moddable/system/system';
import { PEER_KEY } from '../peer-exchange';
import { createPeerApp } from '../peer-app';
import { timePeer } from '../peer-timing';

const REQUESTS = 1000;

export default function main(): number | undefined {
  installRuntime(createModdableRuntime({ name: 'moddable-peer-bench' }));
  const port = getenv('XSDOT_PORT');
  if (port !== undefined && port !== '') {
    const running = serve(createPeerApp(PEER_KEY), { port: Number(port) });
    trace(`@listening ${running.port}\n`);
    return undefined;
  }
  const host = runtime();
  const { timings, cookieBytes } = timePeer(REQUESTS, () => host.monotonic());
  for (const timing of timings) trace(`@peer ${JSON.stringify({ ...timing, cookieBytes })}\n`);
  return 0;
}
