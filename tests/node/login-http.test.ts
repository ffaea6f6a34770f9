/**
 * `npm start`'s own program (hosts/node/start.ts) in a child process: its console, its environment
 * variables and its data directory. The login flows themselves are the integration suite's
 * (tests/integration/login.test.ts), which runs them against the Node host and the x-cli-lin build.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ITERATIONS } from '../../modules/auth/password';
import { Browser, RawClient } from '../integration/client';
import { newDataDir, removeDataDir, startLoginServer, type LoginServer } from './login-server';

const PASSWORD = 'correct horse battery';
const dirs: string[] = [];
const servers: LoginServer[] = [];
after(async () => {
  for (const server of servers) await server.stop();
  for (const dir of dirs) removeDataDir(dir);
});

async function start(dataDir?: string, env?: Record<string, string>): Promise<LoginServer> {
  const dir = dataDir ?? newDataDir();
  if (dataDir === undefined) dirs.push(dir);
  const server = await startLoginServer(dir, env);
  servers.push(server);
  return server;
}

test('npm start: prints the setup code once, serves the app, keeps its state 0600 in XSDOT_DATA_DIR', async () => {
  const dir = newDataDir();
  dirs.push(dir);
  const server = await start(dir);
  assert.match(server.setupCode ?? '', /^[0-9A-Z]{4}-[0-9A-Z]{4}$/, server.output());
  assert.match(server.output(), /^xsdot listening on http:\/\/127\.0\.0\.1:\d+$/m);
  const browser = new Browser(server.url);
  assert.equal((await browser.get('/')).headers.get('location'), '/setup');
  await browser.get('/setup');
  assert.equal((await browser.post('/setup', { code: server.setupCode ?? '', password: PASSWORD, confirm: PASSWORD })).status, 303);
  assert.equal((await browser.signIn(PASSWORD)).status, 303);
  const dashboard = await browser.get('/');
  assert.match(dashboard.text, /<dd>e2e device<\/dd>/, 'XSDOT_DEVICE_NAME');
  await server.stop();
  const file = join(dir, '.sesskey');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(readFileSync(file, 'utf8'), new RegExp(`pbkdf2-sha256\\$${DEFAULT_ITERATIONS}\\$`));
  const again = await start(dir);
  assert.equal(again.setupCode, undefined, 'no setup code once a password exists');
  for (const secret of [PASSWORD, ...browser.cookies.values()]) assert.ok(!server.output().includes(secret), 'no password or token on the console');
});

test('npm start: XSDOT_SECRET_KEY sets the session key; a bad one stops start-up without echoing it', async () => {
  const key = `hex:${'ab'.repeat(32)}`;
  const dir = newDataDir();
  dirs.push(dir);
  const first = await start(dir, { XSDOT_SECRET_KEY: key });
  const browser = new Browser(first.url);
  await browser.get('/setup');
  await browser.post('/setup', { code: first.setupCode ?? '', password: PASSWORD, confirm: PASSWORD });
  await browser.signIn(PASSWORD);
  await first.stop();
  const stored = JSON.parse(readFileSync(join(dir, '.sesskey'), 'utf8')) as Record<string, string>;
  assert.equal(stored['xsdot.keys'], undefined, 'no key was generated into the store');

  const sameKey = await start(dir, { XSDOT_SECRET_KEY: key });
  const copy = new Browser(sameKey.url);
  for (const [name, value] of browser.cookies) copy.cookies.set(name, value);
  assert.equal((await copy.get('/api/me')).status, 200);
  await sameKey.stop();
  const otherKey = await start(dir, { XSDOT_SECRET_KEY: `base64url:${Buffer.alloc(32, 0xcd).toString('base64url')}` });
  const stale = new Browser(otherKey.url);
  for (const [name, value] of browser.cookies) stale.cookies.set(name, value);
  assert.equal((await stale.get('/api/me')).status, 401);

  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'hosts/node/start.ts'], {
    env: { ...process.env, PORT: '0', XSDOT_DATA_DIR: dir, XSDOT_SECRET_KEY: 'short-secret-value' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /XSDOT_SECRET_KEY: xsdot: the secret key must start with "hex:"/);
  assert.ok(!bad.stderr.includes('short-secret-value'));
  // 62 hex digits: once misread as base64url; now refused, saying why.
  const short = spawnSync(process.execPath, ['--import', 'tsx', 'hosts/node/start.ts'], {
    env: { ...process.env, PORT: '0', XSDOT_DATA_DIR: dir, XSDOT_SECRET_KEY: `hex:${'ab'.repeat(31)}` },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(short.status, 2);
  assert.match(short.stderr, /gives 31 bytes; at least 32 are needed/);
});

test('npm start: answers only its own names (127.0.0.1, localhost on its port) and XSDOT_HOSTS; others get 421', async () => {
  const server = await start(undefined, { XSDOT_HOSTS: 'mydevice.local, other.example:8443' });
  const port = Number(new URL(server.url).port);
  const status = async (host: string) => {
    const client = await RawClient.connect(port);
    try {
      await client.write(`GET /setup HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      return (await client.readResponse()).status;
    } finally {
      client.destroy();
    }
  };
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'mydevice.local', `mydevice.local:${port}`, 'other.example:8443']) assert.equal(await status(host), 200, host);
  for (const host of ['attacker.example', `attacker.example:${port}`, '127.0.0.1', `localhost:${port + 1}`, 'other.example']) assert.equal(await status(host), 421, host);
  assert.equal(await status('a b'), 400);
});

test('npm start: the device name typed at setup overrides XSDOT_DEVICE_NAME and survives a restart; failed logins reach the console', async () => {
  const dir = newDataDir();
  dirs.push(dir);
  const server = await start(dir);
  const browser = new Browser(server.url);
  const setup = await browser.get('/setup');
  assert.match(setup.text, /Format XXXX-XXXX/);
  assert.match(setup.text, /<label for="name">Device name<\/label><input id="name" name="name" value="e2e device"/);
  await browser.post('/setup', { code: server.setupCode ?? '', name: 'Greenhouse <2>', password: PASSWORD, confirm: PASSWORD });
  assert.equal((await browser.signIn('not the password')).status, 401);
  assert.match(server.output(), /failed login for user "admin" from 127\.0\.0\.1/);
  assert.ok(!server.output().includes('not the password'));
  await server.stop();
  const again = await start(dir);
  const admin = new Browser(again.url);
  assert.equal((await admin.signIn(PASSWORD)).status, 303);
  assert.match((await admin.get('/')).text, /<dd>Greenhouse &lt;2&gt;<\/dd>/);
  assert.equal(JSON.parse(readFileSync(join(dir, '.sesskey'), 'utf8'))['xsdot.name'], 'Greenhouse <2>');
});
