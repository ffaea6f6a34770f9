/** The Node.js runtime for xsdot's core: clock, timers, CSPRNG, node:crypto digests, a file key store. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileFirmwareUpdate } from './firmware';
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
  createSha1() {
    const hash = createHash('sha1');
    return {
      update(data: Uint8Array) { hash.update(data); },
      digest() { return new Uint8Array(hash.digest()); },
    };
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
 * A JSON file of key/value pairs holding secrets (session keys, password hashes), written so that no
 * crash, power cut or other local user can leave it half-written or swap it:
 * - each write goes to a new temporary file in the same directory, created exclusively (O_EXCL, never
 *   following a link) with mode 0600 and a random name, fsynced, renamed over the store, and then the
 *   directory is fsynced, so the rename itself survives a power cut;
 * - the store file must not be a symbolic link nor belong to another user, or the store refuses to open;
 * - memory changes only once the new file is in place (a failed write throws and changes nothing).
 */
export class FileStore implements KeyValueStore {
  readonly #path: string;
  #values: Map<string, string>;

  constructor(path: string) {
    this.#path = resolve(path);
    let parsed: Record<string, string> = {};
    try {
      const info = lstatSync(this.#path);
      if (info.isSymbolicLink()) throw new Error('it is a symbolic link');
      if (!info.isFile()) throw new Error('it is not a regular file');
      if (typeof process.getuid === 'function' && info.uid !== process.getuid()) throw new Error('it belongs to another user');
      const fd = openSync(this.#path, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        parsed = JSON.parse(readFileSync(fd, 'utf8')) as Record<string, string>;
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`xsdot: refusing the store ${this.#path}: ${(error as Error).message}`);
    }
    this.#values = new Map(Object.entries(parsed).filter(([, v]) => typeof v === 'string'));
  }

  get(key: string): string | undefined { return this.#values.get(key); }

  set(key: string, value: string): void {
    const next = new Map(this.#values);
    next.set(key, value);
    this.#write(next);
  }

  delete(key: string): void {
    if (!this.#values.has(key)) return;
    const next = new Map(this.#values);
    next.delete(key);
    this.#write(next);
  }

  #write(values: Map<string, string>): void {
    const dir = dirname(this.#path);
    const temp = join(dir, `${basename(this.#path)}.${randomBytes(8).toString('hex')}.tmp`);
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      try {
        writeSync(fd, JSON.stringify(Object.fromEntries(values)));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.#path);
    } catch (error) {
      try { unlinkSync(temp); } catch { /* already renamed or gone */ }
      throw error;
    }
    this.#values = values;
    const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

/**
 * The directory where the Node host keeps its state: XSDOT_DATA_DIR, else `.xsdot` in the working
 * directory. Created with mode 0700; an existing one must belong to this user and not be writable by
 * others (else another local user could replace the key file), or this throws saying so.
 */
export function dataDir(): string {
  const dir = resolve(process.env.XSDOT_DATA_DIR || '.xsdot');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = statSync(dir);
  if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
    throw new Error(`xsdot: the data directory ${dir} belongs to another user`);
  }
  if ((info.mode & 0o022) !== 0) {
    throw new Error(`xsdot: the data directory ${dir} is writable by other users (mode ${(info.mode & 0o777).toString(8)}): chmod 700 it`);
  }
  return dir;
}

export interface NodeRuntimeOptions {
  store?: KeyValueStore;
  /** Where an accepted firmware image is written (default `firmware.bin` in the data directory). */
  firmwarePath?: string;
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
    beginFirmwareUpdate: () => fileFirmwareUpdate(options.firmwarePath ?? join(dataDir(), 'firmware.bin')),
  };
}
