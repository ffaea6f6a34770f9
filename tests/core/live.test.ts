/**
 * The runtime-agnostic parts of xsdot/live, on Node and on XS: SHA-1 and the accept key, strict UTF-8,
 * the frame parser's refusals and reassembly, the frame encoder, the event-stream format, and both
 * protocols driven through a fake Channel (the queue, timer and close of a taken-over connection):
 * the slow-client policy of SSE (drop oldest, count), heartbeats, the send timeout, and WebSocket's
 * close handshake, auto-pong, idle ping and close, and its bounded send queue.
 */
import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pureSha1 } from '../../modules/crypto/sha1';
import { runtime } from '../../modules/runtime';
import type { Channel } from '../../modules/http/takeover';
import { Request } from '../../modules/http/request';
import { RequestParser } from '../../modules/http/parser';
import { resolveLimits } from '../../modules/http/limits';
import { concat } from '../support/fuzz';
import { HttpError } from '../../modules/http/errors';
import { encodeFrame, FrameParser, isValidUtf8, WebSocketError, type FrameSink } from '../../modules/live/frames';
import { acceptKey, acceptWebSocket, CLOSED, OPEN, type WebSocket } from '../../modules/live/websocket';
import { eventStream, formatEvent, type EventStream } from '../../modules/live/sse';

const utf8 = (text: string) => runtime().utf8Encode(text);
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

test('SHA-1 (pure TS): FIPS 180-4 known answers, across block boundaries', () => {
  assert.equal(hex(pureSha1(utf8(''))), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
  assert.equal(hex(pureSha1(utf8('abc'))), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(hex(pureSha1(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))), '84983e441c3bd26ebaae4aa1f95129e5e54670f1');
  assert.equal(hex(pureSha1(utf8('a'.repeat(1000)))), '291e9a6c66994949b57ba5e650361e98fc36b1ba');
  for (const length of [55, 56, 63, 64, 65]) {
    const native = runtime().crypto.createSha1?.();
    if (native === undefined) continue; // bare XS: the pure one is all there is
    native.update(new Uint8Array(length).fill(7));
    assert.equal(hex(pureSha1(new Uint8Array(length).fill(7))), hex(native.digest()), `length ${length}`);
  }
});

test('Sec-WebSocket-Accept: RFC 6455 §1.3 example', () => {
  assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('UTF-8 validation is strict: overlongs, surrogates, > U+10FFFF and truncation refused', () => {
  assert.ok(isValidUtf8(utf8('plain, é, ✓, 😀')));
  assert.ok(isValidUtf8(new Uint8Array([0xf4, 0x8f, 0xbf, 0xbf])));
  for (const bad of [[0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf0, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0x80], [0xe2, 0x9c], [0xf0, 0x9f, 0x98], [0xff]]) {
    assert.equal(isValidUtf8(new Uint8Array(bad)), false, hex(new Uint8Array(bad)));
  }
});

/** A masked client frame. */
function clientFrame(first: number, payload: Uint8Array, mask = [1, 2, 3, 4]): Uint8Array {
  const head = payload.length < 126 ? [first, 0x80 | payload.length] : [first, 0x80 | 126, payload.length >> 8, payload.length & 255];
  const out = new Uint8Array(head.length + 4 + payload.length);
  out.set(head, 0);
  out.set(mask, head.length);
  for (let i = 0; i < payload.length; i++) out[head.length + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

class Recorder implements FrameSink {
  readonly events: string[] = [];
  onMessage(text: boolean, payload: Uint8Array): void { this.events.push(text ? `text:${runtime().utf8Decode(payload)}` : `binary:${hex(payload)}`); }
  onPing(payload: Uint8Array): void { this.events.push(`ping:${hex(payload)}`); }
  onPong(payload: Uint8Array): void { this.events.push(`pong:${hex(payload)}`); }
  onCloseFrame(code: number, reason: Uint8Array): void { this.events.push(`close:${code}:${runtime().utf8Decode(reason)}`); }
}

function parse(bytes: Uint8Array, split = bytes.length, limits = { maxFrameBytes: 300, maxMessageBytes: 400 }): { events: string[]; error?: number } {
  const parser = new FrameParser(limits);
  const sink = new Recorder();
  try {
    for (let i = 0; i < bytes.length; i += split) parser.push(bytes.subarray(i, i + split), sink);
  } catch (error) {
    assert.ok(error instanceof WebSocketError, String(error));
    return { events: sink.events, error: error.code };
  }
  return { events: sink.events };
}

test('frame parser: messages, fragments around a ping, binary, close — the same in any split', () => {
  const stream = concat([
    clientFrame(0x81, utf8('héllo')),
    clientFrame(0x01, utf8('frag')),
    clientFrame(0x89, utf8('p')),
    clientFrame(0x00, utf8('men')),
    clientFrame(0x80, utf8('ted')),
    clientFrame(0x82, new Uint8Array(200).fill(9)),
    clientFrame(0x8a, new Uint8Array(0)),
    clientFrame(0x88, concat([new Uint8Array([0x03, 0xe8]), utf8('bye')])),
  ]);
  const expected = ['text:héllo', 'ping:70', 'text:fragmented', `binary:${'09'.repeat(200)}`, 'pong:', 'close:1000:bye'];
  for (const split of [stream.length, 1, 2, 3, 7, 13, 64]) assert.deepEqual(parse(stream, split), { events: expected }, `split ${split}`);
  assert.deepEqual(parse(clientFrame(0x88, new Uint8Array(0))), { events: ['close:1005:'] });
});

test('frame parser: each refusal carries its close code', () => {
  const cases: [string, Uint8Array, number][] = [
    ['unmasked', new Uint8Array([0x81, 0x02, 0x68, 0x69]), 1002],
    ['RSV2', clientFrame(0xa1, utf8('x')), 1002],
    ['opcode 7', clientFrame(0x87, utf8('x')), 1002],
    ['opcode 0xF', clientFrame(0x8f, utf8('')), 1002],
    ['fragmented close', clientFrame(0x08, new Uint8Array([3, 232])), 1002],
    ['frame over maxFrameBytes', clientFrame(0x82, new Uint8Array(301)), 1009],
    ['message over maxMessageBytes', concat([clientFrame(0x02, new Uint8Array(250)), clientFrame(0x80, new Uint8Array(151))]), 1009],
    ['invalid UTF-8 across fragments', concat([clientFrame(0x01, new Uint8Array([0xe2])), clientFrame(0x80, new Uint8Array([0x28]))]), 1007],
    ['close code 1006', clientFrame(0x88, new Uint8Array([0x03, 0xee])), 1002],
    ['close code 2999', clientFrame(0x88, new Uint8Array([0x0b, 0xb7])), 1002],
    ['close code 5000', clientFrame(0x88, new Uint8Array([0x13, 0x88])), 1002],
  ];
  for (const [what, bytes, code] of cases) assert.equal(parse(bytes, 1).error, code, what);
  // A UTF-8 character split across fragments is fine: validation is of the whole message.
  assert.deepEqual(parse(concat([clientFrame(0x01, new Uint8Array([0xe2, 0x9c])), clientFrame(0x80, new Uint8Array([0x93]))])), { events: ['text:✓'] });
  // Valid codes: 1000-1003, 1007-1014, 3000-4999.
  for (const code of [1000, 1003, 1007, 1014, 3000, 4999]) assert.deepEqual(parse(clientFrame(0x88, new Uint8Array([code >> 8, code & 255]))), { events: [`close:${code}:`] });
  // After a refusal the parser takes nothing more.
  const parser = new FrameParser({ maxFrameBytes: 10, maxMessageBytes: 10 });
  const sink = new Recorder();
  assert.throws(() => parser.push(new Uint8Array([0x81, 0x01, 0x41]), sink), WebSocketError);
  parser.push(clientFrame(0x81, utf8('x')), sink);
  assert.deepEqual(sink.events, []);
});

test('frame encoder: the 7-, 16- and 64-bit length forms, unmasked', () => {
  assert.deepEqual([...encodeFrame(0x1, utf8('hi'))], [0x81, 2, 0x68, 0x69]);
  const medium = encodeFrame(0x2, new Uint8Array(300));
  assert.deepEqual([...medium.subarray(0, 4)], [0x82, 126, 1, 44]);
  assert.equal(medium.length, 304);
  const large = encodeFrame(0x2, new Uint8Array(70_000));
  assert.deepEqual([...large.subarray(0, 10)], [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
});

test('SSE format: fields, data split at CRLF, CR and LF, JSON and bytes, invalid fields refused', () => {
  assert.equal(formatEvent('hi'), 'data: hi\n\n');
  assert.equal(formatEvent('a\r\nb\rc\nd', { event: 'tick', id: '9', retry: 2000 }), 'event: tick\nid: 9\nretry: 2000\ndata: a\ndata: b\ndata: c\ndata: d\n\n');
  assert.equal(formatEvent({ uptime: 5, list: [1] }), 'data: {"uptime":5,"list":[1]}\n\n');
  assert.equal(formatEvent(utf8('bytes ✓')), 'data: bytes ✓\n\n');
  assert.equal(formatEvent(''), 'data: \n\n');
  assert.throws(() => formatEvent('x', { event: 'a\nb' }), TypeError);
  assert.throws(() => formatEvent('x', { id: 'a\rb' }), TypeError);
  assert.throws(() => formatEvent('x', { id: 'a\0b' }), TypeError);
  assert.throws(() => formatEvent('x', { retry: -1 }), RangeError);
  assert.throws(() => formatEvent('x', { retry: 1.5 }), RangeError);
});

/** A taken-over connection without a socket: the test decides when bytes leave and when the timer fires. */
class FakeChannel implements Channel {
  readonly remoteAddress = '192.0.2.1';
  /** Bytes the "socket" took, as text. */
  written = '';
  pending: Uint8Array[] = [];
  timeout = 0;
  closed = false;
  /** How many bytes the socket takes at once (0: it is stalled). */
  window = Infinity;
  readonly onDrained: () => void;
  readonly onClose: () => void;
  constructor(onDrained: () => void, onClose: () => void) {
    this.onDrained = onDrained;
    this.onClose = onClose;
  }

  send(bytes: Uint8Array): void {
    if (this.closed) return;
    this.pending.push(bytes);
    this.drain();
  }

  get queued(): number {
    return this.pending.reduce((n, piece) => n + piece.length, 0);
  }

  armTimeout(ms: number): void {
    this.timeout = ms;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.onClose();
  }

  /** The socket takes what its window allows; when everything is gone, the protocol hears of it. */
  drain(): void {
    let moved = false;
    while (this.pending.length > 0 && this.window > 0) {
      const piece = this.pending.shift() as Uint8Array;
      this.written += Array.from(piece, (b) => String.fromCharCode(b)).join('');
      moved = true;
    }
    if (moved && this.pending.length === 0) this.onDrained();
  }
}

function startStream(options = {}): { sse: EventStream; channel: FakeChannel } {
  let sse: EventStream | undefined;
  const response = eventStream((stream) => { sse = stream; }, { heartbeat: 1000, maxQueuedEvents: 2, ...options });
  const protocol = response.protocol as EventStream;
  const channel = new FakeChannel(() => protocol.onDrained(), () => protocol.onClose());
  protocol.start(channel);
  return { sse: sse as EventStream, channel };
}

test('SSE stream: a slow client loses the oldest queued events (counted), keeps the newest', async () => {
  const { sse, channel } = startStream();
  channel.window = 0;
  for (let i = 0; i < 6; i++) assert.equal(sse.send(String(i)), true);
  // 0 is with the socket; 1..5 competed for 2 places: 4 and 5 wait, 1, 2, 3 were dropped.
  assert.equal(sse.dropped, 3);
  channel.window = Infinity;
  channel.drain();
  assert.equal(channel.written, 'data: 0\n\ndata: 4\n\ndata: 5\n\n');
  assert.throws(() => sse.send('x'.repeat(2000)), /maxEventBytes \(1024\)/);
  const closed = sse.closed;
  sse.close();
  assert.equal(channel.closed, true);
  await closed;
  assert.equal(sse.send('late'), false);
});

test('SSE stream: heartbeats while idle; a client that takes nothing for sendTimeout is closed at a heartbeat', () => {
  const { sse, channel } = startStream({ sendTimeout: 1 });
  assert.equal(channel.timeout, 1000);
  sse.onTimeout();
  assert.equal(channel.written, ':\n\n');
  channel.window = 0;
  sse.send('stuck');
  const start = runtime().monotonic();
  while (runtime().monotonic() - start < 3) { /* let 1 ms pass */ }
  sse.onTimeout();
  assert.equal(channel.closed, true);
  assert.equal(sse.isClosed, true);
});

test('SSE stream: an iterable source is pulled one event at a time, then the stream ends', async () => {
  const response = eventStream((function* () {
    yield 'a';
    yield { data: 'b', event: 'x' };
  })());
  const protocol = response.protocol as EventStream;
  const channel = new FakeChannel(() => protocol.onDrained(), () => protocol.onClose());
  protocol.start(channel);
  await protocol.closed;
  assert.equal(channel.written, 'data: a\n\nevent: x\ndata: b\n\n');
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
});

function upgradeRequest(extra = ''): Request {
  const parser = new RequestParser(resolveLimits());
  parser.push(utf8(`GET /ws HTTP/1.1\r\nHost: device.local\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`));
  const parsed = parser.next();
  assert.ok(parsed !== undefined);
  return new Request(parsed.head, parsed.body, '192.0.2.1', resolveLimits());
}

function startSocket(handler: (ws: WebSocket) => unknown, options = {}): { ws: WebSocket; channel: FakeChannel; frames: () => number[][] } {
  const response = acceptWebSocket(upgradeRequest('Origin: http://device.local\r\n'), handler, { idleTimeout: 1000, maxBufferedBytes: 64, ...options });
  assert.equal(response.status, 101);
  const ws = response.protocol as WebSocket;
  const channel = new FakeChannel(() => ws.onDrained(), () => ws.onClose());
  ws.start(channel);
  const frames = () => {
    const out: number[][] = [];
    const bytes = Array.from(channel.written, (c) => c.charCodeAt(0));
    for (let at = 0; at < bytes.length;) {
      const length = bytes[at + 1] & 0x7f;
      out.push(bytes.slice(at, at + 2 + length));
      at += 2 + length;
    }
    return out;
  };
  return { ws, channel, frames };
}

test('WebSocket: the handshake refusals (426, 400, 403) as HttpErrors', () => {
  const status = (request: Request, options = {}) => {
    try {
      acceptWebSocket(request, () => undefined, options);
      return 101;
    } catch (error) {
      assert.ok(error instanceof HttpError);
      return error.status;
    }
  };
  assert.equal(status(upgradeRequest()), 101);
  assert.equal(status(upgradeRequest('Origin: http://device.local:80\r\n')), 101);
  assert.equal(status(upgradeRequest('Origin: http://evil.example\r\n')), 403);
  assert.equal(status(upgradeRequest('Origin: https://device.local\r\n')), 403);
  assert.equal(status(upgradeRequest('Origin: https://device.local\r\n'), { scheme: 'https' }), 101);
  assert.equal(status(upgradeRequest('Origin: http://app.example\r\n'), { origins: ['http://app.example'] }), 101);
  assert.equal(status(upgradeRequest('Origin: http://device.local, http://evil.example\r\n')), 403);
  assert.throws(() => acceptWebSocket(upgradeRequest(), () => undefined, { maxFrameBytes: 0 }), RangeError);
});

test('WebSocket: auto-pong, the client\'s close echoed, receive() then rejects with its code', async () => {
  let socket: WebSocket | undefined;
  const { ws, channel, frames } = startSocket((s) => { socket = s; });
  assert.equal(socket, ws);
  assert.equal(ws.readyState, OPEN);
  ws.onData(clientFrame(0x89, utf8('hi')));
  ws.onData(clientFrame(0x81, utf8('one')));
  assert.equal(await ws.receive(), 'one');
  const pending = ws.receive();
  ws.onData(clientFrame(0x88, new Uint8Array([0x0f, 0xa0])));
  await assert.rejects(pending, (error: unknown) => error instanceof WebSocketError && error.code === 4000);
  assert.deepEqual(frames(), [[0x8a, 2, 0x68, 0x69], [0x88, 2, 0x0f, 0xa0]]);
  assert.equal(channel.closed, true);
  assert.equal(ws.readyState, CLOSED);
  assert.equal(ws.send('late'), false);
});

test('WebSocket: idle — a ping after one period of silence, close 1001 after two; bounded send queue', () => {
  const { ws, channel, frames } = startSocket(() => undefined);
  ws.onTimeout();
  assert.deepEqual(frames(), [[0x89, 0]]);
  ws.onData(clientFrame(0x8a, new Uint8Array(0)));
  ws.onTimeout();
  assert.equal(frames().length, 1, 'heard from the client: no ping');
  ws.onTimeout();
  assert.equal(frames().length, 2);
  ws.onTimeout();
  assert.deepEqual(frames()[2].slice(0, 4), [0x88, 6, 0x03, 0xe9]);
  assert.equal(channel.closed, true);

  const stalled = startSocket(() => undefined);
  stalled.channel.window = 0;
  stalled.ws.send('x'.repeat(40));
  assert.throws(() => stalled.ws.send('y'.repeat(40)), /maxBufferedBytes \(64\)/);
  assert.equal(stalled.ws.bufferedAmount, 42);
});

test('WebSocket: a handler that returns closes with 1000, one that throws with 1011', async () => {
  const done = startSocket(async () => undefined);
  await null;
  await null;
  assert.deepEqual(done.frames(), [[0x88, 2, 0x03, 0xe8]]);
  const failed = startSocket(() => {
    throw new Error('handler bug');
  });
  assert.deepEqual(failed.frames(), [[0x88, 2, 0x03, 0xf3]]);
  // The client's answer completes the handshake.
  failed.ws.onData(clientFrame(0x88, new Uint8Array([0x03, 0xf3])));
  assert.equal(failed.channel.closed, true);
});
