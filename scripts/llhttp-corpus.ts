/**
 * Regenerates tests/fixtures/llhttp-requests.json, llhttp's request test corpus (MIT, © Fedor Indutny),
 * from the vendored tarball of llhttp 9.4.2's `test/request/*.md` and `test/md-test.ts`:
 *
 *   npx tsx scripts/llhttp-corpus.ts [path/to/llhttp-9.4.2-request-tests.tar.xz]
 *
 * Default tarball: `../shared/vendor/llhttp-9.4.2-request-tests.tar.xz` beside the repository (or its
 * main worktree). Each case keeps its location, heading, `type` metadata, the input bytes decoded exactly
 * as md-test.ts decodes them (escapes, newline normalisation), and the lines of its expected log that
 * say what llhttp decided (message begin/complete, method/url/body spans, headers complete, error,
 * finish); the per-field callbacks are dropped. tests/core/llhttp-corpus.test.ts interprets them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'tests/fixtures/llhttp-requests.json');
const PREFIX = 'llhttp-9.4.2/';
const TARBALL_NAME = 'llhttp-9.4.2-request-tests.tar.xz';

export interface CorpusCase {
  /** `file.md:line` of the case's heading, as llhttp's test names say it. */
  location: string;
  name: string;
  /** llhttp's fixture type: `request`, `request-finish`, or a `request-lenient-*` mode. */
  type: string;
  /** The harness told llhttp to skip the body (as a client does for a response to HEAD). */
  skipBody?: true;
  /** The bytes llhttp was fed (md-test passes the decoded text as UTF-8), one character per byte. */
  input: string;
  /** The decision lines of llhttp's expected log, in order. */
  log: string[];
}

function findTarball(): string {
  const given = process.argv[2];
  if (given !== undefined) return resolve(given);
  // A git worktree's checkout may sit deeper than the main one: look beside both.
  const candidates = [join(ROOT, '..', 'shared/vendor', TARBALL_NAME)];
  const common = spawnSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: ROOT, encoding: 'utf8' });
  if (common.status === 0) candidates.push(join(dirname(common.stdout.trim()), '..', 'shared/vendor', TARBALL_NAME));
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) throw new Error(`xsdot: ${TARBALL_NAME} not found (looked at ${candidates.join(', ')}); pass its path`);
  return found;
}

function extract(tarball: string, member: string): string {
  const result = spawnSync('tar', ['-xJOf', tarball, PREFIX + member], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (result.status !== 0) throw new Error(`xsdot: tar could not extract ${member}: ${result.stderr}`);
  return result.stdout;
}

/** The `run('request/…')` names md-test.ts lists, in its order. */
function requestFiles(mdTest: string): string[] {
  return [...mdTest.matchAll(/^run\('(request\/[\w-]+)'\);$/gm)].map((match) => match[1]);
}

/** md-test.ts's decoding of an `http` block (its Windows-only escaping aside). */
function decodeInput(block: string): string {
  let input = block.replace(/\n$/, '');
  input = input.replace(/\\(\r\n|\r|\n)/g, '');
  input = input.replace(/\r\n|\r|\n/g, '\r\n');
  input = input.replace(/\\r/g, '\r');
  input = input.replace(/\\n/g, '\n');
  input = input.replace(/\\t/g, '\t');
  input = input.replace(/\\f/g, '\f');
  input = input.replace(/\\x([0-9a-fA-F]+)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  input = input.replace(/\\([0-7]{1,3})/g, (_, digits: string) => String.fromCharCode(parseInt(digits, 8)));
  if (/\$\{.+?\}/.test(input)) throw new Error('xsdot: a case uses inline JavaScript; teach this script to evaluate it');
  return input;
}

const DECISION = /^off=\S+ (message begin|message complete|reset|headers complete .*|len=\d+ span\[(method|url|protocol|version|body)\]=.*|error .*|finish=.*)$/;

/** Cases of one markdown file: a heading, then a `<!-- meta=… -->` comment, an `http` and a `log` block. */
function parseCases(file: string, text: string): CorpusCase[] {
  const lines = text.split('\n');
  const cases: CorpusCase[] = [];
  let heading = { name: '', line: 0 };
  let meta: { type?: string; skip?: boolean; skipBody?: boolean } | undefined;
  let input: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const hashes = /^#{1,6} (.*)$/.exec(line);
    if (hashes !== null) heading = { name: hashes[1].replace(/`/g, ''), line: i + 1 };
    else if (/^(=+|-+)$/.test(lines[i + 1] ?? '') && line.trim() !== '') heading = { name: line, line: i + 1 };
    const comment = /^<!-- meta=(.*) -->$/.exec(line);
    if (comment !== null) meta = JSON.parse(comment[1]) as typeof meta;
    const fence = /^```(http|log)$/.exec(line);
    if (fence === null) continue;
    let end = i + 1;
    while (lines[end] !== '```') end++;
    const body = lines.slice(i + 1, end).join('\n') + '\n';
    i = end;
    if (fence[1] === 'http') {
      input = Buffer.from(decodeInput(body), 'utf8').toString('latin1');
      continue;
    }
    if (input === undefined || meta?.type === undefined) throw new Error(`xsdot: ${file}:${i}: log without an http block and meta`);
    if (meta.skip !== true) {
      const log = body.split('\n').slice(0, -1).filter((entry) => DECISION.test(entry));
      const location = `${file.replace(/^request\//, '')}.md:${heading.line}`;
      cases.push({ location, name: heading.name, type: meta.type, ...(meta.skipBody === true ? { skipBody: true as const } : {}), input, log });
    }
    input = undefined;
    meta = undefined;
  }
  return cases;
}

function main(): void {
  const tarball = findTarball();
  const license = extract(tarball, 'LICENSE');
  const cases = requestFiles(extract(tarball, 'test/md-test.ts'))
    .flatMap((file) => parseCases(file, extract(tarball, `test/${file}.md`)));
  const fixture = {
    source: `llhttp 9.4.2, test/request/*.md (${TARBALL_NAME}), regenerated by scripts/llhttp-corpus.ts`,
    license: license.trim().split('\n'),
    cases,
  };
  writeFileSync(OUT, JSON.stringify(fixture, null, 1) + '\n', 'utf8');
  process.stdout.write(`${cases.length} cases written to ${OUT}\n`);
}

main();
