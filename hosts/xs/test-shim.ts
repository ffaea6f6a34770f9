/**
 * node:test for XS: the subset tests/core uses (test/it, describe/suite, hooks, t.test subtests,
 * t.skip/t.todo, skip/todo/timeout options, done callbacks, async functions).
 *
 * Tests register while the bundle is evaluated. Then hosts/xs/run-tests.ts evaluates
 * `globalThis.__xsdotRunner.step()` again and again; each step does one thing and the worker then
 * drains the promise jobs before it answers:
 *   1. start the next test or hook (tests never start in the same step, so errors can be charged), or
 *   2. fire the earliest virtual timer (timers.ts), or
 *   3. with neither possible while a test still waits, fail that test: nothing can settle it.
 * xsnap reports unhandled promise rejections at the end of each step by calling console.error, which
 * this shim provides; they are charged to the test or hook that ran in that step.
 */
import { inspect } from './inspect';
import { RUNNER_GLOBAL, type StartEvent, type StepReply, type TestResult, type TestStatus } from './protocol';
import { clearTimer, pendingTimers, runNextTimer, setTimer } from './timers';

export interface TestOptions {
  skip?: boolean | string;
  todo?: boolean | string;
  /** Milliseconds of (virtual) time before the test fails. */
  timeout?: number;
  only?: boolean;
  concurrency?: number | boolean;
}

type Done = (error?: unknown) => void;
type UserFn = (context: never, done: Done) => unknown;
interface Hooks { before: UserFn[]; after: UserFn[]; beforeEach: UserFn[]; afterEach: UserFn[] }
interface Deferred { promise: Promise<void>; resolve: () => void }

interface TestEntry { kind: 'test'; label: string; name: string; options: TestOptions; fn: UserFn; done: Deferred }
interface Suite {
  kind: 'suite'; label: string; name: string; options: TestOptions; done: Deferred;
  children: (Suite | TestEntry)[]; hooks: Hooks; ready?: Promise<unknown>; buildError?: unknown;
}

// ---- reporting -----------------------------------------------------------------------------------

/** Something running user code (a test or hook); asynchronously reported errors are charged to the last one started. */
interface Unit { label: string; lateErrors: string[]; finished: boolean; result?: TestResult; parent?: Unit }

const unsent: TestResult[] = [];
let lastUnit: Unit | undefined;
const encoder = new TextEncoder();

function reasonOf(option: boolean | string | undefined): string | undefined {
  return typeof option === 'string' ? option : undefined;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `thrown non-error: ${inspect(error)}`;
  // XS stacks read "Error: message\n at name (#script:line)"; the frames name the functions.
  const frames = typeof error.stack === 'string' ? error.stack.split('\n').filter((line) => /^\s*at /.test(line)).slice(0, 8) : [];
  const cause = error.cause !== undefined ? [`caused by: ${describeError(error.cause)}`] : [];
  return [String(error), ...frames.map((line) => `  ${line.trim()}`), ...cause].join('\n');
}

function report(result: TestResult): TestResult {
  unsent.push(result);
  return result;
}

function startUnit(label: string): Unit {
  const parent = lastUnit !== undefined && !lastUnit.finished ? lastUnit : undefined;
  const unit: Unit = { label, lateErrors: [], finished: false, parent };
  lastUnit = unit;
  // Tell the driver at once (issueCommand blocks until it answers), so a hang names the right test.
  const event: StartEvent = { started: label };
  if (typeof issueCommand === 'function') issueCommand(encoder.encode(JSON.stringify(event)).buffer);
  return unit;
}

/** After a subtest, errors go to its still-running parent again; after a top-level test, they stay with it. */
function finishUnit(unit: Unit): void {
  unit.finished = true;
  if (lastUnit === unit && unit.parent !== undefined && !unit.parent.finished) lastUnit = unit.parent;
}

/** An error nobody awaited (unhandled rejection, throwing timer callback): fail whatever ran last. */
function charge(what: string, error: unknown): void {
  const text = `${what}: ${describeError(error)}`;
  const unit = lastUnit;
  if (unit !== undefined && !unit.finished) {
    unit.lateErrors.push(text);
  } else if (unit?.result !== undefined && unsent.includes(unit.result)) {
    const result = unit.result;
    if (result.status !== 'todo') result.status = 'fail';
    result.message = result.message ? `${result.message}\n${text}` : text;
  } else {
    report({ name: unit ? `${unit.label} (after it ended)` : '(file top level)', status: 'fail', ms: 0, message: text });
  }
}

// xsnap has no console; it calls console.error('UnhandledPromiseRejectionWarning:', reason) if there is one.
const show = (...values: unknown[]) => print(values.map((v) => (typeof v === 'string' ? v : inspect(v))).join(' '));
(globalThis as Record<string, unknown>).console = {
  log: show, info: show, debug: show, warn: show, trace: show,
  error(...values: unknown[]) {
    if (values[0] === 'UnhandledPromiseRejectionWarning:') charge('unhandled rejection', values[1]);
    else show(...values);
  },
};

// Test helpers such as fast-check capture setTimeout when they load; xsnap has none, so the tests
// get the virtual timers (modules/ cannot see these: the core type-check has no DOM or Node types).
const globals = globalThis as Record<string, unknown>;
globals.setTimeout ??= (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => setTimer(() => callback(...args), ms ?? 0);
globals.clearTimeout ??= clearTimer;

// ---- calling user code ---------------------------------------------------------------------------

/** Calls in progress, innermost last; step() abandons the innermost when nothing can make progress. */
const waiting: ((error: unknown) => void)[] = [];

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** Runs a test, hook or done-callback function to completion; rejects with what it threw or rejected with. */
function callUser(fn: UserFn, context: unknown, timeout?: number, onSettled?: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: number | undefined;
    const settle = (failed: boolean, error?: unknown) => {
      const index = waiting.indexOf(abandon);
      if (index < 0) return; // settled already
      waiting.splice(index, 1);
      if (timer !== undefined) clearTimer(timer);
      onSettled?.();
      if (failed) reject(error);
      else resolve();
    };
    const abandon = (error: unknown) => settle(true, error);
    waiting.push(abandon);
    if (timeout !== undefined && Number.isFinite(timeout)) {
      timer = setTimer(() => abandon(new Error(`test timed out after ${timeout}ms`)), timeout);
    }
    try {
      const call = fn as (context: unknown, done: Done) => unknown;
      if (fn.length >= 2) {
        const result = call(context, (error?: unknown) => settle(error != null, error));
        if (isThenable(result)) settle(true, new Error('the function takes a done callback and also returned a promise: use one or the other'));
      } else {
        const result = call(context, () => {});
        if (isThenable(result)) result.then(() => settle(false), (error: unknown) => settle(true, error));
        else settle(false);
      }
    } catch (error) {
      settle(true, error);
    }
  });
}

// ---- registration --------------------------------------------------------------------------------

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

function newHooks(): Hooks {
  return { before: [], after: [], beforeEach: [], afterEach: [] };
}

function parseArgs(args: unknown[]): { name: string; options: TestOptions; fn: UserFn } {
  let name: string | undefined;
  let options: TestOptions = {};
  let fn: UserFn | undefined;
  for (const arg of args) {
    if (typeof arg === 'string') name = arg;
    else if (typeof arg === 'function') fn = arg as UserFn;
    else if (typeof arg === 'object' && arg !== null) options = arg as TestOptions;
  }
  return { name: name ?? (fn?.name || '<anonymous>'), options, fn: fn ?? (() => {}) };
}

const root: Suite = { kind: 'suite', label: '', name: '', options: {}, done: deferred(), children: [], hooks: newHooks() };
let building = root;
/** Test contexts running now, innermost last: test() called inside a running test makes a subtest, as on Node. */
const running: TestContext[] = [];
let started = false;
let finished = false;

function childLabel(parent: string, name: string): string {
  return parent === '' ? name : `${parent} > ${name}`;
}

function registerTest(args: unknown[], extra: TestOptions = {}): Promise<void> {
  const { name, options, fn } = parseArgs(args);
  const innermost = running.at(-1);
  if (innermost !== undefined) return innermost.test(name, { ...options, ...extra }, fn);
  if (started) throw new Error(`test("${name}") was called after the tests started, outside any test: use t.test()`);
  const entry: TestEntry = { kind: 'test', label: childLabel(building.label, name), name, options: { ...options, ...extra }, fn, done: deferred() };
  building.children.push(entry);
  return entry.done.promise;
}

function registerSuite(args: unknown[], extra: TestOptions = {}): Promise<void> {
  const { name, options, fn } = parseArgs(args);
  if (started) throw new Error(`describe("${name}") was called after the tests started: the XS shim only supports describe() at load time`);
  const suite: Suite = {
    kind: 'suite', label: childLabel(building.label, name), name, options: { ...options, ...extra },
    done: deferred(), children: [], hooks: newHooks(),
  };
  building.children.push(suite);
  const outer = building;
  building = suite;
  try {
    // Like Node, the body runs now; tests it registers after an await would land in the wrong suite.
    const result = (fn as (context: unknown) => unknown)({ name });
    if (isThenable(result)) suite.ready = Promise.resolve(result);
  } catch (error) {
    suite.buildError = error;
  } finally {
    building = outer;
  }
  return suite.done.promise;
}

function registerHook(kind: keyof Hooks, fn: UserFn): void {
  const innermost = running.at(-1);
  if (innermost !== undefined) return innermost.addHook(kind, fn);
  if (started) throw new Error(`${kind}() was called after the tests started, outside any test`);
  building.hooks[kind].push(fn);
}

type Registrar = ((...args: unknown[]) => Promise<void>) & {
  skip: (...args: unknown[]) => Promise<void>;
  todo: (...args: unknown[]) => Promise<void>;
  only: (...args: unknown[]) => Promise<void>;
};

function registrar(register: (args: unknown[], extra?: TestOptions) => Promise<void>): Registrar {
  return Object.assign((...args: unknown[]) => register(args), {
    skip: (...args: unknown[]) => register(args, { skip: true }),
    todo: (...args: unknown[]) => register(args, { todo: true }),
    only: (...args: unknown[]) => register(args), // without --test-only, Node runs everything
  });
}

export const test = registrar(registerTest);
export const it = test;
export const describe = registrar(registerSuite);
export const suite = describe;
export const before = (fn: UserFn) => registerHook('before', fn);
export const after = (fn: UserFn) => registerHook('after', fn);
export const beforeEach = (fn: UserFn) => registerHook('beforeEach', fn);
export const afterEach = (fn: UserFn) => registerHook('afterEach', fn);
export default test;

// ---- running -------------------------------------------------------------------------------------

interface Subtest { label: string; fnSettled: boolean; cancelled: boolean; status?: Promise<TestStatus> }

/** The `t` passed to tests. */
class TestContext {
  readonly name: string;
  readonly fullName: string;
  skipReason: string | true | undefined;
  todoReason: string | true | undefined;
  readonly #eachHooks: Hooks[];
  readonly #ownHooks = newHooks();
  readonly #subtests: Subtest[] = [];
  #tail: Promise<unknown> = Promise.resolve();

  constructor(name: string, fullName: string, eachHooks: Hooks[]) {
    this.name = name;
    this.fullName = fullName;
    this.#eachHooks = eachHooks;
  }

  skip(message?: string): void { this.skipReason = message ?? true; }
  todo(message?: string): void { this.todoReason = message ?? true; }
  diagnostic(message: string): void { print(`# ${this.fullName}: ${message}`); }
  after(fn: UserFn): void { this.#ownHooks.after.push(fn); }
  beforeEach(fn: UserFn): void { this.#ownHooks.beforeEach.push(fn); }
  afterEach(fn: UserFn): void { this.#ownHooks.afterEach.push(fn); }

  addHook(kind: keyof Hooks, fn: UserFn): void {
    if (kind === 'before') throw new Error('before() inside a test is not supported by the XS shim: use describe()');
    this.#ownHooks[kind].push(fn);
  }

  /** Subtests run one at a time in creation order; the first starts at once, as on Node. */
  test(...args: unknown[]): Promise<void> {
    const { name, options, fn } = parseArgs(args);
    const subtest: Subtest = { label: childLabel(this.fullName, name), fnSettled: false, cancelled: false };
    const idle = this.#subtests.every((s) => s.fnSettled || s.cancelled);
    this.#subtests.push(subtest);
    const start = (): Promise<TestStatus> => {
      if (subtest.cancelled) return Promise.resolve('fail');
      return runTest(subtest.label, name, options, fn, [...this.#eachHooks, this.#ownHooks], subtest);
    };
    subtest.status = idle ? start() : this.#tail.then(start);
    this.#tail = subtest.status;
    return subtest.status.then(() => {});
  }

  /** After the test function: cancels subtests it did not wait for (as Node does); returns how many failed. */
  async finishSubtests(): Promise<number> {
    let failed = 0;
    for (const subtest of this.#subtests) {
      if (!subtest.fnSettled && !subtest.cancelled) {
        subtest.cancelled = true;
        report({ name: subtest.label, status: 'fail', ms: 0, message: 'test did not finish before its parent and was cancelled' });
        failed++;
      } else if (!subtest.cancelled && (await subtest.status) === 'fail') {
        failed++;
      }
    }
    return failed;
  }

  get afterFns(): UserFn[] { return this.#ownHooks.after; }
}

async function runTest(label: string, name: string, options: TestOptions, fn: UserFn, eachHooks: Hooks[], subtest?: Subtest): Promise<TestStatus> {
  if (options.skip) {
    report({ name: label, status: 'skip', ms: 0, message: reasonOf(options.skip) });
    if (subtest) subtest.fnSettled = true;
    return 'skip';
  }
  const unit = startUnit(label);
  const context = new TestContext(name, label, eachHooks);
  const startedAt = performance.now();
  const errors: unknown[] = [];
  running.push(context);
  try {
    for (const hooks of eachHooks) for (const hook of hooks.beforeEach) await callUser(hook, context);
    await callUser(fn, context, options.timeout, () => { if (subtest) subtest.fnSettled = true; });
  } catch (error) {
    errors.push(error);
  } finally {
    if (subtest) subtest.fnSettled = true;
  }
  const failedSubtests = await context.finishSubtests();
  for (const hook of context.afterFns) await callUser(hook, context).catch((error: unknown) => errors.push(error));
  // Node runs no afterEach hooks for a test that called t.skip().
  const afterEach = context.skipReason === undefined ? [...eachHooks].reverse().flatMap((hooks) => hooks.afterEach) : [];
  for (const hook of afterEach) await callUser(hook, context).catch((error: unknown) => errors.push(error));
  running.splice(running.indexOf(context), 1);

  const messages = [...errors.map(describeError), ...unit.lateErrors];
  if (failedSubtests > 0 && messages.length === 0) messages.push(`${failedSubtests} subtest${failedSubtests === 1 ? '' : 's'} failed`);
  let status: TestStatus = messages.length > 0 ? 'fail' : 'pass';
  const todo = options.todo || context.todoReason;
  if (todo) {
    status = 'todo';
    const reason = reasonOf(options.todo) ?? reasonOf(context.todoReason as string | undefined);
    if (reason) messages.unshift(reason);
  } else if (status === 'pass' && context.skipReason !== undefined) {
    status = 'skip';
    if (typeof context.skipReason === 'string') messages.push(context.skipReason);
  }
  unit.result = report({ name: label, status, ms: Math.round((performance.now() - startedAt) * 10) / 10, message: messages.join('\n') || undefined });
  finishUnit(unit);
  return status;
}

/** Runs a suite-level hook as its own unit; returns its error, if any. */
async function runHook(label: string, hook: UserFn, context: unknown): Promise<unknown> {
  await gate();
  const unit = startUnit(label);
  let failure: unknown;
  await callUser(hook, context).catch((error: unknown) => { failure = error; });
  finishUnit(unit);
  if (failure === undefined && unit.lateErrors.length > 0) failure = new Error(unit.lateErrors.join('\n'));
  return failure;
}

function failAll(node: Suite | TestEntry, message: string): void {
  if (node.kind === 'test') report({ name: node.label, status: 'fail', ms: 0, message });
  else for (const child of node.children) failAll(child, message);
  node.done.resolve();
}

async function runSuite(suite: Suite, outerHooks: Hooks[]): Promise<void> {
  const label = suite.label || '(file)';
  if (suite.options.skip || suite.options.todo) {
    const status = suite.options.skip ? 'skip' : 'todo';
    report({ name: label, status, ms: 0, message: reasonOf(suite.options.skip ?? suite.options.todo) });
    suite.done.resolve();
    return;
  }
  if (suite.ready) await callUser(() => suite.ready, undefined).catch((error: unknown) => { suite.buildError = error; });
  if (suite.buildError !== undefined) {
    failAll(suite, `describe() callback failed: ${describeError(suite.buildError)}`);
    if (suite.children.length === 0) report({ name: label, status: 'fail', ms: 0, message: describeError(suite.buildError) });
    return;
  }
  const context = { name: suite.name };
  const eachHooks = [...outerHooks, suite.hooks];
  let beforeError: unknown;
  for (const hook of suite.hooks.before) {
    beforeError = await runHook(`${label} (before hook)`, hook, context);
    if (beforeError !== undefined) break;
  }
  for (const child of suite.children) {
    if (beforeError !== undefined) {
      failAll(child, `before hook failed: ${describeError(beforeError)}`);
      continue;
    }
    if (child.kind === 'suite') {
      await runSuite(child, eachHooks);
    } else {
      await gate();
      await runTest(child.label, child.name, child.options, child.fn, eachHooks);
      child.done.resolve();
    }
  }
  if (beforeError !== undefined && suite.children.length === 0) {
    report({ name: `${label} (before hook)`, status: 'fail', ms: 0, message: describeError(beforeError) });
  }
  for (const hook of suite.hooks.after) {
    const error = await runHook(`${label} (after hook)`, hook, context);
    if (error !== undefined) report({ name: `${label} (after hook)`, status: 'fail', ms: 0, message: describeError(error) });
  }
  suite.done.resolve();
}

// ---- stepping ------------------------------------------------------------------------------------

let openGate: (() => void) | undefined;

/** Waits for the next step, so each test or hook starts in a step of its own. */
function gate(): Promise<void> {
  return new Promise<void>((resolve) => { openGate = resolve; });
}

const STUCK = 'never finished: it waits for something that cannot happen (no promise jobs and no timers are pending)';

function step(): { readonly result: ArrayBuffer } {
  if (!started) {
    started = true;
    runSuite(root, [])
      .catch((error: unknown) => { report({ name: '(runner)', status: 'fail', ms: 0, message: describeError(error) }); })
      .finally(() => { finished = true; });
  } else if (openGate !== undefined) {
    const open = openGate;
    openGate = undefined;
    open();
  } else if (pendingTimers() > 0) {
    try {
      runNextTimer();
    } catch (error) {
      charge('uncaught exception in a timer callback', error);
    }
  } else if (!finished) {
    const abandon = waiting.at(-1);
    if (abandon !== undefined) abandon(new Error(STUCK));
    else {
      report({ name: '(runner)', status: 'fail', ms: 0, message: `the test runner itself ${STUCK}` });
      finished = true;
    }
  }
  // xsnap reads `result` after draining the promise jobs (and reporting unhandled rejections).
  return {
    get result(): ArrayBuffer {
      const reply: StepReply = { results: unsent.splice(0), done: finished };
      return encoder.encode(JSON.stringify(reply)).buffer as ArrayBuffer;
    },
  };
}

(globalThis as Record<string, unknown>)[RUNNER_GLOBAL] = { step };
