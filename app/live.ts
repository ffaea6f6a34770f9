/**
 * The login app's live status: the dashboard's uptime and free memory, pushed to signed-in browsers.
 *
 * - `GET /live/events`: a Server-Sent Events stream of `status` events (`{"uptime":"3 min",
 *   "seconds":180,"freeMemory":12345}`), one now and one every `interval` ms from a single host timer
 *   shared by every stream; 401 without a session.
 * - `GET /live/socket`: the same for tools over a WebSocket: each text message `status` is
 *   answered with the status; 401 without a session, 403 from another origin.
 * - `GET /live/status.js`: the dashboard's script (a file of its own, so the Content-Security-Policy allows
 *   `script-src 'self'` and no inline script); the dashboard alone gets that policy.
 *
 * A stream or socket is authorized once, when it opens: each ends after `reauthenticate` ms, and the
 * browser's EventSource reconnects with its cookie, so a signed-out or revoked session stops getting
 * updates within that time. Handlers register the connection and return (no suspended frame per
 * connection: bench/fit/live-entry.ts measures what each costs); the socket's awaits messages.
 */
import { abort } from '../modules/http/errors';
import { Headers } from '../modules/http/headers';
import type { Request } from '../modules/http/request';
import { Response } from '../modules/http/response';
import { runtime, type TimerId } from '../modules/runtime';
import { Session, type SessionData } from '../modules/session/index';
import { acceptWebSocket, eventStream, type EventStream, type WebSocket } from '../modules/live/index';
import { formatDuration } from './pages';

export interface LiveStatusOptions {
  /** Milliseconds between status events (default 2000). */
  interval?: number;
  /** Milliseconds a stream or socket lives before its session is checked again by a reconnect (default 60000). */
  reauthenticate?: number;
}

/** The dashboard's script: fills in #uptime and #free-memory from the stream's status events. */
export const LIVE_SCRIPT = `"use strict";
const events = new EventSource("/live/events");
events.addEventListener("status", (event) => {
  const status = JSON.parse(event.data);
  document.getElementById("uptime").textContent = status.uptime;
  const memory = document.getElementById("free-memory");
  if (memory !== null && typeof status.freeMemory === "number") memory.textContent = status.freeMemory + " bytes";
});
`;

/** The status now, as JSON. */
export function liveStatus(): string {
  const seconds = Math.floor(runtime().monotonic() / 1000);
  return JSON.stringify({ uptime: formatDuration(seconds), seconds, freeMemory: runtime().freeMemory?.() });
}

/** What the login app (main.ts) lends the live routes. */
export interface LiveContext {
  /** The app's streams and sockets. */
  readonly live: LiveStatus;
  /** The signed-in user of `session`, or undefined: only a signed-in session may see the status. */
  userOf(session: SessionData): string | undefined;
}

/**
 * The open streams and sockets of one app, and the one timer that feeds them. Made per app (it
 * changes at run time); its maps are made with the first stream or socket.
 */
export class LiveStatus {
  readonly #interval: number;
  readonly #lifetime: number;
  // Bounded by the server's connection cap: each entry is an open connection.
  #streams: Map<EventStream, number> | undefined;
  #sockets: Map<WebSocket, number> | undefined;
  #timer: TimerId | undefined;
  #tick: (() => void) | undefined;

  constructor(options: LiveStatusOptions = {}) {
    this.#interval = options.interval ?? 2_000;
    this.#lifetime = options.reauthenticate ?? 60_000;
  }

  /** Registers a new event stream and sends it the status now. */
  open(sse: EventStream): void {
    (this.#streams ??= new Map()).set(sse, runtime().monotonic());
    sse.send(liveStatus(), { event: 'status', retry: 1000 });
    this.#watch();
  }

  /** Answers `ws`'s `status` messages until it closes. */
  async serve(ws: WebSocket): Promise<void> {
    const sockets = (this.#sockets ??= new Map());
    sockets.set(ws, runtime().monotonic());
    this.#watch();
    for await (const message of ws) ws.send(message === 'status' ? liveStatus() : JSON.stringify({ error: 'send "status"' }));
    sockets.delete(ws);
  }

  #watch(): void {
    this.#timer ??= runtime().setTimer(this.#tick ??= () => this.#update(), this.#interval);
  }

  #update(): void {
    this.#timer = undefined;
    const now = runtime().monotonic();
    const status = liveStatus();
    const streams = this.#streams;
    const sockets = this.#sockets;
    if (streams !== undefined) {
      for (const [sse, opened] of streams) {
        if (now - opened >= this.#lifetime) sse.close();
        if (sse.isClosed || !sse.send(status, { event: 'status' })) streams.delete(sse);
      }
    }
    if (sockets !== undefined) {
      for (const [ws, opened] of sockets) {
        if (ws.readyState !== 1) sockets.delete(ws);
        else if (now - opened >= this.#lifetime) ws.close(4000, 'sign-in check due: reconnect');
      }
    }
    if ((streams?.size ?? 0) + (sockets?.size ?? 0) > 0) this.#watch();
  }
}

/** Throws 401 unless `request`'s session is signed in. */
function checkSignedIn(request: Request, ctx: LiveContext): void {
  if (ctx.userOf(Session.of(request).get(request)) === undefined) abort(401, 'not signed in');
}

/**
 * GET /live/<name> of the login app: `status.js`, `events` or `socket` (else 404). One route, not three:
 * every route a request is tried against before its own costs it an allocation.
 */
export function liveRoute(request: Request, ctx: LiveContext): Response {
  switch (request.params.name) {
    case 'status.js': return new Response(LIVE_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
    case 'events': {
      checkSignedIn(request, ctx);
      const live = ctx.live;
      return eventStream((sse) => live.open(sse));
    }
    case 'socket': {
      checkSignedIn(request, ctx);
      const live = ctx.live;
      return acceptWebSocket(request, (ws) => live.serve(ws));
    }
    default: return abort(404);
  }
}

/**
 * What the dashboard's handler calls on its request: its response (only) gets `csp` plus
 * `script-src 'self'; connect-src 'self'` (every other page keeps allowing no script). Made once, at
 * module level; the policy is checked on first use (Headers needs the host's runtime, which a module
 * preloaded at link time does not have), then set without checks on each dashboard response.
 */
export function scriptAllowed(csp: string): (request: Request) => void {
  let policy: string | undefined;
  const allowScript = (_request: Request, response: Response): undefined => {
    if (response.status === 200) response.headers.setKnown('content-security-policy', 'Content-Security-Policy', policy as string);
    return undefined;
  };
  return (request) => {
    policy ??= new Headers({ 'Content-Security-Policy': `${csp}; script-src 'self'; connect-src 'self'` }).get('content-security-policy') as string;
    request.afterRequest(allowScript);
  };
}
