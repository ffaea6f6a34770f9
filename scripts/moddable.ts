/**
 * Builds and runs xsdot on Moddable targets with an installed Moddable SDK ($MODDABLE; `.ci/run` builds
 * one with scripts/moddable-sdk.sh); never builds the SDK itself. Every build is `mcconfig -m -t build`
 * (no `-d`: those makefiles pkill mcsim and serial2xsbug), output under build/<platform>.
 *
 *   tsx scripts/moddable.ts build cli|sim|esp32 [name=value …]   mcconfig config, e.g. ssid=… password=…
 *   tsx scripts/moddable.ts sim                                  build, then run the simulator (mcsim)
 *   tsx scripts/moddable.ts check-esp32                          the ESP32 build up to where ESP-IDF is needed
 *   tsx scripts/moddable.ts test [--if-sdk]                      runtime self-test; tests/integration on the
 *                                                                x-cli-lin executable and in the simulator;
 *                                                                check-esp32
 *
 * `test` runs the executable, the simulator and the test runner inside a private network namespace
 * (`unshare -n`, or `unshare -rn` when not root), because the SDK's Linux listener binds 0.0.0.0
 * whatever the address. With `--if-sdk` a missing $MODDABLE is a plainly reported skip instead of a
 * failure (for `npm test`) — except in CI (CI=true), where the Moddable targets must be tested.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testBuildPath, typecheckBuild } from './mcconfig-tsc/index';
import { buildAssets } from './assets';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MANIFEST = join(ROOT, 'manifest.json');

/** The login app's static files into build/assets/login, which manifest.json includes (scripts/assets.ts). */
function loginAssets(): void {
  buildAssets(join(ROOT, 'app', 'static'), join(ROOT, 'build', 'assets', 'login'), 'login');
}
const NAME = 'xsdot';

/** Our names for the mcconfig platforms. */
const PLATFORMS = { cli: 'x-cli-lin', sim: 'lin', esp32: 'esp32' } as const;
type Target = keyof typeof PLATFORMS;

class UsageError extends Error {}

function fail(message: string): never {
  throw new UsageError(message);
}

const SDK_HELP =
  'Install the Moddable SDK and build its tools (documentation/Moddable SDK - Getting Started.md in\n' +
  'https://github.com/Moddable-OpenSource/moddable), then:\n' +
  '  export MODDABLE=/path/to/moddable\n' +
  '  export PATH="$MODDABLE/build/bin/lin/release:$PATH"';

/** The SDK's tool directory, after checking $MODDABLE. */
function sdkTools(): string {
  if (process.platform !== 'linux') fail(`these scripts drive the Moddable SDK's Linux tools; this is ${process.platform}`);
  const sdk = process.env.MODDABLE;
  if (!sdk) fail(`MODDABLE is not set.\n${SDK_HELP}`);
  const tools = join(sdk, 'build', 'bin', 'lin', 'release');
  if (!existsSync(join(tools, 'mcconfig'))) fail(`MODDABLE=${sdk}, but ${tools}/mcconfig does not exist: build the SDK's tools first.\n${SDK_HELP}`);
  return tools;
}

/** PATH for mcconfig: the SDK tools and our TypeScript ≥ 6 (mcconfig's tsconfig targets es2025). */
function toolPath(tools: string): string {
  return [tools, join(ROOT, 'node_modules', '.bin'), process.env.PATH ?? ''].join(delimiter);
}

function checkTypeScript(path: string): void {
  const result = spawnSync('tsc', ['--version'], { env: { ...process.env, PATH: path }, encoding: 'utf8' });
  const major = Number(/Version (\d+)/.exec(result.stdout ?? '')?.[1]);
  if (!(major >= 6)) fail(`mcconfig compiles TypeScript with tsc ≥ 6 (found: ${result.stdout?.trim() || 'none'}); run npm ci first`);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
  });
}

export interface Built {
  /** The executable (cli), the simulator library mc.so (sim), or the build directory (esp32). */
  output: string;
  env: NodeJS.ProcessEnv;
}

/**
 * `mcconfig -m -p <platform> -t build -o build/<outName> manifest [config…]`. A `forTest` build strips
 * types per module and type-checks the build once (scripts/mcconfig-tsc), instead of mcconfig's tsc per module.
 */
async function build(target: Target, config: string[], manifest = MANIFEST, outName: string = PLATFORMS[target], forTest = false): Promise<Built> {
  const tools = sdkTools();
  const platform = PLATFORMS[target];
  if (target === 'esp32' && !process.env.IDF_PATH) {
    fail('IDF_PATH is not set: install ESP-IDF (the version the SDK expects, v6.0 for SDK 8.2) and source its export.sh\n' +
      '(documentation/devices/esp32.md in the Moddable SDK), then run again.');
  }
  if (target === 'esp32' && !config.some((item) => item.startsWith('ssid='))) {
    process.stderr.write('note: no ssid=… given: the device will not join a Wi-Fi network (npm run build:esp32 -- ssid=NAME password=SECRET)\n');
  }
  for (const item of config) if (!/^[A-Za-z_][\w]*=/.test(item)) fail(`not a name=value config setting: ${item}`);
  const env = { ...process.env, PATH: forTest ? testBuildPath(tools) : toolPath(tools) };
  checkTypeScript(env.PATH as string);
  const outDir = join(ROOT, 'build', outName);
  mkdirSync(outDir, { recursive: true });
  if (manifest === MANIFEST) loginAssets();
  const args = ['-m', '-p', platform, '-t', 'build', '-o', outDir, manifest, ...config];
  process.stdout.write(`mcconfig ${args.map((a) => (a.startsWith('password=') ? 'password=…' : a)).join(' ')}\n`);
  const status = await run(join(tools, 'mcconfig'), args, env);
  if (status !== 0) fail(`mcconfig failed (exit ${status})`);
  if (forTest && typecheckBuild(outDir) !== 0) fail(`the ${outName} build's TypeScript does not type-check: see tsc's errors above`);
  const output = target === 'cli' ? join(outDir, 'bin', 'lin', 'release', NAME) : target === 'sim' ? findFile(join(outDir, 'bin'), 'mc.so') : outDir;
  if (!existsSync(output)) fail(`the build finished but ${output} is missing`);
  return { output, env };
}

function findFile(dir: string, name: string): string {
  if (!existsSync(dir)) return join(dir, name);
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === name) return path;
    if (statSync(path).isDirectory()) {
      const found = findFile(path, name);
      if (existsSync(found)) return found;
    }
  }
  return join(dir, name);
}

/** Builds and starts the simulator; under xvfb-run when there is no display. */
async function sim(config: string[]): Promise<number> {
  const { output, env } = await build('sim', config);
  const tools = sdkTools();
  const mcsim = join(tools, 'mcsim');
  process.stdout.write(
    `starting ${mcsim} ${output}\n` +
    'note: the SDK\'s Linux listener binds 0.0.0.0: the simulator is reachable from your network while it runs.\n');
  let command = mcsim;
  let args = [output];
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    if (!commandExists('xvfb-run')) fail('no display (DISPLAY is unset) and no xvfb-run: run on a desktop, or apt-get install xvfb');
    command = 'xvfb-run';
    // stdbuf: mcsim's trace() output is block-buffered when stdout is a pipe.
    args = ['-a', 'stdbuf', '-oL', '-eL', mcsim, output];
  }
  return run(command, args, env);
}

function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * The ESP32 build as far as it goes without ESP-IDF (mcconfig -m stops at once: "$IDF_PATH not set"):
 * mcconfig resolves the esp32 manifest and writes the makefile (without -m it runs nothing), then make
 * runs only the XS steps of that makefile — JavaScript and xsc for every module, then xsl, which links them
 * and preloads what the manifest preloads (refusing, for instance, a preloaded RegExp) into mc.xs.c — and
 * the build is type-checked (scripts/mcconfig-tsc). The C compilation and the firmware image need ESP-IDF
 * and are not done. A type or preload error fails.
 */
async function checkEsp32(): Promise<void> {
  const tools = sdkTools();
  const env = { ...process.env, PATH: testBuildPath(tools) };
  checkTypeScript(env.PATH as string);
  const outDir = join(ROOT, 'build', 'esp32-check');
  rmSync(outDir, { recursive: true, force: true });
  const noIdf = join(outDir, 'no-esp-idf');
  const linked = join(outDir, 'xsl');
  mkdirSync(noIdf, { recursive: true });
  mkdirSync(linked, { recursive: true });
  loginAssets();
  process.stdout.write(`mcconfig -p esp32 -o ${outDir} manifest.json (makefile only)\n`);
  let status = await run(join(tools, 'mcconfig'), ['-p', 'esp32', '-t', 'build', '-o', outDir, MANIFEST], env);
  if (status !== 0) fail(`mcconfig could not resolve the esp32 manifest (exit ${status})`);
  const makefile = join(outDir, 'tmp', 'esp32', 'release', NAME, 'makefile');
  if (!existsSync(makefile)) fail(`mcconfig wrote no ${makefile}`);
  // A target of our own next to the generated ones: the module objects, then xsl as the makefile runs it.
  const check = join(outDir, 'xs-check.mk');
  writeFileSync(check, 'xsdot-xs-check: $(MODULES)\n\txsl -b $(MODULES_DIR) -o $(XSDOT_XSL_DIR) $(PRELOADS) $(STRIPS) $(CREATION) $(MODULES)\n');
  const expected = /^EXPECTED_ESP_IDF = (\S+)$/m.exec(readFileSync(makefile, 'utf8'))?.[1] ?? 'v6.0';
  process.stdout.write(`make: tsc, xsc and xsl for every module of the esp32 build (no ESP-IDF: ${expected} is what it would need)\n`);
  // IDF_PATH and IDF_VERSION on the command line satisfy the makefile's checks; nothing reads that directory.
  status = await run('make', ['-s', '-j2', '-f', makefile, '-f', check, `IDF_PATH=${noIdf}`, `IDF_VERSION=${expected}`, `XSDOT_XSL_DIR=${linked}`, 'xsdot-xs-check'], env);
  if (status !== 0) fail(`the esp32 modules do not compile or link (make exit ${status}): see the tsc, xsc or xsl errors above`);
  if (typecheckBuild(outDir) !== 0) fail('the esp32 build\'s TypeScript does not type-check: see tsc\'s errors above');
  if (!existsSync(join(linked, 'mc.xs.c'))) fail(`xsl wrote no ${join(linked, 'mc.xs.c')}`);
  process.stdout.write(`esp32: every module compiled and linked (${join(linked, 'mc.xs.c')}); stopped where ESP-IDF is needed\n`);
}

/** Runs tests/integration against `target` (moddable: the x-cli-lin executable; mcsim: the simulator) in a private netns. */
async function integration(target: 'moddable' | 'mcsim', env: NodeJS.ProcessEnv): Promise<number> {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const files = readdirSync(join(ROOT, 'tests', 'integration')).filter((f) => f.endsWith('.test.ts')).map((f) => join('tests', 'integration', f));
  const node = [process.execPath, '--import', 'tsx', '--test', '--test-concurrency=1', ...files].map(shellQuote).join(' ');
  process.stdout.write(`running tests/integration against ${target} in a private network namespace\n`);
  return run('unshare', [root ? '-n' : '-rn', 'sh', '-c', `ip link set lo up && exec ${node}`], { ...env, XSDOT_TARGET: target });
}

/**
 * Builds and runs the runtime self-test (hosts/moddable/selftest: known answers, limits, timings), then
 * builds the x-cli-lin executable and the simulator app and runs the integration suite against each in
 * a private netns, then checks the esp32 build.
 */
async function test(): Promise<number> {
  for (const [command, why] of [
    ['unshare', 'unshare (util-linux) is missing: the tests run the servers in a private network namespace'],
    ['ip', 'ip is missing (apt-get install iproute2): needed to bring up loopback in the private network namespace'],
    ['xvfb-run', 'xvfb-run is missing (apt-get install xvfb xauth): the simulator test runs mcsim on a virtual display'],
  ] as const) {
    if (!commandExists(command)) fail(why);
  }
  const selftest = await build('cli', [], join(ROOT, 'hosts', 'moddable', 'selftest', 'manifest.json'), 'x-cli-lin-selftest', true);
  const scratch = mkdtempSync(join(tmpdir(), 'xsdot-selftest-'));
  try {
    process.stdout.write(`running the runtime self-test ${selftest.output}\n`);
    const status = await run(selftest.output, [], { ...process.env, XSDOT_DATA_DIR: scratch });
    if (status !== 0) fail(`the runtime self-test failed (exit ${status})`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const cli = await build('cli', [], MANIFEST, PLATFORMS.cli, true);
  let status = await integration('moddable', { ...process.env, XSDOT_MODDABLE_EXECUTABLE: cli.output });
  if (status !== 0) fail(`tests/integration failed on the x-cli-lin executable (exit ${status})`);
  const sim = await build('sim', [], MANIFEST, PLATFORMS.sim, true);
  status = await integration('mcsim', { ...sim.env, XSDOT_MCSIM_APP: sim.output });
  if (status !== 0) fail(`tests/integration failed in the simulator (exit ${status})`);
  await checkEsp32();
  return 0;
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'build') {
    const [target, ...config] = rest;
    if (!(target in PLATFORMS)) fail(`build what? cli, sim or esp32 (got ${target ?? 'nothing'})`);
    const built = await build(target as Target, config);
    process.stdout.write(`built ${built.output}\n`);
    return 0;
  }
  if (command === 'sim') return sim(rest);
  if (command === 'check-esp32') {
    await checkEsp32();
    return 0;
  }
  if (command === 'test') {
    if (rest.includes('--if-sdk') && !process.env.MODDABLE) {
      if (process.env.CI === 'true' || process.env.CI === '1') fail(`MODDABLE is not set in CI: .ci/run builds the SDK with scripts/moddable-sdk.sh and exports it.\n${SDK_HELP}`);
      process.stdout.write('test:moddable skipped: MODDABLE is not set (no Moddable SDK here), so the x-cli-lin, simulator and esp32 builds were not tested\n');
      return 0;
    }
    return test();
  }
  fail('usage: tsx scripts/moddable.ts build cli|sim|esp32 [name=value …] | sim | check-esp32 | test [--if-sdk]');
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`moddable: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  },
);
