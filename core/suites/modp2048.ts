/**
 * Suite `modp2048-256`: the 256-bit prime-order subgroup of RFC 5114 §2.3 (2048-bit MODP group),
 * the setting of Brands' paper. Arithmetic through bigint-crypto-utils (modPow, modInv).
 * g is the RFC's generator; g1, g2 are
 *   (SHA-512("ECASH-V1-GENERATORS" ‖ suite id ‖ name ‖ counter_u32be) mod p)^((p-1)/q) mod p
 * for the first counter from 0 that gives an element other than 1.
 * Encoding: 256 bytes big-endian; decoding requires 1 < y < p and y^q = 1.
 * JavaScript bigints are not constant-time; this suite is for study and long-APDU testing.
 * A native exponentiation (`ModpPower`, backends/modp2048-openssl.ts) may take over every
 * exponentiation and membership check; the bucket method stays in JavaScript.
 */
import { sha512 } from '@noble/hashes/sha2.js';
import { modInv, modPow } from 'bigint-crypto-utils';
import { bigIntToBytes, bytesEqual, bytesToBigInt, concatBytes, u32be, utf8 } from '../bytes.js';
import { EcashError } from '../errors.js';
import type { Group, GroupElement } from '../group.js';
import { sha512FieldsModQ } from '../hash.js';
import { batchInverse, type BucketArithmetic, bucketMsm, type MsmOps, straus } from '../msm.js';
import { makeScalarField } from '../scalar-field.js';
import { GENERATOR_DST } from './ristretto255.js';

// RFC 5114 §2.3, as OpenSSL also ships them (`openssl genpkey -genparam -algorithm DHX -pkeyopt dh_rfc5114:3`).
export const MODP_P = BigInt(
  '0x87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00E00DF8F1D61957D4FAF7DF4561B2AA30' +
    '16C3D91134096FAA3BF4296D830E9A7C209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B' +
    '6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76B63ACAE1CAA6B7902D52526735488A0E' +
    'F13C6D9A51BFA4AB3AD8347796524D8EF6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026' +
    'C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103A4B54330C198AF126116D2276E11715F' +
    '693877FAD7EF09CADB094AE91E1A1597',
);
export const MODP_G = BigInt(
  '0x3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA12510DBC15077BE463FFF4FED4AAC0BB555' +
    'BE3A6C1B0C6B47B1BC3773BF7E8C6F62901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B' +
    '777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193B5045AF2767164E1DFC967C1FB3F2E55' +
    'A4BD1BFFE83B9C80D052B985D182EA0ADB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915' +
    'B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C32F63078490F00EF8D647D148D4795451' +
    '5E2327CFEF98C582664B4C0F6CC41659',
);
export const MODP_Q = BigInt('0x8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3');

const SUITE = 'modp2048-256';
const ELEMENT_LENGTH = 256;

class ModpElement {
  /** Fixed-base table: table[j][d-1] = y^(d·16^j), built at the first use of a `precompute`d base. */
  table: bigint[][] | undefined;
  fixedBase = false;
  constructor(
    readonly value: bigint,
    public encoding: Uint8Array | undefined,
  ) {}
}

/** Bases from which the bucket method beats Straus (and native exponentiations one by one). */
const BUCKET_THRESHOLD = 16;

/**
 * base^k mod p computed outside JavaScript's bigints. `base` is a 256-byte big-endian value with
 * 1 < base < p − 1 and 0 < k; the result is 256 bytes. May throw for a value it refuses (a
 * result of 1, say), which only a non-member base can give.
 */
export interface ModpPower {
  pow(base: Uint8Array, k: bigint): Uint8Array;
}

export function modpGenerator(name: string): bigint {
  const exponent = (MODP_P - 1n) / MODP_Q;
  for (let counter = 0; counter < 1000; counter++) {
    const digest = sha512(concatBytes(utf8(GENERATOR_DST), utf8(SUITE), utf8(name), u32be(counter)));
    const y = modPow(bytesToBigInt(digest) % MODP_P, exponent, MODP_P);
    if (y !== 1n) return y;
  }
  throw new Error(`no modp generator found for ${name}`);
}

export function makeModp2048Group(native?: ModpPower): Group {
  const p = MODP_P;
  const q = MODP_Q;
  const wrap = (v: bigint, enc?: Uint8Array): GroupElement => new ModpElement(v, enc) as unknown as GroupElement;
  const unwrap = (e: GroupElement): ModpElement => e as unknown as ModpElement;
  const ops: MsmOps<bigint> = { one: 1n, mul: (a, b) => (a * b) % p, square: (a) => (a * a) % p };
  const buckets: BucketArithmetic<bigint, bigint> = {
    zero: 1n,
    fromBase: (b) => b,
    addBase: ops.mul,
    add: ops.mul,
    double: ops.square,
    inverses: (values) => batchInverse(values, ops.mul, (v) => modInv(v, p)),
  };

  const tableExp = (table: bigint[][], k: bigint): bigint => {
    let acc = 1n;
    for (let j = 0; k > 0n; j++, k >>= 4n) {
      const d = Number(k & 15n);
      if (d !== 0) acc = (acc * table[j]![d - 1]!) % p;
    }
    return acc;
  };

  const tableOf = (el: ModpElement): bigint[][] => {
    if (el.table === undefined) {
      const table: bigint[][] = [];
      let base = el.value;
      for (let j = 0; j < 64; j++) {
        const row: bigint[] = [base];
        for (let d = 2; d <= 15; d++) row.push((row[d - 2]! * base) % p);
        table.push(row);
        base = (row[14]! * base) % p; // base^16
      }
      el.table = table;
    }
    return el.table;
  };

  const encodingOf = (el: ModpElement): Uint8Array => (el.encoding ??= bigIntToBytes(el.value, ELEMENT_LENGTH));
  /** y^k for 0 <= k < q (natively: faster than even a fixed-base table; bench/core.ts). */
  const expElement = (el: ModpElement, k: bigint): ModpElement => {
    if (native !== undefined && k !== 0n && el.value !== 1n) {
      const out = native.pow(encodingOf(el), k);
      return new ModpElement(bytesToBigInt(out), out);
    }
    return new ModpElement(el.fixedBase ? tableExp(tableOf(el), k) : modPow(el.value, k, p), undefined);
  };
  /** y^q = 1; natively as y^(q+1) = y, since a native power may refuse a result of 1. */
  const inSubgroup = (y: bigint, bytes: Uint8Array): boolean => {
    if (native === undefined) return modPow(y, q, p) === 1n;
    if (y === p - 1n) return false; // order 2; native powers refuse it as a base
    try {
      return bytesEqual(native.pow(bytes, q + 1n), bytes);
    } catch {
      return false;
    }
  };

  const group: Group = {
    suite: SUITE,
    q,
    elementLength: ELEMENT_LENGTH,
    scalarLength: 32,
    identity: wrap(1n),
    g: wrap(MODP_G),
    g1: wrap(modpGenerator('g1')),
    g2: wrap(modpGenerator('g2')),
    scalars: makeScalarField(q),
    mul: (a, b) => wrap((unwrap(a).value * unwrap(b).value) % p),
    invert: (a) => wrap(modInv(unwrap(a).value, p)),
    exp: (a, k) => expElement(unwrap(a), k) as unknown as GroupElement,
    multiExp: (bases, exps) => {
      if (bases.length !== exps.length) throw new EcashError('internal', 'multiExp: bases and exponents differ in number');
      // Every element has order q, so y^k = y^(k+q): a negative exponent costs at most a
      // full-length one, far less than an inversion (~110 multiplications). Only the bucket
      // method keeps short negative exponents short, inverting all its bases in one go.
      let acc = 1n;
      const varValues: bigint[] = [];
      const varExps: bigint[] = [];
      for (let i = 0; i < bases.length; i++) {
        const k = exps[i]!;
        if (k === 0n) continue;
        const el = unwrap(bases[i]!);
        if (native !== undefined && bases.length < BUCKET_THRESHOLD) acc = (acc * expElement(el, k < 0n ? k + q : k).value) % p;
        else if (el.fixedBase) acc = (acc * tableExp(tableOf(el), k < 0n ? k + q : k)) % p;
        else {
          varValues.push(el.value);
          varExps.push(k);
        }
      }
      if (varValues.length >= BUCKET_THRESHOLD) acc = (acc * bucketMsm(buckets, varValues, varExps)) % p;
      else if (varValues.length > 0)
        acc =
          (acc *
            straus(
              ops,
              varValues,
              varExps.map((k) => (k < 0n ? k + q : k)),
            )) %
          p;
      return wrap(acc);
    },
    equals: (a, b) => unwrap(a).value === unwrap(b).value,
    isIdentity: (a) => unwrap(a).value === 1n,
    precompute: (a) => {
      // Parsing a key must stay cheap (terminals parse every key they cache); the table is built
      // when the base is first used.
      unwrap(a).fixedBase = true;
      return a;
    },
    encode: (a) => {
      const el = unwrap(a);
      if (el.value === 1n) throw new EcashError('identity-element', 'the identity element has no encoding in this protocol');
      return encodingOf(el);
    },
    decode: (bytes, what = 'element') => {
      if (!(bytes instanceof Uint8Array) || bytes.length !== ELEMENT_LENGTH) {
        throw new EcashError('bad-element', `${what} must be a ${ELEMENT_LENGTH}-byte ${SUITE} element`);
      }
      const y = bytesToBigInt(bytes);
      if (y <= 1n || y >= p) throw new EcashError('bad-element', `${what} is out of range for ${SUITE} (needs 1 < y < p)`);
      if (!inSubgroup(y, bytes)) throw new EcashError('bad-element', `${what} is not in the prime-order subgroup of ${SUITE}`);
      return wrap(y, bytes.slice());
    },
    hashToScalar: (fields) => sha512FieldsModQ(fields, q),
  };
  for (const e of [group.g, group.g1, group.g2]) group.precompute(e);
  return group;
}
