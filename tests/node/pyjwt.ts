/** Runs PyJWT (Debian's python3-jwt, the library microdot signs its session cookies with) from tests. */
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

/** Runs a Python snippet with JSON on stdin; returns its stdout parsed as JSON. */
export function python(script: string, input: unknown): unknown {
  const run = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) throw new Error(`python failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout);
}

function pyjwtVersion(): string | undefined {
  const run = spawnSync(PYTHON, ['-c', 'import jwt; print(jwt.__version__)'], { encoding: 'utf8', timeout: 30_000 });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/** PyJWT's version, or undefined when it cannot be imported. */
export const PYJWT_VERSION = pyjwtVersion();

/** The skip reason for tests that need PyJWT, or false when it is there. */
export const PYJWT_SKIP: string | false = PYJWT_VERSION === undefined ? `PyJWT not importable by ${PYTHON} (install Debian's python3-jwt)` : false;
