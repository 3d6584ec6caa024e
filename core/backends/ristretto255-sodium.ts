/**
 * Suite `ristretto255-sha512` with libsodium's WebAssembly doing what it does fastest, and
 * @noble/curves (the reference, suites/ristretto255.ts) the rest.
 *
 * An element is held as its canonical encoding, as a noble point, or both; each is made from the
 * other only when an operation needs it (a conversion costs one field inverse square root, about
 * a noble decode). Per step (bench/core.ts measures each on both backends):
 * - decode: libsodium's validity check (canonical, on the group, not the identity); no noble decode;
 * - every exponentiation, fixed bases included (libsodium's constant-time scalar multiplication
 *   beats noble's window tables here, encoding included), addition, inversion: libsodium on
 *   encodings;
 * - multi-exponentiation: a few bases through libsodium one by one; many (batch verification)
 *   through noble's bucket method, which then decodes each base for noble.
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
import { ristrettoMsm } from '../suites/ristretto255-msm.js';

/** The libsodium functions this backend uses (libsodium-wrappers-sumo, after `ready`). */
export interface SodiumRistretto255 {
  crypto_scalarmult_ristretto255(scalar: Uint8Array, element: Uint8Array): Uint8Array;
  crypto_core_ristretto255_is_valid_point(repr: Uint8Array): boolean;
  crypto_core_ristretto255_add(p: Uint8Array, q: Uint8Array): Uint8Array;
  crypto_core_ristretto255_sub(p: Uint8Array, q: Uint8Array): Uint8Array;
}

type RistrettoPoint = InstanceType<typeof ristretto255.Point>;
const Point = ristretto255.Point;
const ELEMENT_LENGTH = 32;
/** The identity's encoding (libsodium accepts and returns it; the protocol never sends it). */
const IDENTITY_BYTES = new Uint8Array(ELEMENT_LENGTH);

/**
 * Bases from which noble's bucket method (decoding each base) beats libsodium's exponentiations
 * one by one (bench/core.ts: msm_batch_per_base_us and multiexp_payment_us on each backend).
 */
const BUCKET_THRESHOLD = 24;

class HybridElement {
  constructor(
    public bytes: Uint8Array | undefined,
    public point: RistrettoPoint | undefined,
  ) {}
}

const isZero = (b: Uint8Array): boolean => bytesEqual(b, IDENTITY_BYTES);

/** k as libsodium's 32-byte little-endian scalar. */
function scalarLE(k: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32 && k > 0n; i++, k >>= 8n) out[i] = Number(k & 0xffn);
  return out;
}

export function makeSodiumRistretto255Group(sodium: SodiumRistretto255): Group {
  const q = Point.Fn.ORDER;
  const fromBytes = (b: Uint8Array): GroupElement => new HybridElement(b, undefined) as unknown as GroupElement;
  const fromPoint = (p: RistrettoPoint): GroupElement => new HybridElement(undefined, p) as unknown as GroupElement;
  const unwrap = (e: GroupElement): HybridElement => e as unknown as HybridElement;
  const bytesOf = (el: HybridElement): Uint8Array => (el.bytes ??= el.point!.is0() ? IDENTITY_BYTES : el.point!.toBytes());
  // Bytes held are always valid (decoded by libsodium or made by it): no second check.
  const pointOf = (el: HybridElement): RistrettoPoint => (el.point ??= isZero(el.bytes!) ? Point.ZERO : Point.fromBytes(el.bytes!));
  const identityOf = (el: HybridElement): boolean => (el.bytes !== undefined ? isZero(el.bytes) : el.point!.is0());
  /** a^k, 0 < k < q, a not the identity, on the encoding. */
  const sodiumExp = (el: HybridElement, k: bigint): Uint8Array => sodium.crypto_scalarmult_ristretto255(scalarLE(k), bytesOf(el));

  const group: Group = {
    suite: 'ristretto255-sha512',
    q,
    elementLength: ELEMENT_LENGTH,
    scalarLength: 32,
    identity: fromPoint(Point.ZERO),
    g: fromPoint(ristrettoGenerator('g')),
    g1: fromPoint(ristrettoGenerator('g1')),
    g2: fromPoint(ristrettoGenerator('g2')),
    scalars: makeScalarField(q),
    mul: (a, b) => {
      const x = unwrap(a);
      const y = unwrap(b);
      // Two noble points add for almost nothing; otherwise libsodium adds the encodings.
      if (x.point !== undefined && y.point !== undefined && (x.bytes === undefined || y.bytes === undefined)) {
        return fromPoint(x.point.add(y.point));
      }
      return fromBytes(sodium.crypto_core_ristretto255_add(bytesOf(x), bytesOf(y)));
    },
    invert: (a) => {
      const el = unwrap(a);
      return el.bytes !== undefined ? fromBytes(sodium.crypto_core_ristretto255_sub(IDENTITY_BYTES, el.bytes)) : fromPoint(el.point!.negate());
    },
    exp: (a, k) => {
      const el = unwrap(a);
      if (k === 0n || identityOf(el)) return group.identity;
      return fromBytes(sodiumExp(el, k));
    },
    multiExp: (bases, exps) => {
      if (bases.length !== exps.length) throw new EcashError('internal', 'multiExp: bases and exponents differ in number');
      const els: HybridElement[] = [];
      const ks: bigint[] = [];
      for (let i = 0; i < bases.length; i++) {
        const el = unwrap(bases[i]!);
        if (exps[i]! === 0n || identityOf(el)) continue;
        els.push(el);
        ks.push(exps[i]!);
      }
      if (els.length === 0) return group.identity;
      if (ristrettoMsm !== undefined && els.length >= BUCKET_THRESHOLD) return fromPoint(ristrettoMsm(els.map(pointOf), ks));
      let sum: Uint8Array | undefined;
      for (let i = 0; i < els.length; i++) {
        const k = ks[i]!;
        const term = sodiumExp(els[i]!, k < 0n ? k + q : k);
        sum = sum === undefined ? term : sodium.crypto_core_ristretto255_add(sum, term);
      }
      return fromBytes(sum!);
    },
    equals: (a, b) => {
      const x = unwrap(a);
      const y = unwrap(b);
      if (x.bytes === undefined && y.bytes === undefined) return x.point!.equals(y.point!);
      // Encodings are canonical: equal elements have equal bytes.
      return bytesEqual(bytesOf(x), bytesOf(y));
    },
    isIdentity: (a) => identityOf(unwrap(a)),
    // Exponentiations go through libsodium, which keeps no tables: nothing to prepare.
    precompute: (a) => a,
    encode: (a) => {
      const el = unwrap(a);
      if (identityOf(el)) throw new EcashError('identity-element', 'the identity element has no encoding in this protocol');
      return bytesOf(el);
    },
    decode: (bytes, what = 'element') => {
      if (!(bytes instanceof Uint8Array) || bytes.length !== ELEMENT_LENGTH) {
        throw new EcashError('bad-element', `${what} must be a ${ELEMENT_LENGTH}-byte ristretto255-sha512 element`);
      }
      if (isZero(bytes)) throw new EcashError('bad-element', `${what} is the identity element, which is never allowed`);
      if (!sodium.crypto_core_ristretto255_is_valid_point(bytes)) {
        throw new EcashError('bad-element', `${what} is not a valid ristretto255-sha512 group element`);
      }
      return fromBytes(bytes.slice());
    },
    hashToScalar: (fields) => sha512FieldsModQ(fields, q),
  };
  return group;
}
