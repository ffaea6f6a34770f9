/**
 * A client for xsnap-worker (built by @agoric/xsnap), spoken to directly. Runs on Node.
 *
 * Protocol (xsnap-worker.c): netstrings `<length>:<bytes>,`, commands on the worker's fd 3, replies
 * on its fd 4. `e<js>` evaluates <js> with the global eval, drains the promise jobs, then answers
 * `.<meter JSON>\x01<bytes>` (<bytes>: the ArrayBuffer the code returned, or its `result` property)
 * or `!<message>` if it threw. Meanwhile code may call issueCommand(bytes): the worker sends
 * `?<bytes>` and blocks until the parent answers `/<bytes>`. `q` ends the worker.
 * Computation is limited only when `-l <limit>` is passed (@agoric/xsnap's meteringLimit); without
 * it there is no limit, which long test files need.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export interface Meter {
  /** Computation units of this command. */
  compute: number;
  /** Bytes the machine has reserved so far (only grows). */
  allocate: number;
  /** Live slots. */
  currentHeapCount: number;
}

export type Reply = { ok: true; body: Buffer; meter: Meter } | { ok: false; message: string };

/** xsnap-worker's exit codes (ExitCode in xsnap-worker.c). */
const EXIT_REASONS: Record<number, string> = {
  1: 'bad usage',
  2: 'I/O error on the pipes to the driver',
  11: 'not enough memory',
  12: 'stack overflow',
  15: 'unhandled exception',
  16: 'no more keys (XS atom table full)',
  17: 'too much computation (metering limit)',
};

export function describeExit(code: number | null, signal: string | null): string {
  if (signal !== null) return `killed by ${signal}`;
  return `exit code ${code}${code !== null && EXIT_REASONS[code] ? ` (${EXIT_REASONS[code]})` : ''}`;
}

export class WorkerExited extends Error {
  readonly code: number | null;
  readonly signal: string | null;
  constructor(code: number | null, signal: string | null) {
    super(`xsnap-worker ended: ${describeExit(code, signal)}`);
    this.code = code;
    this.signal = signal;
  }
}

/** The binary @agoric/xsnap built at install time, or $XSNAP_WORKER (e.g. a 32-bit build). */
export function findWorkerBinary(root: string): string {
  const platform = process.platform === 'darwin' ? 'mac' : 'lin';
  const bin = process.env.XSNAP_WORKER ?? join(root, 'node_modules/@agoric/xsnap/xsnap-native/xsnap/build/bin', platform, 'release/xsnap-worker');
  if (!existsSync(bin)) throw new Error(`xsnap-worker not found at ${bin}: run \`npm rebuild @agoric/xsnap\` (or set XSNAP_WORKER)`);
  return bin;
}

export interface WorkerOptions {
  /** Called with each issueCommand() message; its return value is the answer. */
  onCommand?: (message: Buffer) => Buffer;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
}

export class XsnapWorker {
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  readonly #child: ChildProcess;
  readonly #toWorker: Writable;
  readonly #options: WorkerOptions;
  #received: Buffer = Buffer.alloc(0);
  #pending: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;
  #exit: WorkerExited | undefined;

  constructor(bin: string, options: WorkerOptions = {}) {
    this.#options = options;
    // The worker reads commands on fd 3 and writes replies on fd 4. The cwd matters only to builds
    // with XSNAP_TEST_RECORD, which write an xsnap-tests/ directory there.
    this.#child = spawn(bin, ['xsdot-test'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'], cwd: tmpdir() });
    this.#toWorker = this.#child.stdio[3] as Writable;
    this.#toWorker.on('error', () => {}); // EPIPE after a crash; the exit event reports it
    (this.#child.stdio[4] as Readable).on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#child.stdout?.setEncoding('utf8').on('data', (text: string) => options.onStdout?.(text));
    this.#child.stderr?.setEncoding('utf8').on('data', (text: string) => options.onStderr?.(text));
    this.exited = new Promise((resolve) => {
      this.#child.on('error', (error) => {
        options.onStderr?.(`cannot run ${bin}: ${error.message}\n`);
        resolve({ code: null, signal: 'spawn-error' });
      });
      this.#child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    void this.exited.then(({ code, signal }) => {
      this.#exit = new WorkerExited(code, signal);
      this.#pending?.reject(this.#exit);
      this.#pending = undefined;
    });
  }

  /** Evaluates a script (e.g. an IIFE bundle) and waits until its promise jobs are drained. */
  evaluate(code: string): Promise<Reply> {
    if (this.#exit) return Promise.reject(this.#exit);
    if (this.#pending) return Promise.reject(new Error('xsnap-worker: one command at a time'));
    return new Promise<Reply>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#send(Buffer.from(`e${code}`, 'utf8'));
    });
  }

  /**
   * Sends `message` to the worker's `globalThis.handleCommand(ArrayBuffer)` and waits as for evaluate().
   * Unlike evaluate(), it compiles no script: each evaluate() keeps one slot alive for good, which a
   * long-running heap measurement (the soak) cannot afford.
   */
  command(message: Uint8Array): Promise<Reply> {
    if (this.#exit) return Promise.reject(this.#exit);
    if (this.#pending) return Promise.reject(new Error('xsnap-worker: one command at a time'));
    return new Promise<Reply>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#send(Buffer.concat([Buffer.from('?'), message]));
    });
  }

  /** Asks the worker to quit and returns how it exited. */
  async quit(): Promise<{ code: number | null; signal: string | null }> {
    if (!this.#exit) {
      this.#send(Buffer.from('q'));
      this.#toWorker.end();
    }
    return this.exited;
  }

  kill(): void {
    if (!this.#exit) this.#child.kill('SIGKILL');
  }

  #send(payload: Buffer): void {
    this.#toWorker.write(Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(',')]));
  }

  #receive(chunk: Buffer): void {
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
    for (;;) {
      const colon = this.#received.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.#received.subarray(0, colon).toString('latin1'));
      if (colon === 0 || colon > 9 || !Number.isSafeInteger(length)) return this.#protocolError('bad netstring length');
      const end = colon + 1 + length;
      if (this.#received.length <= end) return;
      if (this.#received[end] !== 0x2c) return this.#protocolError('netstring without its trailing comma');
      const message = this.#received.subarray(colon + 1, end);
      this.#received = this.#received.subarray(end + 1);
      this.#dispatch(message);
    }
  }

  #dispatch(message: Buffer): void {
    const kind = String.fromCharCode(message[0]);
    if (kind === '?') {
      const answer = this.#options.onCommand?.(message.subarray(1)) ?? Buffer.alloc(0);
      this.#send(Buffer.concat([Buffer.from('/'), answer]));
      return;
    }
    const pending = this.#pending;
    this.#pending = undefined;
    if (kind === '.') {
      // `.{meter JSON}\x01body`
      const separator = message.indexOf(1, 1);
      const meter = (separator > 0 ? JSON.parse(message.subarray(1, separator).toString('utf8')) : {}) as Meter;
      pending?.resolve({ ok: true, meter, body: message.subarray(separator > 0 ? separator + 1 : 1) });
    } else if (kind === '!') {
      pending?.resolve({ ok: false, message: message.subarray(1).toString('utf8') });
    } else {
      this.#protocolError(`unexpected reply ${JSON.stringify(message.subarray(0, 40).toString('latin1'))}`);
    }
  }

  #protocolError(what: string): void {
    this.#options.onStderr?.(`xsnap protocol error: ${what}\n`);
    this.kill();
  }
}
