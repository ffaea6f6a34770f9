/**
 * The Node key store (hosts/node/runtime.ts FileStore, dataDir): private directory, exclusive randomly
 * named temporary files, no symbolic links, no foreign files, memory changed only after a write landed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataDir, FileStore } from '../../hosts/node/runtime';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'xsdot-store-'));
}

test('FileStore: writes land whole (0600), leave no temporary file, and survive a reopen', () => {
  const dir = scratch();
  try {
    const path = join(dir, '.sesskey');
    const store = new FileStore(path);
    store.set('a', '1');
    store.set('b', '2');
    store.delete('a');
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { b: '2' });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['.sesskey'], 'no temporary file left behind');
    assert.equal(new FileStore(path).get('b'), '2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('FileStore: a write that fails throws and changes nothing, in memory or on disk', () => {
  const dir = scratch();
  try {
    const path = join(dir, 'sub', '.sesskey');
    mkdirSync(join(dir, 'sub'));
    const store = new FileStore(path);
    store.set('pw.admin', 'old');
    rmSync(join(dir, 'sub'), { recursive: true }); // the directory vanishes: the next write cannot land
    assert.throws(() => store.set('pw.admin', 'new'), /ENOENT/);
    assert.equal(store.get('pw.admin'), 'old', 'memory follows only what the store accepted');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('FileStore: a symbolic link at the store path is refused (a swapped-in key file)', () => {
  const dir = scratch();
  try {
    const theirs = join(dir, 'attacker-keys.json');
    writeFileSync(theirs, JSON.stringify({ 'xsdot.keys': 'k:AAAA' }));
    symlinkSync(theirs, join(dir, '.sesskey'));
    assert.throws(() => new FileStore(join(dir, '.sesskey')), /refusing the store .*symbolic link/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('FileStore: temporary names are random and created exclusively; a planted file of the old fixed name is ignored', () => {
  const dir = scratch();
  try {
    const path = join(dir, '.sesskey');
    // The old code wrote `.sesskey.tmp` and followed a link there.
    symlinkSync(join(dir, 'elsewhere'), `${path}.tmp`);
    const store = new FileStore(path);
    store.set('k', 'v');
    assert.deepEqual(readdirSync(dir).sort(), ['.sesskey', '.sesskey.tmp']);
    assert.equal(readdirSync(dir).includes('elsewhere'), false, 'nothing was written through the planted link');
    const source = readFileSync(new URL('../../hosts/node/runtime.ts', import.meta.url), 'utf8');
    assert.match(source, /O_CREAT \| constants\.O_EXCL \| constants\.O_NOFOLLOW/, 'exclusive creation');
    assert.match(source, /randomBytes\(8\)\.toString\('hex'\)\}\.tmp/, 'a random name');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dataDir: created 0700; a directory writable by others is refused; .xsdot/ by default', () => {
  const dir = scratch();
  const saved = process.env.XSDOT_DATA_DIR;
  try {
    process.env.XSDOT_DATA_DIR = join(dir, 'state');
    assert.equal(dataDir(), join(dir, 'state'));
    assert.equal(statSync(join(dir, 'state')).mode & 0o777, 0o700);
    chmodSync(join(dir, 'state'), 0o777);
    assert.throws(() => dataDir(), /writable by other users \(mode 777\): chmod 700 it/);
    process.env.XSDOT_DATA_DIR = '';
    const cwd = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./hosts/node/runtime.ts').then((m) => process.stdout.write(m.dataDir()))"], {
      cwd: process.cwd(), env: { ...process.env, XSDOT_DATA_DIR: '' }, encoding: 'utf8',
    });
    assert.equal(cwd.stdout, join(process.cwd(), '.xsdot'), cwd.stderr);
  } finally {
    if (saved === undefined) delete process.env.XSDOT_DATA_DIR;
    else process.env.XSDOT_DATA_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.gitignore covers the store and its temporary files', () => {
  const ignore = spawnSync('git', ['check-ignore', '--no-index', '.sesskey', '.sesskey.tmp', '.sesskey.0123456789abcdef.tmp', '.xsdot/x'], { encoding: 'utf8' });
  assert.deepEqual(ignore.stdout.trim().split('\n'), ['.sesskey', '.sesskey.tmp', '.sesskey.0123456789abcdef.tmp', '.xsdot/x']);
});
