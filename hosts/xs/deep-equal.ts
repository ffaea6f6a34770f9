/**
 * node:assert's strict deep equality (deepStrictEqual), for the XS assert shim. Returns where the
 * first difference is instead of a boolean, so a failure message can point at it.
 *
 * Rules, as in Node: primitives by Object.is (NaN equals NaN, 0 differs from -0); objects need the
 * same prototype and type tag and the same own enumerable keys (symbols included) with deeply equal
 * values; Date by time, RegExp by source/flags/lastIndex, boxed primitives by value, errors also by
 * name and message; typed arrays, DataView and ArrayBuffer by contents; Map and Set regardless of
 * order, matching object keys/members deeply. Cycles are handled.
 */
import { inspect } from './inspect';

type Pairs = Map<object, Set<object>>;

/** undefined when `actual` and `expected` are strictly deep-equal, else a description of the first difference. */
export function deepDifference(actual: unknown, expected: unknown): string | undefined {
  return compare(actual, expected, '', new Map());
}

export function isDeepStrictEqual(actual: unknown, expected: unknown): boolean {
  return deepDifference(actual, expected) === undefined;
}

function at(path: string): string {
  return path === '' ? 'at the top level' : `at ${path}`;
}

function tagOf(value: object): string {
  return Object.prototype.toString.call(value);
}

function enumerableKeys(value: object): (string | symbol)[] {
  const keys: (string | symbol)[] = Object.keys(value);
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, symbol)) keys.push(symbol);
  }
  return keys;
}

function pathKey(path: string, key: string | symbol, isArray: boolean): string {
  if (typeof key === 'symbol') return `${path}[${key.toString()}]`;
  if (isArray && /^\d+$/.test(key)) return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function compare(actual: unknown, expected: unknown, path: string, pairs: Pairs): string | undefined {
  if (Object.is(actual, expected)) return undefined;
  if (typeof actual !== 'object' || typeof expected !== 'object' || actual === null || expected === null) {
    return `${at(path)}: ${inspect(actual, 1)} !== ${inspect(expected, 1)}`;
  }
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) {
    return `${at(path)}: different prototypes (${inspect(actual, 0)} vs ${inspect(expected, 0)})`;
  }
  if (tagOf(actual) !== tagOf(expected)) return `${at(path)}: ${tagOf(actual)} vs ${tagOf(expected)}`;
  // A pair already being compared further up is assumed equal (cycles).
  const known = pairs.get(actual);
  if (known?.has(expected)) return undefined;
  if (known) known.add(expected);
  else pairs.set(actual, new Set([expected]));
  try {
    return compareObjects(actual, expected, path, pairs);
  } finally {
    pairs.get(actual)?.delete(expected);
  }
}

function compareObjects(actual: object, expected: object, path: string, pairs: Pairs): string | undefined {
  const special = compareSpecial(actual, expected, path, pairs);
  if (special !== undefined) return special;
  const isView = ArrayBuffer.isView(actual);
  // Typed arrays' indexes were compared as contents; only their extra keys remain.
  const keysOf = (value: object) => enumerableKeys(value).filter((k) => !(isView && typeof k === 'string' && /^\d+$/.test(k)));
  const actualKeys = keysOf(actual);
  const expectedKeys = new Set(keysOf(expected));
  if (Array.isArray(actual) && actual.length !== (expected as unknown[]).length) {
    return `${at(path)}: array length ${actual.length} !== ${(expected as unknown[]).length}`;
  }
  for (const k of actualKeys) {
    if (!expectedKeys.has(k)) return `${at(pathKey(path, k, Array.isArray(actual)))}: present in actual only`;
  }
  if (actualKeys.length !== expectedKeys.size) {
    const missing = [...expectedKeys].find((k) => !actualKeys.includes(k))!;
    return `${at(pathKey(path, missing, Array.isArray(actual)))}: present in expected only`;
  }
  const a = actual as Record<string | symbol, unknown>;
  const e = expected as Record<string | symbol, unknown>;
  for (const k of actualKeys) {
    const difference = compare(a[k], e[k], pathKey(path, k, Array.isArray(actual)), pairs);
    if (difference !== undefined) return difference;
  }
  return undefined;
}

/** Types whose contents are not (only) their enumerable keys. */
function compareSpecial(actual: object, expected: object, path: string, pairs: Pairs): string | undefined {
  const differ = (what: string, a: unknown, e: unknown) => `${at(path)}: ${what} ${inspect(a, 1)} !== ${inspect(e, 1)}`;
  if (actual instanceof Date) {
    const [a, e] = [actual.getTime(), (expected as Date).getTime()];
    return Object.is(a, e) ? undefined : differ('date', actual, expected);
  }
  if (actual instanceof RegExp) {
    const e = expected as RegExp;
    const same = actual.source === e.source && actual.flags === e.flags && actual.lastIndex === e.lastIndex;
    return same ? undefined : differ('regexp', actual, expected);
  }
  if (actual instanceof Number || actual instanceof String || actual instanceof Boolean) {
    return Object.is(actual.valueOf(), (expected as typeof actual).valueOf()) ? undefined : differ('boxed value', actual, expected);
  }
  if (actual instanceof Error) {
    const e = expected as Error;
    if (actual.name !== e.name) return differ('error name', actual.name, e.name);
    if (actual.message !== e.message) return differ('error message', actual.message, e.message);
    return undefined;
  }
  if (actual instanceof ArrayBuffer) return compareBytes(new Uint8Array(actual), new Uint8Array(expected as ArrayBuffer), path);
  if (actual instanceof DataView) {
    const e = expected as DataView;
    return compareBytes(new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength), new Uint8Array(e.buffer, e.byteOffset, e.byteLength), path);
  }
  if (ArrayBuffer.isView(actual)) return compareElements(actual as unknown as ArrayLike<unknown>, expected as unknown as ArrayLike<unknown>, path);
  if (actual instanceof Map) return compareMaps(actual, expected as Map<unknown, unknown>, path, pairs);
  if (actual instanceof Set) return compareSets(actual, expected as Set<unknown>, path, pairs);
  return undefined;
}

function compareBytes(actual: Uint8Array, expected: Uint8Array, path: string): string | undefined {
  return compareElements(actual, expected, path);
}

function compareElements(actual: ArrayLike<unknown>, expected: ArrayLike<unknown>, path: string): string | undefined {
  if (actual.length !== expected.length) return `${at(path)}: length ${actual.length} !== ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) return `${at(`${path}[${i}]`)}: ${inspect(actual[i])} !== ${inspect(expected[i])}`;
  }
  return undefined;
}

function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

function compareMaps(actual: Map<unknown, unknown>, expected: Map<unknown, unknown>, path: string, pairs: Pairs): string | undefined {
  if (actual.size !== expected.size) return `${at(path)}: Map size ${actual.size} !== ${expected.size}`;
  const unmatched = new Set([...expected.keys()].filter((k) => isObject(k) && !actual.has(k)));
  for (const [k, value] of actual) {
    if (expected.has(k)) {
      const difference = compare(value, expected.get(k), `${path}.get(${inspect(k, 0)})`, pairs);
      if (difference !== undefined) return difference;
      continue;
    }
    // An object key not present by identity may still match a deep-equal key in `expected`.
    const match = isObject(k)
      ? [...unmatched].find((other) => compare(k, other, '', pairs) === undefined && compare(value, expected.get(other), '', pairs) === undefined)
      : undefined;
    if (match === undefined) return `${at(path)}: Map key ${inspect(k, 1)} has no equal entry in expected`;
    unmatched.delete(match);
  }
  return undefined;
}

function compareSets(actual: Set<unknown>, expected: Set<unknown>, path: string, pairs: Pairs): string | undefined {
  if (actual.size !== expected.size) return `${at(path)}: Set size ${actual.size} !== ${expected.size}`;
  const unmatched = new Set([...expected].filter((v) => isObject(v) && !actual.has(v)));
  for (const value of actual) {
    if (expected.has(value)) continue;
    const match = isObject(value) ? [...unmatched].find((other) => compare(value, other, '', pairs) === undefined) : undefined;
    if (match === undefined) return `${at(path)}: Set member ${inspect(value, 1)} has no equal member in expected`;
    unmatched.delete(match);
  }
  return undefined;
}
