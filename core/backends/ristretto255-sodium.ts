/**
 * Suite `ristretto255-sha512` on libsodium's WebAssembly: every element is its canonical
 * encoding and every operation is libsodium's, which measured faster than the reference
 * (suites/ristretto255.ts, @noble/curves) at each step (bench/core.ts `steps`):
 * - decode: `crypto_core_ristretto255_is_valid_point` (canonical, on the group), not the identity;
 * - exponentiation, fixed bases included: `crypto_scalarmult_ristretto255`, constant-time, its
 *   result already encoded (noble's window tables plus the encoding cost more);
 * - multiplication and inversion: `crypto_core_ristretto255_add` / `_sub`;
 * - multi-exponentiation: one scalar multiplication per base, summed, except in a large one
 *   (batch verification) for the bases with short exponents (its 128-bit weights): those go
 *   through the bucket method in JavaScript (suites/ristretto255-msm.ts), on coordinates
 *   recovered from the already validated encodings. A scalar multiplication costs libsodium the
 *   same for any exponent; the bucket method's share of a base halves with a 128-bit exponent,
 *   while the coordinates cost an inverse square root each either way. Measured per base over a
 *   batch's 768 short-exponent bases: 1.4 times faster in JavaScript, from about 256 of them on;
 *   with full-size exponents 0.75-0.95 times, so those stay on libsodium.
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
import { ristrettoMsmOfValidEncodings } from '../suites/ristretto255-msm.js';

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

/** Exponents up to this many bits (batch verification's weights) are short: the bucket method's. */
const SHORT_EXPONENT_BITS = 160n;
/**
 * Short-exponent bases from which the bucket method beats libsodium one base at a time (CPU time
 * per base, measured: 0.85x at 192, 1.0x at 256, 1.2x at 384, 1.4x at 768 and more): a deposit
 * batch of 250 coins has 750.
 */
const BUCKET_THRESHOLD = 320;

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
      const short: Uint8Array[] = [];
      const shortExps: bigint[] = [];
      const long: number[] = [];
      for (let i = 0; i < bases.length; i++) {
        const k = exps[i]!;
        const b = bytesOf(bases[i]!);
        if (k === 0n || isZero(b)) continue;
        if ((k < 0n ? -k : k) >> SHORT_EXPONENT_BITS === 0n) {
          short.push(b);
          shortExps.push(k);
        } else long.push(i);
      }
      let sum: Uint8Array = IDENTITY_BYTES;
      const plus = (term: Uint8Array) => {
        if (!isZero(term)) sum = isZero(sum) ? term : add(sum, term);
      };
      // Every element of this group holds a validated encoding (decode checked it, or libsodium made it).
      if (short.length >= BUCKET_THRESHOLD) plus(ristrettoMsmOfValidEncodings(short, shortExps));
      else short.forEach((b, j) => plus(power(b, shortExps[j]! < 0n ? shortExps[j]! + q : shortExps[j]!)));
      for (const i of long) {
        const k = exps[i]!;
        plus(power(bytesOf(bases[i]!), k < 0n ? k + q : k));
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
