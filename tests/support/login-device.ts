/**
 * A login app device for tests/core: the app on the installed runtime with a clock the test moves, a
 * captured log and an in-memory store, and browsers (TestClient + the latest form token).
 */
import './install-host';
import assert from 'node:assert/strict';
import { createApp, type LoginAppOptions } from '../../main';
import type { App } from '../../modules/http/index';
import { TestClient, type TestResponse } from '../../modules/http/testclient';
import { installRuntime, runtime, type Runtime } from '../../modules/runtime';

/** The runtime installed before any device booted: restore it after each test. */
export const base = runtime();

export const ORIGIN = { Origin: 'http://localhost' };
export const PASSWORD = 'correct horse battery';
export const KEY = new Uint8Array(32).fill(5);

export interface Device {
  app: App;
  /** Every line the app logged. */
  logs: string[];
  /** The setup code from the log, if one was printed. */
  code: string | undefined;
  store: Map<string, string>;
  clock: { wall: number; boot: number };
  /** Moves both clocks. */
  advance(seconds: number): void;
  /** A browser on its own address (default one shared address) with its own cookie jar. */
  browser(address?: string): Browser;
  /** The same device after a reboot (same store, the wall clock goes on). */
  reboot(): Device;
}

/** Boots the app on the installed runtime, with a clock the test moves, a captured log and an in-memory store. */
export function boot(options: LoginAppOptions = {}, store = new Map<string, string>(), extra: Partial<Runtime> = {}, wall = 1_800_000_000_000): Device {
  const logs: string[] = [];
  const clock = { wall, boot: 5_000 };
  const shim = Object.create(base) as Runtime;
  Object.assign(shim, {
    now: () => clock.wall,
    monotonic: () => clock.boot,
    wallClockTrusted: () => true,
    log: (_level: string, message: string) => void logs.push(message),
    store: { get: (k: string) => store.get(k), set: (k: string, v: string) => void store.set(k, v), delete: (k: string) => void store.delete(k) },
    ...extra,
  });
  installRuntime(shim);
  const app = createApp({ deviceName: 'Test device', iterations: 2, session: { keys: [{ kid: 'k1', key: KEY }] }, ...options });
  return {
    app, logs, store, clock,
    code: /setup code: (\S+)/.exec(logs.join('\n'))?.[1],
    advance(seconds) {
      clock.wall += seconds * 1000;
      clock.boot += seconds * 1000;
    },
    browser: (address = '192.0.2.10') => new Browser(app, address),
    reboot: () => boot(options, store, extra, clock.wall),
  };
}

/** A TestClient that keeps the latest form token and sends a same-origin Origin on POSTs, as a browser does. */
export class Browser {
  readonly client: TestClient;
  token = '';

  constructor(app: App, address: string) {
    // The device's allow-list, as a host's serve() gives it: TestClient sends `Host: localhost`.
    this.client = new TestClient(app, { clientAddress: address, allowedHosts: ['localhost'] });
  }

  async get(path: string): Promise<TestResponse> {
    return this.#remember(await this.client.get(path));
  }

  async post(path: string, form: Record<string, string>, headers: Record<string, string> = ORIGIN): Promise<TestResponse> {
    return this.#remember(await this.client.post(path, { form: { csrf_token: this.token, ...form }, headers }));
  }

  #remember(response: TestResponse): TestResponse {
    const match = /name="csrf_token" value="([^"]*)"/.exec(response.text);
    if (match !== null) this.token = match[1];
    return response;
  }
}

/** Boots a device and sets its password through /setup. */
export async function setUp(options?: LoginAppOptions): Promise<Device> {
  const device = boot(options);
  const browser = device.browser('192.0.2.99');
  await browser.get('/setup');
  const done = await browser.post('/setup', { code: device.code ?? '', password: PASSWORD, confirm: PASSWORD });
  assert.equal(done.status, 303);
  return device;
}

export async function signIn(browser: Browser, password = PASSWORD, username = 'admin'): Promise<TestResponse> {
  await browser.get('/login');
  return browser.post('/login', { username, password });
}

export function assertSecurityHeaders(response: TestResponse, what: string): void {
  const h = response.headers;
  assert.equal(h.get('cache-control'), 'no-store', `${what}: Cache-Control`);
  assert.equal(h.get('x-frame-options'), 'DENY', `${what}: X-Frame-Options`);
  assert.equal(h.get('x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  assert.equal(h.get('referrer-policy'), 'same-origin', `${what}: Referrer-Policy`);
  const csp = h.get('content-security-policy') ?? '';
  for (const part of ["default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"]) assert.ok(csp.includes(part), `${what}: CSP has ${part}`);
  // The stylesheet is a static file of the origin (app/assets.ts): no inline CSS at all.
  assert.match(csp, /style-src 'self';/, `${what}: CSP style-src`);
}

/** A store over `values` whose set() of a key matching `failOn` throws, as a full or broken flash would. */
export function failingStore(values: Map<string, string>, failOn: RegExp) {
  return {
    get: (key: string) => values.get(key),
    set: (key: string, value: string) => {
      if (failOn.test(key)) throw new Error(`store refused ${key}`);
      values.set(key, value);
    },
    delete: (key: string) => void values.delete(key),
  };
}
