// microdot's examples/login/login.py: protected pages, a user loader, remember-me and a page that needs a fresh
// login. Demo users; a real app keeps passwords in a PasswordStore and adds csrfGuard and a Throttle (see main.ts).
import { App, Response, escapeHtml } from 'xsdot';
import { Session } from 'xsdot/session';
import { Login, hashPassword, verifyPassword } from 'xsdot/auth';
import { serve } from 'xsdot/host';

interface User { id: string; username: string; passwordHash: string }
const USERS = [{ id: 'user001', username: 'susan', password: 'hello susan' }, { id: 'user002', username: 'david', password: 'bye david!' }]
  .map(({ id, username, password }): User => ({ id, username, passwordHash: hashPassword(password) }));

const app = new App();
const login = new Login<User>(new Session(app));
login.userLoader((id) => USERS.find((user) => user.id === id));
const page = (body: string) => Response.html(`<!doctype html><html><body>${body}</body></html>`);

app.route('/login', ['GET', 'POST'], (request) => {
  const form = request.form;
  if (form === undefined) {
    return page(`<h1>Please Login</h1><form method="POST"><p>Username<br><input name="username" autofocus></p>
      <p>Password<br><input name="password" type="password"></p><p><input name="remember_me" type="checkbox"> Remember me</p>
      <p><button type="submit">Login</button></p></form>`);
  }
  const user = USERS.find((candidate) => candidate.username === form.get('username'));
  // Checked even for an unknown name, so the time taken does not tell which names exist.
  const right = verifyPassword(form.get('password') ?? '', user?.passwordHash ?? USERS[0].passwordHash);
  if (user === undefined || !right) return Response.redirect('/login', 303);
  return login.loginUser(request, user.id, { remember: form.get('remember_me') === 'on' }); // to ?next= or /
});

app.get('/', login.required((_request, user) => page(`<h1>Hello, ${escapeHtml(user.username)}!</h1>
  <p><a href="/fresh">Click here</a> to access the fresh login page.</p>
  <form method="POST" action="/logout"><button type="submit">Logout</button></form>`)));

app.get('/fresh', login.fresh((_request, user) => page(`<h1>Hello, ${escapeHtml(user.username)}!</h1>
  <p>This page requires a fresh login session.</p><p><a href="/">Go back</a> to the main page.</p>`)));

app.post('/logout', login.required((request) => {
  login.logoutUser(request);
  return Response.redirect('/', 303);
}));

serve(app);
