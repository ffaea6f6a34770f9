/** Serves an xsdot app on Node: installs the Node runtime and listens through the ECMA-419 adapters. */
import { networkInterfaces, hostname } from 'node:os';
import type { App } from '../../modules/http/app';
import { defaultHosts } from '../../modules/http/authority';
import { Server, type ServerOptions } from '../../modules/http/server';
import { installRuntime, runtime, runtimeInstalled, type Runtime } from '../../modules/runtime';
import { createNodeRuntime } from './runtime';
import { NodeListener, nodeSockets } from './sockets';

export interface NodeServeOptions extends ServerOptions {
  /** TCP port (default: $PORT, else 8080; 0 lets the system choose, see `RunningServer.port`). */
  port?: number;
  /** Address to bind (default 127.0.0.1). */
  address?: string;
  /** A runtime to install (tests pass one with an in-memory store); default: the Node runtime, if none is installed. */
  runtime?: Runtime;
  /**
   * Allow-list entries besides the default (the listening address's names on its port; ignored when
   * `allowedHosts` replaces it), e.g. a DNS or mDNS name: `name` (any port) or `name:port`.
   */
  hostNames?: readonly string[];
  /** Prints `xsdot listening on <url>` through the runtime's log once bound (default true). */
  announce?: boolean;
}

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  close(): void;
}

/** Node's defaults are roomier than a device's: a desktop browser opens up to 6 connections. */
export const NODE_LIMITS = { maxConnections: 64, maxBody: 64 * 1024 } as const;

/** The port from $PORT; throws a RangeError naming it when it is not a TCP port number. */
export function portFromEnvironment(fallback = 8080): number {
  const text = process.env.PORT;
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`xsdot: PORT must be a TCP port number (0-65535), got ${text}`);
  return port;
}

/** Installs the Node runtime unless one is installed already (an app's Session needs it when created). */
export function installNodeRuntime(): void {
  if (!runtimeInstalled()) installRuntime(createNodeRuntime());
}

/**
 * Listens on `address:port` and serves `app` with Node's limits (NODE_LIMITS over the device defaults,
 * then `options.limits`). Rejects when the port cannot be bound (the error names the port).
 */
export async function serve(app: App, options: NodeServeOptions = {}): Promise<RunningServer> {
  if (options.runtime !== undefined) installRuntime(options.runtime);
  else installNodeRuntime();
  const server = new Server(app, { ...options, limits: { ...NODE_LIMITS, ...options.limits } });
  const address = options.address ?? '127.0.0.1';
  const listener = server.listen(nodeSockets, { port: options.port ?? portFromEnvironment(), address }) as NodeListener;
  const port = await listener.ready;
  if (options.allowedHosts === undefined) server.allowHosts(defaultHosts(port, listenAddresses(address), [...machineNames(address, port), ...(options.hostNames ?? [])]));
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  if (options.announce ?? true) runtime().log('info', `xsdot listening on ${url}`);
  return { server, port, url, close: () => server.close() };
}

function isWildcard(address: string): boolean {
  return address === '' || address === '0.0.0.0' || address === '::';
}

/** The addresses a client can reach a listener on `address` at: it, or every interface's for a wildcard. */
function listenAddresses(address: string): string[] {
  if (!isWildcard(address)) return [address];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const entry of list ?? []) out.push(entry.address);
  return out;
}

/** The machine's own names (`name`, `name.local`) when it listens on every interface. */
function machineNames(address: string, port: number): string[] {
  if (!isWildcard(address)) return [];
  const name = hostname().toLowerCase();
  const names = name.includes('.') ? [name] : [name, `${name}.local`];
  return names.map((entry) => `${entry}:${port}`);
}
