/**
 * Forged session cookies: fast-check tampers with valid tokens minted by the real Session (bit flips,
 * part swaps, base64 alphabet abuse, alg/kid/typ/crit tricks, JSON duplicates and huge numbers,
 * Unicode, truncation, tokens from another device's key) and every forgery must be refused twice:
 * by verifyToken, and by the Session behind the real connection code (TestClient) — 401 "no
 * session", or 400/431 when the cookie cannot even form a valid request head; never 200, never 500.
 *
 * Before the forgeries, every minted token is checked to be accepted, so the refusals mean something.
 * The key ring is a rotation/migration ring (signing key, previous key, a kid-less legacy key), the
 * shape with the most ways in. Cases: FUZZ_RUNS/5 on Node when set, else a smaller sample.
 */
import '../support/install-host';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { latin1, latin1Bytes } from '../../modules/http/bytes';
import { isCookieValue } from '../../modules/http/cookies';
import { App, abort } from '../../modules/http/index';
import { TestClient } from '../../modules/http/testclient';
import { runtime } from '../../modules/runtime';
import { base64urlDecode, base64urlEncode } from '../../modules/crypto/base64url';
import { hmacSha256 } from '../../modules/crypto/hmac';
import { KeyRing, signToken, verifyToken } from '../../modules/session/jwt';
import { Session, withSession, type RejectReason } from '../../modules/session/session';
import { fuzzRuns, fuzzSeed, Tally } from '../support/fuzz';

const tally = new Tally('Forged session cookies');
after(() => tally.print());

const utf8 = (text: string) => runtime().utf8Encode(text);
const b64 = (text: string) => base64urlEncode(utf8(text));
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function key(seed: number): Uint8Array {
  return new Uint8Array(32).map((_, i) => (seed * 131 + i * 29) & 0xff);
}

/** The device's ring: the new key signs; the previous key and a kid-less microdot key still verify. */
const KEYS = [{ kid: 'k2', key: key(2) }, { kid: 'k1', key: key(1) }, { key: key(0) }];

function deviceApp(seen: (RejectReason | undefined)[]): { app: App; sessions: Session } {
  const app = new App();
  const sessions = new Session(app, { keys: KEYS, acceptBareTokens: false });
  app.post('/login', withSession((request, session) => {
    session.regenerate();
    session.set('user', request.form?.get('user') ?? 'admin');
    return 'in';
  }));
  app.get('/me', withSession((_request, session) => {
    seen.push(session.rejected);
    const user = session.get('user');
    return user === undefined ? abort(401) : { user };
  }));
  return { app, sessions };
}

interface Forgery {
  kind: string;
  token: string;
}

/** Signs `header.payload` texts with an arbitrary key: what an attacker without our keys can do. */
function signWith(secret: Uint8Array, headerJson: string, payloadJson: string): string {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`;
  return `${input}.${base64urlEncode(hmacSha256(secret, utf8(input)))}`;
}

function segments(token: string): string[] {
  return token.split('.');
}

function decodeText(segment: string): string {
  const bytes = base64urlDecode(segment);
  return bytes === undefined ? '' : runtime().utf8Decode(bytes);
}

/** The tampering generators, each from a valid token. */
function forgeries(valid: fc.Arbitrary<string>): fc.Arbitrary<Forgery>[] {
  const segment = fc.integer({ min: 0, max: 2 });
  const attackerKey = fc.oneof(
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.constantFrom(new Uint8Array(32), new Uint8Array(0), utf8('k1'), utf8('k2'), utf8('secret'), utf8('HS256')),
  );

  const bitFlip = fc.record({ t: valid, seg: segment, at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }).map(({ t, seg, at, bit }) => {
    const parts = segments(t);
    const bytes = base64urlDecode(parts[seg]) as Uint8Array;
    bytes[at % bytes.length] ^= 1 << bit;
    parts[seg] = base64urlEncode(bytes);
    return { kind: 'bit flip (decoded byte)', token: parts.join('.') };
  });

  const charSwap = fc.record({ t: valid, at: fc.nat(), c: fc.constantFrom(...ALPHABET.split('')) }).map(({ t, at, c }) => {
    const i = at % t.length;
    const replacement = t[i] === c ? ALPHABET[(ALPHABET.indexOf(c) + 1) % 64] : c;
    return { kind: 'character substitution', token: t.slice(0, i) + replacement + t.slice(i + 1) };
  });

  const partSwap = fc.record({
    a: valid,
    b: valid,
    picks: fc.array(fc.tuple(fc.boolean(), segment), { minLength: 1, maxLength: 5 }),
  }).map(({ a, b, picks }) => ({
    kind: 'part swap / reorder / count',
    token: picks.map(([fromA, seg]) => segments(fromA ? a : b)[seg]).join('.'),
  }));

  const base64Abuse = fc.record({ t: valid, seg: segment, at: fc.nat(), op: fc.integer({ min: 0, max: 10 }) }).map(({ t, seg, at, op }) => {
    const parts = segments(t);
    const s = parts[seg];
    const i = at % s.length;
    const bytes = base64urlDecode(s) as Uint8Array;
    switch (op) {
      case 0: parts[seg] = s.replace(/-/g, '+').replace(/_/g, '/'); if (parts[seg] === s) parts[seg] = `${s}+`; break;
      case 1: parts[seg] = `${s}${'='.repeat(1 + (at % 3))}`; break;
      case 2: parts[seg] = s.slice(0, i) + [' ', '\t', '\n', '\r\n', '%20'][at % 5] + s.slice(i); break;
      case 3: {
        // Same bytes, other spelling: non-zero unused bits in the last character.
        const unused = s.length % 4 === 2 ? 15 : s.length % 4 === 3 ? 3 : 0;
        if (unused === 0) { parts[seg] = `${s}A`; break; }
        const last = ALPHABET.indexOf(s[s.length - 1]);
        parts[seg] = s.slice(0, -1) + ALPHABET[(last & ~unused) | (1 + (at % unused))];
        break;
      }
      case 4: {
        // Standard base64 with padding, as btoa() would write it.
        let std = base64urlEncode(bytes).replace(/-/g, '+').replace(/_/g, '/');
        while (std.length % 4 !== 0) std += '=';
        parts[seg] = std === s ? `${std}=` : std;
        break;
      }
      case 5: {
        const c = s[i];
        const swapped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
        parts[seg] = s.slice(0, i) + (swapped === c ? `${c}${c}` : swapped) + s.slice(i + 1);
        break;
      }
      case 6: parts[seg] = s.slice(0, i) + `%${s.charCodeAt(i).toString(16).toUpperCase()}` + s.slice(i + 1); break;
      case 7: parts[seg] = s.slice(0, i) + '=' + s.slice(i); break;
      case 8: parts[seg] = `${s}${s.length % 4 === 0 ? 'AA' : 'A'.repeat(4 - (s.length % 4))}`; break; // other bytes, still canonical
      case 9: return { kind: 'base64 alphabet abuse', token: `${t.slice(0, i)}..${t.slice(i + 1)}` };
      default: parts[seg] = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) + 128) + s.slice(i + 1); break;
    }
    return { kind: 'base64 alphabet abuse', token: parts.join('.') };
  });

  const algKid = fc.record({
    t: valid,
    alg: fc.option(fc.constantFrom<unknown>('none', 'None', 'NONE', 'nOnE', 'HS256 ', ' HS256', 'hs256', 'HS256\u0000', 'HS384', 'HS512', 'RS256', 'ES256', 'PS256', 'EdDSA', '', ['HS256'], { alg: 'HS256' }, null, 256), { nil: undefined }),
    kid: fc.option(fc.constantFrom<unknown>('k0', 'K1', 'k1 ', ' k1', 'k1\u0000', '../k1', 'k1/../k2', '', null, 1, ['k1'], { kid: 'k1' }, 'k\u0131', '\u212a1', 'k2', 'k1'), { nil: undefined }),
    typ: fc.constantFrom<unknown>(undefined, 'JWT', 'jwt', 'JWS', 'JOSE', null, 1),
    extra: fc.constantFrom<Record<string, unknown>>({}, { crit: ['exp'] }, { crit: [] }, { jku: 'http://evil/jwks' }, { jwk: { kty: 'oct', k: 'AAAA' } }, { x5u: 'http://evil' }, { b64: false, crit: ['b64'] }, { zip: 'DEF' }),
    sig: fc.constantFrom('original', 'empty', 'attacker', 'short', 'long', 'zeros'),
    secret: attackerKey,
  }).map(({ t, alg, kid, typ, extra, sig, secret }) => {
    const [, payload, signature] = segments(t);
    const header: Record<string, unknown> = { ...extra };
    if (alg !== undefined) header.alg = alg;
    if (kid !== undefined) header.kid = kid;
    if (typ !== undefined) header.typ = typ;
    const h = b64(JSON.stringify(header));
    const input = `${h}.${payload}`;
    const s = sig === 'original' ? signature
      : sig === 'empty' ? ''
        : sig === 'attacker' ? base64urlEncode(hmacSha256(secret, utf8(input)))
          : sig === 'short' ? signature.slice(0, 42)
            : sig === 'long' ? `${signature}AAAA`
              : base64urlEncode(new Uint8Array(32));
    return { kind: 'alg / kid / typ / crit tricks', token: `${input}.${s}` };
  });

  const jsonTricks = fc.record({ t: valid, trick: fc.integer({ min: 0, max: 17 }), resign: fc.boolean(), secret: attackerKey }).map(({ t, trick, resign, secret }) => {
    const [h, p, s] = segments(t);
    const header = decodeText(h);
    const payload = decodeText(p);
    const body = payload.slice(1, -1);
    const texts: [string, string][] = [
      [header, `{"user":"root",${body}}`],
      [header, `{${body},"user":"root"}`],
      [header, payload.replace(/"exp":\d+/, '"exp":1e308')],
      [header, payload.replace(/"exp":\d+/, '"exp":9e999')],
      [header, payload.replace(/"exp":\d+/, '"exp":99999999999999999999999999999')],
      [header, payload.replace(/"exp":\d+/, '"exp":"9999999999"')],
      [header, payload.replace(/"sid":"[\w-]*"/, '"sid":"AAAAAAAA____"')],
      [header, `{${body},"gen":1e308}`],
      [header, `{"__proto__":{"user":"root"},${body}}`],
      [header, payload.replace('"user"', '"\\u0075ser"')],
      [header, ` ${payload.replace(/,/g, ' , ')} `],
      [header, `\ufeff${payload}`],
      [header, `{${body},"deep":${'['.repeat(200)}${']'.repeat(200)}}`],
      [`{"alg":"none",${header.slice(1)}`, payload],
      [`{${header.slice(1, -1)},"alg":"none"}`, payload],
      [`{${header.slice(1, -1)},"alg":"HS256"}`, payload],
      [header.replace('"HS256"', '"HS\\u0032\\u0035\\u0036"'), payload],
      [`${'['.repeat(3)}${header}${']'.repeat(3)}`, payload],
    ];
    const [headerJson, payloadJson] = texts[trick];
    const token = resign ? signWith(secret, headerJson, payloadJson) : `${b64(headerJson)}.${b64(payloadJson)}.${s}`;
    return { kind: 'JSON duplicates / huge numbers', token };
  });

  const unicode = fc.record({
    t: valid,
    at: fc.nat(),
    what: fc.constantFrom('\u200b', '\ufeff', '\u202e', '\uff41', '\u0410', '\u00e9', '\ud83d\ude00', '\ud800', '\udc00', '\u0000', '\u2024', '\uff0e', '\u2011', '\u2010', '\u0131', '\u212a', '\u00a0', '\u3002'),
    replace: fc.boolean(),
    user: fc.constantFrom('admin\u200b', '\u0430dmin', 'ADMIN', 'admin\u0000', '\u212adm', 'adm\u0131n', 'a\u0308dmin', '\ud800'),
    mode: fc.integer({ min: 0, max: 2 }),
    secret: attackerKey,
  }).map(({ t, at, what, replace, user, mode, secret }) => {
    if (mode === 2) {
      // A payload with a lookalike user name, MACed with a key that is not ours.
      const [h, p] = segments(t);
      const payload = JSON.parse(decodeText(p)) as Record<string, unknown>;
      payload.user = user;
      return { kind: 'Unicode', token: signWith(secret, decodeText(h), JSON.stringify(payload)) };
    }
    const i = at % (t.length + 1);
    const token = mode === 0 && t[i] === '.' ? t.slice(0, i) + what + t.slice(i + 1) : t.slice(0, i) + what + t.slice(replace ? i + 1 : i);
    return { kind: 'Unicode', token };
  });

  const truncation = fc.record({ t: valid, cut: fc.nat(), tail: fc.string({ unit: fc.constantFrom(...`${ALPHABET}.=`.split('')), minLength: 1, maxLength: 12 }), mode: fc.integer({ min: 0, max: 3 }) })
    .map(({ t, cut, tail, mode }) => {
      const token = mode === 0 ? t.slice(0, cut % t.length)
        : mode === 1 ? t + tail
          : mode === 2 ? `${t}.${t}`
            : t.slice(0, cut % t.length) + tail + t.slice(cut % t.length);
      return { kind: 'truncation / extension', token };
    });

  const otherKey = fc.record({ t: valid, secret: attackerKey, kid: fc.constantFrom<string | undefined>('k2', 'k1', undefined, 'k3') }).map(({ t, secret, kid }) => {
    const payload = JSON.parse(decodeText(segments(t)[1])) as Record<string, unknown>;
    // A well-formed token for our claims, from another device's (or a guessed) key under our kid.
    const ring = new KeyRing([kid === undefined ? { key: pad(secret) } : { kid, key: pad(secret) }]);
    return { kind: 'signed with another key', token: signToken(payload, ring) };
  });

  return [bitFlip, charSwap, partSwap, base64Abuse, algKid, jsonTricks, unicode, truncation, otherKey];
}

/** KeyRing refuses keys under 32 bytes: short guesses are zero-padded (HMAC pads them the same way). */
function pad(secret: Uint8Array): Uint8Array {
  if (secret.length >= 32) return secret;
  const out = new Uint8Array(32);
  out.set(secret);
  return out;
}

/** The request bytes for a Cookie header carrying `cookie` (UTF-8 for characters a header cannot hold). */
function requestWithCookie(cookie: string): Uint8Array {
  return utf8(`GET /me HTTP/1.1\r\nHost: device\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`);
}

function statusOf(out: Uint8Array): number {
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(latin1(out, 0, Math.min(out.length, 20)));
  return match === null ? 0 : Number(match[1]);
}

test('every forged session token is refused by verifyToken and by the Session (401 or a parser 4xx, never 200 or 500)', async () => {
  const seen: (RejectReason | undefined)[] = [];
  const { app, sessions } = deviceApp(seen);
  const client = new TestClient(app);

  // Valid tokens from the real Session: for several users, and from each key of the ring.
  const users = ['admin', 'alice', 'Zo\u00eb', '\u7ba1\u7406\u8005', 'a'.repeat(60), 'x"y\\z', '\ud83d\ude00'];
  const minted: string[] = [];
  for (const user of users) {
    const login = await client.post('/login', { form: { user } });
    assert.equal(login.status, 200);
    minted.push(client.cookies.get('session') as string);
    client.cookies.clear();
  }
  const now = Math.floor(runtime().now() / 1000);
  const claims = { user: 'admin', sid: 'AAAAAAAAAAAA', exp: now + 3600 };
  minted.push(signToken(claims, new KeyRing([KEYS[1]])), signToken(claims, new KeyRing([KEYS[2]])));
  const validSet = new Set(minted);
  for (const token of minted) {
    assert.ok(verifyToken(token, sessions.keyRing).ok, `control: minted token refused: ${token}`);
    const out = await client.exchange(requestWithCookie(`session=${token}`));
    assert.equal(statusOf(out), 200, `control: minted token not accepted by the Session: ${latin1(out)}`);
  }

  const valid = fc.constantFrom(...minted);
  const forgery = fc.oneof(...forgeries(valid)).filter((f) => !validSet.has(f.token));
  const cookieForm = fc.oneof({ weight: 4, arbitrary: fc.constant('plain') }, fc.constantFrom('quoted', 'valid first', 'valid last', 'padded'));
  const seed = fuzzSeed();
  const runs = fuzzRuns(1000, 150, 0.2);

  await fc.assert(fc.asyncProperty(forgery, cookieForm, valid, async ({ kind, token }, form, good) => {
    const row = tally.row(kind);
    row.tried++;
    let result;
    try {
      result = verifyToken(token, sessions.keyRing);
    } catch (error) {
      row.crashes++;
      throw new Error(`verifyToken threw for ${JSON.stringify(token)}: ${String(error)}`);
    }
    if (result.ok) {
      row.accepted++;
      assert.fail(`verifyToken accepted a forgery (${kind}): ${JSON.stringify(token)}`);
    }
    tally.saw(`verifyToken: ${result.reason}`);

    // Blanks around a cookie value are not part of it (RFC 6265): the Session would see a minted token.
    if (validSet.has(token.replace(/^[ \t]+|[ \t]+$/g, ''))) {
      tally.saw('Session: not tried (only blanks around a minted token)');
      row.rejected++;
      return;
    }
    // The same token as the Session meets it: alone, quoted, or next to a valid cookie of the same name.
    const cookie = form === 'plain' ? `session=${token}`
      : form === 'quoted' ? `session="${token}"`
        : form === 'valid first' ? `session=${good}; session=${token}`
          : form === 'valid last' ? `theme=dark; session=${token}; session=${good}`
            : `session= ${token} `;
    seen.length = 0;
    const out = await client.exchange(requestWithCookie(cookie));
    const status = statusOf(out);
    const beside = form === 'valid first' || form === 'valid last';
    if (status === 200 && beside && !isCookieValue(token)) {
      // Not a cookie value at all, so the Cookie header holds one session cookie, the valid one: it
      // must serve its own user, with nothing of the forgery.
      const text = latin1(out);
      const user = JSON.parse(decodeText(segments(good)[1])).user as string;
      assert.equal(runtime().utf8Decode(latin1Bytes(text.slice(text.indexOf('\r\n\r\n') + 4))), JSON.stringify({ user }));
      tally.saw('Session: forgery not a cookie value; the valid cookie beside it served its own user');
      row.rejected++;
      return;
    }
    if (status === 200) {
      row.accepted++;
      assert.fail(`the Session accepted a forgery (${kind}, ${form}): ${JSON.stringify(cookie)}`);
    }
    if (status === 401 && beside && isCookieValue(token)) assert.equal(seen[0], 'duplicate');
    // 400/431: the cookie made the request head itself malformed or too large; the parser refused it.
    if (status !== 401 && status !== 400 && status !== 431) {
      row.crashes++;
      assert.fail(`status ${status} for a forgery (${kind}, ${form}): ${JSON.stringify(cookie)}\n${latin1(out)}`);
    }
    assert.equal(client.server.connectionCount, 0);
    tally.saw(status === 401 ? `Session: 401 (${seen[0] ?? 'cookie not readable'})` : `parser: ${status}`);
    row.rejected++;
  }), seed === undefined ? { numRuns: runs } : { numRuns: runs, seed });

  const totals = tally.totals;
  assert.equal(totals.accepted, 0);
  assert.equal(totals.crashes, 0);
});

test('regression: header member names are checked before JSON.parse (XS interns every parsed name for good)', () => {
  // Found by the XS soak: forged cookies whose header named new members grew the live heap by one slot
  // per name, never collected (XS keeps every property name in its key table), before any MAC check.
  const ring = new KeyRing(KEYS);
  const parsed: string[] = [];
  const parse = JSON.parse;
  JSON.parse = ((text: string, reviver?: (key: string, value: unknown) => unknown) => {
    parsed.push(text);
    return parse(text, reviver);
  }) as typeof JSON.parse;
  const results: string[] = [];
  try {
    for (const header of [
      '{"alg":"HS256","kid":"k2","x1":0}', '{"alg":"HS256","kid":"k2","jwk":{"k":"AA"}}', '{"alg":"HS256","crit":{"y":1}}',
      '{"\\u0061lg":"HS256","kid":"k2"}', '{"alg":"HS256","kid":"k2","typ":"JWT","cty":"JWT"}', '{"alg" :"HS256","é":1}',
      // Malformed, but XS interns a name before it finds the missing colon.
      '{"alg":"HS256","kid":"k2","n1"}', '{"alg":"HS256","kid":"k2", "n2" }',
    ]) {
      // Correctly MACed with our own key: the names alone must get it refused, before parsing.
      const result = verifyToken(signWith(KEYS[0].key, header, '{"user":"admin"}'), ring);
      results.push(result.ok ? 'ok' : result.reason);
    }
  } finally {
    JSON.parse = parse;
  }
  assert.deepEqual(results, Array(8).fill('header'));
  assert.deepEqual(parsed, [], 'JSON.parse saw a header with unknown member names');
  // Known names, in any order, spaced or not, still verify.
  for (const header of ['{"typ":"JWT","kid":"k2","alg":"HS256"}', '{ "alg" : "HS256" , "kid" : "k2" }', '{"alg":"HS256","kid":"k2","typ":"JWT"}']) {
    const result = verifyToken(signWith(KEYS[0].key, header, '{"user":"admin"}'), ring);
    assert.ok(result.ok, `${header}: ${result.ok ? '' : result.reason}`);
  }
});
