// Emits one module as `tsc -p <tsconfig>` would (outDir/<path below rootDir>.js plus its source map), by
// stripping types with esbuild. Sound because tsconfig.json requires isolatedModules, verbatimModuleSyntax
// and erasableSyntaxOnly: every module's JavaScript is its TypeScript with the types erased.
'use strict';
const { readFileSync, writeFileSync, mkdirSync } = require('node:fs');
const { basename, dirname, join, relative, resolve } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
if (args.length !== 2 || args[0] !== '-p') {
  const real = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), args, { stdio: 'inherit' });
  process.exit(real.status ?? 1);
}
const project = resolve(args[1]);
const config = JSON.parse(readFileSync(project, 'utf8'));
const options = config.compilerOptions ?? {};
if (!Array.isArray(config.files) || config.files.length !== 1 || !options.outDir) {
  process.stderr.write(`tsc (mcconfig-tsc): ${project}: expected one file and an outDir, as mcconfig writes\n`);
  process.exit(2);
}
const source = resolve(dirname(project), config.files[0]);
const rootDir = resolve(dirname(project), options.rootDir ?? dirname(source));
const out = join(resolve(dirname(project), options.outDir), relative(rootDir, source)).replace(/\.ts$/, '.js');
const { transformSync } = require('esbuild');
let result;
try {
  result = transformSync(readFileSync(source, 'utf8'), {
    loader: 'ts', format: 'esm', target: 'esnext', sourcemap: 'external', sourcefile: source,
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } },
  });
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
// A module of types only strips to nothing; tsc then emits `export {};` (and xsc crashes on an empty file).
const code = /^\s*(import|export)\b/m.test(result.code) ? result.code : `${result.code}export {};\n`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${code}//# sourceMappingURL=${basename(out)}.map\n`);
// xsc reads the map's first source for its line numbers (and crashes when there is none, as above).
const map = JSON.parse(result.map);
map.file = basename(out);
map.sources = [relative(dirname(out), source)];
delete map.sourcesContent;
writeFileSync(`${out}.map`, JSON.stringify(map));
