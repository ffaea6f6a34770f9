/**
 * Every example in examples/ as a user runs it, over real HTTP: on Node (`tsx examples/<name>/main.ts`,
 * PORT=0), or, with XSDOT_EXAMPLES_BUILD set (scripts/examples.ts, inside a private network namespace),
 * the x-cli-lin executables built from the same sources with their manifest.json.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import WS from 'ws';
import { spawnServer, type ServerProcess } from '../integration/process';

const BUILD = process.env.XSDOT_EXAMPLES_BUILD;
const dataDirs: string[] = [];
after(() => { for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true }); });

async function run(name: string, body: (url: string) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), `xsdot-example-${name}-`));
  dataDirs.push(dataDir);
  const env = { ...process.env, PORT: '0', XSDOT_PORT: '0', XSDOT_DATA_DIR: dataDir };
  // Generous: tsx compiles the module graph on a cold start, which a loaded machine makes slow.
  const server: ServerProcess = BUILD
    ? await spawnServer(join(BUILD, name, 'bin', 'lin', 'release', `xsdot-${name}`), [], env)
    : await spawnServer(process.execPath, ['--import', 'tsx', join('examples', name, 'main.ts')], env, { timeoutMs: 60_000 });
  try {
    await body(server.url);
  } catch (error) {
    throw new Error(`${name}: ${String(error)} (${String((error as Error).cause ?? '')}); the server's output:\n${server.output()}`);
  } finally {
    await server.stop();
  }
}

test('hello: a page and a route parameter', () => run('hello', async (url) => {
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(await page.text(), /<h1>Hello, World!<\/h1>/);
  assert.equal(await (await fetch(`${url}/hello/xsdot`)).text(), 'Hello, xsdot!');
  assert.equal((await fetch(`${url}/nowhere`)).status, 404);
}));

test('sessions: microdot login.py: sign in, the name escaped, sign out', () => run('sessions', async (url) => {
  const first = await fetch(`${url}/`);
  assert.match(await first.text(), /You are not logged in/);
  const login = await fetch(`${url}/`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ username: '<b>ada</b>' }) });
  assert.equal(login.status, 303);
  const cookie = /^session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0];
  assert.ok(cookie, 'a session cookie is set');
  assert.match(login.headers.get('set-cookie') ?? '', /HttpOnly/i);
  const page = await (await fetch(`${url}/`, { headers: { Cookie: cookie } })).text();
  assert.match(page, /Hello <b>&lt;b&gt;ada&lt;\/b&gt;<\/b>!/);
  const at = cookie.lastIndexOf('.') + 1; // the signature's first character: every bit of it counts
  const tampered = `${cookie.slice(0, at)}${cookie[at] === 'A' ? 'B' : 'A'}${cookie.slice(at + 1)}`;
  const forged = await (await fetch(`${url}/`, { headers: { Cookie: tampered } })).text();
  assert.match(forged, /You are not logged in/, 'a tampered cookie is no session');
  const logout = await fetch(`${url}/logout`, { method: 'POST', redirect: 'manual', headers: { Cookie: cookie } });
  assert.equal(logout.status, 303);
  assert.match(logout.headers.get('set-cookie') ?? '', /^session=;/);
}));

test('api: JSON notes, bounded, with 400/404 for bad input', () => run('api', async (url) => {
  const json = { 'Content-Type': 'application/json' };
  assert.deepEqual(await (await fetch(`${url}/api/notes`)).json(), []);
  const created = await fetch(`${url}/api/notes`, { method: 'POST', headers: json, body: JSON.stringify({ text: 'water the plants' }) });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('location'), '/api/notes/1');
  assert.deepEqual(await created.json(), { id: 1, text: 'water the plants' });
  assert.deepEqual(await (await fetch(`${url}/api/notes/1`)).json(), { id: 1, text: 'water the plants' });
  assert.equal((await fetch(`${url}/api/notes`, { method: 'POST', headers: json, body: '{"text": 5}' })).status, 400);
  assert.equal((await fetch(`${url}/api/notes`, { method: 'POST', headers: json, body: '{' })).status, 400);
  assert.equal((await fetch(`${url}/api/notes/1`, { method: 'DELETE' })).status, 204);
  assert.equal((await fetch(`${url}/api/notes/1`, { method: 'DELETE' })).status, 404);
  assert.equal((await fetch(`${url}/api/notes/x`)).status, 404);
}));

test('streaming: a chunked page from a generator, and from an async generator', () => run('streaming', async (url) => {
  const page = await fetch(`${url}/`);
  assert.equal(page.headers.get('transfer-encoding'), 'chunked');
  const html = await page.text();
  assert.equal(html.match(/<tr><td>/g)?.length, 500);
  assert.ok(html.endsWith('</table>'));
  assert.equal(await (await fetch(`${url}/count`)).text(), '1\n2\n3\n');
}));

/** The `name=value` pairs a response sets, for a Cookie header. */
const setCookies = (response: Response) => response.headers.getSetCookie().map((cookie) => cookie.split(';')[0]);

test('login: microdot login.py: next, remember-me restores a login that is not fresh, logout', () => run('login', async (url) => {
  const anonymous = await fetch(`${url}/fresh`, { redirect: 'manual' });
  assert.equal(anonymous.status, 303);
  assert.equal(anonymous.headers.get('location'), '/login?next=%2Ffresh');
  assert.match(await (await fetch(`${url}/login?next=%2Ffresh`)).text(), /Please Login/);
  const wrong = await fetch(`${url}/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ username: 'susan', password: 'hello david' }) });
  assert.equal(wrong.headers.get('location'), '/login');
  const form = new URLSearchParams({ username: 'susan', password: 'hello susan', remember_me: 'on' });
  const signedIn = await fetch(`${url}/login?next=%2Ffresh`, { method: 'POST', redirect: 'manual', body: form });
  assert.equal(signedIn.status, 303);
  assert.equal(signedIn.headers.get('location'), '/fresh');
  const jar = setCookies(signedIn);
  assert.match(await (await fetch(`${url}/fresh`, { headers: { Cookie: jar.join('; ') } })).text(), /Hello, susan!/);
  const remember = jar.find((cookie) => cookie.startsWith('remember=')) as string;
  assert.match(await (await fetch(`${url}/`, { headers: { Cookie: remember } })).text(), /Hello, susan!/, 'remember-me restores the login');
  assert.equal((await fetch(`${url}/fresh`, { headers: { Cookie: remember }, redirect: 'manual' })).status, 303, 'but not a fresh one');
  const logout = await fetch(`${url}/logout`, { method: 'POST', redirect: 'manual', headers: { Cookie: jar.join('; ') } });
  assert.equal(logout.status, 303);
  assert.equal((await fetch(`${url}/`, { headers: { Cookie: remember }, redirect: 'manual' })).status, 303, 'logout revoked remember-me');
}));

test('auth: BasicAuth and TokenAuth, 401 challenges, one throttle (429 + Retry-After)', () => run('auth', async (url) => {
  const challenge = await fetch(`${url}/`);
  assert.equal(challenge.status, 401);
  assert.equal(challenge.headers.get('www-authenticate'), 'Basic realm="xsdot example", charset="UTF-8"');
  const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  assert.equal(await (await fetch(`${url}/`, { headers: basic('susan', 'hello susan') })).text(), 'Hello, susan!');
  assert.deepEqual(await (await fetch(`${url}/api/whoami`, { headers: { Authorization: 'Bearer david-token' } })).json(), { user: 'david' });
  assert.equal((await fetch(`${url}/api/whoami`, { headers: { Authorization: 'Bearer susan-token!' } })).status, 401);
  for (const password of ['hello david', 'bye susan', '']) assert.equal((await fetch(`${url}/`, { headers: basic('susan', password) })).status, 401);
  const throttled = await fetch(`${url}/api/whoami`, { headers: { Authorization: 'Bearer susan-token' } });
  assert.equal(throttled.status, 429, 'four failures through either scheme: wait');
  assert.equal(throttled.headers.get('retry-after'), '1');
}));

test('cors: an allowed origin reads with credentials; a preflight gets exactly the lists; another origin gets nothing', () => run('cors', async (url) => {
  const read = await fetch(`${url}/`, { headers: { Origin: 'https://example.org' } });
  assert.equal(await read.text(), 'Hello World!');
  assert.equal(read.headers.get('access-control-allow-origin'), 'https://example.org');
  assert.equal(read.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(read.headers.get('vary'), 'Origin');
  const preflight = await fetch(`${url}/`, { method: 'OPTIONS', headers: { Origin: 'https://example.org', 'Access-Control-Request-Method': 'PUT' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, PUT');
  assert.equal(preflight.headers.get('access-control-allow-headers'), 'Content-Type');
  assert.equal(preflight.headers.get('access-control-max-age'), '600');
  assert.equal(await (await fetch(`${url}/`, { method: 'PUT', body: 'Hi there' })).text(), 'Hi there');
  const foreign = await fetch(`${url}/`, { headers: { Origin: 'https://example.org.evil.example' } });
  assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  assert.equal(foreign.headers.get('vary'), 'Origin');
}));

test('live: the SSE counter from the Last-Event-ID on, and the WebSocket echo', () => run('live', async (url) => {
  assert.match(await (await fetch(`${url}/`)).text(), /new EventSource\('\/count'\)/);
  const events = await fetch(`${url}/count`, { headers: { 'Last-Event-ID': '41' } });
  assert.equal(events.headers.get('content-type'), 'text/event-stream');
  const reader = (events.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!text.includes('id: 43\n')) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  assert.ok(text.startsWith('event: tick\nid: 42\ndata: 42\n\nevent: tick\nid: 43\n'), text);
  const ws = new WS(`${url.replace('http:', 'ws:')}/echo`);
  const echoed = new Promise<string>((resolve, reject) => {
    ws.once('message', (data: Buffer) => resolve(data.toString()));
    ws.once('error', reject);
  });
  ws.once('open', () => ws.send('hello, device ✓'));
  assert.equal(await echoed, 'hello, device ✓');
  const closed = new Promise<number>((resolve) => ws.once('close', resolve));
  ws.close(1000);
  assert.equal(await closed, 1000);
}));

test('static: a stylesheet with ETag, 304 and HEAD; a multipart upload streamed through a sink', () => run('static', async (url) => {
  const css = await fetch(`${url}/static/site.css`);
  assert.equal(css.status, 200);
  assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal(css.headers.get('cache-control'), 'max-age=600');
  const etag = css.headers.get('etag') ?? '';
  assert.match(etag, /^"[0-9a-f]{16}"$/);
  assert.match(await css.text(), /^body\{/);
  assert.equal((await fetch(`${url}/static/site.css`, { headers: { 'If-None-Match': etag } })).status, 304);
  assert.equal((await fetch(`${url}/static/site.css`, { method: 'HEAD' })).headers.get('content-length'), String(54));
  assert.equal((await fetch(`${url}/static/..%2fmain.ts`)).status, 404);
  const form = new FormData();
  form.append('note', 'hello');
  form.append('file', new Blob([new Uint8Array(300_000).fill(7)]), 'big.bin');
  const upload = await fetch(`${url}/upload`, { method: 'POST', body: form });
  assert.equal(upload.status, 200);
  assert.deepEqual(await upload.json(), { note: 'hello', files: [{ name: 'big.bin', size: 300_000 }] });
}));
