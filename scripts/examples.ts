/**
 * Builds every example (examples/<name>/manifest.json) for x-cli-lin with the Moddable SDK's mcconfig
 * (`-m -t build`, output build/examples/<name>) and runs tests/examples against those executables in a
 * private network namespace (the SDK's Linux listener binds 0.0.0.0).
 *
 *   tsx scripts/examples.ts [--if-sdk]   with --if-sdk a missing $MODDABLE is a reported skip (npm test)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testBuildPath, typecheckBuild } from './mcconfig-tsc/index';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function fail(message: string): never {
  process.stderr.write(`examples: ${message}\n`);
  process.exit(1);
}

const sdk = process.env.MODDABLE;
if (!sdk) {
  if (process.argv.includes('--if-sdk')) {
    process.stdout.write('test:examples:moddable skipped: MODDABLE is not set (no Moddable SDK here), so the examples were not built for x-cli-lin\n');
    process.exit(0);
  }
  fail('MODDABLE is not set: install the Moddable SDK and build its tools (README, "On Moddable")');
}
const tools = join(sdk, 'build', 'bin', 'lin', 'release');
if (!existsSync(join(tools, 'mcconfig'))) fail(`${tools}/mcconfig does not exist: build the SDK's tools first`);
// Types stripped per module, then one type check per build (scripts/mcconfig-tsc); our TypeScript ≥ 6.
const env = { ...process.env, PATH: testBuildPath(tools) };

const out = join(ROOT, 'build', 'examples');
for (const name of readdirSync(join(ROOT, 'examples')).sort()) {
  const manifest = join(ROOT, 'examples', name, 'manifest.json');
  if (!existsSync(manifest)) continue;
  mkdirSync(join(out, name), { recursive: true });
  process.stdout.write(`mcconfig -m -p x-cli-lin -t build examples/${name}/manifest.json\n`);
  const built = spawnSync(join(tools, 'mcconfig'), ['-m', '-p', 'x-cli-lin', '-t', 'build', '-o', join(out, name), manifest], { cwd: ROOT, env, stdio: 'inherit' });
  if (built.status !== 0) fail(`mcconfig failed for examples/${name} (exit ${built.status})`);
  if (typecheckBuild(join(out, name)) !== 0) fail(`examples/${name} does not type-check for Moddable: see tsc's errors above`);
}

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const test = [process.execPath, '--import', 'tsx', '--test', '--test-concurrency=1', 'tests/examples/examples.test.ts'].join(' ');
process.stdout.write('running tests/examples against the x-cli-lin builds in a private network namespace\n');
const ran = spawnSync('unshare', [root ? '-n' : '-rn', 'sh', '-c', `ip link set lo up && exec ${test}`], {
  cwd: ROOT, env: { ...env, XSDOT_EXAMPLES_BUILD: out }, stdio: 'inherit',
});
process.exit(ran.status ?? 1);
