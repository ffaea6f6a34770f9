/**
 * Start-up failures, as a user meets them, on whichever host XSDOT_TARGET names (`npm start` on Node,
 * the x-cli-lin executable, the simulator): a port in use, an invalid setting, a key store that cannot
 * be written. Each must end the program with a non-zero status and one line saying what and what to do —
 * never an abort, a crash or a stack trace (the x-cli-lin build once segfaulted on a taken port).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTarget } from './harness';
import { newDataDir, ON_MODDABLE, PORT_VARIABLE, runUntilExit, TARGET, type Exited } from './targets';

const T = { timeout: ON_MODDABLE ? 60_000 : 30_000 };

/** Exactly one `xsdot: cannot start: …` line matching `pattern`, the status, and nothing that looks like a crash. */
function assertClearFailure(run: Exited, status: number, pattern: RegExp): void {
  const lines = run.output.split('\n').filter((line) => line.includes('cannot start'));
  assert.equal(lines.length, 1, `one line says why:\n${run.output}`);
  assert.match(lines[0], /^xsdot: cannot start: /);
  assert.match(lines[0], pattern);
  assert.equal(run.signal, null, `ended by a signal (${run.signal}):\n${run.output}`);
  assert.equal(run.status, status, run.output);
  assert.doesNotMatch(run.output, /XS abort|Segmentation fault|core dumped|^\s+at /m, 'no abort, crash or stack trace');
}

test(`${TARGET}: a port in use stops start-up with one line and exit status 1`, T, () => withTarget({}, async (first) => {
  const run = await runUntilExit({ [PORT_VARIABLE]: String(first.port) });
  assertClearFailure(run, 1, new RegExp(`port ${first.port} (on 127\\.0\\.0\\.1 )?is in use: stop the program that listens on it, or `));
  // The first server is unharmed.
  assert.equal((await fetch(`${first.url}/setup`)).status, 200);
}));

test(`${TARGET}: an invalid port setting stops start-up with one line and exit status 2`, T, async () => {
  assertClearFailure(await runUntilExit({ [PORT_VARIABLE]: 'eighty' }), 2, new RegExp(`${PORT_VARIABLE} must be a TCP port number \\(0-65535\\), got eighty`));
  assertClearFailure(await runUntilExit({ [PORT_VARIABLE]: '70000' }), 2, /must be a TCP port number/);
});

test(`${TARGET}: invalid limits stop start-up with one line and exit status 2`, { ...T, skip: TARGET === 'node' && 'npm start takes no limits from the environment' }, async () => {
  assertClearFailure(await runUntilExit({ XSDOT_LIMITS: '{maxBody: 1}' }), 2, /XSDOT_LIMITS must be a JSON object of limits/);
  assertClearFailure(await runUntilExit({ XSDOT_LIMITS: '{"maxBdy":4096}' }), 2, /XSDOT_LIMITS: no limit is named "maxBdy"/);
  assertClearFailure(await runUntilExit({ XSDOT_LIMITS: '{"maxBody":0}' }), 2, /XSDOT_LIMITS: limit maxBody must be a positive integer, got 0/);
});

test(`${TARGET}: a key store that cannot be written stops start-up with one line and exit status 1`, { ...T, skip: TARGET === 'mcsim' && 'the simulator keeps its store in /tmp, which the tests give each run' }, async () => {
  // A regular file where the data directory should be: not writable, even for root.
  const file = join(newDataDir(), 'not-a-directory');
  writeFileSync(file, '');
  assertClearFailure(await runUntilExit({ XSDOT_DATA_DIR: file }), 1, /directory .*not-a-directory.* is not writable \(.+\): set XSDOT_DATA_DIR to a writable directory/);
});
