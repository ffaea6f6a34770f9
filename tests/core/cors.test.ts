import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { App, CORS, Response, type CorsOptions } from '../../modules/http/index';
import { TestClient } from '../../modules/http/testclient';

const SITE = 'https://dashboard.example';

function corsApp(options: Partial<CorsOptions> = {}): { app: App; ran: string[] } {
  const app = new App();
  const ran: string[] = [];
  app.before((request) => void ran.push(`before ${request.method}`));
  app.get('/api/data', () => ({ ok: true }));
  app.route('/api/data', ['PUT'], () => {
    ran.push('put');
    return new Response('saved', 200, { Vary: 'Accept-Encoding', ETag: '"1"' });
  });
  app.get('/api/secret', () => {
    throw new Error('kept private');
  });
  new CORS(app, { allowedOrigins: [SITE, 'http://192.168.1.5:8080'], allowedMethods: ['GET', 'put'], allowedHeaders: ['Content-Type', 'X-CSRF-Token'], exposeHeaders: ['ETag'], maxAge: 600, allowCredentials: true, ...options });
  return { app, ran };
}

const preflight = (origin: string, method = 'PUT') => ({ headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'content-type' } });

test('CORS: an allowed origin gets exactly its origin, credentials, exposed headers and Vary: Origin', async () => {
  const client = new TestClient(corsApp().app);
  const response = await client.get('/api/data', { headers: { Origin: SITE } });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('access-control-allow-origin'), SITE);
  assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(response.headers.get('access-control-expose-headers'), 'ETag');
  assert.equal(response.headers.get('vary'), 'Origin');
  assert.equal(response.headers.get('access-control-allow-methods'), undefined, 'preflight headers only on preflights');
  const put = await client.put('/api/data', { headers: { Origin: 'http://192.168.1.5:8080' } });
  assert.equal(put.headers.get('access-control-allow-origin'), 'http://192.168.1.5:8080');
  assert.equal(put.headers.get('vary'), 'Accept-Encoding, Origin', "added to the app's Vary");
});

test('CORS: a preflight to a routed path is 204 with exactly the allowed values; no hook or handler runs', async () => {
  const { app, ran } = corsApp();
  const response = await new TestClient(app).request('OPTIONS', '/api/data', preflight(SITE));
  assert.equal(response.status, 204);
  assert.equal(response.text, '');
  assert.equal(response.headers.get('content-type'), undefined);
  assert.equal(response.headers.get('access-control-allow-origin'), SITE);
  assert.equal(response.headers.get('access-control-allow-methods'), 'GET, PUT');
  assert.equal(response.headers.get('access-control-allow-headers'), 'Content-Type, X-CSRF-Token');
  assert.equal(response.headers.get('access-control-max-age'), '600');
  assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(response.headers.get('vary'), 'Origin');
  assert.deepEqual(ran, []);
});

test('CORS: disallowed, null, look-alike, repeated or missing origins get no CORS header, and the usual answer', async () => {
  const { app, ran } = corsApp();
  const client = new TestClient(app);
  const hostile = ['https://evil.example', 'null', `${SITE}.evil.example`, `${SITE}/`, 'https://DASHBOARD.example', `${SITE}:443`, `http://dashboard.example`, `${SITE}, ${SITE}`, ''];
  for (const origin of hostile) {
    const simple = await client.get('/api/data', { headers: { Origin: origin } });
    assert.equal(simple.status, 200, origin);
    assert.equal(simple.headers.get('access-control-allow-origin'), undefined, origin);
    assert.equal(simple.headers.get('access-control-allow-credentials'), undefined, origin);
    assert.equal(simple.headers.get('vary'), 'Origin', 'Vary: Origin always');
    const options = await client.request('OPTIONS', '/api/data', preflight(origin));
    assert.equal(options.status, 405, `a preflight from ${origin} is not answered`);
    assert.equal(options.headers.get('access-control-allow-origin'), undefined, origin);
    assert.equal(options.headers.get('access-control-allow-methods'), undefined, origin);
  }
  const none = await client.get('/api/data');
  assert.equal(none.headers.get('access-control-allow-origin'), undefined);
  assert.equal(none.headers.get('vary'), 'Origin');
  assert.deepEqual(ran.filter((entry) => entry !== 'before GET'), []);
});

test('CORS: errors carry the headers too; an unknown path stays 404; OPTIONS without a request method is not a preflight', async () => {
  const client = new TestClient(corsApp().app);
  const failed = await client.get('/api/secret', { headers: { Origin: SITE } });
  assert.equal(failed.status, 500);
  assert.equal(failed.headers.get('access-control-allow-origin'), SITE);
  const missing = await client.request('OPTIONS', '/nowhere', preflight(SITE));
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('access-control-allow-methods'), undefined);
  const plain = await client.request('OPTIONS', '/api/data', { headers: { Origin: SITE } });
  assert.equal(plain.status, 405);
});

test('CORS: "*" sends the literal * (never a reflected origin), and refuses credentials at construction, naming the option', async () => {
  const { app } = corsApp({ allowedOrigins: ['*'], allowCredentials: false });
  const response = await new TestClient(app).get('/api/data', { headers: { Origin: 'https://anyone.example' } });
  assert.equal(response.headers.get('access-control-allow-origin'), '*');
  assert.equal(response.headers.get('access-control-allow-credentials'), undefined);
  assert.throws(() => new CORS(undefined, { allowedOrigins: ['*'], allowCredentials: true }), /allowCredentials/);
});

test('CORS: options are checked at construction, each error naming its option', () => {
  const bad: [Partial<CorsOptions>, RegExp][] = [
    [{ allowedOrigins: ['null'] }, /allowedOrigins/],
    [{ allowedOrigins: ['https://a.example/'] }, /allowedOrigins/],
    [{ allowedOrigins: ['https://a.example/path'] }, /allowedOrigins/],
    [{ allowedOrigins: ['a.example'] }, /allowedOrigins/],
    [{ allowedOrigins: ['https://A.example'] }, /allowedOrigins/],
    [{ allowedOrigins: [SITE, '*'] }, /allowedOrigins/],
    [{ allowedMethods: ['*'] }, /allowedMethods/],
    [{ allowedMethods: ['GET\r\nX: y'] }, /allowedMethods/],
    [{ allowedHeaders: ['*'] }, /allowedHeaders/],
    [{ exposeHeaders: ['a b'] }, /exposeHeaders/],
    [{ maxAge: -1 }, /maxAge/],
    [{ maxAge: 1.5 }, /maxAge/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new CORS(undefined, { allowedOrigins: [SITE], ...options }), message, JSON.stringify(options));
  }
});

test('CORS: an app without it sends no CORS header and no Vary', async () => {
  const app = new App();
  app.get('/', () => 'plain');
  const response = await new TestClient(app).get('/', { headers: { Origin: SITE } });
  assert.equal(response.headers.get('vary'), undefined);
  assert.equal(response.headers.get('access-control-allow-origin'), undefined);
});
