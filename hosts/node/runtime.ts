/** The Node.js runtime for xsdot's core: clock, timers, CSPRNG, node:crypto digests, a file key store. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CryptoProvider, KeyValueStore, LogLevel, Runtime } from '../../modules/runtime';

export const nodeCryptoProvider: CryptoProvider = {
  name: 'node:crypto',
  createSha256() {
    const hash = createHash('sha256');
    return {
      update(data: Uint8Array) { hash.update(data); },
      digest() { return new Uint8Array(hash.digest()); },
    };
  },
  hmacSha256(key: Uint8Array, data: Uint8Array) {
    return new Uint8Array(createHmac('sha256', key).update(data).digest());
  },
};

/** An in-memory store, for tests and for hosts that keep nothing across restarts. */
export class MemoryStore implements KeyValueStore {
  readonly #values = new Map<string, string>();
  get(key: string): string | undefined { return this.#values.get(key); }
  set(key: string, value: string): void { this.#values.set(key, value); }
  delete(key: string): void { this.#values.delete(key); }
}

/**
 * A JSON file of key/value pairs, written atomically (temp file + rename) with mode 0600,
 * because it holds secrets (session keys, password hashes).
 */
export class FileStore implements KeyValueStore {
  readonly #path: string;
  readonly #values: Map<string, string>;

  constructor(path: string) {
    this.#path = path;
    let parsed: Record<string, string> = {};
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`xsdot: cannot read store ${path}: ${(error as Error).message}`);
    }
    this.#values = new Map(Object.entries(parsed).filter(([, v]) => typeof v === 'string'));
  }

  get(key: string): string | undefined { return this.#values.get(key); }
  set(key: string, value: string): void { this.#values.set(key, value); this.#flush(); }
  delete(key: string): void { if (this.#values.delete(key)) this.#flush(); }

  #flush(): void {
    const temp = `${this.#path}.tmp`;
    writeFileSync(temp, JSON.stringify(Object.fromEntries(this.#values)), { mode: 0o600 });
    chmodSync(temp, 0o600);
    renameSync(temp, this.#path);
  }
}

/** The directory where the Node host keeps its state: XSDOT_DATA_DIR, else the working directory. */
export function dataDir(): string {
  const dir = process.env.XSDOT_DATA_DIR || process.cwd();
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface NodeRuntimeOptions {
  store?: KeyValueStore;
  /** Where log lines go; defaults to stderr (warn/error) and stdout (info/debug). */
  log?: (level: LogLevel, message: string) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const started = performance.now();

export function createNodeRuntime(options: NodeRuntimeOptions = {}): Runtime {
  return {
    name: 'node',
    now: () => Date.now(),
    monotonic: () => performance.now() - started,
    wallClockTrusted: () => true,
    setTimer: (callback, ms) => setTimeout(callback, ms),
    clearTimer: (id) => clearTimeout(id as NodeJS.Timeout),
    randomBytes: (length) => new Uint8Array(randomBytes(length)),
    utf8Encode: (text) => encoder.encode(text),
    utf8Decode: (bytes) => decoder.decode(bytes),
    log: options.log ?? ((level, message) => {
      const line = `[${level}] ${message}\n`;
      if (level === 'warn' || level === 'error') process.stderr.write(line);
      else process.stdout.write(line);
    }),
    crypto: nodeCryptoProvider,
    store: options.store ?? new FileStore(join(dataDir(), '.sesskey')),
    freeMemory: () => undefined,
  };
}
