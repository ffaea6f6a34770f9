import '../support/install-host';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

// On Node these check Node's own node:assert; on XS, the shim in hosts/xs/assert-shim.ts. The same
// expectations hold for both, so an XS shim that passes them is not laxer than Node where it counts.
const fails = (fn: () => unknown) => assert.throws(fn, { name: 'AssertionError', code: 'ERR_ASSERTION' });

describe('assert agrees with node:assert/strict', () => {
  it('deepStrictEqual accepts equal structures', () => {
    assert.deepStrictEqual({ a: [1, { b: 'x' }], c: null }, { a: [1, { b: 'x' }], c: null });
    assert.deepStrictEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]));
    assert.deepStrictEqual(new Uint8Array([1, 2, 3]).buffer, new Uint8Array([1, 2, 3]).buffer);
    assert.deepStrictEqual(new Map<unknown, unknown>([[{ k: 1 }, 'v'], ['a', [1]]]), new Map<unknown, unknown>([['a', [1]], [{ k: 1 }, 'v']]));
    assert.deepStrictEqual(new Set([1, { a: 1 }]), new Set([{ a: 1 }, 1]));
    assert.deepStrictEqual(new Date(5), new Date(5));
    assert.deepStrictEqual(/a/gi, /a/gi);
    assert.deepStrictEqual([NaN], [NaN]);
    assert.deepStrictEqual(new Error('m'), new Error('m'));
    const a: { self?: unknown } = {};
    a.self = a;
    const b: { self?: unknown } = {};
    b.self = b;
    assert.deepStrictEqual(a, b);
  });

  it('deepStrictEqual refuses what Node refuses', () => {
    fails(() => assert.deepStrictEqual({ a: 1 }, { a: '1' }));
    fails(() => assert.deepStrictEqual({ a: 1 }, { a: 1, b: undefined }));
    fails(() => assert.deepStrictEqual([1, 2], [1, 2, 3]));
    fails(() => assert.deepStrictEqual([1, , 3], [1, undefined, 3])); // eslint-disable-line no-sparse-arrays
    fails(() => assert.deepStrictEqual(0, -0));
    fails(() => assert.deepStrictEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
    fails(() => assert.deepStrictEqual(new Uint8Array([1]), new Int8Array([1])));
    fails(() => assert.deepStrictEqual(new Uint8Array([1]), [1]));
    fails(() => assert.deepStrictEqual(new Uint8Array([1]).buffer, new Uint8Array([2]).buffer));
    fails(() => assert.deepStrictEqual(new Float64Array([-0]), new Float64Array([0])));
    fails(() => assert.deepStrictEqual(new Map([['a', 1]]), new Map([['a', 2]])));
    fails(() => assert.deepStrictEqual(new Set([{ a: 1 }]), new Set([{ a: 2 }])));
    fails(() => assert.deepStrictEqual(new Date(5), new Date(6)));
    fails(() => assert.deepStrictEqual(/a/g, /a/i));
    fails(() => assert.deepStrictEqual(Object.create(null), {}));
    fails(() => assert.deepStrictEqual(new Error('m'), new TypeError('m')));
    fails(() => assert.deepStrictEqual(new Error('m'), new Error('n')));
    assert.notDeepStrictEqual({ a: 1 }, { a: 2 });
    fails(() => assert.notDeepStrictEqual({ a: 1 }, { a: 1 }));
  });

  it('equal, ok, match and fail', () => {
    assert.equal(NaN, NaN);
    fails(() => assert.equal<unknown>(1, '1'));
    fails(() => assert.equal({}, {}));
    fails(() => assert.notEqual(1, 1));
    fails(() => assert.ok(0));
    fails(() => assert(''));
    assert.match('abc', /b/);
    fails(() => assert.match('abc', /x/));
    fails(() => assert.doesNotMatch('abc', /b/));
    fails(() => assert.fail('always'));
    assert.throws(() => assert.equal(1, 2, 'my message'), { message: /^my message/, actual: 1, expected: 2, operator: 'strictEqual' });
  });

  it('throws takes a class, a RegExp on String(error), an object or a function', () => {
    const boom = () => { throw new TypeError('boom'); };
    assert.throws(boom);
    assert.throws(boom, TypeError);
    assert.throws(boom, Error);
    assert.throws(boom, /^TypeError: boom$/);
    assert.throws(boom, { name: 'TypeError', message: 'boom' });
    assert.throws(boom, { message: /bo+m/ });
    assert.throws(boom, (error) => error instanceof TypeError);
    fails(() => assert.throws(() => {}));
    fails(() => assert.throws(boom, RangeError));
    fails(() => assert.throws(boom, /^boom$/));
    fails(() => assert.throws(boom, { message: 'bam' }));
    fails(() => assert.throws(boom, () => false));
    assert.doesNotThrow(() => {});
    fails(() => assert.doesNotThrow(boom));
  });

  it('rejects and doesNotReject', async () => {
    await assert.rejects(Promise.reject(new RangeError('no')), RangeError);
    await assert.rejects(async () => { throw new Error('later'); }, { message: 'later' });
    await assert.rejects(assert.rejects(Promise.resolve()), { code: 'ERR_ASSERTION' });
    await assert.rejects(assert.rejects(Promise.reject(new Error('x')), TypeError), { code: 'ERR_ASSERTION' });
    await assert.doesNotReject(Promise.resolve(1));
    await assert.rejects(assert.doesNotReject(Promise.reject(new Error('x'))), { code: 'ERR_ASSERTION' });
  });
});
