/**
 * Live interop with PyJWT (Debian's python3-jwt under /usr/bin/python3, the library microdot uses):
 * tokens minted by PyJWT verify here, and tokens signed here decode in PyJWT. Skipped when PyJWT is absent.
 */
import '../support/install-host';
import { tamperSignature } from '../support/tamper';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRing, signToken, verifyToken } from '../../modules/session/jwt';
import { App } from '../../modules/http/index';
import { TestClient } from '../../modules/http/testclient';
import { Session, withSession } from '../../modules/session/session';
import { PYJWT_SKIP, PYJWT_VERSION as version, python } from './pyjwt';

const KEY = 'xsdot-live-interop-key-0123456789abcdefghij';
const skip = PYJWT_SKIP;

const now = Math.floor(Date.now() / 1000);
const PAYLOADS: Record<string, unknown>[] = [
  { user: 'admin' },
  { user: 'admin', exp: now + 3600, nbf: now - 10, iat: now },
  { name: 'Zo\u00eb \u2603 \ud83d\ude00', list: [1, 'two', null, { t: true }], n: -7 },
];

const MINT = `
import json, sys, jwt
req = json.load(sys.stdin)
headers = {"kid": req["kid"]} if req.get("kid") else {}
if not req["typ"]:
    headers["typ"] = None
print(json.dumps([jwt.encode(p, req["key"], algorithm="HS256", headers=headers or None) for p in req["payloads"]]))
`;

const DECODE = `
import json, sys, jwt
req = json.load(sys.stdin)
out = []
for t in req["tokens"]:
    try:
        out.append({"payload": jwt.decode(t, req["key"], algorithms=["HS256"]), "header": jwt.get_unverified_header(t)})
    except jwt.InvalidTokenError as e:
        out.append({"error": type(e).__name__})
print(json.dumps(out))
`;

for (const [kid, typ] of [[undefined, false], ['k1', false], [undefined, true], ['k1', true]] as const) {
  const ring = new KeyRing([{ kid, key: new TextEncoder().encode(KEY) }], { typ });
  const label = `${kid === undefined ? 'without kid' : `with kid "${kid}"`}${typ ? ', typ JWT' : ' (compact header: typ None in PyJWT)'}`;
  const header: Record<string, string> = kid === undefined ? { alg: 'HS256' } : { alg: 'HS256', kid };
  if (typ) header.typ = 'JWT';

  test(`PyJWT${version === undefined ? '' : ` ${version}`} mints ${label} → xsdot verifies, and signs the same strings`, { skip }, () => {
    const tokens = python(MINT, { key: KEY, kid, typ, payloads: PAYLOADS }) as string[];
    tokens.forEach((token, i) => {
      const result = verifyToken(token, ring);
      assert.ok(result.ok, `${token}: ${result.ok || result.reason}`);
      assert.deepEqual(result.payload, PAYLOADS[i]);
      assert.equal(signToken(PAYLOADS[i], ring), token);
    });
  });

  test(`xsdot signs ${label} → PyJWT decodes with algorithms=["HS256"]`, { skip }, () => {
    const tokens = PAYLOADS.map((payload) => signToken(payload, ring));
    const tampered = tamperSignature(tokens[0]);
    assert.notEqual(tampered, tokens[0]);
    const decoded = python(DECODE, { key: KEY, tokens: [...tokens, tampered] }) as Record<string, unknown>[];
    PAYLOADS.forEach((payload, i) => {
      assert.deepEqual(decoded[i].payload, payload);
      assert.deepEqual(decoded[i].header, header);
    });
    assert.deepEqual(decoded[PAYLOADS.length], { error: 'InvalidSignatureError' });
  });
}

test(`PyJWT${version === undefined ? '' : ` ${version}`} decodes a Session cookie: the compact claims, exp enforced`, { skip }, async () => {
  const app = new App();
  new Session(app, { keys: [{ key: new TextEncoder().encode(KEY) }] });
  app.post('/login', withSession((_request, session) => { session.set('user', 'admin'); session.save(); return 'ok'; }));
  const client = new TestClient(app);
  await client.post('/login');
  const token = client.cookies.get('session') as string;
  assert.ok(`session=${token}`.length <= 145, `session=${token}`);
  const [decoded] = python(DECODE, { key: KEY, tokens: [token] }) as { payload: { user: string; sid: string; exp: number } }[];
  assert.deepEqual(Object.keys(decoded.payload), ['user', 'sid', 'exp']);
  assert.equal(decoded.payload.user, 'admin');
  assert.match(decoded.payload.sid, /^[\w-]{12}$/);
  const expired = signToken({ ...decoded.payload, exp: now - 60 }, new KeyRing([{ key: new TextEncoder().encode(KEY) }]));
  assert.deepEqual(python(DECODE, { key: KEY, tokens: [expired] }), [{ error: 'ExpiredSignatureError' }]);
});
