/**
 * `npm start`: the device login app on Node, at http://127.0.0.1:8080 unless HOST / PORT say otherwise
 * (PORT=0 picks a free port; the "listening on" line names it).
 *
 * State (session keys, the password hash) lives in `$XSDOT_DATA_DIR/.sesskey` (default: `.xsdot/` in the
 * working directory, created 0700). XSDOT_SECRET_KEY (`hex:` and 64+ hex digits, or `base64url:` and 43+ characters) sets the session signing key instead of
 * the stored one. XSDOT_DEVICE_NAME names the device (default: the host name). XSDOT_HOSTS (comma-separated
 * `name` or `name:port`) adds names the server answers to besides its listening address's (a Host naming
 * anything else gets 421). On first start the setup code is printed on stdout.
 */
import { hostname } from 'node:os';
import { createApp } from '../../main';
import { installRuntime } from '../../modules/runtime';
import { parseSecret } from '../../modules/session/keys';
import type { JwtKey } from '../../modules/session/jwt';
import { createNodeRuntime } from './runtime';
import { serve } from './serve';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a TCP port number, got ${process.env.PORT}`);

// The runtime goes in first: parsing the secret and creating the app (keys, password from the store) use it.
const runtime = createNodeRuntime();
installRuntime(runtime);

let keys: JwtKey[] | undefined;
if (process.env.XSDOT_SECRET_KEY) {
  try {
    keys = [{ key: parseSecret(process.env.XSDOT_SECRET_KEY) }];
  } catch (error) {
    fail(`XSDOT_SECRET_KEY: ${(error as Error).message}`); // parseSecret never echoes the secret
  }
}

const app = createApp({ deviceName: process.env.XSDOT_DEVICE_NAME || hostname(), session: { keys } });
const hostNames = (process.env.XSDOT_HOSTS ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
const running = await serve(app, { port, host, runtime, hostNames });
process.stdout.write(`xsdot listening on ${running.url}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    running.close();
    process.exit(0);
  });
}
