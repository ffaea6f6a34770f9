/** The revocation record (modules/session/revocation.ts) on its own: bounds, fallbacks, fail-closed parsing. Runs on Node and XS. */
import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installRuntime, runtime, type Runtime } from '../../modules/runtime';
import { MAX_USERS, REVOCATION_STORE_KEY, Revocations, userHash } from '../../modules/session/revocation';

/** Runs `body` with a fresh in-memory store (and counts its writes). */
function withStore(body: (values: Map<string, string>, writes: () => number) => void, values = new Map<string, string>()): void {
  const base = runtime();
  let count = 0;
  const shim = Object.create(base) as Runtime;
  Object.defineProperty(shim, 'store', {
    value: { get: (k: string) => values.get(k), set: (k: string, v: string) => { count++; values.set(k, v); }, delete: (k: string) => void values.delete(k) },
  });
  installRuntime(shim);
  try {
    body(values, () => count);
  } finally {
    installRuntime(base);
  }
}

const NOW = 1_800_000_000;

test('a first start writes a record that revokes nothing minted from now on', () => {
  withStore((values, writes) => {
    const revocations = new Revocations({ now: NOW, trustedClock: true });
    assert.equal(values.get(REVOCATION_STORE_KEY), `v1|${NOW}||`);
    assert.equal(revocations.notBefore, NOW);
    assert.equal(writes(), 1);
    new Revocations({ now: NOW + 50, trustedClock: true });
    assert.equal(writes(), 1, 'an intact record is only read');
  });
  withStore((values) => {
    new Revocations({ now: 123, trustedClock: false });
    assert.equal(values.get(REVOCATION_STORE_KEY), 'v1|0||', 'no not-before time on an unset clock (tokens are boot-bound then)');
  });
});

test('corrupt records fail closed: any malformed part means "everything before now is revoked"', () => {
  const sid = 'AAAAAAAA';
  for (const corrupt of ['', 'v2|0||', 'v1|0|', 'v1|x||', 'v1|0|h=0|', 'v1|0|h=1,h=2|', 'v1|0||sid', `v1|0||${sid}@x`, `v1|0||a.b@5`, 'v1|01||', `v1|0||${'A'.repeat(25)}@5`]) {
    withStore((values) => {
      const revocations = new Revocations({ now: NOW, trustedClock: true });
      assert.equal(revocations.notBefore, NOW, JSON.stringify(corrupt));
      assert.equal(values.get(REVOCATION_STORE_KEY), `v1|${NOW}||`, 'rewritten');
    }, new Map([[REVOCATION_STORE_KEY, corrupt]]));
  }
});

test('revokeSession lists ids until they expire; a full list raises the user generation instead; bounded size', () => {
  withStore((values, writes) => {
    const revocations = new Revocations({ now: NOW, trustedClock: true, maxSessions: 3 });
    const admin = userHash('admin');
    for (let i = 0; i < 3; i++) assert.equal(revocations.revokeSession(`sid${i}AAAA`, NOW + 100 * (i + 1), admin, NOW), 'session');
    assert.equal(revocations.isRevoked('sid1AAAA'), true);
    assert.equal(revocations.revokeSession('sid3AAAA', NOW + 500, admin, NOW), 'user', 'full: fall back to every session of the user');
    assert.equal(revocations.generation(admin), 1);
    assert.equal(revocations.isRevoked('sid3AAAA'), false, 'not listed, but its generation is old now');
    assert.equal(revocations.revokeSession('sid4AAAA', NOW + 500, admin, NOW + 150), 'session', 'an expired id made room');
    assert.equal(revocations.isRevoked('sid0AAAA'), false);
    assert.equal(revocations.revokedCount, 3);
    assert.equal(writes(), 6);
    const again = new Revocations({ now: NOW + 200, trustedClock: true, maxSessions: 3 });
    assert.equal(again.isRevoked('sid4AAAA'), true, 'read back after a reboot');
    assert.equal(again.generation(admin), 1);
    assert.equal(again.notBefore, NOW);
    void values;
  });
});

test('more users revoked than the record holds: everything before now is revoked, the table starts over', () => {
  withStore(() => {
    const revocations = new Revocations({ now: NOW, trustedClock: true });
    for (let i = 0; i < MAX_USERS; i++) revocations.revokeUser(userHash(`user${i}`), NOW + i);
    assert.equal(revocations.notBefore, NOW);
    revocations.revokeSession('keptAAAA', NOW + 1000, userHash('user0'), NOW);
    revocations.revokeUser(userHash('one too many'), NOW + 99);
    assert.equal(revocations.notBefore, NOW + 99);
    assert.equal(revocations.generation(userHash('user0')), 0, 'forgotten, but older than notBefore');
    assert.equal(revocations.isRevoked('keptAAAA'), false);
    assert.equal(revocations.generation(userHash('one too many')), 1);
  });
});

test('the record fits NVS (< 4000 bytes) at its largest; a refused write changes nothing', () => {
  withStore((values) => {
    const revocations = new Revocations({ now: NOW, trustedClock: true, maxSessions: 64 });
    for (let i = 0; i < MAX_USERS; i++) revocations.revokeUser(userHash(`user${i}`), NOW);
    for (let i = 0; i < 64; i++) revocations.revokeSession(`${'A'.repeat(20)}${String(i).padStart(4, '0')}`, 999_999_999_999_999, userHash('user0'), NOW);
    const size = values.get(REVOCATION_STORE_KEY)?.length ?? 0;
    assert.ok(size < 3000, `${size} bytes`);
    assert.throws(() => new Revocations({ now: NOW, trustedClock: true, maxSessions: 65 }), RangeError);
  });
  const values = new Map<string, string>();
  withStore(() => {
    const revocations = new Revocations({ now: NOW, trustedClock: true });
    const base = runtime();
    const failing = Object.create(base) as Runtime;
    Object.defineProperty(failing, 'store', { value: { get: (k: string) => values.get(k), set: () => { throw new Error('flash full'); }, delete: () => undefined } });
    installRuntime(failing);
    assert.throws(() => revocations.revokeSession('sidAAAAA', NOW + 10, userHash('admin'), NOW), /flash full/);
    assert.throws(() => revocations.revokeUser(userHash('admin'), NOW), /flash full/);
    assert.equal(revocations.isRevoked('sidAAAAA'), false, 'memory follows the store');
    assert.equal(revocations.generation(userHash('admin')), 0);
    installRuntime(base);
  }, values);
});
