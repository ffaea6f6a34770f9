// microdot's examples/auth: BasicAuth for a person's browser, TokenAuth for scripts, both counting failed guesses
// in one Throttle (3 free per address, then 1 s doubling to 15 min; 429 + Retry-After). Demo credentials: a real
// device keeps hashed passwords (PasswordStore) and tokens in its key store, made at setup, never in the source.
import { App } from 'xsdot';
import { BasicAuth, TokenAuth, Throttle, credentialsMatch } from 'xsdot/auth';
import { serve } from 'xsdot/host';

const USERS = new Map([['susan', 'hello susan'], ['david', 'bye david!']]);
const TOKENS = new Map([['susan', 'susan-token'], ['david', 'david-token']]);

const app = new App();
const throttle = new Throttle();

const basic = new BasicAuth<string>({ realm: 'xsdot example', throttle });
basic.authenticate((_request, username, password) => {
  const expected = USERS.get(username);
  return expected !== undefined && credentialsMatch(password, expected) ? username : undefined;
});

const tokens = new TokenAuth<string>({ throttle }); // Authorization: Bearer <token>
tokens.authenticate((_request, token) => {
  for (const [user, expected] of TOKENS) if (credentialsMatch(token, expected)) return user;
  return undefined;
});

app.get('/', basic.required((_request, user) => `Hello, ${user}!`));
app.get('/api/whoami', tokens.required((_request, user) => ({ user })));

serve(app);
