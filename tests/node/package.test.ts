/**
 * xsdot as another project gets it: `npm pack`, then `npm install --offline ./xsdot-<version>.tgz` into a
 * fresh project, whose module imports xsdot, xsdot/session, xsdot/node and xsdot/testing. It type-checks
 * (strict, against the package's exports) and runs under tsx: TestClient with no setup, then serve() on a
 * real socket, whose runtime keeps the session key in the project's XSDOT_DATA_DIR.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = import.meta.resolve('tsx');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const APP = `import assert from 'node:assert/strict';
import { App, Response } from 'xsdot';
import { Session, withSession } from 'xsdot/session';
import { serve } from 'xsdot/node';
import { TestClient } from 'xsdot/testing';

const app = new App();
new Session(app);
app.get('/', () => 'Hello, World!');
app.route('/me', ['GET', 'POST'], withSession((request, session) => {
  if (request.method === 'POST') session.set('user', 'ada');
  return Response.json({ user: session.get('user') ?? null });
}));

const client = new TestClient(app);
assert.equal((await client.get('/')).text, 'Hello, World!');
await client.post('/me');
assert.deepEqual((await client.get('/me')).json, { user: 'ada' });

const running = await serve(app, { port: 0 });
const answer = await fetch(running.url + '/');
assert.equal(await answer.text(), 'Hello, World!');
running.close();
console.log('package ok');
`;

test('npm pack, install offline into a new project, type-check and run its imports', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'xsdot-package-'));
  try {
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' })) as { filename: string }[];
    const tarball = packed[0].filename;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'my-device', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', `./${tarball}`], { cwd: dir, encoding: 'utf8' });
    assert.ok(existsSync(join(dir, 'node_modules', 'xsdot', 'manifest_xsdot.json')), 'the Moddable manifest ships');
    assert.ok(!existsSync(join(dir, 'node_modules', 'xsdot', 'tests')), 'tests do not ship');

    writeFileSync(join(dir, 'app.ts'), APP);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'es2022', module: 'preserve', moduleResolution: 'bundler', strict: true, noEmit: true,
        skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], lib: ['es2023', 'dom'],
      },
      include: ['app.ts'],
    }));
    const checked = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
    assert.equal(checked.status, 0, `tsc in the new project:\n${checked.stdout}${checked.stderr}`);

    const ran = spawnSync(process.execPath, ['--import', TSX, 'app.ts'], { cwd: dir, encoding: 'utf8', env: { ...process.env, XSDOT_DATA_DIR: join(dir, 'data') }, timeout: 60_000 });
    assert.equal(ran.status, 0, `the new project's app:\n${ran.stdout}${ran.stderr}`);
    assert.match(ran.stdout, /xsdot listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(ran.stdout, /package ok/);
    assert.ok(readFileSync(join(dir, 'data', '.sesskey'), 'utf8').length > 0, 'xsdot/node keeps the key in XSDOT_DATA_DIR');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
