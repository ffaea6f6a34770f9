/**
 * Node side of the device-fit host: bundles an entry (default bench/fit/entry.ts) for xsdot-fit, runs
 * it under a creation budget, and parses what xsdot-fit reports (see fit.c for the protocol).
 */
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { portabilityPlugin } from '../driver/bundle';
import { BUILD_DIR, ROOT } from './build';

/** The Moddable Two (ESP32) creation block: build/devices/esp32/targets/moddable_two/manifest.json. */
export const MODDABLE_TWO = { chunk: 78_848, heap: 4_928, stack: 512 } as const;

/**
 * The stack slots every request path may need: 70 % of Moddable Two's 512, so that the deepest chain
 * leaves ≥ 30 % headroom (for what the fit host does not model: the Moddable runtime's own frames, and
 * the frames of another XS version). The device-fit check holds each path of the `paths` scenario to it.
 */
export const STACK_BUDGET = 358;

/** xsdot-fit's exit codes. */
export const FIT_EXIT: Record<number, string> = {
  0: 'done',
  1: 'usage or I/O error',
  2: 'JavaScript error',
  3: 'memory full (creation budget exceeded)',
  4: 'stack overflow',
  5: 'not enough keys',
  6: 'other XS abort',
  7: 'not preloadable (RegExp or generator left in flash)',
};

export interface MachineMemory {
  slots: number;
  peakSlots: number;
  /** Slots the machine has (its heap). */
  heapSlots: number;
  chunks: number;
  peakChunks: number;
  /** Chunk bytes the machine has. */
  chunkBytes: number;
  slotSize: number;
}

export interface FitRun {
  exitCode: number | null;
  signal: string | null;
  budget?: { chunk: number; heap: number; stack: number; slotSize: number };
  preload?: boolean;
  /** builtins, flash: the shared machine; empty, loaded, done, after-gc: the device machine. */
  phases: Record<string, MachineMemory>;
  shared?: { aliases: number; preloadedRegExps: number; keys: number };
  result?: unknown;
  aborted?: MachineMemory & { aborted: string; machine: string };
  error?: { error: string; message?: string };
  /** The bundle's own output (print). */
  output: string[];
  stderr: string;
  /** Wall-clock milliseconds of the run. */
  ms: number;
}

export interface FitOptions {
  chunk?: number;
  heap?: number;
  stack?: number;
  /** Evaluate the modules in flash first, as the XS linker preloads them. */
  preload?: boolean;
  /** Passed to the entry's start(). */
  arg?: string;
  timeoutMs?: number;
}

/** Bundles `entry` (relative to the repository) as the script xsdot-fit expects; returns the file written. */
export async function bundleFitEntry(entry = 'bench/fit/entry.ts'): Promise<string> {
  mkdirSync(BUILD_DIR, { recursive: true });
  const outfile = join(BUILD_DIR, `${basename(entry).replace(/\.ts$/, '')}.js`);
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    format: 'iife',
    globalName: '__xsdotFitExports',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2022',
    // The modules are evaluated when the loader is called: in flash with --preload, else on the device.
    banner: { js: 'globalThis.__xsdotFitLoad = function () {\n"use strict";' },
    footer: { js: 'return __xsdotFitExports;\n};' },
    write: false,
    logLevel: 'silent',
    plugins: [portabilityPlugin(ROOT)],
  });
  // Written aside, then renamed: test files running at once bundle the same entry, and one must never
  // run the other's half-written file.
  const partial = `${outfile}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(partial, result.outputFiles[0].text);
  renameSync(partial, outfile);
  return outfile;
}

function parse(stdout: string, run: FitRun): void {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('@fit ')) {
      if (line !== '') run.output.push(line);
      continue;
    }
    const event = JSON.parse(line.slice(5)) as Record<string, unknown>;
    if ('budget' in event) {
      run.budget = event.budget as FitRun['budget'];
      run.preload = event.preload as boolean;
    } else if (event.phase === 'shared') {
      run.shared = event as unknown as FitRun['shared'];
    } else if (typeof event.phase === 'string') {
      run.phases[event.phase] = event as unknown as MachineMemory;
    } else if ('result' in event) {
      run.result = event.result;
    } else if ('aborted' in event) {
      run.aborted = event as unknown as FitRun['aborted'];
    } else if ('error' in event) {
      run.error = event as unknown as FitRun['error'];
    }
  }
}

/** Runs a bundle on xsdot-fit; never throws for a failing run (see exitCode, aborted, error). */
export function runFit(binary: string, bundle: string, options: FitOptions = {}): Promise<FitRun> {
  const args = ['run'];
  if (options.chunk !== undefined) args.push('--chunk', String(options.chunk));
  if (options.heap !== undefined) args.push('--heap', String(options.heap));
  if (options.stack !== undefined) args.push('--stack', String(options.stack));
  if (options.preload) args.push('--preload');
  if (options.arg !== undefined) args.push('--arg', options.arg);
  args.push(bundle);
  const startedAt = performance.now();
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: number | string; signal?: string }) | null;
      const run: FitRun = {
        exitCode: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
        signal: failure?.signal ?? null,
        phases: {},
        output: [],
        stderr,
        ms: performance.now() - startedAt,
      };
      parse(stdout, run);
      resolve(run);
    });
  });
}

/** One line saying how a run ended, for assertion messages and reports. */
export function describeRun(run: FitRun): string {
  if (run.exitCode === 0) return 'done';
  const how = run.signal !== null ? `killed by ${run.signal}` : `exit ${run.exitCode} (${FIT_EXIT[run.exitCode ?? -1] ?? 'unknown'})`;
  const detail = run.aborted
    ? `: ${run.aborted.aborted} in the ${run.aborted.machine} machine at ${run.aborted.slots}/${run.aborted.heapSlots} slots, ${run.aborted.chunks}/${run.aborted.chunkBytes} chunk bytes`
    : run.error ? `: ${run.error.error}${run.error.message ? ` — ${run.error.message}` : ''}` : '';
  const phase = run.output.filter((line) => line.startsWith('phase: ')).at(-1);
  return `${how}${detail}${phase && run.exitCode !== 0 ? ` (during ${phase.slice(7)})` : ''}\n${run.stderr.trim()}`.trim();
}

/** Bytecode and symbol-table sizes of each file, parsed as an XS module (xsc's release output). */
export function compileModules(binary: string, files: string[]): Promise<{ file: string; code?: number; symbols?: number; error?: string }[]> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['compile', ...files], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const rows = stdout.split('\n').filter((line) => line.startsWith('@fit ')).map((line) => JSON.parse(line.slice(5)));
      if (rows.length !== files.length) reject(new Error(`xsdot-fit compile failed: ${String(error?.message ?? '')} ${stderr}`));
      else resolve(rows);
    });
  });
}
