/** Serves an xsdot app on Node: installs the Node runtime and listens through the ECMA-419 adapters. */
import { networkInterfaces, hostname } from 'node:os';
import type { App } from '../../modules/http/app';
import { defaultHosts } from '../../modules/http/authority';
import { Server, type ServerOptions } from '../../modules/http/server';
import { installRuntime, type Runtime } from '../../modules/runtime';
import { createNodeRuntime } from './runtime';
import { NodeListener, nodeSockets } from './sockets';

export interface NodeServeOptions extends ServerOptions {
  port?: number;
  host?: string;
  /** A runtime to install (tests pass one with an in-memory store); default: the Node runtime. */
  runtime?: Runtime;
  /**
   * Allow-list entries besides the default (the listening address's names on its port; ignored when
   * `allowedHosts` replaces it), e.g. a DNS or mDNS name: `name` (any port) or `name:port`.
   */
  hostNames?: readonly string[];
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
  if (options.allowedHosts === undefined) server.allowHosts(defaultHosts(port, listenAddresses(host), [...machineNames(host, port), ...(options.hostNames ?? [])]));
  return { server, port, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, close: () => server.close() };
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
