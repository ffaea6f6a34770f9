/** Small pieces every integration suite uses: a target that is always stopped, and failures that show the server's output. */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { removeDataDirs, startTarget, type Target, type TargetOptions } from './targets';

const running = new Set<Target>();

after(async () => {
  for (const target of running) await target.stop();
  running.clear();
  removeDataDirs();
});

/** Starts a target, runs `body`, stops it; a failure carries the end of the server's output. */
export async function withTarget(options: TargetOptions, body: (target: Target) => Promise<void>): Promise<void> {
  const target = await startTarget(options);
  running.add(target);
  try {
    await body(target);
    // A Moddable build that aborted (stack overflow, memory full) may have answered what was asked first.
    assert.doesNotMatch(target.output(), /XS abort/, 'the server aborted');
  } catch (error) {
    if (error instanceof Error) error.message += `\n--- ${target.kind} server output (last 3000 characters) ---\n${target.output().slice(-3000)}`;
    throw error;
  } finally {
    running.delete(target);
    await target.stop();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
