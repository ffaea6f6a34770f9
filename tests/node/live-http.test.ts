/**
 * Server-Sent Events and WebSocket through real sockets on the Node host: the `ws` npm package as the
 * client (echo, fragments, ping/pong, close codes, limits, a session-protected socket, Origin), raw
 * `node:net` sockets sending malformed frames (each must get its close code, then the connection
 * closes), and event streams read as bytes (format, heartbeat, Last-Event-ID, the connection cap,
 * everything freed when the client goes).
 */
import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import WS from 'ws';
import { App, abort } from '../../modules/http/index';
import { Session, withSession } from '../../modules/session/session';
import { acceptWebSocket, withSSE, withWebSocket, type EventStream, type WebSocket } from '../../modules/live/index';
import { get, startServer, waitFor, type TestServer } from './helpers';
import type { RawClient } from '../integration/client';

const KEYS = [{ key: new TextEncoder().encode('a live-connections test key of 32+ bytes') }];

interface Live {
  streams: Set<EventStream>;
  sockets: Set<WebSocket>;
}

function liveApp(live: Live): App {
  const app = new App();
  new Session(app, { keys: KEYS });
  app.get('/', () => 'home');
  app.get('/echo', withWebSocket(async (_request, ws) => {
    live.sockets.add(ws);
    try {
      for await (const message of ws) ws.send(message);
    } finally {
      live.sockets.delete(ws);
    }
  }, { maxMessageBytes: 1000, maxFrameBytes: 600, idleTimeout: 200 }));
  // A handler that never receives: messages pile up in its bounded inbox.
  app.get('/deaf', withWebSocket(async (_request, ws) => {
    await ws.closed;
  }, { maxQueuedMessages: 2 }));
  app.get('/bye', withWebSocket((_request, ws) => {
    ws.send('bye');
    ws.close(4000, 'done here');
  }));
  app.get('/extra-origin', withWebSocket(async (_request, ws) => ws.send('hi'), { origins: ['http://app.example'] }));
  app.post('/login', withSession((_request, session) => {
    session.set('user', 'susan');
    session.save();
    return 'ok';
  }));
  // A session-protected socket: the session is read before the upgrade; no user, no socket.
  app.get('/private', withSession((request, session) => {
    const user = session.get('user');
    if (typeof user !== 'string') abort(401, 'sign in first');
    return acceptWebSocket(request, (ws) => {
      ws.send(`hello ${user}`);
    });
  }));
  app.get('/events', withSSE(async (request, sse) => {
    live.streams.add(sse);
    sse.send(`resumed after ${request.headers.get('last-event-id') ?? 'nothing'}`, { event: 'hello' });
    sse.send({ a: 1 }, { id: '7', retry: 1500 });
    sse.send('two\nlines\r\nhere');
    await sse.closed;
    live.streams.delete(sse);
  }, { heartbeat: 100 }));
  app.get('/counted', withSSE((_request, sse) => {
    sse.send(sse.lastEventId ?? 'none');
    return undefined;
  }));
  app.get('/three', withSSE(async (_request, sse) => {
    for (let i = 0; i < 3; i++) sse.send(String(i));
  }));
  return app;
}

async function withLive(body: (server: TestServer, live: Live) => Promise<void>, limits = {}): Promise<void> {
  const live: Live = { streams: new Set(), sockets: new Set() };
  const server = await startServer(liveApp(live), limits);
  try {
    await body(server, live);
  } finally {
    server.close();
  }
}

interface Received {
  data: string | Buffer;
  binary: boolean;
}

/** A `ws` client whose messages and close are recorded from the start (they may come with the 101). */
interface Client {
  ws: WS;
  messages: Received[];
  close: Promise<{ code: number; reason: string }>;
}

/** Opens a `ws` client; resolves once open (rejects on an HTTP refusal, with its status). */
function open(url: string, options: WS.ClientOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WS(url, options);
    const messages: Received[] = [];
    ws.on('message', (data: Buffer, binary: boolean) => messages.push({ data: binary ? data : data.toString('utf8'), binary }));
    const close = new Promise<{ code: number; reason: string }>((done) => ws.once('close', (code: number, reason: Buffer) => done({ code, reason: reason.toString() })));
    ws.once('open', () => resolve({ ws, messages, close }));
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    ws.once('error', reject);
  });
}

async function nextMessage(client: Client): Promise<Received> {
  await waitFor(() => client.messages.length > 0, 2000, 'a message');
  return client.messages.shift() as Received;
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function upgrade(path: string, extra = ''): string {
  return get(path, `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}`);
}

/** A client frame: FIN/RSV/opcode byte, masked with `mask` unless `masked` is false, with the given length encoding. */
function frame(first: number, payload: Uint8Array, options: { masked?: boolean; length?: number[] } = {}): Buffer {
  const masked = options.masked ?? true;
  const length = options.length ?? (payload.length < 126 ? [payload.length] : [126, payload.length >> 8, payload.length & 255]);
  const mask = [0x12, 0x34, 0x56, 0x78];
  const head = [first, (masked ? 0x80 : 0) | length[0], ...length.slice(1), ...(masked ? mask : [])];
  const body = masked ? payload.map((b, i) => b ^ mask[i & 3]) : payload;
  return Buffer.concat([Buffer.from(head), Buffer.from(body)]);
}

/** Opens a raw upgraded connection; returns the client after the 101 head. */
async function rawSocket(server: TestServer, path = '/echo'): Promise<RawClient> {
  const client = await server.client();
  await client.write(upgrade(path));
  await client.waitForText('\r\n\r\n');
  const head = client.pending.toString('latin1');
  assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  client.pending.subarray(0, 0);
  return client;
}

/** The close code of the server's close frame in what `client` received after the 101 head, then waits for its FIN. */
async function closeCode(client: RawClient): Promise<number> {
  await client.waitEnd(3000);
  const bytes = client.pending;
  const start = bytes.indexOf('\r\n\r\n') + 4;
  // Skip any data frames before the close frame (server frames are unmasked).
  let at = start;
  while (at < bytes.length) {
    const opcode = bytes[at] & 0x0f;
    const length = bytes[at + 1] & 0x7f;
    if (opcode === 0x8) return length >= 2 ? bytes.readUInt16BE(at + 2) : 1005;
    at += 2 + length;
  }
  return -1;
}

test('WebSocket: the accept key, echo of text and binary, fragments, ping/pong, a clean close (ws client)', async () => {
  await withLive(async (server, live) => {
    const client = await open(`ws://127.0.0.1:${server.port}/echo`);
    const ws = client.ws;
    ws.send('héllo ✓');
    assert.deepEqual(await nextMessage(client), { data: 'héllo ✓', binary: false });
    ws.send(new Uint8Array([0, 1, 2, 255]));
    const binary = await nextMessage(client);
    assert.equal(binary.binary, true);
    assert.deepEqual([...(binary.data as Buffer)], [0, 1, 2, 255]);
    // One message in three frames, a ping between them.
    ws.send('frag', { fin: false });
    ws.ping('between');
    ws.send('men', { fin: false });
    ws.send('ted', { fin: true });
    const pong = new Promise<string>((resolve) => ws.once('pong', (data: Buffer) => resolve(data.toString())));
    assert.deepEqual(await nextMessage(client), { data: 'fragmented', binary: false });
    assert.equal(await pong, 'between');
    assert.equal(live.sockets.size, 1);
    ws.close(4001, 'client done');
    assert.deepEqual(await client.close, { code: 4001, reason: '' });
    await waitFor(() => live.sockets.size === 0 && server.server.connectionCount === 0, 2000, 'the socket to be freed');
  });
});

test('WebSocket: Sec-WebSocket-Accept is SHA-1 of the key and the GUID (RFC 6455 §1.3 example)', async () => {
  await withLive(async (server) => {
    const client = await server.client();
    await client.write(upgrade('/echo'));
    const response = await client.readResponse({ noBody: true });
    assert.equal(response.status, 101);
    assert.equal(response.headers.get('sec-websocket-accept')?.[0], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.equal(response.headers.get('sec-websocket-accept')?.[0], createHash('sha1').update(KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64'));
    assert.equal(response.headers.get('upgrade')?.[0], 'websocket');
    assert.equal(response.headers.get('connection')?.[0], 'Upgrade');
    assert.equal(response.headers.get('content-length'), undefined);
  });
});

test('WebSocket: the handler closes with its code; the server pings an idle client and closes a silent one', async () => {
  await withLive(async (server) => {
    const bye = await open(`ws://127.0.0.1:${server.port}/bye`);
    assert.deepEqual(await bye.close, { code: 4000, reason: 'done here' });
    assert.deepEqual(bye.messages, [{ data: 'bye', binary: false }]);

    const idle = (await open(`ws://127.0.0.1:${server.port}/echo`)).ws;
    const pinged = new Promise<void>((resolve) => idle.once('ping', () => resolve()));
    await pinged; // ws answers with a pong: the socket stays open
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.equal(idle.readyState, WS.OPEN, 'a client answering pings stays connected');
    idle.terminate();

    // A raw client that answers nothing: pinged after 200 ms, closed with 1001 after 200 more.
    const silent = await rawSocket(server);
    assert.equal(await closeCode(silent), 1001);
  });
});

test('WebSocket: limits — 1009 for a message or frame over its bound, 1008 for an unread inbox', async () => {
  await withLive(async (server) => {
    const big = await open(`ws://127.0.0.1:${server.port}/echo`);
    big.ws.send('x'.repeat(601));
    assert.equal((await big.close).code, 1009);

    const fragmented = await open(`ws://127.0.0.1:${server.port}/echo`);
    fragmented.ws.send('y'.repeat(500), { fin: false });
    fragmented.ws.send('y'.repeat(501), { fin: true });
    assert.equal((await fragmented.close).code, 1009);

    const deaf = await open(`ws://127.0.0.1:${server.port}/deaf`);
    for (let i = 0; i < 3; i++) deaf.ws.send(`m${i}`);
    assert.equal((await deaf.close).code, 1008);
  });
});

test('WebSocket: malformed frames from a raw socket get their close code, then the connection closes', async () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const cases: [string, Buffer, number][] = [
    ['unmasked frame', frame(0x81, bytes('hi'), { masked: false }), 1002],
    ['RSV1 set', frame(0xc1, bytes('hi')), 1002],
    ['reserved opcode 3', frame(0x83, bytes('hi')), 1002],
    ['reserved control opcode 0xB', frame(0x8b, bytes('')), 1002],
    ['fragmented ping', frame(0x09, bytes('p')), 1002],
    ['ping over 125 bytes', frame(0x89, new Uint8Array(126)), 1002],
    ['continuation with no message', frame(0x80, bytes('x')), 1002],
    ['new message inside a fragmented one', Buffer.concat([frame(0x01, bytes('a')), frame(0x81, bytes('b'))]), 1002],
    ['non-minimal 16-bit length', frame(0x81, bytes('short'), { length: [126, 0, 5] }), 1002],
    ['64-bit length with the top bit set', frame(0x82, new Uint8Array(0), { length: [127, 0x80, 0, 0, 0, 0, 0, 0, 1] }), 1002],
    ['a 4 GB frame announced (refused from its header)', frame(0x82, new Uint8Array(0), { length: [127, 0, 0, 0, 1, 0, 0, 0, 0] }), 1009],
    ['invalid UTF-8 text', frame(0x81, new Uint8Array([0xc3, 0x28])), 1007],
    ['UTF-16 surrogate as UTF-8', frame(0x81, new Uint8Array([0xed, 0xa0, 0x80])), 1007],
    ['close with a 1-byte payload', frame(0x88, new Uint8Array([3])), 1002],
    ['close with code 1005', frame(0x88, new Uint8Array([0x03, 0xed])), 1002],
    ['close with code 999', frame(0x88, new Uint8Array([0x03, 0xe7])), 1002],
    ['close with a non-UTF-8 reason', frame(0x88, new Uint8Array([0x03, 0xe8, 0xff])), 1007],
  ];
  await withLive(async (server) => {
    for (const [what, data, code] of cases) {
      const client = await rawSocket(server);
      // Byte by byte: the parser is incremental.
      for (const byte of data) await client.write(new Uint8Array([byte]));
      assert.equal(await closeCode(client), code, what);
    }
    await waitFor(() => server.server.connectionCount === 0, 2000, 'every connection to be freed');
  });
});

test('WebSocket: a valid close from a raw client is echoed, then the server closes the TCP connection', async () => {
  await withLive(async (server) => {
    const client = await rawSocket(server);
    await client.write(frame(0x88, new Uint8Array([0x03, 0xe8, 0x6f, 0x6b])));
    assert.equal(await closeCode(client), 1000);
  });
});

test('WebSocket: the handshake — 426 for plain HTTP or another version, 400 for a bad key, 403 for another origin', async () => {
  await withLive(async (server) => {
    const plain = await server.client();
    await plain.write(get('/echo'));
    const refused = await plain.readResponse();
    assert.equal(refused.status, 426);
    assert.equal(refused.headers.get('upgrade')?.[0], 'websocket');
    for (const [extra, status] of [
      ['Sec-WebSocket-Key: short\r\n', 400],
      ['Sec-WebSocket-Version: 8\r\n', 426],
    ] as const) {
      const client = await server.client();
      const raw = upgrade('/echo').replace(extra.startsWith('Sec-WebSocket-Key') ? `Sec-WebSocket-Key: ${KEY}\r\n` : 'Sec-WebSocket-Version: 13\r\n', extra);
      await client.write(raw);
      assert.equal((await client.readResponse()).status, status, extra);
    }
    const url = `ws://127.0.0.1:${server.port}`;
    await assert.rejects(open(`${url}/echo`, { origin: 'http://evil.example' }), /HTTP 403/);
    await assert.rejects(open(`${url}/echo`, { origin: `http://127.0.0.1:${server.port + 1}` }), /HTTP 403/);
    (await open(`${url}/echo`, { origin: `http://127.0.0.1:${server.port}` })).ws.terminate();
    const listed = await open(`${url}/extra-origin`, { origin: 'http://app.example' });
    assert.deepEqual(await nextMessage(listed), { data: 'hi', binary: false });
    // The host allow-list comes first: a rebound name gets 421 before any route.
    await assert.rejects(open(`${url}/echo`, { headers: { Host: 'attacker.example' } }), /HTTP 421/);
  });
});

test('WebSocket: a session-protected socket — 401 without a session, the user\'s socket with one', async () => {
  await withLive(async (server) => {
    const url = `ws://127.0.0.1:${server.port}/private`;
    await assert.rejects(open(url), /HTTP 401/);
    const login = await fetch(`${server.url}/login`, { method: 'POST' });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    assert.match(cookie, /^session=/);
    const signedIn = await open(url, { headers: { Cookie: cookie } });
    assert.deepEqual(await nextMessage(signedIn), { data: 'hello susan', binary: false });
    signedIn.ws.terminate();
    await assert.rejects(open(url, { headers: { Cookie: 'session=forged.token.here' } }), /HTTP 401/);
  });
});

/** Reads an event stream's head and body until `until` appears. */
async function readStream(server: TestServer, path: string, until: string, extra = ''): Promise<{ client: RawClient; text: string }> {
  const client = await server.client();
  await client.write(get(path, extra));
  await client.waitForText(until, 3000);
  return { client, text: client.pending.toString('utf8') };
}

test('SSE: the head, event fields, multi-line data split per line, JSON, Last-Event-ID, heartbeats', async () => {
  await withLive(async (server, live) => {
    const { client, text } = await readStream(server, '/events', 'data: here\n\n', 'Last-Event-ID: 41\r\n');
    const [head, body] = text.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\nContent-Type: text\/event-stream\r\n/);
    assert.match(head, /\r\nCache-Control: no-cache\r\n/);
    assert.match(head, /\r\nConnection: close(\r\n|$)/);
    assert.doesNotMatch(head, /Content-Length|Transfer-Encoding/i);
    assert.equal(body, 'event: hello\ndata: resumed after 41\n\nid: 7\nretry: 1500\ndata: {"a":1}\n\ndata: two\ndata: lines\ndata: here\n\n');
    await client.waitForText(':\n\n', 1000);
    assert.equal(live.streams.size, 1);
    // The client goes: the stream closes, the handler ends and the connection is freed.
    client.destroy();
    await waitFor(() => live.streams.size === 0 && server.server.connectionCount === 0, 2000, 'the stream to be freed');
  });
});

test('SSE: a handler that returns ends the stream after its events; EventSource-style reconnect id', async () => {
  await withLive(async (server) => {
    const { client, text } = await readStream(server, '/three', 'data: 2\n\n');
    assert.ok(text.endsWith('data: 0\n\ndata: 1\n\ndata: 2\n\n'));
    await client.waitEnd(2000);
    const resumed = await readStream(server, '/counted', 'data: ', 'Last-Event-ID: abc\r\n');
    await resumed.client.waitForText('data: abc\n\n');
  });
});

test('SSE: open streams count against the connection cap; a closed one frees its slot', async () => {
  await withLive(async (server, live) => {
    const first = await readStream(server, '/events', 'data: here\n\n');
    const second = await readStream(server, '/events', 'data: here\n\n');
    assert.equal(live.streams.size, 2);
    const third = await server.client();
    await third.write(get('/'));
    assert.equal((await third.readResponse()).status, 503);
    first.client.destroy();
    await waitFor(() => live.streams.size === 1, 2000, 'the first stream to close');
    const fourth = await server.client();
    await fourth.write(get('/'));
    assert.equal((await fourth.readResponse()).status, 200);
    second.client.destroy();
  }, { maxConnections: 2 });
});
