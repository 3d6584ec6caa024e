/** Z_q arithmetic shared by every suite (q is a 256-bit prime in all of them). */
import { invert } from '@noble/curves/abstract/modular.js';
import { bigIntToBytes, bytesToBigInt } from './bytes.js';
import { EcashError } from './errors.js';
import type { ScalarField } from './group.js';

export const SCALAR_LENGTH = 32;

export function makeScalarField(q: bigint): ScalarField {
  const reduce = (a: bigint): bigint => {
    const r = a % q;
    return r < 0n ? r + q : r;
  };
  return {
    q,
    add: (a, b) => {
      const r = a + b;
      return r >= q ? r - q : r;
    },
    sub: (a, b) => {
      const r = a - b;
      return r < 0n ? r + q : r;
    },
    mul: (a, b) => (a * b) % q,
    neg: (a) => (a === 0n ? 0n : q - a),
    inv: (a) => {
      if (a % q === 0n) throw new EcashError('not-invertible', 'zero has no inverse mod q');
      return invert(a, q);
    },
    reduce,
    encode: (a) => bigIntToBytes(a, SCALAR_LENGTH),
    decode: (bytes, what = 'scalar') => {
      if (bytes.length !== SCALAR_LENGTH) {
        throw new EcashError('bad-scalar', `${what} must be ${SCALAR_LENGTH} bytes, got ${bytes.length}`);
      }
      const v = bytesToBigInt(bytes);
      if (v >= q) throw new EcashError('bad-scalar', `${what} is not reduced modulo the group order`);
      return v;
    },
  };
}
