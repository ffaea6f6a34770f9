/**
 * Faster Moddable builds for the tests. mcconfig's makefile runs `tsc -p <module>-tsconfig.json` for every
 * module at once (make --jobs), each a full type check of the program: ~50 processes and ~5 CPU-minutes per
 * build on a 2-core machine. Test builds instead put `scripts/mcconfig-tsc/tsc` first on PATH (types stripped
 * per module, tsc.cjs) and then type-check the whole build once with the real tsc and the very options and
 * paths mcconfig wrote (`typecheckBuild`). With ccache installed, the C compiler goes through it too: every
 * build compiles the same XS engine sources. Users' own builds (npm run build:*) keep mcconfig's tsc.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const CCACHE = '/usr/lib/ccache';

/** PATH for a test build: [ccache,] the SDK tools, the type-stripping tsc, our TypeScript ≥ 6, then PATH. */
export function testBuildPath(tools: string): string {
  const dirs = existsSync(join(CCACHE, 'cc')) ? [CCACHE] : [];
  return [...dirs, tools, HERE, join(ROOT, 'node_modules', '.bin'), process.env.PATH ?? ''].join(delimiter);
}

/** Every file below `dir` whose name satisfies `test`. */
function walk(dir: string, test: (name: string) => boolean, found: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path, test, found);
    else if (test(entry)) found.push(path);
  }
  return found;
}

/**
 * Type-checks every TypeScript module of the mcconfig build in `outDir` in one tsc run, with the
 * tsconfig-base.json mcconfig wrote for it (the per-module `<name>-tsconfig.json` files list the sources).
 * Returns tsc's exit status; its errors go to stderr.
 */
export function typecheckBuild(outDir: string): number {
  const bases = walk(join(outDir, 'tmp'), (name) => name === 'tsconfig-base.json');
  if (bases.length !== 1) throw new Error(`expected one tsconfig-base.json under ${outDir}/tmp, found ${bases.length}`);
  const modules = dirname(bases[0]);
  const files: string[] = [];
  for (const config of walk(modules, (name) => name.endsWith('-tsconfig.json'))) {
    const parsed = JSON.parse(readFileSync(config, 'utf8')) as { files?: string[] };
    for (const file of parsed.files ?? []) files.push(resolve(dirname(config), file));
  }
  const project = join(modules, 'xsdot-typecheck.json');
  writeFileSync(project, JSON.stringify({ extends: bases[0], compilerOptions: { noEmit: true }, files }));
  return spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', project], { stdio: 'inherit' }).status ?? 1;
}
