/** Runs a live connection's handler (sse.ts, websocket.ts). */
import { isThenable } from '../http/app';

/**
 * Calls `handler(connection)`. When it throws or its promise rejects: `failed(error)`; when its promise
 * resolves: `done()`. A handler that returns anything else leaves the connection open (neither is called).
 */
export function runHandler<C>(handler: (connection: C) => unknown, connection: C, done: () => void, failed: (error: unknown) => void): void {
  let result: unknown;
  try {
    result = handler(connection);
  } catch (error) {
    failed(error);
    return;
  }
  if (isThenable(result)) void result.then(done, failed);
}
