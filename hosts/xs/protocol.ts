/**
 * What hosts/xs/run-tests.ts (on Node) and the code it loads into xsnap agree on.
 * Type-only apart from the global names, so both sides can import it.
 */

/** The driver sets this global to a hex string of fresh random bytes before evaluating a bundle. */
export const ENTROPY_GLOBAL = '__xsdotEntropy';

/** The test shim publishes its `{ step() }` here; the driver evaluates `globalThis[RUNNER_GLOBAL].step()`. */
export const RUNNER_GLOBAL = '__xsdotRunner';

export type TestStatus = 'pass' | 'fail' | 'skip' | 'todo';

export interface TestResult {
  /** Suite and test names joined with " > ". */
  name: string;
  status: TestStatus;
  /** Wall-clock milliseconds spent in the test (virtual timer time is not included). */
  ms: number;
  /** The failure, or the skip/todo reason. */
  message?: string;
}

/** The reply to each `step()`, as JSON. */
export interface StepReply {
  results: TestResult[];
  /** True once every test and hook has run; the driver then stops stepping. */
  done: boolean;
}

/** Sent through issueCommand when a test or hook starts, so a hang can be blamed on the right test. */
export interface StartEvent {
  started: string;
}
