/**
 * bench/peer-timing.ts on the Moddable x-cli-lin executable (bench/moddable/manifest.json): the peer app's
 * in-process loop with the SDK's native Digest, timed by the host's monotonic clock, on the device's
 * fixed heap. Prints one `@peer <json>` line per route; the exit status is 0 when every request was
 * answered. bench/peers.ts builds and runs it.
 */
import { installRuntime, runtime } from '../../modules/runtime';
import { createModdableRuntime } from '../../hosts/moddable/runtime';
import { timePeer } from '../peer-timing';

const REQUESTS = 1000;

export default function main(): number {
  installRuntime(createModdableRuntime({ name: 'moddable-peer-bench' }));
  const host = runtime();
  const { timings, cookieBytes } = timePeer(REQUESTS, () => host.monotonic());
  for (const timing of timings) trace(`@peer ${JSON.stringify({ ...timing, cookieBytes })}\n`);
  return 0;
}
