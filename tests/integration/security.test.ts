/**
 * Issue 12's attacks against the login app over real sockets, on whichever host XSDOT_TARGET names (Node
 * in-process, or the Moddable x-cli-lin executable): DNS rebinding and invalid Hosts, absolute-form
 * targets, logout replay (also across a restart), a 17-address guessing flood against the admin, and one
 * client holding every connection slot. Other clients are other loopback addresses (127.0.0.x).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, RawClient } from './client';
import { sleep, withTarget } from './harness';
import { REQUEST_MS, TARGET, TIMING_SLACK_MS, type Target } from './targets';

const T = { timeout: TARGET === 'moddable' ? 180_000 : 60_000 };
const PASSWORD = 'correct horse battery';
const R = { ms: REQUEST_MS };

function browser(target: Target, localAddress?: string): Browser {
  return new Browser(target.url, REQUEST_MS, localAddress);
}

async function completeSetup(target: Target): Promise<void> {
  const admin = browser(target);
  await admin.get('/setup');
  assert.equal((await admin.post('/setup', { code: target.setupCode ?? '', password: PASSWORD, confirm: PASSWORD })).status, 303);
}

async function rawExchange(target: Target, raw: string): Promise<{ status: number; text: string; closed: boolean }> {
  const socket = await RawClient.connect(target.port);
  try {
    await socket.write(raw);
    const response = await socket.readResponse(R);
    return { status: response.status, text: response.text, closed: response.header('connection') === 'close' };
  } finally {
    socket.destroy();
  }
}

test(`${TARGET}: DNS rebinding — a Host or absolute-form target naming another host gets 421 before routing; invalid Hosts 400`, T, () => withTarget({}, async (target) => {
  await completeSetup(target);
  const admin = browser(target);
  await admin.get('/login');
  const form = new URLSearchParams({ csrf_token: admin.token, username: 'admin', password: PASSWORD }).toString();
  const cookie = [...admin.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  const post = (target_: string, host: string, origin: string) =>
    `POST ${target_} HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${origin}\r\nCookie: ${cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n${form}`;
  // The request: the rebound page posts with its own name as Host and Origin.
  const rebound = await rawExchange(target, post('/login', 'attacker.example', 'http://attacker.example'));
  assert.equal(rebound.status, 421);
  assert.match(rebound.text, /does not answer to that host name/);
  const here = `127.0.0.1:${target.port}`;
  assert.equal((await rawExchange(target, post('http://evil.example/login', here, `http://${here}`))).status, 421, 'absolute-form authority wins over Host');
  assert.equal((await rawExchange(target, post('/login', `127.0.0.1:${target.port + 1}`, `http://127.0.0.1:${target.port + 1}`))).status, 421, 'another port');
  for (const host of ['a b', 'a/b', 'user@x', 'x:abc', '']) {
    const invalid = await rawExchange(target, `GET /login HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assert.equal(invalid.status, 400, JSON.stringify(host));
    assert.ok(invalid.closed, 'and the connection closes');
  }
  // The device's own names: its address and port, localhost, a configured name.
  assert.equal((await rawExchange(target, post('/login', here, `http://${here}`))).status, 303);
  assert.equal((await rawExchange(target, `GET /login HTTP/1.1\r\nHost: localhost:${target.port}\r\n\r\n`)).status, 200);
  assert.equal((await rawExchange(target, 'GET /login HTTP/1.1\r\nHost: device\r\n\r\n')).status, 200, 'XSDOT_HOSTS=device');
}));

test(`${TARGET}: after logout a copied session cookie is refused (401, not re-issued), also after a restart`, T, async () => {
  let dataDir = '';
  let copy = '';
  await withTarget({}, async (target) => {
    dataDir = target.dataDir;
    await completeSetup(target);
    const admin = browser(target);
    assert.equal((await admin.signIn(PASSWORD)).status, 303);
    copy = admin.cookies.get('session') ?? '';
    await admin.get('/');
    assert.equal((await admin.post('/logout', {})).status, 303);
    const thief = browser(target);
    thief.cookies.set('session', copy);
    const replay = await thief.get('/api/me');
    assert.equal(replay.status, 401);
    assert.ok(!replay.headers.getSetCookie().some((c) => c.startsWith(`session=${copy.slice(0, 20)}`)), 'no refreshed token');
    assert.match(target.readStore()['xsdot.rev'] ?? '', /^v1\|\d+\|\|[\w-]+@\d+$/, 'the sid is in the key store');
  });
  await withTarget({ dataDir }, async (target) => {
    const thief = browser(target);
    thief.cookies.set('session', copy);
    assert.equal((await thief.get('/api/me')).status, 401, 'still refused after a restart');
  });
});

test(`${TARGET}: 17 addresses flooding wrong passwords neither keep the admin out nor get more guesses than one`, T, () => withTarget({}, async (target) => {
  await completeSetup(target);
  const admin = browser(target);
  assert.equal((await admin.signIn(PASSWORD)).status, 303);
  assert.ok(admin.cookies.has('xsdot_device'), 'a device cookie for this browser');
  await admin.get('/');
  await admin.post('/logout', {});

  const attackers = Array.from({ length: 17 }, (_, i) => browser(target, `127.0.0.${i + 2}`));
  for (const attacker of attackers) await attacker.get('/login');
  let checked = 0;
  let refused = 0;
  const started = performance.now();
  // Three rounds of every address guessing in turn (one at a time: a device serves 4 connections).
  for (let round = 0; round < 3; round++) {
    for (const attacker of attackers) {
      const page = await attacker.post('/login', { username: 'admin', password: 'not the password' });
      assert.ok(page.status === 401 || page.status === 429, `attacker got ${page.status}`);
      if (page.status === 401) checked++;
      else refused++;
    }
  }
  // The shared budget: 10 free failures for all anonymous clients together, then waits of 1, 2, 4… s —
  // the schedule of one address (3 free) with 7 more free: in E seconds at most 11 + log2(E + 1) checks.
  const elapsed = (performance.now() - started) / 1000;
  const bound = 11 + Math.ceil(Math.log2(elapsed + 1));
  assert.ok(checked <= bound, `17 addresses had ${checked} passwords checked in ${elapsed.toFixed(1)} s (bound ${bound}; 51 without the shared budget)`);
  assert.ok(refused >= 17 * 3 - bound);
  assert.equal((await admin.signIn(PASSWORD)).status, 303, 'the admin, with its device cookie, still gets in');
  const newcomer = browser(target, '127.0.0.30');
  assert.equal((await newcomer.signIn(PASSWORD)).status, 429, 'a browser without one waits while the flood lasts');
}));

test(`${TARGET}: one client holding every connection slot does not keep another client out`, T, () => withTarget({ limits: { maxConnections: 4, idleTimeout: 5000, requestTimeout: 5000 } }, async (target) => {
  const hog: RawClient[] = [];
  for (let i = 0; i < 4; i++) {
    const socket = await RawClient.connect(target.port, '127.0.0.1', '127.0.0.99');
    await socket.write(i % 2 === 0 ? 'GET /setup HTTP/1.1\r\nHost: device\r\n\r\n' : 'GET /setup HTTP/1.1\r\nHost: dev');
    if (i % 2 === 0) await socket.readResponse(R); // then idle on keep-alive
    hog.push(socket);
  }
  await sleep(TIMING_SLACK_MS);
  try {
    for (let i = 0; i < 3; i++) {
      const page = await browser(target, '127.0.0.50').get('/setup');
      assert.equal(page.status, 200, `request ${i + 1} of another client while one holds every slot`);
    }
    await sleep(TIMING_SLACK_MS);
    assert.ok(hog.filter((socket) => socket.ended).length >= 1, 'the server closed connections of the client holding them all');
  } finally {
    for (const socket of hog) socket.destroy();
  }
}));
