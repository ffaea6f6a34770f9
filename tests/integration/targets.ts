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
 *   ECMA-419 sockets, polled every 20 ms, and the device's fixed heap sizes.
 *
 * Each suite gets its own data directory, so every run starts with no password (first boot).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Limits } from '../../modules/http/limits';
import { installRuntime } from '../../modules/runtime';
import { createApp } from '../../main';
import { createNodeRuntime, FileStore } from '../../hosts/node/runtime';
import { serve } from '../../hosts/node/serve';
import { spawnServer } from './process';

export type TargetKind = 'node' | 'moddable';

export const TARGET: TargetKind = process.env.XSDOT_TARGET === 'moddable' ? 'moddable' : 'node';

/**
 * How long one request may take. Generous on Moddable: its Linux sockets move at most 1536 bytes per
 * 20 ms poll each way, and a password check runs PBKDF2 in the XS interpreter.
 */
export const REQUEST_MS = TARGET === 'moddable' ? 15_000 : 5_000;

/** Slack for timing assertions: Moddable notices socket events at its next 20 ms poll. */
export const TIMING_SLACK_MS = TARGET === 'moddable' ? 600 : 300;

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
  return TARGET === 'moddable' ? startModdable(dataDir, options) : startNode(dataDir, options);
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
    log: (level, message) => { output += `[${level}] ${message}\n`; },
  });
  // The app reads its keys and password from the store when created: the runtime goes in first.
  installRuntime(runtime);
  const app = createApp({ deviceName: options.deviceName });
  const running = await serve(app, { port: 0, host: '127.0.0.1', limits: options.limits, runtime, hostNames: hostsOf(options) });
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

async function startModdable(dataDir: string, options: TargetOptions, timeoutMs = 20_000): Promise<Target> {
  const executable = process.env.XSDOT_MODDABLE_EXECUTABLE;
  if (!executable || !existsSync(executable)) {
    throw new Error(`XSDOT_MODDABLE_EXECUTABLE (${executable ?? 'unset'}) is not an executable: run \`npm run test:moddable\`, which builds it`);
  }
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
  const { url, output, stop } = await spawnServer(executable, [], env, { timeoutMs });
  const storeFile = join(dataDir, 'modpreferences.json');
  return {
    kind: 'moddable',
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
