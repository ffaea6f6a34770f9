import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { App, abort, HttpError, Response, UrlPattern, type Request } from '../../modules/http/index';
import { TestClient } from '../../modules/http/testclient';

test('routes by method and path, with typed params', async () => {
  const app = new App();
  app.get('/', () => 'root');
  app.get('/users/<int:id>', (req) => ({ id: req.params.id, type: typeof req.params.id }));
  app.get('/hello/<name>', (req) => `hi ${String(req.params.name)}`);
  app.get('/files/<path:rest>', (req) => String(req.params.rest));
  app.post('/users', () => new Response('made', 201));
  const client = new TestClient(app);

  assert.equal((await client.get('/')).text, 'root');
  assert.deepEqual((await client.get('/users/42')).json, { id: 42, type: 'number' });
  assert.deepEqual((await client.get('/users/-7')).json, { id: -7, type: 'number' });
  assert.equal((await client.get('/users/abc')).status, 404);
  assert.equal((await client.get('/hello/w%C3%B6rld')).text, 'hi wörld');
  assert.equal((await client.get('/hello/a%2Fb')).status, 404, '%2F is a "/" (RFC 3986 decoding, as Flask and Starlette)');
  assert.equal((await client.get('/files/a%2Fb')).text, 'a/b');
  assert.equal((await client.get('/files/a/b/c.txt')).text, 'a/b/c.txt');
  assert.equal((await client.get('/files/')).status, 404);
  assert.equal((await client.post('/users')).status, 201);
  assert.equal((await client.get('/hello/%zz')).status, 400);
});

test('405 lists the allowed methods; HEAD is served by GET without a body', async () => {
  const app = new App();
  app.get('/thing', () => 'a body');
  app.put('/thing', () => 'put');
  const client = new TestClient(app);
  const denied = await client.delete('/thing');
  assert.equal(denied.status, 405);
  assert.equal(denied.headers.get('allow'), 'GET, PUT, HEAD');
  const head = await client.head('/thing');
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '6');
  assert.equal(head.body.length, 0);
  assert.equal((await client.get('/missing')).status, 404);
});

test('query args, form and JSON bodies are decoded lazily and bounded', async () => {
  const app = new App();
  app.get('/q', (req) => ({ a: req.query.get('a'), all: req.args.getAll('t'), none: req.query.get('z') ?? null }));
  app.post('/form', (req) => ({ user: req.form?.get('user'), type: req.contentType }));
  app.post('/json', (req) => ({ got: req.json }));
  app.post('/text', (req) => req.text.toUpperCase());
  const client = new TestClient(app, { limits: { maxFormFields: 3 } });

  assert.deepEqual((await client.get('/q?a=1+2&t=x&t=y%20z')).json, { a: '1 2', all: ['x', 'y z'], none: null });
  assert.deepEqual((await client.post('/form', { form: { user: 'ädmin & co' } })).json, { user: 'ädmin & co', type: 'application/x-www-form-urlencoded' });
  assert.deepEqual((await client.post('/json', { json: { n: [1, 2] } })).json, { got: { n: [1, 2] } });
  assert.equal((await client.post('/text', { body: 'héllo' })).text, 'HÉLLO');
  assert.equal((await client.post('/json', { body: '{bad', headers: { 'Content-Type': 'application/json' } })).status, 400);
  assert.equal((await client.post('/form', { body: 'a=1&b=2&c=3&d=4', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })).status, 413);
  assert.equal((await client.get('/q?a=1&b=2&c=3&d=4')).status, 413);
  assert.equal((await client.post('/form', { body: 'a=%G1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })).status, 400);
});

test('handlers may be async and return strings, bytes, JSON, null or a Response', async () => {
  const app = new App();
  app.get('/bytes', () => new Uint8Array([0, 1, 255]));
  app.get('/json', async () => [1, 'two']);
  app.get('/none', () => undefined);
  app.get('/redirect', () => Response.redirect('/there', 303));
  app.get('/html', () => Response.html('<p>hi</p>'));
  const client = new TestClient(app);

  const bytes = await client.get('/bytes');
  assert.deepEqual([...bytes.body], [0, 1, 255]);
  assert.equal(bytes.headers.get('content-type'), 'application/octet-stream');
  assert.deepEqual((await client.get('/json')).json, [1, 'two']);
  assert.equal((await client.get('/none')).status, 204);
  const redirect = await client.get('/redirect');
  assert.equal(redirect.status, 303);
  assert.equal(redirect.headers.get('location'), '/there');
  assert.equal((await client.get('/html')).headers.get('content-type'), 'text/html; charset=utf-8');
});

test('a streamed body arrives whole, in chunks', async () => {
  const app = new App();
  app.get('/stream', () => (function* () {
    for (let i = 0; i < 500; i++) yield `line ${i}\n`;
  })());
  app.get('/async', () => (async function* () {
    yield 'a';
    yield new Uint8Array([98]);
    yield '';
    yield 'c';
  })());
  const client = new TestClient(app);
  const response = await client.get('/stream');
  assert.equal(response.headers.get('transfer-encoding'), 'chunked');
  assert.equal(response.text.split('\n').length, 501);
  assert.equal((await client.get('/async')).text, 'abc');
});

test('before hooks can answer early; after hooks can replace; per-request hooks run last', async () => {
  const app = new App();
  const order: string[] = [];
  app.before((req) => {
    order.push('before');
    if (req.headers.get('x-block') === 'yes') return new Response('blocked', 403);
    req.g.seen = true;
    return undefined;
  });
  app.after((_req, res) => {
    order.push('after');
    res.headers.set('X-After', '1');
    return undefined;
  });
  app.get('/', (req) => {
    order.push('handler');
    req.afterRequest((_r, res) => {
      order.push('request-hook');
      return new Response(`${String(res.body)} +hook`, res.status, res.headers);
    });
    return `g.seen=${String(req.g.seen)}`;
  });
  const client = new TestClient(app);
  const ok = await client.get('/');
  assert.equal(ok.text, 'g.seen=true +hook');
  assert.equal(ok.headers.get('x-after'), '1');
  assert.deepEqual(order, ['before', 'handler', 'after', 'request-hook']);
  const blocked = await client.get('/', { headers: { 'X-Block': 'yes' } });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.headers.get('x-after'), '1', 'after hooks also see an early answer (as microdot)');
});

test('afterError hooks see every error response: 404, 405, aborts and crashes', async () => {
  const app = new App();
  app.get('/crash', () => { throw new Error('boom'); });
  app.get('/abort', () => abort(418));
  app.afterError((req, res) => { res.headers.set('X-Error-Hook', req.path); return undefined; });
  app.afterError(() => { throw new Error('a failing hook is logged, not fatal'); });
  const client = new TestClient(app);
  for (const [method, path, status] of [['GET', '/nope', 404], ['POST', '/crash', 405], ['GET', '/abort', 418], ['GET', '/crash', 500]] as const) {
    const response = await client.request(method, path);
    assert.equal(response.status, status);
    assert.equal(response.headers.get('x-error-hook'), path);
  }
});

test('errors: abort, handlers by status and class, 500 without leaking the message', async () => {
  class Teapot extends Error {}
  const app = new App();
  app.get('/abort', () => abort(402, 'Pay up'));
  app.get('/teapot', () => { throw new Teapot('short and stout'); });
  app.get('/crash', () => { throw new Error('secret database password is hunter2'); });
  app.get('/async-crash', async () => { throw new TypeError('async secret'); });
  app.errorHandler(Teapot, () => new Response('I am a teapot', 418));
  app.errorHandler(404, (req) => new Response(`no ${req.path}`, 404));
  const client = new TestClient(app);

  const aborted = await client.get('/abort');
  assert.equal(aborted.status, 402);
  assert.equal(aborted.text, 'Pay up');
  assert.equal((await client.get('/teapot')).status, 418);
  assert.equal((await client.get('/nowhere')).text, 'no /nowhere');
  for (const path of ['/crash', '/async-crash']) {
    const crashed = await client.get(path);
    assert.equal(crashed.status, 500);
    assert.equal(crashed.text, 'Internal Server Error');
    assert.doesNotMatch(crashed.text, /secret|hunter2|TypeError/);
  }
});

test('a failing error handler still yields a plain 500', async () => {
  const app = new App();
  app.get('/', () => { throw new Error('first'); });
  app.errorHandler(500, () => { throw new Error('second'); });
  assert.equal((await new TestClient(app).get('/')).status, 500);
});

test('mounted sub-apps keep their prefix, their own hooks and their error handlers', async () => {
  const api = new App();
  api.before((req) => { req.g.api = true; return undefined; });
  api.get('/items/<int:id>', (req) => ({ id: req.params.id, api: req.g.api }));
  api.errorHandler(409, () => new Response('api conflict', 409));
  api.get('/conflict', () => abort(409));
  const app = new App();
  app.get('/plain', (req) => ({ api: req.g.api ?? false }));
  app.mount(api, '/api');
  const client = new TestClient(app);
  assert.deepEqual((await client.get('/api/items/3')).json, { id: 3, api: true });
  assert.deepEqual((await client.get('/plain')).json, { api: false });
  assert.equal((await client.get('/api/conflict')).text, 'api conflict');
  assert.equal((await client.get('/items/3')).status, 404);
});

test('routes made once (a UrlPattern, a frozen method list) serve several apps, each with its own hooks', async () => {
  const items = new UrlPattern('/items/<int:id>');
  const getPost: readonly string[] = Object.freeze(['GET', 'POST']);
  const handler = (req: Request) => ({ id: req.params.id, app: req.g.app, method: req.method });
  const apps = ['a', 'b'].map((name) => {
    const app = new App();
    app.route(items, getPost, handler);
    // A hook added after the route still applies to it (the app's routes share its hook lists).
    app.before((req) => { req.g.app = name; return undefined; });
    app.after((_req, response) => { response.headers.set('X-App', name); return undefined; });
    return new TestClient(app);
  });
  for (const [i, client] of apps.entries()) {
    const name = i === 0 ? 'a' : 'b';
    const got = await client.post('/items/7');
    assert.deepEqual(got.json, { id: 7, app: name, method: 'POST' });
    assert.equal(got.headers.get('x-app'), name);
    assert.equal((await client.delete('/items/7')).headers.get('allow'), 'GET, POST, HEAD');
  }
  // A list that may change later is copied (and upper-cased): changing it changes no route.
  const app = new App();
  const methods = ['get', 'put'];
  app.route('/mutable', methods, () => 'ok');
  app.route('/frozen-lower', Object.freeze(['post']), () => 'posted');
  methods.push('delete');
  const client = new TestClient(app);
  assert.equal((await client.put('/mutable')).text, 'ok');
  assert.equal((await client.delete('/mutable')).status, 405);
  assert.equal((await client.post('/frozen-lower')).text, 'posted');
});

test('invalid routes and statuses are refused when defined', () => {
  const app = new App();
  assert.throws(() => app.get('no-slash', () => ''), /must start with/);
  assert.throws(() => app.get('/<float:x>', () => ''), /unknown parameter type/);
  assert.throws(() => app.get('/<path:p>/more', () => ''), /last segment/);
  assert.throws(() => app.get('/a<b>', () => ''), /whole segment/);
  assert.throws(() => new Response('x', 99), RangeError);
  assert.throws(() => Response.redirect('/x', 200), RangeError);
  assert.ok(new HttpError(418) instanceof Error);
});

test('hooks and routes see one canonical path: decoded, dot segments removed (issue 12 item 12)', async () => {
  const app = new App();
  const seen: [string, string][] = [];
  app.before((req) => {
    seen.push([req.rawPath, req.path]);
    return req.path.startsWith('/admin') ? new Response('admins only', 403) : undefined;
  });
  app.get('/admin/<path:rest>', (req) => `admin ${String(req.params.rest)}`);
  app.get('/public/<path:rest>', (req) => `public ${String(req.params.rest)}`);
  app.get('/hello/<name>', (req) => `hi ${String(req.params.name)}`);
  const client = new TestClient(app);
  // Every spelling of /admin/secret meets the hook guarding /admin.
  for (const path of ['/admin/secret', '/%61dmin/secret', '/admin%2Fsecret', '/public/../admin/secret', '/public/%2e%2E/admin/secret', '/./admin/./secret', '/../../admin/secret']) {
    const response = await client.get(path);
    assert.equal(response.status, 403, path);
  }
  assert.deepEqual(seen[1], ['/%61dmin/secret', '/admin/secret']);
  assert.deepEqual(seen[3], ['/public/../admin/secret', '/admin/secret']);
  // Dot segments never reach a <path:> parameter; a path ending in one keeps its trailing "/".
  assert.equal((await client.get('/public/a/b/../c')).text, 'public a/c');
  assert.equal((await client.get('/public/a/.')).text, 'public a/');
  assert.equal((await client.get('/hello/w%C3%B6rld')).text, 'hi wörld');
  assert.equal((await client.get('/hello/%25zz')).text, 'hi %zz', 'decoded once: %25 is a "%"');
  assert.equal((await client.get('/public/.well-known')).text, 'public .well-known');
  // Malformed escapes and decoded control characters are refused before any hook runs.
  const before = seen.length;
  for (const path of ['/hello/%zz', '/hello/%4', '/hello/a%00b', '/hello/a%0Ab', '/hello/%1f', '/hello/%7F']) assert.equal((await client.get(path)).status, 400, path);
  assert.equal(seen.length, before);
});
