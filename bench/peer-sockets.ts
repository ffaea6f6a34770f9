/**
 * Socket CPU per request, xsdot on the Moddable x-cli-lin build against microdot on MicroPython, over
 * real loopback sockets: run by bench/peers.ts inside a private network namespace (the SDK's Linux
 * listener binds all interfaces), never on the host's network. Node script; argument: JSON `SocketArgs`.
 *
 * For each framework, route (`GET /`, signed-in `GET /me`) and mode — 4 keep-alive connections, or one
 * connection per request (`Connection: close`; microdot, an HTTP/1.0 server, closes every connection in
 * both modes) — `wrk -t1 -c4` runs for `seconds`; the server process's CPU time (the sum of its threads'
 * `/proc/<pid>/task/<tid>/schedstat`, nanoseconds) over the run, less its CPU over as long a time idle
 * (with 4 connections open and silent for keep-alive; none for close), divided by the requests answered.
 * The servers alternate, `repeats` times; prints `@sockets <json>` with the medians and each run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCpu } from './cpu';

export interface SocketArgs {
  /** The x-cli-lin bench executable (bench/moddable), serving with XSDOT_PORT. */
  cli: string;
  /** The x-cli-lin data directory (XSDOT_DATA_DIR). */
  data: string;
  micropython: string;
  /** microdot_app.py's folder and environment (MICROPYPATH). */
  scripts: string;
  cwd: string;
  env: Record<string, string>;
  seconds: number;
  repeats: number;
  /** The CPU wrk runs on (bench/cpu.ts), apart from the servers'; undefined: anywhere. */
  clientCpu?: number;
}

export type SocketMode = 'keep-alive' | 'close';
export interface SocketRun {
  side: 'xsdot' | 'microdot';
  route: '/' | '/me';
  mode: SocketMode;
  requests: number;
  errors: number;
  cpuUs: number;
  idleCpuUs: number;
  usPerRequest: number;
}

const PORTS = { xsdot: 18_401, microdot: 18_402 } as const;

/** CPU nanoseconds the process has run, all threads. */
function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended
    }
  }
  return total;
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`server did not listen on ${port}: ${output()}`);
}

interface Started {
  child: ChildProcess;
  port: number;
  cookie: string;
}

async function start(side: 'xsdot' | 'microdot', args: SocketArgs): Promise<Started> {
  const port = PORTS[side];
  const child = side === 'xsdot'
    ? spawn(args.cli, [], { env: { ...process.env, XSDOT_PORT: String(port), XSDOT_DATA_DIR: args.data }, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(args.micropython, [`${args.scripts}/microdot_app.py`, String(port)], { cwd: args.cwd, env: { ...process.env, ...args.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (data: Buffer) => { output = (output + data.toString()).slice(-2000); });
  child.stderr?.on('data', (data: Buffer) => { output = (output + data.toString()).slice(-2000); });
  await waitForPort(port, child, () => output);
  // On a connection of its own that closes after the answer (fetch would keep it in its pool, holding one
  // of the server's 4 connection slots through the first wrk run: a 503 for every other request there).
  const { status, setCookie } = await new Promise<{ status: number; setCookie: string }>((resolve, reject) => {
    const body = 'user=admin';
    const req = request({ host: '127.0.0.1', port, path: '/login', method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length, Connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: String(res.headers['set-cookie'] ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const match = /(session=[^;]+)/.exec(setCookie);
  if (status !== 200 || match === null) throw new Error(`${side} POST /login: ${status} ${output}`);
  return { child, port, cookie: match[1] };
}

/** wrk for `seconds`: requests answered 2xx, and the others. */
function wrk(port: number, route: string, mode: SocketMode, cookie: string, seconds: number, cpu: number | undefined): { requests: number; errors: number } {
  const args = ['-t1', '-c4', `-d${seconds}s`, '--timeout', '2s'];
  if (route === '/me') args.push('-H', `Cookie: ${cookie}`);
  if (mode === 'close') args.push('-H', 'Connection: close');
  args.push(`http://127.0.0.1:${port}${route}`);
  const [command, commandArgs] = onCpu(cpu, 'wrk', args);
  const run = spawnSync(command, commandArgs, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  if (run.status !== 0) throw new Error(`wrk: ${run.stderr || run.error}`);
  const total = Number(/(\d+) requests in/.exec(run.stdout)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(run.stdout)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(run.stdout);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
  if (!Number.isFinite(total)) throw new Error(`wrk printed no count: ${run.stdout}`);
  return { requests: total - non2xx, errors };
}

/** CPU the server spends in `seconds` with `connections` connections open and silent. */
async function idleCpuNs(started: Started, connections: number, seconds: number): Promise<number> {
  const sockets: Socket[] = [];
  for (let i = 0; i < connections; i++) {
    sockets.push(await new Promise<Socket>((resolve, reject) => {
      const socket = connect(started.port, '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
    }));
  }
  await sleep(100);
  const before = cpuNs(started.child.pid as number);
  await sleep(seconds * 1000);
  const used = cpuNs(started.child.pid as number) - before;
  for (const socket of sockets) socket.destroy();
  await sleep(100);
  return used;
}

async function measure(side: 'xsdot' | 'microdot', started: Started, route: '/' | '/me', mode: SocketMode, args: SocketArgs): Promise<SocketRun> {
  const pid = started.child.pid as number;
  const before = cpuNs(pid);
  const { requests, errors } = wrk(started.port, route, mode, started.cookie, args.seconds, args.clientCpu);
  const cpu = cpuNs(pid) - before;
  // Idle for less than the server's idle timeout (5 s), so the silent connections stay open.
  const idleSeconds = Math.min(args.seconds, 4);
  const idle = (await idleCpuNs(started, mode === 'keep-alive' ? 4 : 0, idleSeconds)) * (args.seconds / idleSeconds);
  const usPerRequest = requests > 0 ? (cpu - idle) / requests / 1000 : NaN;
  return { side, route, mode, requests, errors, cpuUs: cpu / 1000, idleCpuUs: idle / 1000, usPerRequest };
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] as string) as SocketArgs;
  const runs: SocketRun[] = [];
  for (let repeat = 0; repeat < args.repeats; repeat++) {
    for (const side of (repeat % 2 === 0 ? ['xsdot', 'microdot'] : ['microdot', 'xsdot']) as ('xsdot' | 'microdot')[]) {
      const started = await start(side, args);
      try {
        for (const mode of ['keep-alive', 'close'] as SocketMode[]) {
          for (const route of ['/', '/me'] as const) runs.push(await measure(side, started, route, mode, args));
        }
      } finally {
        const exited = started.child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => started.child.once('exit', resolve));
        started.child.kill('SIGTERM');
        await exited;
      }
    }
  }
  console.log(`@sockets ${JSON.stringify({ runs })}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exitCode = 1;
});
