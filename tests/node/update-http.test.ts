/**
 * The login app's firmware update page (app/update.ts) through real HTTP on Node: a signed-in upload of
 * an image larger than maxBody, streamed in multipart pieces, lands atomically at the firmware path only
 * when its SHA-256 matches; a wrong hash, a missing or wrong token, a cross-origin post, an oversized
 * image, a signed-out user and a client leaving mid-upload leave the previous image in place and no
 * temporary file behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../main';
import { installRuntime } from '../../modules/runtime';
import { createNodeRuntime, MemoryStore } from '../../hosts/node/runtime';
import { serve } from '../../hosts/node/serve';
import { RawClient } from '../integration/client';
import { waitFor } from './helpers';

const PASSWORD = 'correct horse battery staple';

interface Device {
  port: number;
  dir: string;
  firmware: string;
  cookie: string;
  token: string;
  close(): void;
}

async function device(maxFirmwareBytes = 64 * 1024): Promise<Device> {
  const dir = mkdtempSync(join(tmpdir(), 'xsdot-update-'));
  const firmware = join(dir, 'firmware.bin');
  writeFileSync(firmware, 'OLD IMAGE');
  const logs: string[] = [];
  const runtime = createNodeRuntime({ store: new MemoryStore(), firmwarePath: firmware, log: (_level, message) => void logs.push(message) });
  installRuntime(runtime);
  const app = createApp({ deviceName: 'update test', iterations: 2, maxFirmwareBytes });
  const running = await serve(app, { port: 0, address: '127.0.0.1', runtime, announce: false, limits: { maxBody: 4096, requestTimeout: 2_000 } });
  const base = `http://127.0.0.1:${running.port}`;
  const code = /setup code: (\S+)/.exec(logs.join('\n'))?.[1] as string;
  // Setup, then sign in, as a browser: cookies and form tokens.
  let cookie = '';
  const jar = (response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0];
      const name = pair.slice(0, pair.indexOf('='));
      cookie = [...cookie.split('; ').filter((c) => c !== '' && !c.startsWith(`${name}=`)), pair].join('; ');
    }
  };
  const get = async (path: string) => {
    const response = await fetch(base + path, { headers: { Cookie: cookie }, redirect: 'manual' });
    jar(response);
    return response.text();
  };
  const post = async (path: string, form: Record<string, string>) => {
    const response = await fetch(base + path, { method: 'POST', body: new URLSearchParams(form), headers: { Cookie: cookie, Origin: base }, redirect: 'manual' });
    jar(response);
    return response;
  };
  const tokenOf = (html: string) => /name="csrf_token" value="([^"]+)"/.exec(html)?.[1] ?? '';
  let token = tokenOf(await get('/setup'));
  await post('/setup', { csrf_token: token, code, password: PASSWORD, confirm: PASSWORD });
  token = tokenOf(await get('/login'));
  assert.equal((await post('/login', { csrf_token: token, username: 'admin', password: PASSWORD })).status, 303);
  token = tokenOf(await get('/update'));
  assert.notEqual(token, '');
  return { port: running.port, dir, firmware, cookie, token, close: () => { running.close(); rmSync(dir, { recursive: true, force: true }); } };
}

function image(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + 7) & 0xff;
  return bytes;
}

async function upload(d: Device, fields: [string, string | Buffer][], headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const form = new FormData();
  for (const [name, value] of fields) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new Blob([new Uint8Array(value)]), 'fw.bin');
  }
  const response = await fetch(`http://127.0.0.1:${d.port}/update`, { method: 'POST', body: form, headers: { Cookie: d.cookie, Origin: `http://127.0.0.1:${d.port}`, ...headers }, redirect: 'manual' });
  return { status: response.status, text: await response.text() };
}

function untouched(d: Device): void {
  assert.equal(readFileSync(d.firmware, 'utf8'), 'OLD IMAGE');
  assert.deepEqual(readdirSync(d.dir).filter((name) => name.endsWith('.tmp')), [], 'no temporary file left');
}

test('an image with its SHA-256 is accepted and replaces the old one; the page needs a session', async () => {
  const d = await device();
  try {
    const bytes = image(50_000);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const accepted = await upload(d, [['csrf_token', d.token], ['sha256', sha.toUpperCase()], ['image', bytes]]);
    assert.equal(accepted.status, 200, accepted.text);
    assert.match(accepted.text, /Image of 50000 bytes accepted/);
    assert.deepEqual(readFileSync(d.firmware), bytes);
    assert.deepEqual(readdirSync(d.dir).filter((name) => name.endsWith('.tmp')), []);
    const signedOut = await fetch(`http://127.0.0.1:${d.port}/update`, { redirect: 'manual' });
    assert.equal(signedOut.status, 303);
  } finally {
    d.close();
  }
});

test('a wrong hash, a bad token, a cross-origin post, an oversized image or no session leave the firmware untouched', async () => {
  const d = await device();
  try {
    const bytes = image(20_000);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const wrong = await upload(d, [['csrf_token', d.token], ['sha256', 'ab'.repeat(32)], ['image', bytes]]);
    assert.equal(wrong.status, 422);
    assert.match(wrong.text, /does not match/);
    untouched(d);
    assert.equal((await upload(d, [['csrf_token', 'x'.repeat(43)], ['sha256', sha], ['image', bytes]])).status, 403);
    assert.equal((await upload(d, [['sha256', sha], ['image', bytes], ['csrf_token', d.token]])).status, 403, 'the token must come before the image');
    assert.equal((await upload(d, [['csrf_token', d.token], ['image', bytes], ['sha256', sha]])).status, 400, 'the hash must come before the image');
    assert.equal((await upload(d, [['csrf_token', d.token], ['sha256', sha], ['image', bytes]], { Origin: 'http://evil.example' })).status, 403);
    assert.equal((await upload(d, [['csrf_token', d.token], ['sha256', sha], ['image', image(64 * 1024 + 1)]])).status, 413);
    assert.equal((await upload(d, [['csrf_token', d.token], ['sha256', sha], ['image', bytes]], { Cookie: '' })).status, 303);
    untouched(d);
  } finally {
    d.close();
  }
});

test('a client leaving mid-upload: the update is cancelled, nothing is left behind', async () => {
  const d = await device();
  try {
    const boundary = 'xsdotBoundary42';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n${d.token}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="sha256"\r\n\r\n${'00'.repeat(32)}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="fw.bin"\r\n\r\n`;
    const client = await RawClient.connect(d.port);
    await client.write(`POST /update HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nOrigin: http://127.0.0.1:${d.port}\r\nCookie: ${d.cookie}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 60000\r\n\r\n${head}`);
    await client.write(image(20_000));
    await waitFor(() => readdirSync(d.dir).some((name) => name.endsWith('.tmp')), 5_000, 'the temporary image');
    client.destroy();
    await waitFor(() => !readdirSync(d.dir).some((name) => name.endsWith('.tmp')), 5_000, 'the temporary image to go');
    untouched(d);
    assert.ok(existsSync(d.firmware));
  } finally {
    d.close();
  }
});
