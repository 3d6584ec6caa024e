/**
 * Suite `ristretto255-sha512` on libsodium's WebAssembly: every element is its canonical
 * encoding and every operation is libsodium's, which measured faster than the reference
 * (suites/ristretto255.ts, @noble/curves) at each step (bench/core.ts `steps`):
 * - decode: `crypto_core_ristretto255_is_valid_point` (canonical, on the group), not the identity;
 * - exponentiation, fixed bases included: `crypto_scalarmult_ristretto255`, constant-time, its
 *   result already encoded (noble's window tables plus the encoding cost more);
 * - multiplication and inversion: `crypto_core_ristretto255_add` / `_sub`;
 * - multi-exponentiation, batch verification's included: one scalar multiplication per base,
 *   summed. noble's bucket method is cheaper per base only once its bases are decoded, and that
 *   decode (an inverse square root each) costs more than the difference.
 * Only the generators come from noble (its hash-to-curve), encoded once.
 * libsodium needs `await sodium.ready` before use; this module takes the ready functions, so it
 * stays synchronous (backends/index.ts loads libsodium).
 */
import { ristretto255 } from '@noble/curves/ed25519.js';
import { bytesEqual } from '../bytes.js';
import { EcashError } from '../errors.js';
import type { Group, GroupElement } from '../group.js';
import { sha512FieldsModQ } from '../hash.js';
import { makeScalarField } from '../scalar-field.js';
import { ristrettoGenerator } from '../suites/ristretto255.js';

/** The libsodium functions this backend uses (libsodium-wrappers-sumo, after `ready`). */
export interface SodiumRistretto255 {
  crypto_scalarmult_ristretto255(scalar: Uint8Array, element: Uint8Array): Uint8Array;
  crypto_core_ristretto255_is_valid_point(repr: Uint8Array): boolean;
  crypto_core_ristretto255_add(p: Uint8Array, q: Uint8Array): Uint8Array;
  crypto_core_ristretto255_sub(p: Uint8Array, q: Uint8Array): Uint8Array;
}

const ELEMENT_LENGTH = 32;
/** The identity's encoding (libsodium accepts and returns it; the protocol never sends it). */
const IDENTITY_BYTES = new Uint8Array(ELEMENT_LENGTH);

/** An element: its canonical encoding (all zeros for the identity). */
class SodiumElement {
  constructor(readonly bytes: Uint8Array) {}
}

const isZero = (b: Uint8Array): boolean => bytesEqual(b, IDENTITY_BYTES);

/** k as libsodium's 32-byte little-endian scalar. */
function scalarLE(k: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32 && k > 0n; i++, k >>= 8n) out[i] = Number(k & 0xffn);
  return out;
}

export function makeSodiumRistretto255Group(sodium: SodiumRistretto255): Group {
  const q = ristretto255.Point.Fn.ORDER;
  const wrap = (b: Uint8Array): GroupElement => new SodiumElement(b) as unknown as GroupElement;
  const bytesOf = (e: GroupElement): Uint8Array => (e as unknown as SodiumElement).bytes;
  /** a^k for 0 <= k < q. */
  const power = (a: Uint8Array, k: bigint): Uint8Array =>
    // libsodium refuses a result that is the identity, which only k = 0 or a = 1 give.
    k === 0n || isZero(a) ? IDENTITY_BYTES : sodium.crypto_scalarmult_ristretto255(scalarLE(k), a);
  const add = (a: Uint8Array, b: Uint8Array): Uint8Array => sodium.crypto_core_ristretto255_add(a, b);

  return {
    suite: 'ristretto255-sha512',
    q,
    elementLength: ELEMENT_LENGTH,
    scalarLength: 32,
    identity: wrap(IDENTITY_BYTES),
    g: wrap(ristrettoGenerator('g').toBytes()),
    g1: wrap(ristrettoGenerator('g1').toBytes()),
    g2: wrap(ristrettoGenerator('g2').toBytes()),
    scalars: makeScalarField(q),
    mul: (a, b) => wrap(add(bytesOf(a), bytesOf(b))),
    invert: (a) => wrap(sodium.crypto_core_ristretto255_sub(IDENTITY_BYTES, bytesOf(a))),
    exp: (a, k) => wrap(power(bytesOf(a), k)),
    multiExp: (bases, exps) => {
      if (bases.length !== exps.length) throw new EcashError('internal', 'multiExp: bases and exponents differ in number');
      let sum: Uint8Array = IDENTITY_BYTES;
      for (let i = 0; i < bases.length; i++) {
        const k = exps[i]!;
        const term = power(bytesOf(bases[i]!), k < 0n ? k + q : k);
        if (!isZero(term)) sum = isZero(sum) ? term : add(sum, term);
      }
      return wrap(sum);
    },
    // Encodings are canonical: equal elements have equal bytes.
    equals: (a, b) => bytesEqual(bytesOf(a), bytesOf(b)),
    isIdentity: (a) => isZero(bytesOf(a)),
    // libsodium keeps no tables: nothing to prepare.
    precompute: (a) => a,
    encode: (a) => {
      const b = bytesOf(a);
      if (isZero(b)) throw new EcashError('identity-element', 'the identity element has no encoding in this protocol');
      return b;
    },
    decode: (bytes, what = 'element') => {
      if (!(bytes instanceof Uint8Array) || bytes.length !== ELEMENT_LENGTH) {
        throw new EcashError('bad-element', `${what} must be a ${ELEMENT_LENGTH}-byte ristretto255-sha512 element`);
      }
      if (isZero(bytes)) throw new EcashError('bad-element', `${what} is the identity element, which is never allowed`);
      if (!sodium.crypto_core_ristretto255_is_valid_point(bytes)) {
        throw new EcashError('bad-element', `${what} is not a valid ristretto255-sha512 group element`);
      }
      return wrap(bytes.slice());
    },
    hashToScalar: (fields) => sha512FieldsModQ(fields, q),
  };
}
