/**
 * In-process speed measurements, portable: bench/speed.ts runs them on Node and, bundled by
 * bench/xs-speed-entry.ts, inside XS (xsnap-worker). No sockets: requests go through TestClient's
 * in-memory ECMA-419 sockets, so the time is CPU time of one thread (parser, app, sessions, crypto,
 * response writer — and the in-memory client's side of the exchange).
 */
import { DEFAULT_ITERATIONS, pbkdf2Sha256 } from '../modules/auth/index';
import { pureCryptoProvider } from '../modules/crypto/index';
import { runtime, type CryptoProvider } from '../modules/runtime';
import { KeyRing, signToken, verifyToken } from '../modules/session/index';
import { bootDevice, prepare, send, type Browser, type RequestKind } from './workload';

export interface InProcessOptions {
  /** Requests timed per kind (login: `logins`). */
  requests: number;
  logins: number;
  /** Token operations timed per provider. */
  tokens: number;
  /** PBKDF2 runs timed. */
  pbkdf2Runs: number;
  /** Providers to time tokens with, besides pure TS (e.g. the host's native one). */
  providers: CryptoProvider[];
}

export interface RequestTiming {
  kind: RequestKind;
  count: number;
  /** Mean microseconds per request. */
  meanUs: number;
  medianUs: number;
}

export interface TokenTiming {
  provider: string;
  signPerSecond: number;
  verifyPerSecond: number;
  /** Characters of the token for {user: "admin"} with xsdot's claims. */
  tokenLength: number;
}

export interface InProcessResult {
  engine: string;
  requests: RequestTiming[];
  pbkdf2: { iterations: number; meanMs: number };
  tokens: TokenTiming[];
  /** `session=<token>` as the browser sends it back, for the login app's signed-in admin. */
  loginCookieBytes: number;
}

const now = () => performance.now();

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timeKind(kind: RequestKind, count: number, browsers: () => Promise<Browser>): Promise<RequestTiming> {
  const samples: number[] = [];
  const browser = await browsers();
  // Warm-up: caches, first-use allocations, and on Node the JIT.
  for (let i = 0; i < Math.min(100, Math.max(3, Math.ceil(count / 10))); i++) {
    await prepare(device!, kind, browser);
    await send(kind, browser);
  }
  for (let i = 0; i < count; i++) {
    await prepare(device!, kind, browser);
    const started = now();
    await send(kind, browser);
    samples.push((now() - started) * 1000);
  }
  return { kind, count, meanUs: samples.reduce((a, b) => a + b, 0) / count, medianUs: median(samples) };
}

let device: Awaited<ReturnType<typeof bootDevice>> | undefined;

function timeTokens(provider: CryptoProvider, count: number): TokenTiming {
  const ring = new KeyRing([{ kid: 'k1', key: runtime().randomBytes(32) }], { provider });
  const payload = { user: 'admin', sid: 'AbCdEfGhIjK', iat: 1_800_000_000, exp: 1_800_028_800 };
  const token = signToken(payload, ring);
  let started = now();
  for (let i = 0; i < count; i++) signToken(payload, ring);
  const signMs = now() - started;
  started = now();
  for (let i = 0; i < count; i++) {
    if (!verifyToken(token, ring, { now: 1_800_000_100 }).ok) throw new Error('token does not verify');
  }
  const verifyMs = now() - started;
  return { provider: provider.name, signPerSecond: count / (signMs / 1000), verifyPerSecond: count / (verifyMs / 1000), tokenLength: token.length };
}

/** Runs every in-process measurement on the installed runtime (its store must be empty). */
export async function runInProcess(options: InProcessOptions): Promise<InProcessResult> {
  device = await bootDevice();
  const signedIn = await device.signedIn();
  const cookie = signedIn.client.cookies.get('session') ?? '';

  const requests: RequestTiming[] = [];
  for (const kind of ['home', 'session', 'write', 'static'] as RequestKind[]) {
    requests.push(await timeKind(kind, options.requests, async () => (kind === 'home' || kind === 'session' ? signedIn : device!.browser())));
  }

  // PBKDF2 alone, as the login's verify() runs it (the app's iteration count, a 16-byte salt), timed
  // right before the logins so that both run on the same heap.
  const password = runtime().utf8Encode('correct horse battery');
  const salt = runtime().randomBytes(16);
  pbkdf2Sha256(password, salt, 100);
  const started = now();
  for (let i = 0; i < options.pbkdf2Runs; i++) pbkdf2Sha256(password, salt, DEFAULT_ITERATIONS);
  const pbkdf2 = { iterations: DEFAULT_ITERATIONS, meanMs: (now() - started) / options.pbkdf2Runs };
  requests.push(await timeKind('login', options.logins, async () => device!.browser()));

  const tokens = [timeTokens(pureCryptoProvider, options.tokens)];
  for (const provider of options.providers) tokens.push(timeTokens(provider, options.tokens));
  return { engine: runtime().name, requests, pbkdf2, tokens, loginCookieBytes: `session=${cookie}`.length };
}
