/**
 * `npm run bench:peers`: xsdot and microdot side by side on the same four routes (microdot_app.py and
 * its mirror bench/peer-app.ts), in one run. Prints a table with ratios (xsdot ÷ microdot) and writes
 * bench/results/peers.json as `{"rows": [{"figure", "unit", "xsdot", "microdot", "ratio"}]}`.
 *
 * The peers are built by `<shared>/peers/build-peers.sh` (MicroPython + microdot from the shared vendor
 * archive, no network, ~1 min) into $HOME/.cache/xsdot/peers-<archive name>, once. `<shared>` is
 * $XSDOT_SHARED, else the `shared` folder next to the repository (or next to its worktree folder).
 *
 * Rows:
 * - bytes allocated per request, GET / and GET /me — xsdot: the 32-bit fit engine (hosts/xs/fit, modules
 *   preloaded, native SHA-256 as a device's Digest), server side, raw bytes in and out (peer-exchange.ts);
 *   microdot: MicroPython 32-bit with its code frozen, over sockets (mp_heap.py stats) and in-process
 *   (mp_inprocess.py, raw mode);
 * - smallest heap for 4 concurrent GET /me — xsdot: heap slots × 16 + chunk bytes, each searched on the fit
 *   engine; microdot: `-X heapsize` searched by mp_heap.py;
 * - in-process CPU per request (x86-64): xsdot on xsnap-worker with the pure-TS SHA-256, microdot on the
 *   x86-64 MicroPython (its HMAC is C); medians of alternating repetitions. GET /me sends the same cookie
 *   each time (mp_inprocess.py does too), so xsdot's key ring skips the HMAC of a token it verified
 *   before; `/me uncached` is GET /me with that cache off, what each cookie's first request costs;
 * - device-like CPU per request: the same loop on the Moddable x-cli-lin build (bench/moddable, native
 *   Digest, built when $MODDABLE points to a built SDK), against microdot's x86-64 figure;
 * - socket CPU per request, GET / and GET /me, with 4 keep-alive connections and with one connection per
 *   request: the x-cli-lin build serving the peer app against microdot on x86-64 MicroPython, over loopback
 *   sockets in a private network namespace, wrk -c4, the server's CPU less its idle CPU (bench/peer-sockets.ts;
 *   `XSDOT_BENCH_SOCKET_SECONDS` per run, default 3), the least of the repetitions (see socketUs);
 * - session cookie bytes (`name=value`) for {user: "admin"}: xsdot's JWT for microdot's claims alone (the
 *   issue's like-for-like row), and the peer apps' cookies, xsdot's with its default claims (expiry, idle
 *   window, revocation id), which microdot's lacks.
 * Where this kernel cannot run 32-bit programs, they run under qemu-i386 (allocation and heap figures
 * are counts, the same under emulation; no CPU figure is taken from them).
 *
 * Every timed process (both frameworks' loops and servers) runs on one CPU, wrk on another
 * (bench/cpu.ts: these VMs' CPUs differ in speed); `XSDOT_BENCH_CPU` picks it, `none` pins nothing.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { buildFitHost } from '../hosts/xs/fit/build';
import { testBuildPath, typecheckBuild } from '../scripts/mcconfig-tsc/index';
import { buildAssets } from '../scripts/assets';
import { bundleFitEntry, describeRun, runFit, type FitRun } from '../hosts/xs/fit/run';
import type { PeerFitResult } from './fit/peer-entry';
import type { PeerTiming } from './peer-timing';
import type { SocketArgs, SocketRun } from './peer-sockets';
import { BENCH_DIR, num, table, writeResults } from './report';
import { runInXsnap } from './xsnap';
import { pinBenchCpu } from './cpu';
import { PEER_KEY } from './peer-exchange';
import { installRuntime } from '../modules/runtime';
import { KeyRing, signToken } from '../modules/session/jwt';
import { createNodeRuntime, MemoryStore } from '../hosts/node/runtime';

const run = promisify(execFile);
const ROOT = join(BENCH_DIR, '..');
const REPEATS = Number(process.env.XSDOT_BENCH_REPEATS ?? 4);
const REQUESTS = Number(process.env.XSDOT_BENCH_REQUESTS ?? 1000);
const SOCKET_SECONDS = Number(process.env.XSDOT_BENCH_SOCKET_SECONDS ?? 3);

export interface PeerRow {
  figure: string;
  unit: string;
  xsdot: number | null;
  microdot: number | null;
  ratio: number | null;
  note?: string;
}

function sharedDir(): string {
  const candidates = [process.env.XSDOT_SHARED, join(ROOT, '..', 'shared'), join(ROOT, '..', '..', 'shared')];
  for (const dir of candidates) if (dir !== undefined && existsSync(join(dir, 'peers', 'build-peers.sh'))) return dir;
  throw new Error('bench:peers needs the shared folder with peers/build-peers.sh (set XSDOT_SHARED)');
}

interface Peers {
  dir: string;
  micropython: string;
  /** The 32-bit frozen build, or a wrapper that runs it under qemu-i386. */
  micropython32: string;
  emulated32: boolean;
  env: NodeJS.ProcessEnv;
  scripts: string;
}

/** Finds the built peers in the cache, or builds them there. */
async function peers(): Promise<Peers> {
  const shared = sharedDir();
  const archive = readdirSync(join(shared, 'vendor')).find((name) => name.startsWith('peers-') && name.endsWith('.tar.xz'));
  if (archive === undefined) throw new Error(`no peers-*.tar.xz in ${join(shared, 'vendor')}`);
  const dir = join(homedir(), '.cache', 'xsdot', basename(archive, '.tar.xz'));
  const unix = join(dir, 'micropython', 'ports', 'unix');
  const micropython = join(unix, 'build-standard', 'micropython');
  const frozen = join(unix, 'build-32f', 'micropython');
  if (!existsSync(micropython) || !existsSync(frozen)) {
    console.log(`building the peers into ${dir} (about a minute)…`);
    await run(join(shared, 'peers', 'build-peers.sh'), [dir], { maxBuffer: 16 << 20 });
  }
  let micropython32 = frozen;
  let emulated32 = false;
  if (spawnSync(frozen, ['-c', 'print(1)']).status !== 0) {
    micropython32 = join(dir, 'micropython-32f-qemu');
    writeFileSync(micropython32, `#!/bin/sh\nexec qemu-i386 '${frozen}' "$@"\n`);
    chmodSync(micropython32, 0o755);
    emulated32 = true;
  }
  const path = ['.frozen', join(dir, 'microdot', 'src'), join(dir, 'micropython-lib', 'python-ecosys', 'pyjwt'),
    join(dir, 'micropython-lib', 'python-stdlib', 'hmac'), join(dir, 'micropython', 'extmod'), join(dir, 'app')].join(':');
  return { dir, micropython, micropython32, emulated32, env: { ...process.env, MICROPYPATH: path }, scripts: join(shared, 'peers') };
}

interface MpInProcess {
  mode: 'tc' | 'raw';
  route: string;
  median_us: number;
  mean_us: number;
  alloc_bytes_per_req: number;
}

async function mpInProcess(p: Peers, binary: string, requests: number): Promise<MpInProcess[]> {
  const { stdout } = await run(binary, [join(p.scripts, 'mp_inprocess.py'), String(requests)], { env: p.env, cwd: join(p.dir, 'app'), maxBuffer: 16 << 20 });
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as MpInProcess);
}

async function mpHeap(p: Peers, command: string[], port: number): Promise<Record<string, unknown>> {
  const { stdout } = await run('python3', [join(p.scripts, 'mp_heap.py'), ...command], {
    env: { ...p.env, MICROPYTHON: p.micropython32, PEER_PORT: String(port) }, cwd: join(p.dir, 'app'), timeout: 600_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
}

/** The smallest value passing `test`, to `resolution`, starting the search at `start`. */
async function smallest(test: (value: number) => Promise<boolean>, start: number, resolution: number): Promise<number | undefined> {
  let high = start;
  let low = 0;
  while (!(await test(high))) {
    low = high;
    high *= 2;
    if (high > start * 64) return undefined;
  }
  while (high - low > resolution) {
    const middle = Math.floor((low + high) / 2);
    if (await test(middle)) high = middle;
    else low = middle;
  }
  return high;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1];

function row(figure: string, unit: string, xsdot: number | undefined, microdot: number | undefined, note?: string): PeerRow {
  const ratio = xsdot !== undefined && microdot !== undefined && microdot > 0 ? xsdot / microdot : undefined;
  return { figure, unit, xsdot: xsdot ?? null, microdot: microdot ?? null, ratio: ratio === undefined ? null : Math.round(ratio * 100) / 100, ...(note ? { note } : {}) };
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  console.log(`# xsdot bench:peers — ${new Date().toISOString()}\n`);
  const p = await peers();
  const fitBinary = await buildFitHost((line) => console.log(line));
  const bundle = await bundleFitEntry('bench/fit/peer-entry.ts');
  const fit = (arg: object, budget: { heap: number; chunk: number }): Promise<FitRun> =>
    runFit(fitBinary, bundle, { preload: true, ...budget, arg: JSON.stringify(arg) });

  // Counts first (deterministic): allocation and the smallest heaps.
  console.log('allocation and heap (counts)…');
  const alloc = await fit({ scenario: 'alloc' }, { chunk: 64 << 20, heap: 1_000_000 });
  if (alloc.exitCode !== 0) throw new Error(`xsdot alloc: ${describeRun(alloc)}`);
  const xsAlloc = (alloc.result as PeerFitResult).allocations ?? [];
  const bytesOf = (route: string) => {
    const found = xsAlloc.find((a) => a.route === route);
    return found === undefined ? undefined : Math.round(found.slots * 16 + found.chunks);
  };
  const concurrent = { scenario: 'concurrent', clients: 4, rounds: 10 };
  const passes = async (heap: number, chunk: number) => (await fit(concurrent, { heap, chunk })).exitCode === 0;
  const heapSlots = await smallest((heap) => passes(heap, 1 << 20), 1024, 16);
  const chunkBytes = heapSlots === undefined ? undefined : await smallest((chunk) => passes(heapSlots, chunk), 16_384, 256);
  const xsHeap = heapSlots === undefined || chunkBytes === undefined ? undefined : heapSlots * 16 + chunkBytes;
  const [mpStats, mpSearch, mp32] = await Promise.all([
    mpHeap(p, ['stats'], 18_301),
    mpHeap(p, ['search', '4'], 18_302),
    mpInProcess(p, p.micropython32, 200),
  ]);
  const mpRaw32 = (route: string) => mp32.find((r) => r.mode === 'raw' && r.route === route)?.alloc_bytes_per_req;

  // CPU: alternate the sides, medians of the repetitions, every timed process on one CPU.
  const cli = await buildCli();
  const cpus = pinBenchCpu();
  console.log(typeof cpus === 'string' ? `timed processes not pinned to a CPU: ${cpus}` : `timed processes on CPU ${cpus.timed}${cpus.client === undefined ? '' : `, wrk on CPU ${cpus.client}`}`);
  console.log(`in-process CPU, ${REPEATS} alternating repetitions${typeof cli === 'string' ? '' : ' (with the x-cli-lin build)'}…`);
  const xsUs: Record<string, number[]> = { '/': [], '/me': [], '/me uncached': [] };
  const cliUs: Record<string, number[]> = { '/': [], '/me': [], '/me uncached': [] };
  const mpUs: Record<string, number[]> = { '/': [], '/me': [] };
  let xsCookie: number | undefined;
  for (let i = 0; i < REPEATS; i++) {
    for (const r of await mpInProcess(p, p.micropython, REQUESTS)) if (r.mode === 'raw') mpUs[r.route].push(r.median_us);
    const xs = await runInXsnap<{ timings: PeerTiming[]; cookieBytes: number }>('xs-peer-entry.ts', REQUESTS);
    if ('skipped' in xs) throw new Error(xs.skipped);
    for (const t of xs.timings) xsUs[t.route].push(t.medianUs);
    xsCookie = xs.cookieBytes;
    if (typeof cli !== 'string') for (const t of await runCli(cli)) cliUs[t.route].push(t.medianUs);
  }
  const cliNote = typeof cli === 'string' ? `not measured: ${cli}` : 'xsdot: x-cli-lin release, native Digest; microdot: x86-64 MicroPython';

  // Over real loopback sockets, inside a private network namespace (the SDK's listener binds 0.0.0.0).
  let sockets: SocketRun[] | string = typeof cli === 'string' ? cli : [];
  if (typeof cli !== 'string') {
    console.log(`socket CPU on x-cli-lin and microdot, ${REPEATS} alternating repetitions of ${SOCKET_SECONDS} s per route and mode…`);
    sockets = await socketCpu(p, cli, REPEATS, SOCKET_SECONDS, typeof cpus === 'string' ? undefined : cpus.client);
  }
  // The least of the repetitions, for both sides: a process's CPU time on a shared VM only grows with
  // interference (steal, caches), and the x-cli-lin server answers 100–190 requests a second (its 20 ms
  // socket poll), so one 100 ms hiccup in a 3 s run adds 170–340 µs to each of its requests (the medians
  // of two runs moved from 0.42 to 1.01 that way; the least, 0.48 and 0.51).
  const socketUs = (side: SocketRun['side'], route: SocketRun['route'], mode: SocketRun['mode']): number | undefined => {
    if (typeof sockets === 'string') return undefined;
    const values = sockets.filter((r) => r.side === side && r.route === route && r.mode === mode && Number.isFinite(r.usPerRequest)).map((r) => r.usPerRequest);
    return values.length > 0 ? Math.min(...values) : undefined;
  };
  const socketNote = (mode: SocketRun['mode']): string => {
    if (typeof sockets === 'string') return `not measured: ${sockets}`;
    const errors = sockets.filter((r) => r.mode === mode).reduce((sum, r) => sum + r.errors, 0);
    const how = mode === 'keep-alive' ? 'wrk -c4 keep-alive (microdot closes each anyway)' : 'wrk -c4, Connection: close';
    return `${how}; server CPU less idle, per 2xx answer; xsdot: x-cli-lin release (20 ms socket poll), microdot: x86-64 MicroPython${errors > 0 ? `; ${errors} requests not answered 2xx` : ''}`;
  };

  const mpCookie = await microdotCookie(p);
  const rows: PeerRow[] = [
    row('bytes allocated per GET /me (32-bit; microdot over sockets)', 'B', bytesOf('/me'), mpStats.alloc_per_req_me as number),
    row('bytes allocated per GET / (32-bit; microdot over sockets)', 'B', bytesOf('/'), mpStats.alloc_per_req_root as number),
    row('bytes allocated per GET /me (32-bit; microdot in-process raw)', 'B', bytesOf('/me'), mpRaw32('/me')),
    row('bytes allocated per GET / (32-bit; microdot in-process raw)', 'B', bytesOf('/'), mpRaw32('/')),
    row('smallest heap, 4 concurrent GET /me (32-bit, code in ROM)', 'B', xsHeap, mpSearch.smallest_heapsize as number,
      heapSlots === undefined ? undefined : `xsdot: ${heapSlots} slots × 16 + ${chunkBytes} chunk bytes`),
    row('in-process CPU per GET / (x86-64, median)', 'µs', median(xsUs['/']), median(mpUs['/']), 'xsdot on xsnap, microdot on MicroPython'),
    row('in-process CPU per GET /me (x86-64, median)', 'µs', median(xsUs['/me']), median(mpUs['/me']), 'the same cookie each time, as a browser sends it; xsdot: pure-TS SHA-256, its HMAC skipped for a token verified before; microdot: C HMAC'),
    row('in-process CPU per GET /me, xsdot\'s token cache off: each cookie\'s first request (x86-64, median)', 'µs', median(xsUs['/me uncached']), median(mpUs['/me']), 'xsdot: an HMAC per request in pure-TS SHA-256 (xsnap has no native digest); microdot: C HMAC'),
    row('device-like CPU per GET / (Moddable x-cli-lin, in-process, median)', 'µs', cliUs['/'].length ? median(cliUs['/']) : undefined, median(mpUs['/']), cliNote),
    row('device-like CPU per GET /me (Moddable x-cli-lin, in-process, median)', 'µs', cliUs['/me'].length ? median(cliUs['/me']) : undefined, median(mpUs['/me']), cliNote),
    row('device-like CPU per GET /me, token cache off (Moddable x-cli-lin, in-process, median)', 'µs', cliUs['/me uncached'].length ? median(cliUs['/me uncached']) : undefined, median(mpUs['/me']), cliNote),
    row('socket CPU per GET / (4 keep-alive connections, minus idle, least of the repetitions)', 'µs', socketUs('xsdot', '/', 'keep-alive'), socketUs('microdot', '/', 'keep-alive'), socketNote('keep-alive')),
    row('socket CPU per GET /me (4 keep-alive connections, minus idle, least of the repetitions)', 'µs', socketUs('xsdot', '/me', 'keep-alive'), socketUs('microdot', '/me', 'keep-alive'), socketNote('keep-alive')),
    row('socket CPU per GET / (one connection per request, minus idle, least of the repetitions)', 'µs', socketUs('xsdot', '/', 'close'), socketUs('microdot', '/', 'close'), socketNote('close')),
    row('socket CPU per GET /me (one connection per request, minus idle, least of the repetitions)', 'µs', socketUs('xsdot', '/me', 'close'), socketUs('microdot', '/me', 'close'), socketNote('close')),
    row('session cookie name=value for {user: "admin"}, the same claims (xsdot\'s JWT for microdot\'s cookie)', 'B', sameClaimsCookie(), mpCookie,
      'the JWT encoding alone: xsdot\'s header has no "typ" (RFC 7519 §5.1: optional)'),
    row('session cookie name=value for {user: "admin"}, peer apps (xsdot\'s default claims)', 'B', xsCookie, mpCookie,
      'xsdot: with expiry and idle window (exp), revocation and CSRF id (sid), which microdot\'s cookie lacks'),
  ];
  console.log('');
  console.log(table(['figure', 'unit', 'xsdot', 'microdot', 'xsdot ÷ microdot'],
    rows.map((r) => [r.figure + (r.note ? ` — ${r.note}` : ''), r.unit, num(r.xsdot ?? undefined, r.unit === 'µs' ? 1 : 0), num(r.microdot ?? undefined, r.unit === 'µs' ? 1 : 0), r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`])));
  if (p.emulated32) console.log('\n32-bit MicroPython ran under qemu-i386 (counts only).');
  console.log(`(${((performance.now() - startedAt) / 1000).toFixed(0)} s)`);
  const file = writeResults('peers', { date: new Date().toISOString(), rows, raw: { cpus, xsAlloc, mpStats, mpSearch, mp32, xsUs, cliUs, mpUs, sockets } });
  console.log(`JSON: ${file}`);
}

/**
 * Builds bench/moddable (the peer loop on x-cli-lin) with the Moddable SDK at $MODDABLE; returns the
 * executable, or why not.
 */
async function buildCli(): Promise<string | { executable: string }> {
  const sdk = process.env.MODDABLE;
  if (sdk === undefined || !existsSync(join(sdk, 'build', 'bin', 'lin', 'release', 'mcconfig'))) return 'MODDABLE is not set to a built Moddable SDK';
  const tools = join(sdk, 'build', 'bin', 'lin', 'release');
  const outDir = join(ROOT, 'build', 'x-cli-lin-peers');
  mkdirSync(outDir, { recursive: true });
  console.log('building bench/moddable for x-cli-lin…');
  try {
    // The app's manifest includes the login app's static files as resources (scripts/assets.ts).
    buildAssets(join(ROOT, 'app', 'static'), join(ROOT, 'build', 'assets', 'login'), 'login');
    // Types stripped per module (scripts/mcconfig-tsc), then the build type-checked once.
    await run(join(tools, 'mcconfig'), ['-m', '-p', 'x-cli-lin', '-t', 'build', '-o', outDir, join(BENCH_DIR, 'moddable', 'manifest.json')], {
      cwd: ROOT, env: { ...process.env, PATH: testBuildPath(tools) }, maxBuffer: 64 << 20,
    });
    if (typecheckBuild(outDir) !== 0) return 'the x-cli-lin build does not type-check (see tsc above)';
  } catch (error) {
    return `the x-cli-lin build failed: ${String((error as { stderr?: string }).stderr ?? error).trim().split('\n').slice(-3).join(' / ')}`;
  }
  return { executable: join(outDir, 'bin', 'lin', 'release', 'xsdot') };
}

/** Runs the x-cli-lin peer loop (it opens no socket) and reads its `@peer` lines. */
async function runCli(cli: { executable: string }): Promise<PeerTiming[]> {
  const data = mkdtempSync(join(tmpdir(), 'xsdot-peers-'));
  try {
    const { stdout } = await run(cli.executable, [], { env: { ...process.env, XSDOT_DATA_DIR: data }, timeout: 300_000, maxBuffer: 16 << 20 });
    return stdout.split('\n').filter((line) => line.startsWith('@peer ')).map((line) => JSON.parse(line.slice(6)) as PeerTiming);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

/**
 * bench/peer-sockets.ts in a private network namespace (`unshare -n`, or `-rn` when not root, then
 * `ip link set lo up`): the x-cli-lin server and microdot over loopback sockets. Its runs, or why not.
 */
async function socketCpu(p: Peers, cli: { executable: string }, repeats: number, seconds: number, clientCpu: number | undefined): Promise<SocketRun[] | string> {
  const data = mkdtempSync(join(tmpdir(), 'xsdot-peers-'));
  const args: SocketArgs = {
    cli: cli.executable, data, micropython: p.micropython, scripts: p.scripts, cwd: join(p.dir, 'app'),
    env: { MICROPYPATH: p.env.MICROPYPATH as string }, seconds, repeats, clientCpu,
  };
  const root = process.getuid?.() === 0;
  const node = `exec '${process.execPath}' --import tsx '${join(BENCH_DIR, 'peer-sockets.ts')}' '${JSON.stringify(args)}'`;
  try {
    const { stdout } = await run('unshare', [root ? '-n' : '-rn', 'sh', '-c', `ip link set lo up && ${node}`], {
      cwd: ROOT, timeout: (repeats * 8 * (2 * seconds + 5) + 120) * 1000, maxBuffer: 16 << 20,
    });
    const line = stdout.split('\n').find((text) => text.startsWith('@sockets '));
    if (line === undefined) return `bench/peer-sockets.ts printed no result: ${stdout.slice(-300)}`;
    return (JSON.parse(line.slice(9)) as { runs: SocketRun[] }).runs;
  } catch (error) {
    return `bench/peer-sockets.ts failed: ${String((error as { stderr?: string }).stderr ?? error).trim().split('\n').slice(-3).join(' / ')}`;
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

/** `session=<token>` for microdot's claims, `{user: "admin"}`, as xsdot's signToken writes it (key without kid). */
function sameClaimsCookie(): number {
  installRuntime(createNodeRuntime({ store: new MemoryStore() }));
  return `session=${signToken({ user: 'admin' }, new KeyRing([{ key: PEER_KEY }]))}`.length;
}

/** microdot's session cookie for {user: "admin"}: the token micropython-lib's PyJWT makes, as microdot's Session does. */
async function microdotCookie(p: Peers): Promise<number | undefined> {
  const code = 'import jwt; print(len("session=" + jwt.encode({"user": "admin"}, "peer-baseline-secret", algorithm="HS256")))';
  try {
    const { stdout } = await run(p.micropython, ['-c', code], { env: p.env });
    return Number(stdout.trim());
  } catch {
    return undefined;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exitCode = 1;
});
