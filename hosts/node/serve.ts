/** Serves an xsdot app on Node: installs the Node runtime and listens through the ECMA-419 adapters. */
import type { App } from '../../modules/http/app';
import { Server, type ServerOptions } from '../../modules/http/server';
import { installRuntime, type Runtime } from '../../modules/runtime';
import { createNodeRuntime } from './runtime';
import { NodeListener, nodeSockets } from './sockets';

export interface NodeServeOptions extends ServerOptions {
  port?: number;
  host?: string;
  /** A runtime to install (tests pass one with an in-memory store); default: the Node runtime. */
  runtime?: Runtime;
}

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  close(): void;
}

/** Node's defaults are roomier than a device's: a desktop browser opens up to 6 connections. */
export const NODE_LIMITS = { maxConnections: 64, maxBody: 64 * 1024 } as const;

export async function serve(app: App, options: NodeServeOptions = {}): Promise<RunningServer> {
  installRuntime(options.runtime ?? createNodeRuntime());
  const server = new Server(app, { ...options, limits: { ...NODE_LIMITS, ...options.limits } });
  const host = options.host ?? '127.0.0.1';
  const listener = server.listen(nodeSockets, { port: options.port ?? 8080, address: host }) as NodeListener;
  const port = await listener.ready;
  return { server, port, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, close: () => server.close() };
}
