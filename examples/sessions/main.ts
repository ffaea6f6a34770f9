// microdot's examples/sessions/login.py: a user session in a signed cookie. Not a login solution (no
// password; see main.ts for the device's real login app). The signing key is made once and kept in the host's key store.
import { App, Response, escapeHtml } from 'xsdot';
import { Session, withSession } from 'xsdot/session';
import { serve } from 'xsdot/host';

const page = (content: string) =>
  Response.html(`<!doctype html><html><head><title>xsdot login example</title><meta charset="UTF-8"></head>` +
    `<body><h1>xsdot login example</h1>${content}</body></html>`);

const LOGGED_OUT = `<p>You are not logged in.</p><form method="POST">
  <p>Username: <input name="username" autofocus></p><input type="submit" value="Submit"></form>`;

const loggedIn = (username: string) => `<p>Hello <b>${escapeHtml(username)}</b>!</p>
  <form method="POST" action="/logout"><input type="submit" value="Logout"></form>`;

const app = new App();
new Session(app);

app.route('/', ['GET', 'POST'], withSession((request, session) => {
  if (request.method === 'POST') {
    session.set('username', request.form?.get('username') ?? '');
    session.save();
    return Response.redirect('/', 303);
  }
  const username = session.get('username');
  return page(typeof username === 'string' ? loggedIn(username) : LOGGED_OUT);
}));

app.post('/logout', withSession((_request, session) => {
  session.delete();
  return Response.redirect('/', 303);
}));

serve(app);
