/**
 * "Every module is preloaded" on the Moddable build, checked against what the SDK really does: mcconfig
 * (run without make, ~1 s of CPU) writes the x-cli-lin makefile, whose `PRELOADS` are the modules the XS
 * linker (xsl -p) evaluates at link time. A manifest wildcard there matches `.js` modules only
 * (tools/mcconfig.js `filterPreload`), so a TypeScript module is preloaded only when named, or when a
 * preloaded module imports it (xsl evaluates the imports of what it preloads). The test follows the
 * imports of every preloaded root through the sources the makefile compiles and fails for any xsdot
 * module of the build left to load into RAM at boot, but for those listed below with why.
 * Skipped without $MODDABLE (the check needs the SDK's tools), failed in CI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { test } from 'node:test';
import { buildAssets } from '../../scripts/assets';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');

/** The login app's entry point (manifest.json `creation.main`). */
const ENTRY = 'xsdot/hosts/moddable/start';

/** xsdot modules the login app loads into RAM at boot, and why they cannot be preloaded. */
const LOADED_AT_BOOT: Readonly<Record<string, string>> = {
  [ENTRY]: 'the entry point reads mc/config, which calls getenv when loaded (native, not at link time)',
  'xsdot/hosts/moddable/runtime': 'imports preference, whose Linux module reads its file when loaded',
};

/** Module specifier → source file, and the preloaded roots, from an x-cli-lin makefile. */
function readMakefile(text: string): { sources: Map<string, string>; preloads: string[] } {
  const sources = new Map<string, string>();
  const tscSources = new Map<string, string>();
  for (const [, js, ts] of text.matchAll(/^(\S+\.js) : (\S+\.ts) /gm)) tscSources.set(js, ts);
  for (const [, spec, input] of text.matchAll(/^\$\(MODULES_DIR\)\/(\S+)\.xsb: (\S+\.js)$/gm)) sources.set(spec, tscSources.get(input) ?? input);
  const block = /^PRELOADS =((?:\\\n\t-p [^\s\\]+)*)/m.exec(text)?.[1] ?? '';
  const preloads = [...block.matchAll(/-p (\S+)\.xsb/g)].map((match) => match[1]);
  return { sources, preloads };
}

/** The module specifiers `file` imports at load (type-only imports are erased by tsc). */
function importsOf(file: string, spec: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const [, what, from] of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm)) {
    if (what !== undefined) continue;
    found.push(from.startsWith('.') ? posix.normalize(posix.join(posix.dirname(spec), from)) : from);
  }
  for (const [, from] of text.matchAll(/^import\s+'([^']+)'/gm)) found.push(from.startsWith('.') ? posix.normalize(posix.join(posix.dirname(spec), from)) : from);
  return found;
}

test('every xsdot module of the x-cli-lin build is preloaded by the XS linker, or listed with why not', (t) => {
  const sdk = process.env.MODDABLE;
  const mcconfig = sdk === undefined ? '' : join(sdk, 'build', 'bin', 'lin', 'release', 'mcconfig');
  if (!existsSync(mcconfig)) {
    if (process.env.CI === 'true' || process.env.CI === '1') assert.fail('MODDABLE is not set to a built Moddable SDK in CI');
    t.skip('MODDABLE is not set to a built Moddable SDK');
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'xsdot-preload-'));
  try {
    // manifest.json includes the login app's generated asset manifest (npm run build:assets).
    buildAssets(join(ROOT, 'app', 'static'), join(ROOT, 'build', 'assets', 'login'), 'login');
    const run = spawnSync(mcconfig, ['-p', 'x-cli-lin', '-t', 'build', '-o', out, join(ROOT, 'manifest.json')], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    assert.equal(run.status, 0, `mcconfig: ${run.stderr}`);
    const { sources, preloads } = readMakefile(readFileSync(join(out, 'tmp', 'lin', 'release', 'xsdot', 'makefile'), 'utf8'));
    assert.ok(sources.size > 40 && preloads.includes('xsdot/main'), `the makefile was not understood: ${sources.size} modules, preloads ${preloads.join(' ')}`);
    /** Every module `roots` load, through the imports of the repository's sources. */
    const closure = (roots: readonly string[]): Set<string> => {
      const found = new Set<string>();
      const pending = [...roots];
      while (pending.length > 0) {
        const spec = pending.pop() as string;
        if (found.has(spec)) continue;
        found.add(spec);
        const file = sources.get(spec);
        if (file !== undefined && file.startsWith(ROOT)) pending.push(...importsOf(file, spec).filter((name) => sources.has(name)));
      }
      return found;
    };
    const preloaded = closure(preloads);
    assert.ok(sources.has(ENTRY), `${ENTRY} is not in the build`);
    const atBoot = [...closure([ENTRY])].filter((spec) => !preloaded.has(spec) && (spec === 'xsdot' || spec.startsWith('xsdot/'))).sort();
    assert.deepEqual(atBoot, Object.keys(LOADED_AT_BOOT).sort(), 'xsdot modules loaded into RAM at boot (name them in a manifest "preload", or list them here with why not)');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
