// Testing an app in-process, as microdot's TestClient: no server, no setup (xsdot/testing installs a
// Node runtime with an in-memory key store), the real parser and connection code, a cookie jar.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from 'xsdot';
import { Session, withSession } from 'xsdot/session';
import { TestClient } from 'xsdot/testing';

const app = new App();
new Session(app);
app.get('/users/<int:id>', (request) => ({ id: request.params.id }));
app.post('/visit', withSession((_request, session) => {
  const visits = Number(session.get('visits') ?? 0) + 1;
  session.set('visits', visits);
  return `visit ${visits}`;
}));

test('routes answer JSON, and the session cookie comes back', async () => {
  const client = new TestClient(app);
  assert.deepEqual((await client.get('/users/7')).json, { id: 7 });
  assert.equal((await client.get('/users/seven')).status, 404);
  assert.equal((await client.post('/visit')).text, 'visit 1');
  assert.equal((await client.post('/visit')).text, 'visit 2');
});
