/** microdot's `asyncio.sleep` for live handlers: resolves after `ms` milliseconds, on the host's timer (runtime.ts). */
import { runtime } from '../runtime';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => { runtime().setTimer(resolve, ms); });
}
