/**
 * Static files from a directory on Node (hosts/node/static.ts) through real HTTP: bytes, ETag from size
 * and mtime, Last-Modified and If-Modified-Since, gzip variants, HEAD; and path traversal (fast-check):
 * requests built from dot segments, encoded separators, NUL, backslashes and symbolic links pointing out
 * of the root never read a byte outside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { App } from '../../modules/http/index';
import { staticFiles } from '../../modules/http/static';
import { directoryFiles } from '../../hosts/node/static';
import { fuzzRuns, fuzzSeed } from '../support/fuzz';
import { withServer } from './helpers';

function tree(): { root: string; outside: string; cleanup: () => void } {
  const top = mkdtempSync(join(tmpdir(), 'xsdot-static-'));
  const root = join(top, 'www');
  const outside = join(top, 'secret.txt');
  mkdirSync(join(root, 'css'), { recursive: true });
  writeFileSync(outside, 'SECRET');
  writeFileSync(join(root, 'index.html'), '<p>hi</p>');
  const css = 'a{b:c}'.repeat(1000);
  writeFileSync(join(root, 'css', 'site.css'), css);
  writeFileSync(join(root, 'css', 'site.css.gz'), gzipSync(css));
  utimesSync(join(root, 'index.html'), new Date(Date.UTC(2025, 5, 1)), new Date(Date.UTC(2025, 5, 1)));
  symlinkSync(outside, join(root, 'link.txt'));
  symlinkSync(top, join(root, 'up'));
  symlinkSync(join(root, 'index.html'), join(root, 'inside.html'));
  return { root, outside, cleanup: () => rmSync(top, { recursive: true, force: true }) };
}

function staticApp(root: string): App {
  const app = new App();
  app.get('/s/<path:name>', staticFiles(directoryFiles(root)));
  return app;
}

test('a directory: bytes, validators, 304s, gzip, HEAD and links', async () => {
  const { root, cleanup } = tree();
  try {
    await withServer(staticApp(root), {}, async (server) => {
      const base = `http://127.0.0.1:${server.port}/s`;
      const page = await fetch(`${base}/index.html`);
      assert.equal(page.status, 200);
      assert.equal(await page.text(), '<p>hi</p>');
      assert.equal(page.headers.get('etag'), `"9-${Date.UTC(2025, 5, 1).toString(16)}"`);
      assert.equal(page.headers.get('last-modified'), 'Sun, 01 Jun 2025 00:00:00 GMT');
      assert.equal((await fetch(`${base}/index.html`, { headers: { 'If-None-Match': page.headers.get('etag') as string } })).status, 304);
      assert.equal((await fetch(`${base}/index.html`, { headers: { 'If-Modified-Since': 'Sun, 01 Jun 2025 00:00:00 GMT' } })).status, 304);
      // fetch asks for gzip and decodes it: the bytes arrive whole either way.
      const css = await fetch(`${base}/css/site.css`);
      assert.equal(css.headers.get('content-encoding'), 'gzip');
      assert.equal(await css.text(), 'a{b:c}'.repeat(1000));
      const plain = await fetch(`${base}/css/site.css`, { headers: { 'Accept-Encoding': 'identity' } });
      assert.equal(plain.headers.get('content-length'), '6000');
      assert.equal((await plain.arrayBuffer()).byteLength, 6000);
      const head = await fetch(`${base}/css/site.css`, { method: 'HEAD', headers: { 'Accept-Encoding': 'br' } });
      assert.equal(head.headers.get('content-length'), '6000');
      assert.equal((await fetch(`${base}/inside.html`)).status, 200, 'a link inside the root is served');
      for (const path of ['link.txt', 'up/secret.txt', 'css', 'missing']) assert.equal((await fetch(`${base}/${path}`)).status, 404, path);
    });
  } finally {
    cleanup();
  }
});

test('property: no request path reads outside the root', async () => {
  const { root, cleanup } = tree();
  try {
    await withServer(staticApp(root), {}, async (server) => {
      const piece = fc.constantFrom('..', '.', '%2e%2e', '%2E.', '.%2e', '%2f', '%2F', '%5c', '%5C', '%00', '%2500', 'up', 'link.txt', 'secret.txt', 'css', 'site.css', 'index.html', '', '/', '//', '%c0%ae', '~', 'www');
      await fc.assert(fc.asyncProperty(fc.array(piece, { maxLength: 8 }), async (pieces) => {
        const client = await server.client();
        await client.write(`GET /s/${pieces.join('/')} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
        const response = await client.readResponse();
        assert.ok(!response.text.includes('SECRET'), `read outside the root with /s/${pieces.join('/')}`);
        assert.ok([200, 304, 400, 404].includes(response.status), `${response.status} for /s/${pieces.join('/')}`);
        client.destroy();
      }), { numRuns: fuzzRuns(300, 0), seed: fuzzSeed() });
    });
  } finally {
    cleanup();
  }
});
