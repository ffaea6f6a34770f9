/**
 * `npm start`: the device login app on Node, at http://127.0.0.1:8080 unless HOST / PORT say otherwise
 * (PORT=0 picks a free port; the "listening on" line names it).
 *
 * State (session keys, the password hash) lives in `$XSDOT_DATA_DIR/.sesskey` (default: `.xsdot/` in the
 * working directory, created 0700). XSDOT_SECRET_KEY (`hex:` and 64+ hex digits, or `base64url:` and 43+ characters) sets the session signing key instead of
 * the stored one. XSDOT_DEVICE_NAME names the device (default: the host name). XSDOT_HOSTS (comma-separated
 * `name` or `name:port`) adds names the server answers to besides its listening address's (a Host naming
 * anything else gets 421). On first start the setup code is printed on stdout.
 *
 * When it cannot start it prints one line on stderr, `xsdot: cannot start: <what>: <what to do>`, and
 * exits with 2 for an invalid setting (PORT, XSDOT_SECRET_KEY), 1 for the rest (the data directory is
 * not writable, the port is in use or not allowed, HOST is not an address here, the store is unreadable).
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../main';
import { directoryFiles } from './static';
import { installRuntime } from '../../modules/runtime';
import { parseSecret } from '../../modules/session/keys';
import type { JwtKey } from '../../modules/session/jwt';
import { createNodeRuntime, dataDir } from './runtime';
import { serve } from './serve';

function fail(message: string, status: number): never {
  process.stderr.write(`xsdot: cannot start: ${message.replace(/^xsdot: /, '')}\n`);
  process.exit(status);
}

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a TCP port number (0-65535), got ${process.env.PORT}`, 2);

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

// The store is written on first start and at every password change: a directory it cannot be written
// to is found now, not when the admin sets a password.
let directory = process.env.XSDOT_DATA_DIR || process.cwd();
try {
  directory = dataDir();
  const probe = join(directory, `.xsdot-write-test-${process.pid}`);
  writeFileSync(probe, '', { mode: 0o600 });
  unlinkSync(probe);
} catch (error) {
  fail(`the data directory ${directory} is not writable (${code(error) ?? (error as Error).message}): set XSDOT_DATA_DIR to a writable directory`, 1);
}

// The runtime goes in next: parsing the secret and creating the app (keys, password from the store) use it.
const runtime = createNodeRuntime();
installRuntime(runtime);

let keys: JwtKey[] | undefined;
if (process.env.XSDOT_SECRET_KEY) {
  try {
    keys = [{ key: parseSecret(process.env.XSDOT_SECRET_KEY) }];
  } catch (error) {
    fail(`XSDOT_SECRET_KEY: ${(error as Error).message}`, 2); // parseSecret never echoes the secret
  }
}

function listenProblem(error: unknown): string {
  switch (code(error)) {
    case 'EADDRINUSE': return `port ${port} on ${host} is in use: stop the program that listens on it, or set PORT to another port`;
    case 'EACCES': return `not allowed to listen on port ${port}: set PORT to a port from 1024 up, or give node the right to bind it`;
    case 'EADDRNOTAVAIL': return `HOST=${host} is not an address of this machine: set HOST to one of its addresses (default 127.0.0.1)`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `HOST=${host} does not resolve: set HOST to an address of this machine`;
    default: return (error as Error).message;
  }
}

try {
  // The stylesheet and other static files, read from the repository's app/static as they are requested.
  const assets = directoryFiles(fileURLToPath(new URL('../../app/static', import.meta.url)));
  const app = createApp({ deviceName: process.env.XSDOT_DEVICE_NAME || hostname(), session: { keys }, assets });
  const hostNames = (process.env.XSDOT_HOSTS ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  const running = await serve(app, { port, address: host, runtime, hostNames, announce: false }).catch((error: unknown) => fail(listenProblem(error), 1));
  process.stdout.write(`xsdot listening on ${running.url}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      running.close();
      process.exit(0);
    });
  }
} catch (error) {
  fail(error instanceof Error ? error.message : String(error), 1);
}
