/**
 * The memory of an idle live connection on the device-fit host (hosts/xs/fit: 32-bit XS, 16-byte
 * slots, modules preloaded, as a device): live slots and chunk bytes (after a collection) that each
 * open Server-Sent Events stream and each open WebSocket keeps while nothing is sent, with a desktop
 * browser's request head (bench/workload.ts). Two handler styles each: one that registers the
 * connection and returns (`sse`, `websocket`: the app sends from elsewhere, e.g. a timer), and an
 * async one still running (`sse-awaiting`: awaits `sse.closed`; `websocket-awaiting`: an echo loop
 * awaiting the next message) — whose suspended frame keeps its arguments, the request among them.
 * `keep-alive` is the reference: an idle HTTP/1.1 connection after a small response.
 * tests/node/budgets.test.ts guards the figures. Same protocol as bench/fit/entry.ts (`start(json)`,
 * then `step()`).
 *
 * Scenarios (`start`'s JSON):
 * - `{ "connections": n }`: the idle cost, n connections of each kind (default 4, the device's cap);
 * - `{ "scenario": "fit" }`: the login app on the device's fixed heap (run it with Moddable Two's
 *   creation block): a signed-in browser's dashboard stream open (`/live/events`, app/live.ts) while 3
 *   session requests run at once (the 4th connection slot is the stream's), then the next status event
 *   pushed by the app's timer. Reports the statuses and the status events the stream received.
 */
import { runNextTimer } from '../../hosts/xs/timers';
import { App } from '../../modules/http/app';
import { latin1, latin1Bytes } from '../../modules/http/bytes';
import { Server } from '../../modules/http/server';
import { withSSE, withWebSocket, type EventStream, type WebSocket } from '../../modules/live/index';
import { DirectPeer, open, WINDOW } from '../direct-socket';
import { runScenario } from './scenario';
import { BROWSER_HEADERS, bootDevice, send, sessionCookie, type Browser, type RequestKind } from '../workload';

declare function __fitRandom(length: number): ArrayBuffer;
declare function __fitMemory(): number[];
declare function __fitGC(): void;

export type LiveKind = 'keep-alive' | 'sse' | 'sse-awaiting' | 'websocket' | 'websocket-awaiting';

export interface LiveIdleCost {
  kind: LiveKind;
  connections: number;
  /** Live memory each idle connection keeps (after a collection). */
  slots: number;
  chunks: number;
}

function head(path: string, extra: string): Uint8Array {
  let text = `GET ${path} HTTP/1.1\r\nHost: localhost\r\n`;
  for (const [name, value] of Object.entries(BROWSER_HEADERS)) text += `${name}: ${value}\r\n`;
  return latin1Bytes(`${text}${extra}\r\n`);
}

const SSE = 'Accept: text/event-stream\r\n';
const UPGRADE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n';

const REQUESTS: Record<LiveKind, Uint8Array> = {
  'keep-alive': head('/', ''),
  sse: head('/events', SSE),
  'sse-awaiting': head('/events-awaiting', SSE),
  websocket: head('/socket', UPGRADE),
  'websocket-awaiting': head('/socket-awaiting', UPGRADE),
};

const STATUS: Record<LiveKind, number> = { 'keep-alive': 200, sse: 200, 'sse-awaiting': 200, websocket: 101, 'websocket-awaiting': 101 };

function live(): { slots: number; chunks: number } {
  __fitGC();
  const [slots, , chunks] = __fitMemory();
  return { slots, chunks };
}

/** Lets promise jobs run (a handler's first await) and the socket take what was written. */
async function settle(peers: DirectPeer[]): Promise<void> {
  for (let i = 0; i < 4; i++) {
    await null;
    for (const peer of peers) if (!peer.closed && peer.socket !== undefined) peer.socket.options.onWritable?.call(peer.socket, WINDOW);
  }
}

async function measure(connections: number): Promise<LiveIdleCost[]> {
  const app = new App();
  const streams = new Set<EventStream>();
  const sockets = new Set<WebSocket>();
  app.get('/', () => 'ok');
  app.get('/events', withSSE((_request, sse) => {
    streams.add(sse);
    sse.send('hello');
  }));
  app.get('/events-awaiting', withSSE(async (_request, sse) => {
    sse.send('hello');
    await sse.closed;
  }));
  app.get('/socket', withWebSocket((_request, ws) => {
    sockets.add(ws);
  }));
  app.get('/socket-awaiting', withWebSocket(async (_request, ws) => {
    for await (const message of ws) ws.send(message);
  }));
  const server = new Server(app, { limits: { maxConnections: connections + 1 } });
  const rows: LiveIdleCost[] = [];
  for (const kind of Object.keys(REQUESTS) as LiveKind[]) {
    const request = REQUESTS[kind];
    // A first connection makes what is made once (status lines, the takeover table), then goes.
    const warm = new DirectPeer(64);
    open(server, warm, request);
    await settle([warm]);
    if (warm.socket !== undefined) warm.socket.options.onError?.call(warm.socket);
    await settle([warm]);
    const peers = Array.from({ length: connections }, () => new DirectPeer(64));
    const before = live();
    for (const peer of peers) open(server, peer, request);
    await settle(peers);
    const after = live();
    for (const peer of peers) if (peer.closed || peer.status !== STATUS[kind]) throw new Error(`${kind}: status ${peer.status}, closed ${peer.closed}`);
    rows.push({ kind, connections, slots: (after.slots - before.slots) / connections, chunks: (after.chunks - before.chunks) / connections });
    for (const peer of peers) if (peer.socket !== undefined) peer.socket.options.onError?.call(peer.socket);
    await settle(peers);
    streams.clear();
    sockets.clear();
    if (server.connectionCount !== 0) throw new Error(`${kind}: ${server.connectionCount} connections left after the clients went`);
  }
  return rows;
}

export interface LiveFitResult {
  /** Statuses of the stream's response and of the 3 concurrent session requests. */
  statuses: number[];
  /** Status events the stream received: one at once, one more after the app's interval. */
  events: number;
}

/** The dashboard's stream open while 3 session requests run at once, on the device's fixed heap. */
async function fit(): Promise<LiveFitResult> {
  const device = await bootDevice();
  const [a, b] = [await device.signedIn(), await device.signedIn()];
  const peer = new DirectPeer(2048);
  // The stream runs on a's server, as the dashboard's EventSource would next to its page loads.
  open(a.client.server, peer, head('/live/events', `${SSE}Cookie: ${sessionCookie(a)}\r\n`));
  await settle([peer]);
  const count = () => (latin1(peer.response.subarray(0, peer.length)).match(/event: status\n/g) ?? []).length;
  const request = async (kind: RequestKind, browser: Browser) => {
    await null; // from the event loop, as a device runs a socket callback
    return (await send(kind, browser)).status;
  };
  const statuses = [peer.status, ...await Promise.all([request('home', a), request('session', b), request('home', b)])];
  const first = count();
  // The app's timer pushes the next status (the fit host's timers are virtual: the next one fires now).
  for (let i = 0; i < 8 && count() === first; i++) {
    runNextTimer();
    await settle([peer]);
  }
  if (peer.closed) throw new Error('the stream closed');
  return { statuses, events: count() };
}

export { step } from './scenario';

export function start(json: string): void {
  const options = JSON.parse(json) as { scenario?: 'fit'; connections?: number };
  runScenario(() => (options.scenario === 'fit' ? fit() : measure(options.connections ?? 4).then((idle) => ({ idle }))));
}
