/**
 * The login app's live status over real sockets, on whichever host XSDOT_TARGET names (Node in-process,
 * the Moddable x-cli-lin executable, the simulator): the dashboard's Server-Sent Events stream (signed
 * in only, a status event now and another after the interval, the slot freed when the client goes) and
 * the status WebSocket (the `ws` npm client: session, Origin, a message answered, the close handshake; an
 * unmasked frame from a raw socket closed with 1002).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WS from 'ws';
import { Browser, RawClient } from './client';
import { withTarget } from './harness';
import { REQUEST_MS, TARGET, type Target } from './targets';

const T = { timeout: TARGET === 'node' ? 60_000 : 180_000 };
const PASSWORD = 'correct horse battery';

async function signedIn(target: Target): Promise<string> {
  const admin = new Browser(target.url, REQUEST_MS);
  await admin.get('/setup');
  assert.equal((await admin.post('/setup', { code: target.setupCode ?? '', password: PASSWORD, confirm: PASSWORD })).status, 303);
  assert.equal((await admin.signIn(PASSWORD)).status, 303);
  return `session=${admin.cookies.get('session') ?? ''}`;
}

interface Status {
  uptime: string;
  seconds: number;
}

/** The status events in `text` (an event stream's body so far). */
function statuses(text: string): Status[] {
  const out: Status[] = [];
  for (const [, data] of text.matchAll(/event: status\n(?:retry: \d+\n)?data: (.*)\n\n/g)) out.push(JSON.parse(data) as Status);
  return out;
}

test(`${TARGET}: the dashboard's live status over Server-Sent Events, signed in only`, T, () => withTarget({}, async (target) => {
  const cookie = await signedIn(target);
  const request = (withCookie: boolean) => `GET /live/events HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nAccept: text/event-stream\r\n${withCookie ? `Cookie: ${cookie}\r\n` : ''}\r\n`;
  const anonymous = await RawClient.connect(target.port);
  await anonymous.write(request(false));
  assert.equal((await anonymous.readResponse({ ms: REQUEST_MS })).status, 401);
  anonymous.destroy();

  const stream = await RawClient.connect(target.port);
  try {
    await stream.write(request(true));
    await stream.waitForText('\n\n', REQUEST_MS);
    const text = () => stream.pending.toString('utf8');
    const [head] = text().split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\nContent-Type: text\/event-stream\r\n/i);
    // The first status at once, the next after the 2-second interval: the uptime moves on.
    const deadline = Date.now() + REQUEST_MS + 4000;
    while (statuses(text()).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const [first, second] = statuses(text());
    assert.ok(second !== undefined, `two status events, got: ${JSON.stringify(text())}`);
    assert.ok(second.seconds > first.seconds, `${second.seconds} s after ${first.seconds} s`);
    assert.match(first.uptime, /^\d+ (s|min)/);
  } finally {
    stream.destroy();
  }
  // The client went: its slot is free again (the device has 4), and the server answers as before.
  const admin = new Browser(target.url, REQUEST_MS);
  admin.cookies.set('session', cookie.slice('session='.length));
  for (let i = 0; i < 5; i++) assert.equal((await admin.get('/api/me')).status, 200);
}));

function open(url: string, options: WS.ClientOptions): Promise<{ ws: WS; messages: string[]; close: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WS(url, { handshakeTimeout: REQUEST_MS, ...options });
    const messages: string[] = [];
    ws.on('message', (data: Buffer) => messages.push(data.toString()));
    const close = new Promise<number>((done) => ws.once('close', (code: number) => done(code)));
    ws.once('open', () => resolve({ ws, messages, close }));
    // A refusal's connection is closed at once: the device has 4 slots, and this client holds some already.
    ws.once('unexpected-response', (request, response) => {
      request.destroy();
      reject(new Error(`HTTP ${response.statusCode}`));
    });
    ws.once('error', reject);
  });
}

test(`${TARGET}: the status WebSocket: session and Origin checked, a message answered, the close handshake, 1002 for an unmasked frame`, T, () => withTarget({}, async (target) => {
  const cookie = await signedIn(target);
  const url = `ws://127.0.0.1:${target.port}/live/socket`;
  const origin = `http://127.0.0.1:${target.port}`;
  await assert.rejects(open(url, { origin }), /HTTP 401/);
  await assert.rejects(open(url, { origin: 'http://attacker.example', headers: { Cookie: cookie } }), /HTTP 403/);

  const client = await open(url, { origin, headers: { Cookie: cookie } });
  client.ws.send('status');
  client.ws.send('what');
  const deadline = Date.now() + REQUEST_MS;
  while (client.messages.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.match((JSON.parse(client.messages[0]) as Status).uptime, /^\d+ (s|min)/);
  assert.deepEqual(JSON.parse(client.messages[1]), { error: 'send "status"' });
  client.ws.close(1000);
  assert.equal(await client.close, 1000);

  const raw = await RawClient.connect(target.port);
  try {
    await raw.write(`GET /live/socket HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: ${cookie}\r\n\r\n`);
    await raw.waitForText('\r\n\r\n', REQUEST_MS);
    assert.match(raw.pending.toString('latin1'), /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
    await raw.write(new Uint8Array([0x81, 0x02, 0x68, 0x69])); // "hi", unmasked
    await raw.waitEnd(REQUEST_MS);
    const bytes = raw.pending;
    const frame = bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
    assert.deepEqual([...frame.subarray(0, 4)], [0x88, frame[1], 0x03, 0xea], 'a close frame with 1002');
  } finally {
    raw.destroy();
  }
}));
