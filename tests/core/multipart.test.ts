/**
 * The streaming multipart/form-data parser (modules/http/multipart.ts), on Node and XS: the browser's
 * shape, each limit's status, malformed bodies, and properties (fast-check): a generated form parses to
 * exactly its fields and files however the body is split; any bytes give an HttpError 400/413 or a
 * result, never another throw; a failed parse always aborts the open sink and never closes it.
 */
import '../support/install-host';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { latin1Bytes } from '../../modules/http/bytes';
import { HttpError } from '../../modules/http/errors';
import { MultipartParser, multipartBoundary, type FilePart, type FileSink, type MultipartLimits } from '../../modules/http/multipart';
import { runtime } from '../../modules/runtime';
import { fuzzRuns, fuzzSeed, Tally } from '../support/fuzz';

const tally = new Tally('Multipart parser fuzzing');
after(() => tally.print());

interface Received {
  part: FilePart;
  bytes: number[];
  state: 'open' | 'closed' | 'aborted';
}

function recorder(files: Received[]): (part: FilePart) => FileSink {
  return (part) => {
    const received: Received = { part, bytes: [], state: 'open' };
    files.push(received);
    return {
      write(chunk) {
        assert.equal(received.state, 'open');
        for (const byte of chunk) received.bytes.push(byte);
      },
      close() { received.state = 'closed'; },
      abort() { received.state = 'aborted'; },
    };
  };
}

function parse(body: Uint8Array, boundary: string, cuts: number[] = [], limits: Partial<MultipartLimits> = {}) {
  const files: Received[] = [];
  const parser = new MultipartParser(boundary, { limits, file: recorder(files) });
  const points = [0, ...cuts.filter((cut) => cut > 0 && cut < body.length).sort((a, b) => a - b), body.length];
  for (let i = 0; i + 1 < points.length; i++) parser.write(body.slice(points[i], points[i + 1]));
  const fields = parser.end();
  return { fields: [...fields], files };
}

function statusOf(run: () => unknown): number {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof HttpError, `expected HttpError, got ${String(error)}`);
    return error.status;
  }
  return 0;
}

const B = '----WebKitFormBoundaryx7yZ';
const CHROME_BODY = `--${B}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\ntok123\r\n` +
  `--${B}\r\nContent-Disposition: form-data; name="image"; filename="fw.bin"\r\nContent-Type: application/octet-stream\r\n\r\n` +
  `\r\n--${B.slice(0, 10)}\r\r\n-\x00\xff` +
  `\r\n--${B}\r\nContent-Disposition: form-data; name="sha256"\r\n\r\nabcd\r\n--${B}--\r\n`;

test('multipartBoundary: the parameter, quoted or not; anything else is 400', () => {
  assert.equal(multipartBoundary(`multipart/form-data; boundary=${B}`), B);
  assert.equal(multipartBoundary('Multipart/Form-Data;boundary="a b:c"'), 'a b:c');
  for (const bad of [undefined, 'text/plain', 'multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="a "', `multipart/form-data; boundary=${'x'.repeat(71)}`]) {
    assert.equal(statusOf(() => multipartBoundary(bad)), 400, String(bad));
  }
});

test('a browser body: fields collected, the file delivered whole, with delimiter look-alikes inside', () => {
  const body = latin1Bytes(CHROME_BODY);
  for (const cuts of [[], [1], [50, 51, 52], Array.from({ length: body.length }, (_, i) => i)]) {
    const { fields, files } = parse(body, B, cuts);
    assert.deepEqual(fields, [['csrf', 'tok123'], ['sha256', 'abcd']]);
    assert.equal(files.length, 1);
    assert.deepEqual(files[0].part, { name: 'image', filename: 'fw.bin', contentType: 'application/octet-stream' });
    assert.equal(files[0].state, 'closed');
    assert.deepEqual(files[0].bytes, [...latin1Bytes(`\r\n--${B.slice(0, 10)}\r\r\n-\x00\xff`)]);
  }
});

test('limits: parts, part header, field and file size are 413; the open file is aborted', () => {
  const body = latin1Bytes(CHROME_BODY);
  assert.equal(statusOf(() => parse(body, B, [], { maxParts: 2 })), 413);
  assert.equal(statusOf(() => parse(body, B, [], { maxPartHeaderBytes: 60 })), 413);
  assert.equal(statusOf(() => parse(body, B, [], { maxFieldBytes: 5 })), 413);
  assert.equal(statusOf(() => parse(body, B, [], { maxFieldBytes: 6, maxFileBytes: 20 })), 0);
  const files: Received[] = [];
  const parser = new MultipartParser(B, { limits: { maxFileBytes: 19 }, file: recorder(files) });
  assert.equal(statusOf(() => parser.write(body)), 413);
  assert.equal(files[0].state, 'aborted');
  assert.equal(statusOf(() => parser.end()), 400);
});

test('malformed bodies are 400; a body cut short aborts the file', () => {
  const cases = [
    `--${B}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${B}--`,
    `--${B}\r\nContent-Disposition: attachment; name="a"\r\n\r\nx\r\n--${B}--`,
    `--${B}\r\nContent-Disposition form-data; name="a"\r\n\r\nx\r\n--${B}--`,
    `--${B}\r\nContent-Disposition: form-data; name="a"\n\r\nx\r\n--${B}--`,
    `--${B}x\r\n`,
    `--${B}\r\nContent-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"\r\n\r\nx\r\n--${B}--`,
  ];
  for (const text of cases) assert.equal(statusOf(() => parse(latin1Bytes(text), B)), 400, JSON.stringify(text));
  const files: Received[] = [];
  const parser = new MultipartParser(B, { file: recorder(files) });
  parser.write(latin1Bytes(CHROME_BODY.slice(0, 250)));
  assert.equal(files[0].state, 'open');
  assert.equal(statusOf(() => parser.end()), 400);
  assert.equal(files[0].state, 'aborted');
  // No file handler: a file part is 400.
  assert.equal(statusOf(() => new MultipartParser(B).write(latin1Bytes(CHROME_BODY))), 400);
});

test('a preamble and an epilogue are ignored; an empty form has no fields', () => {
  const { fields } = parse(latin1Bytes(`ignored\r\n--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\n\r\n--${B}--\r\nepilogue`), B);
  assert.deepEqual(fields, [['a', '']]);
  assert.deepEqual(parse(latin1Bytes(`--${B}--\r\n`), B).fields, []);
});

// Properties.

const boundaryArb = fc.stringMatching(/^[0-9A-Za-z'()+_,\-./:=?]{1,70}$/);
const nameArb = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
const partArb = fc.oneof(
  fc.record({ name: nameArb, text: fc.string({ maxLength: 40 }) }),
  fc.record({ name: nameArb, filename: fc.stringMatching(/^[a-z0-9.]{1,12}$/), data: fc.uint8Array({ maxLength: 300 }) }),
);
type Part = { name: string; text: string } | { name: string; filename: string; data: Uint8Array };

function serialize(parts: readonly Part[], boundary: string): Uint8Array {
  const pieces: Uint8Array[] = [];
  const text = (s: string) => pieces.push(latin1Bytes(s));
  for (const part of parts) {
    text(`--${boundary}\r\n`);
    if ('text' in part) {
      text(`Content-Disposition: form-data; name="${part.name}"\r\n\r\n`);
      pieces.push(runtime().utf8Encode(part.text));
    } else {
      text(`Content-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: Application/Octet-Stream\r\n\r\n`);
      pieces.push(part.data);
    }
    text('\r\n');
  }
  text(`--${boundary}--\r\n`);
  let length = 0;
  for (const piece of pieces) length += piece.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) { out.set(piece, at); at += piece.length; }
  return out;
}

test('property: a generated form parses to exactly its parts, however it is split', () => {
  const row = tally.row('model: generated form, random splits');
  fc.assert(fc.property(boundaryArb, fc.array(partArb, { maxLength: 6 }), fc.array(fc.nat(3000), { maxLength: 12 }), (boundary, parts, cuts) => {
    row.tried++;
    const body = serialize(parts, boundary);
    const { fields, files } = parse(body, boundary, cuts, { maxParts: 6, maxFieldBytes: 200, maxFileBytes: 300 });
    const wantFields = parts.filter((part) => 'text' in part).map((part) => [part.name, runtime().utf8Decode(runtime().utf8Encode((part as { text: string }).text))]);
    assert.deepEqual(fields, wantFields);
    const wantFiles = parts.filter((part) => 'data' in part) as { name: string; filename: string; data: Uint8Array }[];
    assert.equal(files.length, wantFiles.length);
    files.forEach((file, i) => {
      assert.equal(file.state, 'closed');
      assert.equal(file.part.filename, wantFiles[i].filename);
      assert.equal(file.part.contentType, 'application/octet-stream');
      assert.deepEqual(file.bytes, [...wantFiles[i].data]);
    });
    row.accepted++;
  }), { numRuns: fuzzRuns(300, 40), seed: fuzzSeed() });
});

test('property: mutated bodies and tight limits give a result or HttpError 400/413, never another throw; a failure aborts the open file', () => {
  const row = tally.row('robustness: mutated bodies, random limits');
  const mutation = fc.record({ at: fc.nat(4000), remove: fc.nat(8), insert: fc.uint8Array({ maxLength: 8 }) });
  const limitsArb = fc.record({ maxParts: fc.integer({ min: 1, max: 8 }), maxPartHeaderBytes: fc.integer({ min: 1, max: 200 }), maxFieldBytes: fc.integer({ min: 1, max: 64 }), maxFileBytes: fc.integer({ min: 1, max: 400 }) });
  fc.assert(fc.property(boundaryArb, fc.array(partArb, { maxLength: 5 }), fc.array(mutation, { maxLength: 3 }), fc.array(fc.nat(3000), { maxLength: 8 }), limitsArb, (boundary, parts, mutations, cuts, limits) => {
    row.tried++;
    let bytes = [...serialize(parts, boundary)];
    for (const m of mutations) bytes.splice(m.at % (bytes.length + 1), m.remove, ...m.insert);
    const files: Received[] = [];
    const parser = new MultipartParser(boundary, { limits, file: recorder(files) });
    const body = Uint8Array.from(bytes);
    const points = [0, ...cuts.filter((cut) => cut < body.length).sort((a, b) => a - b), body.length];
    try {
      for (let i = 0; i + 1 < points.length; i++) parser.write(body.slice(points[i], points[i + 1]));
      parser.end();
      row.accepted++;
      tally.saw('parsed');
      for (const file of files) assert.equal(file.state, 'closed');
    } catch (error) {
      if (!(error instanceof HttpError) || (error.status !== 400 && error.status !== 413)) {
        row.crashes++;
        throw error;
      }
      row.rejected++;
      tally.saw(error.status);
      // Every file before the failing one closed with its delimiter; the last one, if open, aborted.
      for (const file of files) assert.notEqual(file.state, 'open');
      if (files.length > 0 && !parser.done) assert.ok(files.slice(0, -1).every((file) => file.state === 'closed'));
    }
    bytes = [];
  }), { numRuns: fuzzRuns(500, 60), seed: fuzzSeed() });
});
