import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cookieValuesOf, isCookieValue, parseCookieHeader, serializeCookie } from '../../modules/http/cookies';
import { isToken } from '../../modules/http/headers';
import { App, Response } from '../../modules/http/index';
import { TestClient } from '../../modules/http/testclient';
import { latin1Bytes } from '../../modules/http/bytes';
import { resolveLimits } from '../../modules/http/limits';
import { RequestParser } from '../../modules/http/parser';
import { Request } from '../../modules/http/request';

test('serializes every attribute in RFC 6265 form', () => {
  assert.equal(
    serializeCookie('sid', 'abc.def', { maxAge: 3600.7, path: '/', domain: 'dev.local', secure: true, httpOnly: true, sameSite: 'Lax', partitioned: true }),
    'sid=abc.def; Max-Age=3600; Domain=dev.local; Path=/; Secure; HttpOnly; SameSite=Lax; Partitioned',
  );
  assert.equal(serializeCookie('a', 'b', { expires: Date.UTC(2015, 9, 21, 7, 28, 0) }), 'a=b; Expires=Wed, 21 Oct 2015 07:28:00 GMT');
  assert.equal(serializeCookie('a', '', { maxAge: -5 }), 'a=; Max-Age=0');
});

test('refuses names, values and attributes a browser would misread', () => {
  const bad: [string, string, object][] = [
    ['bad name', 'v', {}], ['', 'v', {}], ['n;x', 'v', {}], ['n', 'a;b', {}], ['n', 'a b', {}], ['n', 'a,b', {}],
    ['n', 'quo"te', {}], ['n', 'back\\slash', {}], ['n', 'é', {}], ['n', 'v\r\nSet-Cookie: x=y', {}],
    ['n', 'v', { path: 'relative' }], ['n', 'v', { path: '/a;b' }], ['n', 'v', { domain: 'bad domain' }],
    ['n', 'v', { sameSite: 'None' }], ['n', 'v', { sameSite: 'Sometimes' }], ['n', 'v', { partitioned: true }],
    ['n', 'v', { maxAge: Infinity }], ['n', 'v', { expires: new Date('nope') }],
    ['__Host-n', 'v', { secure: true }], ['__Host-n', 'v', { secure: true, path: '/', domain: 'a.b' }],
    ['__Secure-n', 'v', {}],
  ];
  for (const [name, value, options] of bad) assert.throws(() => serializeCookie(name, value, options), TypeError, `${name}=${value} ${JSON.stringify(options)}`);
  assert.equal(serializeCookie('__Host-sid', 'v', { secure: true, path: '/' }), '__Host-sid=v; Path=/; Secure');
});

test('parses the Cookie header, keeping repeated names in order and skipping junk', () => {
  const cookies = parseCookieHeader('a=1; b="quoted"; a=2;junk; c=bad value; =x; d=');
  assert.deepEqual(cookies.get('a'), ['1', '2']);
  assert.deepEqual(cookies.get('b'), ['quoted']);
  assert.deepEqual(cookies.get('d'), ['']);
  assert.equal(cookies.has('c'), false);
  assert.equal(parseCookieHeader(undefined).size, 0);
});

test('responses set and delete cookies; requests read them', async () => {
  const app = new App();
  app.get('/set', () => new Response('ok').setCookie('theme', 'dark', { path: '/', httpOnly: true }));
  app.get('/read', (req) => ({ theme: req.cookies.get('theme') ?? null, all: req.cookieValues('theme') }));
  app.get('/drop', () => new Response('bye').deleteCookie('theme', { path: '/' }));
  const client = new TestClient(app);
  const set = await client.get('/set');
  assert.deepEqual(set.headers.getAll('set-cookie'), ['theme=dark; Path=/; HttpOnly']);
  assert.deepEqual((await client.get('/read')).json, { theme: 'dark', all: ['dark'] });
  const drop = await client.get('/drop');
  assert.match(drop.headers.get('set-cookie') ?? '', /^theme=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\/$/);
  assert.deepEqual((await client.get('/read')).json, { theme: null, all: [] });
  assert.deepEqual((await client.get('/read', { headers: { Cookie: 'theme=a; theme=b' } })).json, { theme: 'a', all: ['a', 'b'] });
});

/** Trims RFC 6265 §5.2's WSP (SP and HTAB) only: not String.prototype.trim's Unicode spaces (U+00A0 …). */
function trimWsp(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** RFC 6265's reading, on the string: split on ";", the first "=", trim WSP, unquote, keep valid pairs. */
function referenceCookies(header: string): Map<string, string[]> {
  const cookies = new Map<string, string[]>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = trimWsp(part.slice(0, eq));
    let value = trimWsp(part.slice(eq + 1));
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!isToken(name) || !isCookieValue(value)) continue;
    cookies.set(name, [...(cookies.get(name) ?? []), value]);
  }
  return cookies;
}

test('the Cookie header scanned by native searches reads exactly what the string reading does, for any header', () => {
  const pieces = fc.constantFrom('a', 'b', 'sid', '=', ';', ' ', '\t', '"', ',', '\\', 'x.y-z_1', '\u00a0', '\u00e9', '%20', '');
  fc.assert(fc.property(fc.array(pieces, { maxLength: 24 }), (parts) => {
    const header = parts.join('');
    assert.deepEqual(parseCookieHeader(header), referenceCookies(header), JSON.stringify(header));
  }), { numRuns: 500 });
});

test('the values of one cookie name are exactly those of the whole parse, for any header and name', () => {
  const pieces = fc.constantFrom('a', 'b', 'sid', '=', ';', ' ', '\t', '"', ',', '\\', 'x.y-z_1', '\u00a0', '\u00e9', '%20', '');
  fc.assert(fc.property(fc.array(pieces, { maxLength: 24 }), fc.constantFrom('a', 'b', 'sid', 'x.y-z_1', 'ab', ''), (parts, name) => {
    const header = parts.join('');
    assert.deepEqual(cookieValuesOf(header, name), parseCookieHeader(header).get(name) ?? [], JSON.stringify([header, name]));
  }), { numRuns: 1000 });
  assert.deepEqual(cookieValuesOf(undefined, 'sid'), []);
  assert.deepEqual(cookieValuesOf('sid=1; a=2; sid="3"; sidx=4; xsid=5', 'sid'), ['1', '3']);
});

test('a parsed request reads a cookie in place from its Cookie fields exactly as from their joined value', () => {
  const pieces = fc.constantFrom('a', 'b', 'sid', '=', ';', ' ', '\t', '"', ',', '\\', 'x.y-z_1', '%20', '');
  const field = fc.array(pieces, { maxLength: 12 }).map((parts) => parts.join(''));
  const limits = resolveLimits();
  fc.assert(fc.property(fc.array(field, { minLength: 1, maxLength: 3 }), fc.constantFrom('Cookie', 'cookie', 'COOKIE'), fc.constantFrom('a', 'b', 'sid', 'x.y-z_1'), (fields, spelling, name) => {
    const head = `GET / HTTP/1.1\r\nHost: a\r\n${fields.map((value) => `${spelling}: ${value}\r\n`).join('')}X: y\r\n\r\n`;
    const parser = new RequestParser(limits);
    parser.push(latin1Bytes(head));
    const parsed = parser.next();
    assert.ok(parsed !== undefined);
    const request = new Request(parsed.head, parsed.body, undefined, limits);
    assert.deepEqual(request.cookieValues(name), cookieValuesOf(parsed.head.headers.getLower('cookie'), name), JSON.stringify(head));
  }), { numRuns: 500 });
});
