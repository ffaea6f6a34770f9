/**
 * Builds xsdot-fit (hosts/xs/fit/fit.c), the XS host of the device-fit check, as a 32-bit program so
 * that XS slots are 16 bytes as on the ESP32. Runs on Node; compiles into build/fit/ (git-ignored),
 * from the XS sources that the npm package @agoric/xsnap ships, with Debian's gcc and gcc-multilib.
 * Installs nothing: when `gcc -m32` cannot link, it throws FitToolchainMissing saying what to install.
 *
 * Rebuilds only when a source, a flag or the compiler changed (a stamp file records them).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FIT_DIR = join(ROOT, 'hosts/xs/fit');
const XSNAP = join(ROOT, 'node_modules/@agoric/xsnap');
const MODDABLE = join(XSNAP, 'moddable');
const XS = join(MODDABLE, 'xs');
export const BUILD_DIR = join(ROOT, 'build/fit');
export const FIT_BINARY = join(BUILD_DIR, 'xsdot-fit');

/** The XS engine's sources, as xsnap-native/xsnap/makefiles/lin/xsnap-worker.mk lists them (without xsnap's own files). */
const XS_SOURCES = [
  'xsAll', 'xsAPI', 'xsArguments', 'xsArray', 'xsAtomics', 'xsBigInt', 'xsBoolean', 'xsCode', 'xsCommon', 'xsDataView',
  'xsDate', 'xsDebug', 'xsDefaults', 'xsError', 'xsFunction', 'xsGenerator', 'xsGlobal', 'xsJSON', 'xsLexical', 'xsLockdown',
  'xsMapSet', 'xsMarshall', 'xsMath', 'xsMemory', 'xsModule', 'xsNumber', 'xsObject', 'xsPlatforms', 'xsProfile', 'xsPromise',
  'xsProperty', 'xsProxy', 'xsRegExp', 'xsRun', 'xsScope', 'xsScript', 'xsSnapshot', 'xsSourceMap', 'xsString', 'xsSymbol',
  'xsSyntaxical', 'xsTree', 'xsType', 'xsdtoa', 'xsre', 'xsmc',
].map((name) => join(XS, 'sources', `${name}.c`));

/** TextEncoder/TextDecoder, which Moddable builds have as modules (hosts/xs/utf8.ts uses them). */
const MODULE_SOURCES = [
  join(MODDABLE, 'modules/data/text/decoder/textdecoder.c'),
  join(MODDABLE, 'modules/data/text/encoder/textencoder.c'),
];

const OUR_SOURCES = [join(FIT_DIR, 'fit.c')];
const HEADERS = [join(FIT_DIR, 'fitPlatform.h'), join(XS, 'sources/xsAll.h'), join(XS, 'sources/xsCommon.h'), join(XS, 'includes/xs.h')];

/**
 * A release build of XS like a device's: parser and runtime, no debugger, no metering, no lockdown,
 * no snapshots. mxBoundsCheck keeps the engine's own checks.
 */
const DEFINES = [
  '-DINCLUDE_XSPLATFORM', '-DXSPLATFORM="fitPlatform.h"', '-DmxParse=1', '-DmxRun=1', '-DmxNoConsole=1', '-DmxBoundsCheck=1',
  '-DmxRegExpUnicodePropertyEscapes=1', '-DmxStringNormalize=1', '-DmxMinusZero=1',
];
const INCLUDES = [FIT_DIR, join(XS, 'includes'), join(XS, 'platforms'), join(XS, 'sources')].map((dir) => `-I${dir}`);
const CFLAGS = ['-m32', '-O2', '-fno-common', '-std=gnu11'];
const QUIET = ['-w'];
const LIBS = ['-lm', '-lpthread'];

export class FitToolchainMissing extends Error {}

const CC = process.env.CC_FIT ?? 'gcc';

/** Runs 32-bit x86 programs where the kernel cannot (no IA-32 emulation): Debian's qemu-user. */
const QEMU_I386 = 'qemu-i386';
/** What runs xsdot-fit when the kernel cannot execute it: a script that hands it to qemu-i386. */
const FIT_WRAPPER = join(BUILD_DIR, 'xsdot-fit-qemu');

function detailOf(error: unknown): string {
  return String((error as { stderr?: string }).stderr || (error as Error).message).trim().split('\n').slice(-2).join(' / ');
}

/**
 * Throws FitToolchainMissing unless `gcc -m32` compiles and links a program here and something runs it:
 * the kernel itself, or qemu-i386 on kernels built without IA-32 emulation (then it returns that prefix).
 */
export async function checkToolchain(): Promise<string[]> {
  mkdirSync(BUILD_DIR, { recursive: true });
  const probe = join(BUILD_DIR, 'm32-probe.c');
  const program = join(BUILD_DIR, 'm32-probe');
  writeFileSync(probe, '#include <stdio.h>\n#include <math.h>\nint main(void) { return sizeof(void*) == 4 && sqrt(4.0) == 2.0 ? 0 : 1; }\n');
  try {
    await run(CC, ['-m32', probe, '-lm', '-o', program]);
  } catch (error) {
    throw new FitToolchainMissing(
      `${CC} -m32 cannot build a 32-bit program (${detailOf(error)}); the device-fit check needs Debian's gcc-multilib: apt-get install -y gcc-multilib`,
    );
  }
  try {
    await run(program);
    return [];
  } catch (native) {
    try {
      await run(QEMU_I386, [program]);
      return [QEMU_I386];
    } catch {
      throw new FitToolchainMissing(
        `this kernel cannot run the 32-bit program gcc -m32 built (${detailOf(native)}) and ${QEMU_I386} is missing: apt-get install -y qemu-user`,
      );
    }
  }
}

async function stamp(): Promise<string> {
  const hash = createHash('sha256');
  const { stdout } = await run(CC, ['--version']).catch(() => ({ stdout: 'unknown' }));
  hash.update(stdout);
  hash.update(JSON.stringify([DEFINES, CFLAGS, LIBS]));
  for (const file of [...OUR_SOURCES, ...HEADERS, ...XS_SOURCES, ...MODULE_SOURCES]) {
    hash.update(file);
    hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

/** Runs `jobs` at most `limit` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      results[index] = await jobs[index]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/**
 * Builds build/fit/xsdot-fit when missing or out of date; returns the path to execute: the binary, or
 * a wrapper running it under qemu-i386 where the kernel cannot run 32-bit programs (counts are the same).
 */
export async function buildFitHost(log: (line: string) => void = () => {}): Promise<string> {
  if (!existsSync(join(XS, 'sources/xsAll.c'))) {
    throw new Error(`XS sources not found under ${XS}: run \`npm ci\` (the device-fit host builds from @agoric/xsnap's copy)`);
  }
  const wanted = await stamp();
  const stampFile = join(BUILD_DIR, 'xsdot-fit.stamp');
  if (existsSync(FIT_BINARY) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === wanted) {
    return existsSync(FIT_WRAPPER) ? FIT_WRAPPER : FIT_BINARY;
  }
  const runner = await checkToolchain();
  const objDir = join(BUILD_DIR, 'obj');
  mkdirSync(objDir, { recursive: true });
  const startedAt = performance.now();
  log(`fit: building ${FIT_BINARY} (32-bit XS from @agoric/xsnap's sources)…`);
  const sources = [...XS_SOURCES, ...MODULE_SOURCES, ...OUR_SOURCES];
  const objects = await pool(sources.map((source) => async () => {
    const object = join(objDir, `${source.split('/').pop()!.replace(/\.c$/, '')}.o`);
    const ours = OUR_SOURCES.includes(source);
    try {
      await run(CC, [...CFLAGS, ...DEFINES, ...INCLUDES, ...(ours ? ['-Wall', '-Wno-unused-parameter'] : QUIET), '-c', source, '-o', object]);
    } catch (error) {
      throw new Error(`compiling ${source} failed:\n${String((error as { stderr?: string }).stderr ?? error)}`);
    }
    return object;
  }), Math.max(1, availableParallelism()));
  try {
    await run(CC, [...CFLAGS, ...objects, ...LIBS, '-o', FIT_BINARY]);
  } catch (error) {
    throw new Error(`linking ${FIT_BINARY} failed:\n${String((error as { stderr?: string }).stderr ?? error)}`);
  }
  rmSync(FIT_WRAPPER, { force: true });
  if (runner.length > 0) writeFileSync(FIT_WRAPPER, `#!/bin/sh\nexec ${runner.join(' ')} '${FIT_BINARY}' "$@"\n`, { mode: 0o755 });
  writeFileSync(stampFile, wanted);
  log(`fit: built in ${((performance.now() - startedAt) / 1000).toFixed(1)} s (${Math.round(statSync(FIT_BINARY).size / 1024)} KiB)${runner.length > 0 ? `, run with ${runner.join(' ')}` : ''}`);
  return runner.length > 0 ? FIT_WRAPPER : FIT_BINARY;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildFitHost((line) => console.log(line)).then((path) => console.log(path), (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
