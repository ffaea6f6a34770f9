/**
 * README.md cannot drift: every `ts` and `json` code block is, verbatim, a file that the tests run or
 * build (examples/, tests/examples/), every `sh` block's `npm run <script>` names a script of package.json
 * and every `examples/…` path it names exists. Blocks without a language are sample output.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SCRIPTS = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

interface Block { language: string; text: string; line: number }

function blocks(markdown: string): Block[] {
  const found: Block[] = [];
  const pattern = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let match = pattern.exec(markdown); match !== null; match = pattern.exec(markdown)) {
    found.push({ language: match[1], text: match[2], line: markdown.slice(0, match.index).split('\n').length });
  }
  return found;
}

/** The files a block may be: what tests/examples runs and scripts/examples.ts builds. */
function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) for (const [name, text] of files(path)) out.set(name, text);
    else out.set(relative(ROOT, path), readFileSync(path, 'utf8'));
  }
  return out;
}

const RUN = new Map([...files(join(ROOT, 'examples')), ...files(join(ROOT, 'tests', 'examples'))]);

test('README has code blocks of each kind', () => {
  const languages = new Set(blocks(README).map((b) => b.language));
  for (const language of ['ts', 'json', 'sh']) assert.ok(languages.has(language), `a ${language} block`);
});

test('every ts and json block of README is an example or test file, verbatim', () => {
  for (const block of blocks(README).filter((b) => b.language === 'ts' || b.language === 'json')) {
    const same = [...RUN].find(([, text]) => text === block.text);
    assert.ok(same, `README.md line ${block.line}: this ${block.language} block is not a file under examples/ or tests/examples/ (copy it from one)`);
  }
});

test('every block has a language the checks know, or none (sample output)', () => {
  for (const block of blocks(README)) assert.ok(['ts', 'json', 'sh', ''].includes(block.language), `README.md line ${block.line}: ${block.language}`);
});

test('sh blocks name scripts and files that exist', () => {
  for (const block of blocks(README).filter((b) => b.language === 'sh')) {
    for (const [, script] of block.text.matchAll(/npm run ([\w:-]+)/g)) assert.ok(SCRIPTS.includes(script), `README.md line ${block.line}: npm run ${script}`);
    for (const [path] of block.text.matchAll(/examples\/[\w/.-]+/g)) assert.ok(existsSync(join(ROOT, path)), `README.md line ${block.line}: ${path}`);
  }
  for (const [, script] of README.matchAll(/`npm run ([\w:-]+)/g)) assert.ok(SCRIPTS.includes(script), `npm run ${script} in README.md`);
});
