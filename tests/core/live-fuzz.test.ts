/**
 * Property-based tests (fast-check) of the WebSocket frame parser (modules/live/frames.ts), on Node and XS.
 *
 * - Model: generated messages (text or binary, cut into fragments with control frames between them,
 *   random masks) encoded as client frames and fed in random pieces come out as exactly those
 *   messages and control frames, in order.
 * - Limits: a message or frame over its bound by k bytes is refused with 1009 from its header, whatever
 *   the split, after exactly the messages before it.
 * - Robustness: mutated frame streams and random bytes only ever end in a WebSocketError of 1002, 1007
 *   or 1009 (never another exception); each message delivered is within the limits and a text one is
 *   valid UTF-8; and the outcome is the same whole or in any split (the parser is incremental).
 *
 * Cases: FUZZ_RUNS per property when set (`npm run test:fuzz`), else a sample; a smaller one on XS.
 */
import '../support/install-host';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runtime } from '../../modules/runtime';
import { FrameParser, isValidUtf8, WebSocketError, type FrameLimits, type FrameSink } from '../../modules/live/frames';
import { fuzzRuns, fuzzSeed, Tally } from '../support/fuzz';

const tally = new Tally('WebSocket frame parser fuzzing');
after(() => tally.print());

function params(runs: number): fc.Parameters<unknown> {
  const seed = fuzzSeed();
  return seed === undefined ? { numRuns: runs } : { numRuns: runs, seed };
}

const LIMITS: FrameLimits = { maxFrameBytes: 200, maxMessageBytes: 500 };

/** What the parser produced: one string per message or control frame, then how it ended. */
interface Outcome {
  events: string[];
  error?: number;
}

class Recorder implements FrameSink {
  readonly events: string[] = [];
  readonly limits: FrameLimits;
  constructor(limits: FrameLimits) {
    this.limits = limits;
  }
  onMessage(text: boolean, payload: Uint8Array): void {
    if (payload.length > this.limits.maxMessageBytes) throw new Error(`message of ${payload.length} bytes over the limit`);
    if (text && !isValidUtf8(payload)) throw new Error('text message that is not UTF-8');
    this.events.push(`${text ? 'T' : 'B'}${hex(payload)}`);
  }
  onPing(payload: Uint8Array): void { this.events.push(`ping${hex(payload)}`); }
  onPong(payload: Uint8Array): void { this.events.push(`pong${hex(payload)}`); }
  onCloseFrame(code: number, reason: Uint8Array): void { this.events.push(`close${code}${hex(reason)}`); }
}

function hex(bytes: Uint8Array): string {
  let out = ':';
  for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16);
  return out;
}

/** Feeds `bytes` cut at `cuts` (fractions); any exception but a WebSocketError propagates. */
function run(bytes: Uint8Array, cuts: number[], limits = LIMITS): Outcome {
  const parser = new FrameParser(limits);
  const sink = new Recorder(limits);
  const points = [...new Set(cuts.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  let from = 0;
  try {
    for (const point of [...points, bytes.length]) {
      if (point <= from) continue;
      parser.push(bytes.subarray(from, point), sink);
      from = point;
    }
  } catch (error) {
    if (!(error instanceof WebSocketError)) throw error;
    return { events: sink.events, error: error.code };
  }
  return { events: sink.events };
}

function frame(first: number, payload: Uint8Array, mask: number[]): number[] {
  const n = payload.length;
  const head = n < 126 ? [first, 0x80 | n] : n < 65536 ? [first, 0x80 | 126, n >> 8, n & 255] : [first, 0x80 | 127, 0, 0, 0, 0, n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  const out = [...head, ...mask];
  for (let i = 0; i < n; i++) out.push(payload[i] ^ mask[i & 3]);
  return out;
}

const mask = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });
const control = fc.record({
  opcode: fc.constantFrom(0x9, 0xa),
  payload: fc.uint8Array({ maxLength: 125 }),
  mask,
});
const message = fc.record({
  text: fc.boolean(),
  body: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 120 }), fc.string({ maxLength: 300 })),
  binary: fc.uint8Array({ maxLength: 480 }),
  /** Where the message is cut into fragments (fractions), and the controls between them. */
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
  controls: fc.array(control, { maxLength: 3 }),
  masks: fc.array(mask, { minLength: 6, maxLength: 6 }),
});

type GeneratedMessage = typeof message extends fc.Arbitrary<infer T> ? T : never;

interface Encoded {
  bytes: number[];
  events: string[];
}

/** A message as client frames (fragments at most maxFrameBytes, controls interleaved) and the events it must give. */
function encode(m: GeneratedMessage): Encoded | undefined {
  const payload = m.text ? runtime().utf8Encode(m.body) : m.binary;
  if (payload.length > LIMITS.maxMessageBytes) return undefined;
  const points = [...new Set([...m.cuts.map((f) => Math.floor(f * payload.length)), payload.length])].sort((a, b) => a - b);
  // Fragments no larger than a frame may be.
  const bounds: number[] = [];
  let last = 0;
  for (const point of points) {
    while (point - last > LIMITS.maxFrameBytes) bounds.push((last += LIMITS.maxFrameBytes));
    if (point > last || point === 0) bounds.push((last = point));
  }
  const bytes: number[] = [];
  const events: string[] = [];
  let from = 0;
  bounds.forEach((to, i) => {
    const first = (i === bounds.length - 1 ? 0x80 : 0) | (i === 0 ? (m.text ? 1 : 2) : 0);
    bytes.push(...frame(first, payload.subarray(from, to), m.masks[i % m.masks.length]));
    from = to;
    const c = m.controls[i];
    if (c !== undefined && i < bounds.length - 1) {
      bytes.push(...frame(0x80 | c.opcode, c.payload, c.mask));
      events.push(`${c.opcode === 0x9 ? 'ping' : 'pong'}${hex(c.payload)}`);
    }
  });
  events.push(`${m.text ? 'T' : 'B'}${hex(payload)}`);
  return { bytes, events };
}

describe('WebSocket frame parser (fast-check)', () => {
  test('model: generated messages in fragments with controls between, any split, come out exactly', () => {
    fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), cuts, (messages, split) => {
      const row = tally.row('model round trip');
      row.tried++;
      const all: Encoded = { bytes: [], events: [] };
      for (const m of messages) {
        const encoded = encode(m);
        if (encoded === undefined) continue;
        all.bytes.push(...encoded.bytes);
        all.events.push(...encoded.events);
      }
      const outcome = run(new Uint8Array(all.bytes), split);
      assert.deepEqual(outcome, { events: all.events });
      row.accepted++;
    }), params(fuzzRuns(300, 60)));
  });

  test('limits: a frame or message over its bound by k bytes is 1009, after the messages before it', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 70_000 }), fc.boolean(), mask, cuts, (k, wholeFrame, m, split) => {
      const row = tally.row('over a limit');
      row.tried++;
      const before = frame(0x81, runtime().utf8Encode('ok'), m);
      // Only the header and a few payload bytes are sent: the refusal comes from the header.
      const over = wholeFrame
        ? frame(0x82, new Uint8Array(LIMITS.maxFrameBytes + k), m).slice(0, 14)
        : [...frame(0x02, new Uint8Array(LIMITS.maxFrameBytes), m), ...frame(0x00, new Uint8Array(LIMITS.maxFrameBytes), m), ...frame(0x80, new Uint8Array(LIMITS.maxMessageBytes - 2 * LIMITS.maxFrameBytes + Math.min(k, LIMITS.maxFrameBytes - 100)), m).slice(0, 8)];
      const outcome = run(new Uint8Array([...before, ...over]), split);
      assert.deepEqual(outcome, { events: [`T${hex(runtime().utf8Encode('ok'))}`], error: 1009 });
      row.rejected++;
      tally.saw(1009);
    }), params(fuzzRuns(300, 60)));
  });

  const robust = (name: string, bytes: Uint8Array, split: number[]) => {
    const row = tally.row(name);
    row.tried++;
    let whole: Outcome;
    let pieces: Outcome;
    try {
      whole = run(bytes, []);
      pieces = run(bytes, split);
    } catch (error) {
      row.crashes++;
      throw error;
    }
    // Incremental: the split never changes what comes out (a stream cut short just waits for more).
    assert.deepEqual(pieces, whole);
    if (whole.error !== undefined) {
      assert.ok([1002, 1007, 1009].includes(whole.error), `close code ${whole.error}`);
      row.rejected++;
      tally.saw(whole.error);
    } else if (whole.events.length > 0) row.accepted++;
    else row.pending++;
  };

  test('robustness: mutated frame streams', () => {
    const mutated = fc.tuple(fc.array(message, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }))
      .map(([messages, flips]) => {
        const bytes: number[] = [];
        for (const m of messages) bytes.push(...(encode(m)?.bytes ?? []));
        for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
        return new Uint8Array(bytes);
      });
    fc.assert(fc.property(mutated, cuts, (bytes, split) => robust('mutated frames', bytes, split)), params(fuzzRuns(300, 60)));
  });

  test('robustness: random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), cuts, (bytes, split) => robust('random bytes', bytes, split)), params(fuzzRuns(300, 60)));
  });
});
