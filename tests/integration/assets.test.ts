/**
 * The login app's static stylesheet and firmware update page over real HTTP, on whichever host
 * XSDOT_TARGET names: on Node from app/static and a file in the data directory, on x-cli-lin from the
 * resources built into the executable (scripts/assets.ts) and a file in its file root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser } from './client';
import { withTarget } from './harness';
import { ON_MODDABLE, REQUEST_MS, TARGET } from './targets';

const T = { timeout: ON_MODDABLE ? 120_000 : 60_000 };
const PASSWORD = 'correct horse battery';
const STYLE = readFileSync(new URL('../../app/static/style.css', import.meta.url), 'utf8');

test(`${TARGET}: the stylesheet is a static file with an ETag, revalidated with 304, before setup too`, T, () => withTarget({}, async (target) => {
  const css = await fetch(`${target.url}/static/style.css`, { signal: AbortSignal.timeout(REQUEST_MS) });
  assert.equal(css.status, 200);
  assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal(css.headers.get('cache-control'), 'no-cache');
  // fetch takes gzip and decodes it: the same text from the folder, or from flash with a gzip variant.
  assert.equal(await css.text(), STYLE);
  const etag = css.headers.get('etag') ?? '';
  assert.match(etag, /^"[0-9a-f-]+"$/);
  const again = await fetch(`${target.url}/static/style.css`, { headers: { 'If-None-Match': etag }, signal: AbortSignal.timeout(REQUEST_MS) });
  assert.equal(again.status, 304);
  const plain = await fetch(`${target.url}/static/style.css`, { method: 'HEAD', headers: { 'Accept-Encoding': 'identity' }, signal: AbortSignal.timeout(REQUEST_MS) });
  assert.equal(plain.headers.get('content-length'), String(Buffer.byteLength(STYLE)));
  assert.equal((await fetch(`${target.url}/static/%2e%2e/main.ts`, { signal: AbortSignal.timeout(REQUEST_MS) })).status, 404);
}));

test(`${TARGET}: a firmware image is accepted only with its SHA-256, written atomically`, T, () => withTarget({}, async (target) => {
  const admin = new Browser(target.url, REQUEST_MS);
  await admin.get('/setup');
  assert.equal((await admin.post('/setup', { code: target.setupCode ?? '', password: PASSWORD, confirm: PASSWORD })).status, 303);
  assert.equal((await admin.signIn(PASSWORD)).status, 303);
  assert.equal((await admin.get('/update')).status, 200);
  const image = new Uint8Array(40_000).map((_, i) => (i * 13) & 0xff);
  const send = async (sha: string) => {
    const form = new FormData();
    form.append('csrf_token', admin.token);
    form.append('sha256', sha);
    form.append('image', new Blob([image]), 'fw.bin');
    const cookie = [...admin.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(`${target.url}/update`, { method: 'POST', body: form, headers: { Cookie: cookie, Origin: target.url }, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_MS * 4) });
    return { status: response.status, text: await response.text() };
  };
  const firmware = join(target.dataDir, 'firmware.bin');
  assert.equal((await send('00'.repeat(32))).status, 422);
  assert.ok(!existsSync(firmware), 'a wrong hash writes nothing in place');
  const accepted = await send(createHash('sha256').update(image).digest('hex'));
  assert.equal(accepted.status, 200, accepted.text);
  assert.deepEqual(new Uint8Array(readFileSync(firmware)), image);
}));
