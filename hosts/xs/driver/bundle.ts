/**
 * Bundles one portable test file into a script xsnap can evaluate. Runs on Node.
 * node:test and node:assert become the XS shims, tests/support/install-host becomes the XS host;
 * any other Node built-in fails the build, because tests/core must run on every engine.
 */
import { build, formatMessages, type Message, type Plugin } from 'esbuild';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { lineMapper } from './source-map';

export interface Bundle {
  code: string;
  /** The "file:line" a line of `code` (1-based) came from, to turn XS stack frames into source lines. */
  sourceLine: (line: number) => string | undefined;
}

export class BundleError extends Error {}

export function portabilityPlugin(root: string): Plugin {
  const xs = join(root, 'hosts/xs');
  const shims: Record<string, string> = {
    'node:test': join(xs, 'test-shim.ts'),
    'node:assert': join(xs, 'assert-shim.ts'),
    'node:assert/strict': join(xs, 'assert-shim.ts'),
  };
  const nodeInstallHost = join(root, 'tests/support/install-host');
  const builtins = new Set(builtinModules);
  const refuse = (path: string, importer: string) => ({
    errors: [{
      text: `"${path}" is Node-only, imported by ${relative(root, importer) || importer}: tests/core must be portable ` +
        '(use runtime() from modules/runtime, or move the test to tests/node)',
    }],
  });
  return {
    name: 'xsdot-xs-portability',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^node:/ }, (args) => (shims[args.path] ? { path: shims[args.path] } : refuse(args.path, args.importer)));
      // Bare built-in names ("fs", "crypto/…") would otherwise be looked up in node_modules.
      pluginBuild.onResolve({ filter: /^[a-z_]/ }, (args) => (builtins.has(args.path) ? refuse(args.path, args.importer) : undefined));
      pluginBuild.onResolve({ filter: /install-host(\.ts)?$/ }, (args) => {
        const target = resolve(args.resolveDir, args.path).replace(/\.ts$/, '');
        return target === nodeInstallHost ? { path: join(xs, 'install-host.ts') } : undefined;
      });
    },
  };
}

async function explain(messages: Message[]): Promise<string> {
  const lines = await formatMessages(messages, { kind: 'error', color: false });
  return lines.join('').trimEnd();
}

export async function bundleTest(root: string, file: string): Promise<Bundle> {
  // The shim goes first, so its console and runner exist before any test code runs.
  const entry = `import ${JSON.stringify(join(root, 'hosts/xs/test-shim.ts'))};\nimport ${JSON.stringify(resolve(file))};\n`;
  const outfile = join(root, 'build/xs-test.js'); // never written: names the map's relative paths
  try {
    const result = await build({
      stdin: { contents: entry, resolveDir: root, sourcefile: 'xs-entry.ts', loader: 'ts' },
      bundle: true,
      format: 'iife',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: 'es2022',
      // Module code is strict; evaluated as a script, the bundle must say so. xsnap answers a throw
      // with String(error) only, so a load-time error is rethrown as its stack.
      banner: { js: '"use strict"; try {' },
      footer: { js: '} catch (error) { throw error instanceof Error && typeof error.stack === "string" ? error.stack : error; }' },
      sourcemap: 'external',
      outfile,
      write: false,
      logLevel: 'silent',
      plugins: [portabilityPlugin(root)],
    });
    const code = result.outputFiles.find((f) => f.path.endsWith('.js'))!.text;
    const map = result.outputFiles.find((f) => f.path.endsWith('.map'))!.text;
    return { code, sourceLine: lineMapper(map, dirname(outfile), root) };
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    throw new BundleError(errors?.length ? await explain(errors) : String(error));
  }
}
