/**
 * Runs the real `npm start` program (hosts/node/start.ts) in a child process for end-to-end tests: a
 * fresh data directory, PORT=0, and its console output captured — which is where the setup code is.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnServer, type ServerProcess } from '../integration/process';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface LoginServer extends ServerProcess {
  /** The setup code printed on first start (undefined when a password exists already). */
  setupCode: string | undefined;
  dataDir: string;
}

/** A fresh temporary data directory; remove it with `removeDataDir`. */
export function newDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'xsdot-login-'));
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts hosts/node/start.ts on 127.0.0.1 with PORT=0 in `dataDir`; resolves once it listens. */
export async function startLoginServer(dataDir: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<LoginServer> {
  const server = await spawnServer(process.execPath, ['--import', 'tsx', 'hosts/node/start.ts'], {
    ...process.env, HOST: '127.0.0.1', PORT: '0', XSDOT_DATA_DIR: dataDir, XSDOT_DEVICE_NAME: 'e2e device', ...env,
  }, { cwd: ROOT, timeoutMs });
  return { ...server, setupCode: /setup code: (\S+)/.exec(server.output())?.[1], dataDir };
}
