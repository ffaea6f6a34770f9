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
import type { App } from '../modules/http/app';
import { abort } from '../modules/http/errors';
import { Headers } from '../modules/http/headers';
import type { Request } from '../modules/http/request';
import { Response } from '../modules/http/response';
import { runtime, type TimerId } from '../modules/runtime';
import { withSession, type SessionData } from '../modules/session/index';
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

/**
 * Adds the live routes to the login app. Returns what the dashboard's handler calls on its request:
 * its response (only) gets `csp` plus `script-src 'self'; connect-src 'self'` (every other page keeps
 * allowing no script). `signedIn(session)` says whether a session may see the status.
 */
export function useLiveStatus(app: App, csp: string, signedIn: (session: SessionData) => boolean, options: LiveStatusOptions = {}): (request: Request) => void {
  const interval = options.interval ?? 2_000;
  const lifetime = options.reauthenticate ?? 60_000;
  // Bounded by the server's connection cap: each entry is an open connection.
  const streams = new Map<EventStream, number>();
  const sockets = new Map<WebSocket, number>();
  let timer: TimerId | undefined;

  const tick = (): void => {
    timer = undefined;
    const now = runtime().monotonic();
    const status = liveStatus();
    for (const [sse, opened] of streams) {
      if (now - opened >= lifetime) sse.close();
      if (sse.isClosed || !sse.send(status, { event: 'status' })) streams.delete(sse);
    }
    for (const [ws, opened] of sockets) {
      if (ws.readyState !== 1) sockets.delete(ws);
      else if (now - opened >= lifetime) ws.close(4000, 'sign-in check due: reconnect');
    }
    if (streams.size + sockets.size > 0) timer = runtime().setTimer(tick, interval);
  };
  const watch = (): void => {
    timer ??= runtime().setTimer(tick, interval);
  };

  const events = withSession((_request, session) => {
    if (!signedIn(session)) abort(401, 'not signed in');
    return eventStream((sse) => {
      streams.set(sse, runtime().monotonic());
      sse.send(liveStatus(), { event: 'status', retry: 1000 });
      watch();
    });
  });
  const socket = withSession((request, session) => {
    if (!signedIn(session)) abort(401, 'not signed in');
    return acceptWebSocket(request, async (ws) => {
      sockets.set(ws, runtime().monotonic());
      watch();
      for await (const message of ws) ws.send(message === 'status' ? liveStatus() : JSON.stringify({ error: 'send "status"' }));
      sockets.delete(ws);
    });
  });
  // One route, not three: every route a request is tried against before its own costs it an allocation.
  app.get('/live/<name>', (request) => {
    switch (request.params.name) {
      case 'status.js': return new Response(LIVE_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      case 'events': return events(request);
      case 'socket': return socket(request);
      default: return abort(404);
    }
  });

  // Checked once here, then set without checks on each dashboard response (the security headers' way).
  const policy = new Headers({ 'Content-Security-Policy': `${csp}; script-src 'self'; connect-src 'self'` }).get('content-security-policy') as string;
  const allowScript = (_request: Request, response: Response): undefined => {
    if (response.status === 200) response.headers.setKnown('content-security-policy', 'Content-Security-Policy', policy);
    return undefined;
  };
  return (request) => {
    request.afterRequest(allowScript);
  };
}
