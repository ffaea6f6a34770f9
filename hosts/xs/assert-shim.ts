/**
 * node:assert/strict for XS: the subset tests/core uses, with Node's semantics and messages close to
 * Node's. The XS test bundler maps both `node:assert` and `node:assert/strict` here, so core tests
 * always get strict semantics (equal is strictEqual, deepEqual is deepStrictEqual).
 */
import { deepDifference } from './deep-equal';
import { inspect } from './inspect';

export interface AssertionErrorOptions {
  message?: string;
  actual?: unknown;
  expected?: unknown;
  operator?: string;
}

export class AssertionError extends Error {
  override name = 'AssertionError';
  readonly code = 'ERR_ASSERTION';
  readonly actual: unknown;
  readonly expected: unknown;
  readonly operator: string | undefined;
  readonly generatedMessage: boolean;

  constructor(options: AssertionErrorOptions) {
    super(options.message ?? 'Failed');
    this.actual = options.actual;
    this.expected = options.expected;
    this.operator = options.operator;
    this.generatedMessage = options.message === undefined;
  }
}

type Message = string | Error | undefined;

/** Throws the caller's message (or Error) when given, else the generated one. */
function fail(message: Message, generated: string, details: Omit<AssertionErrorOptions, 'message'> = {}): never {
  if (message instanceof Error) throw message;
  const error = new AssertionError({ ...details, message: message ?? generated });
  (error as { generatedMessage: boolean }).generatedMessage = message === undefined;
  throw error;
}

function both(actual: unknown, expected: unknown): string {
  return `actual:   ${inspect(actual)}\nexpected: ${inspect(expected)}`;
}

export function ok(value: unknown, message?: Message): asserts value {
  if (arguments.length === 0) fail(undefined, 'No value argument passed to `assert.ok()`', { actual: undefined, expected: true, operator: '==' });
  if (!value) fail(message, `The expression evaluated to a falsy value: ${inspect(value)}`, { actual: value, expected: true, operator: '==' });
}

export function strictEqual<T>(actual: unknown, expected: T, message?: Message): asserts actual is T {
  if (Object.is(actual, expected)) return;
  const shown = both(actual, expected);
  const sameLook = inspect(actual) === inspect(expected);
  const head = sameLook ? 'Values have same structure but are not reference-equal:' : 'Expected values to be strictly equal:';
  fail(message, `${head}\n\n${shown}`, { actual, expected, operator: 'strictEqual' });
}

export function notStrictEqual(actual: unknown, expected: unknown, message?: Message): void {
  if (!Object.is(actual, expected)) return;
  fail(message, `Expected "actual" to be strictly unequal to: ${inspect(expected)}`, { actual, expected, operator: 'notStrictEqual' });
}

export function deepStrictEqual<T>(actual: unknown, expected: T, message?: Message): asserts actual is T {
  const difference = deepDifference(actual, expected);
  if (difference === undefined) return;
  fail(message, `Expected values to be strictly deep-equal:\n${both(actual, expected)}\nfirst difference ${difference}`, {
    actual, expected, operator: 'deepStrictEqual',
  });
}

export function notDeepStrictEqual(actual: unknown, expected: unknown, message?: Message): void {
  if (deepDifference(actual, expected) !== undefined) return;
  fail(message, `Expected "actual" not to be strictly deep-equal to: ${inspect(expected)}`, { actual, expected, operator: 'notDeepStrictEqual' });
}

export const equal = strictEqual;
export const notEqual = notStrictEqual;
export const deepEqual = deepStrictEqual;
export const notDeepEqual = notDeepStrictEqual;

export function match(text: string, pattern: RegExp, message?: Message): void {
  checkRegExp(pattern);
  if (typeof text !== 'string') {
    fail(message, `The "string" argument must be of type string. Received type ${typeof text} (${inspect(text)})`, { actual: text, expected: pattern, operator: 'match' });
  }
  pattern.lastIndex = 0;
  if (!pattern.test(text)) {
    fail(message, `The input did not match the regular expression ${String(pattern)}. Input:\n\n${inspect(text)}\n`, { actual: text, expected: pattern, operator: 'match' });
  }
}

export function doesNotMatch(text: string, pattern: RegExp, message?: Message): void {
  checkRegExp(pattern);
  if (typeof text !== 'string') {
    fail(message, `The "string" argument must be of type string. Received type ${typeof text} (${inspect(text)})`, { actual: text, expected: pattern, operator: 'doesNotMatch' });
  }
  pattern.lastIndex = 0;
  if (pattern.test(text)) {
    fail(message, `The input was expected to not match the regular expression ${String(pattern)}. Input:\n\n${inspect(text)}\n`, { actual: text, expected: pattern, operator: 'doesNotMatch' });
  }
}

function checkRegExp(pattern: unknown): void {
  if (!(pattern instanceof RegExp)) throw new TypeError(`The "regexp" argument must be an instance of RegExp. Received ${inspect(pattern)}`);
}

/** assert.fail(message): always throws. */
function failAssertion(message: Message = 'Failed'): never {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message, operator: 'fail' });
}
export { failAssertion as fail };

export function ifError(value: unknown): void {
  if (value === null || value === undefined) return;
  const shown = value instanceof Error ? String(value) : inspect(value);
  throw new AssertionError({ message: `ifError got unwanted exception: ${shown}`, actual: value, expected: null, operator: 'ifError' });
}

// ---- throws / rejects ----------------------------------------------------------------------------

type ErrorClass = abstract new (...args: never[]) => unknown;
/** Node's validator forms: an Error class, a RegExp tested on String(error), an object of expected properties, or a function returning true. */
export type ErrorValidator = ErrorClass | RegExp | ((error: unknown) => boolean) | object;

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack?.startsWith(String(error)) ? error.stack : String(error)) : inspect(error);
}

/** Checks a caught error against `expected`; throws an AssertionError when it does not match. */
function validate(error: unknown, expected: ErrorValidator, message: Message, operator: string): void {
  if (expected instanceof RegExp) {
    const text = String(error);
    expected.lastIndex = 0;
    if (expected.test(text)) return;
    fail(message, `The input did not match the regular expression ${String(expected)}. Input:\n\n${inspect(text)}\n`, { actual: error, expected, operator });
  }
  if (typeof expected === 'function') {
    if (expected.prototype !== undefined && error instanceof expected) return;
    if (expected === Error || Object.prototype.isPrototypeOf.call(Error, expected)) {
      const received = error instanceof Error ? error.constructor.name : inspect(error);
      const detail = error instanceof Error ? `\n\nError message:\n\n${error.message}` : '';
      fail(message, `The error is expected to be an instance of "${expected.name}". Received "${received}"${detail}`, { actual: error, expected, operator });
    }
    const verdict = (expected as (error: unknown) => unknown).call({}, error);
    if (verdict === true) return;
    const name = expected.name ? `"${expected.name}" ` : '';
    fail(message, `The ${name}validation function is expected to return "true". Received ${inspect(verdict)}\n\nCaught error:\n\n${describeError(error)}`, {
      actual: error, expected, operator,
    });
  }
  if (typeof expected !== 'object' || expected === null) throw new TypeError(`Invalid error validator: ${inspect(expected)}`);
  if (typeof error !== 'object' || error === null) {
    fail(message, `The error is expected to be an object with the expected properties. Received ${inspect(error)}`, { actual: error, expected, operator });
  }
  const keys: string[] = Object.keys(expected);
  if (expected instanceof Error) keys.push('name', 'message');
  const want = expected as Record<string, unknown>;
  const got = error as Record<string, unknown>;
  for (const key of keys) {
    if (want[key] instanceof RegExp && typeof got[key] === 'string') {
      const pattern = want[key] as RegExp;
      pattern.lastIndex = 0;
      if (pattern.test(got[key] as string)) continue;
    }
    const difference = key in got ? deepDifference(got[key], want[key]) : 'missing';
    if (difference === undefined) continue;
    fail(message, `The error's "${key}" property does not match (${difference}):\nactual:   ${inspect(got[key])}\nexpected: ${inspect(want[key])}\n\nCaught error:\n\n${describeError(error)}`, {
      actual: error, expected, operator,
    });
  }
}

/** throws(fn, message) is allowed: a string in the validator position is the message. */
function split(expected: ErrorValidator | string | undefined, message: Message): [ErrorValidator | undefined, Message] {
  return typeof expected === 'string' ? [undefined, expected] : [expected, message];
}

function missing(kind: 'exception' | 'rejection', expected: ErrorValidator | undefined, message: Message): never {
  const name = typeof expected === 'function' && expected.prototype !== undefined && expected.name ? ` (${expected.name})` : '';
  const detail = typeof message === 'string' ? `: ${message}` : '.';
  fail(message instanceof Error ? message : undefined, `Missing expected ${kind}${name}${detail}`, {
    actual: undefined, expected, operator: kind === 'exception' ? 'throws' : 'rejects',
  });
}

export function throws(fn: () => unknown, expected?: ErrorValidator | string, message?: Message): void {
  if (typeof fn !== 'function') throw new TypeError(`The "fn" argument must be of type function. Received ${inspect(fn)}`);
  [expected, message] = split(expected, message);
  try {
    fn();
  } catch (error) {
    if (expected !== undefined) validate(error, expected, message, 'throws');
    return;
  }
  missing('exception', expected, message);
}

export function doesNotThrow(fn: () => unknown, expected?: ErrorValidator | string, message?: Message): void {
  if (typeof fn !== 'function') throw new TypeError(`The "fn" argument must be of type function. Received ${inspect(fn)}`);
  [expected, message] = split(expected, message);
  try {
    fn();
  } catch (error) {
    unwanted('exception', error, expected, message);
  }
}

/** Node: an error that does not match the given validator is rethrown as is. */
function unwanted(kind: 'exception' | 'rejection', error: unknown, expected: ErrorValidator | undefined, message: Message): never {
  if (expected !== undefined && !matches(error, expected)) throw error;
  const detail = typeof message === 'string' ? `: ${message}` : '.';
  const actualMessage = error instanceof Error ? error.message : inspect(error);
  fail(message instanceof Error ? message : undefined, `Got unwanted ${kind}${detail}\nActual message: "${actualMessage}"`, {
    actual: error, expected, operator: kind === 'exception' ? 'doesNotThrow' : 'doesNotReject',
  });
}

function matches(error: unknown, expected: ErrorValidator): boolean {
  try {
    validate(error, expected, undefined, 'doesNotThrow');
    return true;
  } catch {
    return false;
  }
}

function settle(input: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  if (typeof input === 'function') {
    const result = input();
    if (typeof (result as { then?: unknown } | null)?.then !== 'function') {
      return Promise.reject(new TypeError(`Expected instance of Promise to be returned from the "promiseFn" function but got ${inspect(result)}.`));
    }
    return result;
  }
  if (typeof (input as { then?: unknown } | null)?.then !== 'function') {
    return Promise.reject(new TypeError(`The "promiseFn" argument must be of type function or an instance of Promise. Received ${inspect(input)}`));
  }
  return input;
}

export async function rejects(input: Promise<unknown> | (() => Promise<unknown>), expected?: ErrorValidator | string, message?: Message): Promise<void> {
  [expected, message] = split(expected, message);
  const promise = settle(input);
  let rejected = false;
  let reason: unknown;
  await promise.then(() => {}, (error: unknown) => { rejected = true; reason = error; });
  if (!rejected) missing('rejection', expected, message);
  if (expected !== undefined) validate(reason, expected, message, 'rejects');
}

export async function doesNotReject(input: Promise<unknown> | (() => Promise<unknown>), expected?: ErrorValidator | string, message?: Message): Promise<void> {
  [expected, message] = split(expected, message);
  const promise = settle(input);
  let rejected = false;
  let reason: unknown;
  await promise.then(() => {}, (error: unknown) => { rejected = true; reason = error; });
  if (rejected) unwanted('rejection', reason, expected, message);
}

// ---- the default export: assert(value, message) with everything as properties --------------------

function assertFunction(value: unknown, message?: Message): asserts value {
  if (arguments.length === 0) fail(undefined, 'No value argument passed to `assert.ok()`', { actual: undefined, expected: true, operator: '==' });
  ok(value, message);
}

const assert = Object.assign(assertFunction, {
  ok, equal, notEqual, strictEqual, notStrictEqual, deepEqual, notDeepEqual, deepStrictEqual, notDeepStrictEqual,
  match, doesNotMatch, throws, doesNotThrow, rejects, doesNotReject, fail: failAssertion, ifError, AssertionError,
});
export const strict = assert;
Object.assign(assert, { strict: assert });
export default assert;
