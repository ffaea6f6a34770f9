/**
 * The servers the integration suites run against: the login app (main.ts) on a host, reached only over
 * HTTP, with its console output (where the setup code is) and its key store as the host keeps it.
 *
 * XSDOT_TARGET picks the host:
 * - `node` (default): hosts/node/serve.ts in this process, with a file store in a fresh data directory
 *   and the runtime's log captured;
 * - `moddable`: the x-cli-lin executable (XSDOT_MODDABLE_EXECUTABLE, built by `npm run test:moddable`,
 *   which runs everything inside a private network namespace), started with XSDOT_DATA_DIR, XSDOT_PORT=0
 *   and XSDOT_LIMITS, its stdout and stderr captured. It runs the XS engine with the SDK's Linux
 *   ECMA-419 sockets, polled every 20 ms, and the device's fixed heap sizes;
 * - `mcsim`: the simulator build (XSDOT_MCSIM_APP, the `lin` build's mc.so) in the SDK's `mcsim` under
 *   `xvfb-run`, with the same environment. The simulator's Preference file is `/tmp/modpreferences.json`
 *   for every simulator app (mc/config's file root is fixed at build time), so each one runs in a mount
 *   namespace of its own (`unshare -m`) whose /tmp is its data directory: tests never touch the real
 *   /tmp's file, nor each other's. Its own PID namespace ends mcsim and Xvfb with it.
 *
 * Each suite gets its own data directory, so every run starts with no password (first boot).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Limits } from '../../modules/http/limits';
import { installRuntime } from '../../modules/runtime';
import { directoryFiles } from '../../hosts/node/static';
import { createApp } from '../../main';
import { createNodeRuntime, FileStore } from '../../hosts/node/runtime';
import { serve } from '../../hosts/node/serve';
import { spawnServer } from './process';

export type TargetKind = 'node' | 'moddable' | 'mcsim';

export const TARGET: TargetKind = process.env.XSDOT_TARGET === 'moddable' || process.env.XSDOT_TARGET === 'mcsim' ? process.env.XSDOT_TARGET : 'node';
/** The Moddable builds: the XS engine, the SDK's Linux sockets and Preference. */
export const ON_MODDABLE = TARGET !== 'node';

/**
 * How long one request may take. Generous on Moddable: its Linux sockets move at most 1536 bytes per
 * 20 ms poll each way, and a password check runs PBKDF2 in the XS interpreter.
 */
export const REQUEST_MS = ON_MODDABLE ? 15_000 : 5_000;

/** Slack for timing assertions: Moddable notices socket events at its next 20 ms poll. */
export const TIMING_SLACK_MS = ON_MODDABLE ? 600 : 300;

export interface Target {
  readonly kind: TargetKind;
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The setup code the app printed at start (undefined when a password exists already). */
  readonly setupCode: string | undefined;
  /** Everything the server printed so far. */
  output(): string;
  /** The key store's pairs, read from the host's file (a Node `.sesskey` or Moddable's Preference JSON). */
  readStore(): Record<string, string>;
  /** The file that holds the key store. */
  readonly storeFile: string;
  /** Stops the server; keeps the data directory. */
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Reuse a data directory (a restart); default: a fresh one, removed by `removeDataDirs()`. */
  dataDir?: string;
  /** Server limits (both hosts apply them over the device defaults of modules/http/limits.ts). */
  limits?: Partial<Limits>;
  deviceName?: string;
  /** Names the server answers to besides its address and localhost (XSDOT_HOSTS); default `device` (any port). */
  hosts?: readonly string[];
}

const created: string[] = [];

export function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), `xsdot-${TARGET}-`));
  created.push(dir);
  return dir;
}

/** Removes every data directory `newDataDir` made. */
export function removeDataDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function startTarget(options: TargetOptions = {}): Promise<Target> {
  const dataDir = options.dataDir ?? newDataDir();
  return TARGET === 'node' ? startNode(dataDir, options) : startModdable(dataDir, options);
}

function hostsOf(options: TargetOptions): readonly string[] {
  return options.hosts ?? ['device'];
}

function setupCodeIn(output: string): string | undefined {
  return /setup code: ([0-9A-Z]{4}-[0-9A-Z]{4})/.exec(output)?.[1];
}

function readJson(file: string): Record<string, unknown> {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
}

async function startNode(dataDir: string, options: TargetOptions): Promise<Target> {
  let output = '';
  const storeFile = join(dataDir, '.sesskey');
  const runtime = createNodeRuntime({
    store: new FileStore(storeFile),
    firmwarePath: join(dataDir, 'firmware.bin'),
    log: (level, message) => { output += `[${level}] ${message}\n`; },
  });
  // The app reads its keys and password from the store when created: the runtime goes in first.
  installRuntime(runtime);
  // As npm start serves it: the stylesheet from app/static.
  const app = createApp({ deviceName: options.deviceName, assets: directoryFiles(fileURLToPath(new URL('../../app/static', import.meta.url))) });
  const running = await serve(app, { port: 0, address: '127.0.0.1', limits: options.limits, runtime, hostNames: hostsOf(options), announce: false });
  output += `xsdot listening on ${running.url}\n`;
  return {
    kind: 'node',
    url: running.url,
    port: running.port,
    dataDir,
    setupCode: setupCodeIn(output),
    output: () => output,
    readStore: () => readJson(storeFile) as Record<string, string>,
    storeFile,
    stop: async () => running.close(),
  };
}

/** The command that runs the Moddable build of TARGET with `env`. */
function moddableCommand(): { command: string; args: string[] } {
  if (TARGET === 'mcsim') {
    const app = process.env.XSDOT_MCSIM_APP;
    if (!app || !existsSync(app)) throw new Error(`XSDOT_MCSIM_APP (${app ?? 'unset'}) is not the simulator build's mc.so: run \`npm run test:moddable\`, which builds it`);
    // mount: /tmp becomes the data directory (Preference's file, Xvfb's socket and lock, xvfb-run's
    // auth file); mcsim and the app are copied there first, as the SDK or the build may live under
    // /tmp. pid + kill-child: stopping unshare ends everything started inside. sh stays as the
    // namespace's init (xvfb-run as PID 1 never hears from its Xvfb). Inside, the data directory is /tmp
    // (where the app writes its firmware image). stdbuf: mcsim's trace() output is block-buffered into a pipe.
    const script = 'mkdir -p "$XSDOT_DATA_DIR/.mcsim" && cp "$(command -v mcsim)" "$XSDOT_MCSIM_APP" "$XSDOT_DATA_DIR/.mcsim/" && ' +
      'mount --make-rprivate / && mount --bind "$XSDOT_DATA_DIR" /tmp && ' +
      'XSDOT_DATA_DIR=/tmp xvfb-run -a stdbuf -oL -eL /tmp/.mcsim/mcsim /tmp/.mcsim/mc.so';
    return { command: 'unshare', args: ['--mount', '--pid', '--fork', '--kill-child=SIGKILL', 'sh', '-c', script] };
  }
  const executable = process.env.XSDOT_MODDABLE_EXECUTABLE;
  if (!executable || !existsSync(executable)) {
    throw new Error(`XSDOT_MODDABLE_EXECUTABLE (${executable ?? 'unset'}) is not an executable: run \`npm run test:moddable\`, which builds it`);
  }
  return { command: executable, args: [] };
}

/** The environment variable of the port: `npm start` reads PORT, the Moddable builds XSDOT_PORT. */
export const PORT_VARIABLE = TARGET === 'node' ? 'PORT' : 'XSDOT_PORT';

export interface Exited {
  status: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * Runs the target's program as a user starts it — `npm start` (hosts/node/start.ts) on Node, the
 * executable or the simulator on Moddable — with a fresh data directory, port 0 and `env` on top, and
 * resolves when it exits (rejects when it is still running after `timeoutMs`, and kills it): for the
 * start-up failures.
 */
export async function runUntilExit(env: Record<string, string>, timeoutMs = 20_000): Promise<Exited> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const { command, args } = TARGET === 'node' ? { command: process.execPath, args: ['--import', 'tsx', 'hosts/node/start.ts'] } : moddableCommand();
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, XSDOT_DATA_DIR: newDataDir(), [PORT_VARIABLE]: '0', HOST: '127.0.0.1', XSDOT_ADDRESS: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => { output += text; });
  child.stderr.setEncoding('utf8').on('data', (text: string) => { output += text; });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} still runs after ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolvePromise({ status, signal, output });
    });
  });
}

async function startModdable(dataDir: string, options: TargetOptions, timeoutMs = 20_000): Promise<Target> {
  const { command, args } = moddableCommand();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XSDOT_DATA_DIR: dataDir,
    XSDOT_PORT: '0',
    XSDOT_ADDRESS: '127.0.0.1',
    XSDOT_LIMITS: JSON.stringify(options.limits ?? {}),
    XSDOT_HOSTS: hostsOf(options).join(','),
  };
  if (options.deviceName !== undefined) env.XSDOT_DEVICE_NAME = options.deviceName;
  else delete env.XSDOT_DEVICE_NAME;
  const { url, output, stop } = await spawnServer(command, args, env, { timeoutMs });
  const storeFile = join(dataDir, 'modpreferences.json');
  return {
    kind: TARGET,
    url,
    port: Number(new URL(url).port),
    dataDir,
    setupCode: setupCodeIn(output()),
    output,
    readStore: () => (readJson(storeFile).xsdot ?? {}) as Record<string, string>,
    storeFile,
    stop,
  };
}
