/**
 * `npm run bench`: speed figures, printed as tables and written to bench/results/speed.json. No
 * assertions: numbers depend on the machine. See bench/README.md.
 *
 * 1. In-process (no sockets), on Node and on XS (xsnap-worker from @agoric/xsnap, 64-bit): time per
 *    request of the login app for GET / (dashboard), session GET, session write, static page and login
 *    POST; PBKDF2 alone; token sign/verify per second with the pure-TS SHA-256 and with node:crypto;
 *    the session cookie's size.
 * 2. Real sockets on the Node host, 127.0.0.1 only, with wrk (Debian's `wrk`): req/s and p50/p99
 *    latency at 1 and 10 connections, XSDOT_BENCH_SECONDS (default 5) per run — the login app, and the
 *    microdot peer app mirrored in xsdot (bench/peer-app.ts).
 * 3. Peers, when XSDOT_PEER_CMD (and/or XSDOT_PEER_CMD_<NAME>) holds a command that serves
 *    /work/shared/peers/microdot_app.py on the port `{port}`: the same wrk runs on the same routes,
 *    and the ratios xsdot / peer.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createNodeRuntime, MemoryStore, nodeCryptoProvider } from '../hosts/node/runtime';
import { serve, type RunningServer } from '../hosts/node/serve';
import { installRuntime, runtime } from '../modules/runtime';
import { runInProcess, type InProcessOptions, type InProcessResult } from './inprocess';
import { createPeerApp } from './peer-app';
import { num, table, writeResults } from './report';
import { bootDevice, REQUEST_LABELS } from './workload';
import { runInXsnap } from './xsnap';

const SECONDS = Math.max(1, Number(process.env.XSDOT_BENCH_SECONDS ?? 5));
const NODE_OPTIONS: Omit<InProcessOptions, 'providers'> = { requests: 2000, logins: 10, tokens: 20000, pbkdf2Runs: 10 };
const XS_OPTIONS: Omit<InProcessOptions, 'providers'> = { requests: 200, logins: 3, tokens: 1000, pbkdf2Runs: 2 };

const quietNodeRuntime = () => createNodeRuntime({ store: new MemoryStore(), log: () => {} });

// ---- in-process ----------------------------------------------------------------------------------

async function onNode(): Promise<InProcessResult> {
  installRuntime(quietNodeRuntime());
  return runInProcess({ ...NODE_OPTIONS, providers: [nodeCryptoProvider] });
}

function onXs(): Promise<InProcessResult | { skipped: string }> {
  return runInXsnap<InProcessResult>('xs-speed-entry.ts', XS_OPTIONS);
}

// ---- load over sockets ---------------------------------------------------------------------------

interface Load {
  server: string;
  route: string;
  connections: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses and socket errors together. */
  errors: number;
  note?: string;
}

function hasWrk(): Promise<boolean> {
  return new Promise((resolve) => execFile('wrk', ['--version'], (error, stdout, stderr) => resolve(/wrk/.test(`${stdout}${stderr}`) || error === null)));
}

function milliseconds(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

/** One wrk run against 127.0.0.1, bounded by -d (and a kill a few seconds after). */
function wrk(url: string, connections: number, headers: Record<string, string>): Promise<Omit<Load, 'server' | 'route'>> {
  const args = ['-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency', '--timeout', '2s'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (SECONDS + 15) * 1000, killSignal: 'SIGKILL' }, (error, stdout) => {
      if (error && !stdout) return reject(error);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
      const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(stdout);
      const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(stdout);
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
      if (!rps || !p50 || !p99) return reject(new Error(`unexpected wrk output:\n${stdout}`));
      const errors = Number(non2xx?.[1] ?? 0) + (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
      resolve({ connections, requestsPerSecond: Number(rps[1]), p50Ms: milliseconds(p50[1], p50[2]), p99Ms: milliseconds(p99[1], p99[2]), errors });
    });
  });
}

interface Target {
  server: string;
  base: string;
  routes: { route: string; path: string; headers: Record<string, string> }[];
}

async function loadTarget(target: Target, results: Load[]): Promise<void> {
  for (const { route, path, headers } of target.routes) {
    for (const connections of [1, 10]) {
      const load = await wrk(`${target.base}${path}`, connections, headers);
      results.push({ server: target.server, route, ...load });
      console.log(`  ${target.server} ${route} ×${connections}: ${num(load.requestsPerSecond)} req/s, p50 ${num(load.p50Ms, 2)} ms, p99 ${num(load.p99Ms, 2)} ms${load.errors ? `, ${load.errors} errors` : ''}`);
    }
  }
}

/** The session cookie a POST /login of the peer app (xsdot's or microdot's) sets. */
async function peerLogin(base: string): Promise<string> {
  const response = await fetch(`${base}/login`, { method: 'POST', body: 'user=admin', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  if (!response.ok || cookie === undefined) throw new Error(`POST ${base}/login: ${response.status}, no session cookie`);
  const me = await fetch(`${base}/me`, { headers: { Cookie: cookie } });
  if (me.status !== 200 || (await me.text()) !== 'admin') throw new Error(`GET ${base}/me with the cookie: ${me.status}`);
  return cookie;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitUntilServing(base: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${output.join('').trim().slice(-500)}`);
    try {
      const response = await fetch(`${base}/`);
      if (response.status === 200) return;
    } catch {
      // not yet listening
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not serving ${base}/ after 15 s: ${output.join('').trim().slice(-500)}`);
}

/** Peer commands from the environment: XSDOT_PEER_CMD (named "peer") and XSDOT_PEER_CMD_<NAME>. */
function peerCommands(): { name: string; command: string }[] {
  return Object.entries(process.env)
    .filter(([key, value]) => (key === 'XSDOT_PEER_CMD' || key.startsWith('XSDOT_PEER_CMD_')) && value)
    .map(([key, value]) => ({ name: key === 'XSDOT_PEER_CMD' ? 'peer' : key.slice('XSDOT_PEER_CMD_'.length).toLowerCase(), command: value! }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function loadPeer(name: string, command: string, results: Load[], cookieSizes: Record<string, number>): Promise<string | undefined> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  // A shell runs the command (it may set variables); it is its own process group, so stopping it
  // stops what it started and nothing else.
  const child = spawn('/bin/sh', ['-c', command.replaceAll('{port}', String(port))], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  try {
    await waitUntilServing(base, child, output);
    const cookie = await peerLogin(base);
    cookieSizes[`${name} (microdot_app.py)`] = cookie.length;
    await loadTarget({ server: name, base, routes: [{ route: 'GET /', path: '/', headers: {} }, { route: 'GET /me', path: '/me', headers: { Cookie: cookie } }] }, results);
    return undefined;
  } catch (error) {
    return `${name}: ${(error as Error).message}`;
  } finally {
    if (child.pid !== undefined && child.exitCode === null) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    }
  }
}

// ---- main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = performance.now();
  console.log(`# xsdot bench — ${new Date().toISOString()}, Node ${process.version}\n`);
  console.log('In-process on Node…');
  const node = await onNode();
  console.log('In-process on XS (xsnap-worker)…');
  const xs = await onXs();
  const xsResult = 'skipped' in xs ? undefined : xs;

  const loads: Load[] = [];
  const cookieSizes: Record<string, number> = {};
  const skipped: string[] = [];
  const servers: RunningServer[] = [];
  if (!(await hasWrk())) {
    skipped.push('real-socket load: skipped — wrk is not installed (Debian: apt-get install -y wrk)');
  } else {
    console.log(`Sockets (wrk, ${SECONDS} s per run, 127.0.0.1)…`);
    try {
      // The login app on the Node host, set up and signed in through its own pages.
      const host = quietNodeRuntime();
      installRuntime(host);
      const device = await bootDevice();
      const browser = await device.signedIn();
      const loginCookie = `session=${browser.client.cookies.get('session')}`;
      const login = await serve(device.app, { port: 0, address: '127.0.0.1', runtime: runtime(), announce: false });
      servers.push(login);
      await loadTarget({
        server: 'xsdot login app', base: login.url, routes: [
          { route: 'GET / (dashboard)', path: '/', headers: { Cookie: loginCookie } },
          { route: 'GET /api/me', path: '/api/me', headers: { Cookie: loginCookie } },
        ],
      }, loads);
      // The microdot peer app, mirrored: keep-alive (xsdot's default) and one connection per request
      // (what microdot, an HTTP/1.0 server, makes every client do).
      const mirror = await serve(createPeerApp(randomBytes(32)), { port: 0, address: '127.0.0.1', runtime: runtime(), announce: false });
      servers.push(mirror);
      const cookie = await peerLogin(mirror.url);
      cookieSizes['xsdot (peer app)'] = cookie.length;
      const routes = (extra: Record<string, string>) => [
        { route: 'GET /', path: '/', headers: { ...extra } },
        { route: 'GET /me', path: '/me', headers: { Cookie: cookie, ...extra } },
      ];
      await loadTarget({ server: 'xsdot', base: mirror.url, routes: routes({}) }, loads);
      await loadTarget({ server: 'xsdot, Connection: close', base: mirror.url, routes: routes({ Connection: 'close' }) }, loads);
    } finally {
      for (const server of servers) server.close();
    }
    const peers = peerCommands();
    if (peers.length === 0) {
      skipped.push("peers: skipped — set XSDOT_PEER_CMD='PYTHONPATH=<microdot>/src python3 /work/shared/peers/microdot_app.py {port}' (bench/README.md)");
    }
    for (const { name, command } of peers) {
      console.log(`Peer ${name}: ${command}`);
      const problem = await loadPeer(name, command, loads, cookieSizes);
      if (problem) skipped.push(`peer ${problem}`);
    }
  }

  // ---- report ----
  console.log('\n## In-process time per request (no sockets; µs, mean / median)\n');
  const xsLabel = 'XS (xsnap, 64-bit, pure-TS SHA-256)';
  console.log(table(['request', 'Node (node:crypto)', xsLabel, 'XS / Node'], node.requests.map((timing) => {
    const other = xsResult?.requests.find((row) => row.kind === timing.kind);
    return [REQUEST_LABELS[timing.kind], `${num(timing.meanUs)} / ${num(timing.medianUs)}`,
      other ? `${num(other.meanUs)} / ${num(other.medianUs)}` : '—', other ? `${num(other.meanUs / timing.meanUs, 1)}×` : '—'];
  })));
  const loginNode = node.requests.find((row) => row.kind === 'login')!;
  const loginXs = xsResult?.requests.find((row) => row.kind === 'login');
  const rest = (login: number | undefined, pbkdf2: number | undefined) =>
    login === undefined || pbkdf2 === undefined ? '—' : login / 1000 > pbkdf2 ? `${num(login / 1000 - pbkdf2, 1)} ms` : 'within the noise of PBKDF2';
  console.log(`\nLogin POST = PBKDF2 (${num(node.pbkdf2.iterations)} iterations, timed alone) + the rest: ` +
    `Node ${num(node.pbkdf2.meanMs, 1)} ms + ${rest(loginNode.meanUs, node.pbkdf2.meanMs)}; ` +
    `XS ${num(xsResult?.pbkdf2.meanMs)} ms + ${rest(loginXs?.meanUs, xsResult?.pbkdf2.meanMs)}.`);
  if ('skipped' in xs) console.log(`XS: skipped — ${xs.skipped}`);

  console.log('\n## Session tokens (HS256) per second\n');
  const tokenRows = [...node.tokens.map((t) => ['Node', t]), ...(xsResult?.tokens ?? []).map((t) => ['XS (xsnap)', t])] as [string, InProcessResult['tokens'][number]][];
  console.log(table(['engine', 'SHA-256 provider', 'sign/s', 'verify/s'], tokenRows.map(([engine, t]) => [engine, t.provider, Math.round(t.signPerSecond), Math.round(t.verifyPerSecond)])));
  const tokenLength = node.tokens[0].tokenLength;
  console.log(`\nCookie for {user: "admin"}: the token is ${tokenLength} characters with xsdot's claims (sid, iat, exp); ` +
    `"session=<token>" as sent back: login app ${node.loginCookieBytes} bytes` +
    Object.entries(cookieSizes).map(([name, bytes]) => `, ${name} ${bytes} bytes`).join('') +
    (Object.keys(cookieSizes).some((name) => name.includes('microdot')) ? '' : ' (microdot: 103–108 bytes, per /work/shared/peers/README.md)') + '.');

  if (loads.length > 0) {
    console.log(`\n## Real sockets on the Node host (wrk -t1, ${SECONDS} s per run, 127.0.0.1)\n`);
    console.log(table(['server', 'route', 'conn', 'req/s', 'p50 ms', 'p99 ms', 'errors'],
      loads.map((load) => [load.server, load.route, load.connections, Math.round(load.requestsPerSecond), num(load.p50Ms, 2), num(load.p99Ms, 2), load.errors])));
    const peerNames = [...new Set(loads.map((load) => load.server))].filter((name) => !name.startsWith('xsdot'));
    if (peerNames.length > 0) {
      console.log('\n## xsdot / peer (req/s ratio, same routes, same harness; >1: xsdot faster)\n');
      const rows: (string | number)[][] = [];
      for (const peer of peerNames) {
        for (const peerLoad of loads.filter((load) => load.server === peer)) {
          const close = loads.find((load) => load.server === 'xsdot, Connection: close' && load.route === peerLoad.route && load.connections === peerLoad.connections);
          const alive = loads.find((load) => load.server === 'xsdot' && load.route === peerLoad.route && load.connections === peerLoad.connections);
          rows.push([peer, peerLoad.route, peerLoad.connections, Math.round(peerLoad.requestsPerSecond),
            close ? `${num(close.requestsPerSecond / peerLoad.requestsPerSecond, 2)}×` : '—',
            alive ? `${num(alive.requestsPerSecond / peerLoad.requestsPerSecond, 2)}×` : '—']);
        }
      }
      console.log(table(['peer', 'route', 'conn', 'peer req/s', 'xsdot (close each) / peer', 'xsdot (keep-alive) / peer'], rows));
    }
  }
  for (const line of skipped) console.log(`\n${line}`);
  console.log(`\n(${((performance.now() - startedAt) / 1000).toFixed(0)} s)`);
  const file = writeResults('speed', {
    date: new Date().toISOString(), node: process.version, seconds: SECONDS,
    inProcess: { node, xs }, loads, cookieBytes: { loginApp: node.loginCookieBytes, ...cookieSizes }, skipped,
  });
  console.log(`JSON: ${file}`);
}

main().then(() => process.exit(process.exitCode ?? 0), (error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exit(1);
});
