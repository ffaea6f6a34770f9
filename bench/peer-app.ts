/**
 * The peer comparison app: /work/shared/peers/microdot_app.py (microdot with JWT HS256 cookie sessions)
 * route for route in xsdot, so both frameworks are measured on the same work by the same harness.
 *
 *   GET /          "Hello, World!", no session
 *   POST /login    form or JSON field "user" (default "admin") → session user, save()
 *   GET /me        the user with a valid session cookie, else 401 "not logged in"
 *   POST /logout   deletes the session cookie
 *   GET /stats     memory figures, for measurement only
 *
 * Portable (no Node APIs): the host installs its runtime first. Sessions use xsdot's defaults (expiry
 * claims `sid`, `iat`, `exp` on top of microdot's `{user}`), with the key given here.
 */
import { App, Response } from '../modules/http/index';
import { runtime } from '../modules/runtime';
import { Session, withSession, type SessionOptions } from '../modules/session/index';

/** `tokenCacheSize: 0` makes every GET /me compute its cookie's HMAC, as a cookie's first request does. */
export function createPeerApp(key: Uint8Array, options: Pick<SessionOptions, 'tokenCacheSize'> = {}): App {
  const app = new App();
  new Session(app, { keys: [{ key }], ...options });

  app.get('/', () => 'Hello, World!');

  app.post('/login', withSession((request, session) => {
    let user: unknown;
    try {
      const json = request.json as { user?: unknown } | undefined;
      if (json !== null && typeof json === 'object') user = json.user;
    } catch {
      // not JSON
    }
    if (user === undefined) user = request.form?.get('user');
    const name = typeof user === 'string' && user !== '' ? user : 'admin';
    session.set('user', name);
    session.save();
    return `logged in as ${name}`;
  }));

  app.get('/me', withSession((_request, session) => {
    const user = session.get('user');
    return typeof user === 'string' ? user : new Response('not logged in', 401);
  }));

  app.post('/logout', withSession((_request, session) => {
    session.delete();
    return 'logged out';
  }));

  app.get('/stats', () => ({ impl: `xsdot (${runtime().name})`, freeMemory: runtime().freeMemory?.() }));

  return app;
}
