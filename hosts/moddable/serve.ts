/** Serves an xsdot app on Moddable: installs the runtime and listens through the SDK's ECMA-419 sockets. */
import type { App } from '../../modules/http/app';
import { Server, type ServerOptions } from '../../modules/http/server';
import { installRuntime, type Runtime } from '../../modules/runtime';
import { moddableSockets } from './sockets';

export interface ModdableServeOptions extends ServerOptions {
  port: number;
  /** Bind address; the SDK's Linux listener ignores it and binds 0.0.0.0. */
  address?: string;
  /** A runtime to install first; omit when the caller installed one already. */
  runtime?: Runtime;
}

export interface RunningServer {
  server: Server;
  /** The bound port (the one the system chose when `port` was 0). */
  port: number;
  close(): void;
}

export function serve(app: App, options: ModdableServeOptions): RunningServer {
  if (options.runtime !== undefined) installRuntime(options.runtime);
  const server = new Server(app, options);
  const listener = server.listen(moddableSockets, { port: options.port, address: options.address });
  const bound = (listener as unknown as { readonly port?: number }).port;
  return { server, port: typeof bound === 'number' && bound > 0 ? bound : options.port, close: () => server.close() };
}
