/**
 * Runs the real `npm start` program (hosts/node/start.ts) in a child process for end-to-end tests: a
 * fresh data directory, PORT=0, and its console output captured — which is where the setup code is.
 * Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface LoginServer {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** The setup code printed on first start (undefined when a password exists already). */
  setupCode: string | undefined;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  dataDir: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). Keeps the data directory. */
  stop(): Promise<void>;
}

/** A fresh temporary data directory; remove it with `removeDataDir`. */
export function newDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'xsdot-login-'));
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Starts hosts/node/start.ts on 127.0.0.1 with PORT=0 in `dataDir`; resolves once it listens. */
export async function startLoginServer(dataDir: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<LoginServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'hosts/node/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', XSDOT_DATA_DIR: dataDir, XSDOT_DEVICE_NAME: 'e2e device', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => { output += text; });
  child.stderr.setEncoding('utf8').on('data', (text: string) => { output += text; });
  const stop = async () => {
    child.kill('SIGTERM');
    if (!(await exited(child, 5000))) {
      child.kill('SIGKILL');
      await exited(child, 5000);
    }
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`the server did not start within ${timeoutMs} ms; output:\n${output}`)), timeoutMs);
    const check = () => {
      const match = /xsdot listening on (http:\/\/\S+)/.exec(output);
      if (match) finish(undefined, match[1]);
    };
    const onExit = () => finish(new Error(`the server exited (${child.exitCode ?? child.signalCode}); output:\n${output}`));
    function finish(error: Error | undefined, value?: string) {
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value as string);
    }
    child.stdout.on('data', check);
    child.once('exit', onExit);
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, setupCode: /setup code: (\S+)/.exec(output)?.[1], output: () => output, dataDir, stop };
}
