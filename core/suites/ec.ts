/**
 * The Group interface over a prime-order elliptic curve point type from @noble/curves
 * (ristretto255 and P-256 share this; only their encodings and generators differ).
 */
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { EcashError } from '../errors.js';
import type { Group, GroupElement } from '../group.js';
import { sha512FieldsModQ } from '../hash.js';
import { type MsmOps, pippenger } from '../msm.js';
import { makeScalarField } from '../scalar-field.js';
import type { SuiteId } from '../suite-ids.js';

/** The slice of a noble point class this module uses. */
export interface NoblePoint<P> {
  add(other: P): P;
  double(): P;
  negate(): P;
  multiply(k: bigint): P;
  multiplyUnsafe(k: bigint): P;
  equals(other: P): boolean;
  is0(): boolean;
  precompute(windowSize?: number, isLazy?: boolean): P;
}

export interface NoblePointClass<P extends NoblePoint<P>> {
  readonly ZERO: P;
  readonly BASE: P;
  readonly Fn: { readonly ORDER: bigint };
}

export interface EcSpec<P extends NoblePoint<P>> {
  suite: SuiteId;
  Point: NoblePointClass<P>;
  elementLength: number;
  /** Canonical encoding; never called on the identity. */
  toBytes(p: P): Uint8Array;
  /** Canonical decoding with curve membership; may return the identity (checked by the caller). */
  fromBytes(b: Uint8Array): P;
  generators: { g: P; g1: P; g2: P };
  /** A faster bucket method for many bases than the generic one over the point class. */
  largeMsm?: ((points: readonly P[], exps: readonly bigint[]) => P) | undefined;
}

/** An element: the point and, once known, its canonical encoding. */
class EcElement<P> {
  constructor(
    readonly point: P,
    public encoding: Uint8Array | undefined,
  ) {}
}

/** Bases below this count go through Strauss–Shamir; above it, through Pippenger buckets. */
const PIPPENGER_THRESHOLD = 24;

export function makeEcGroup<P extends NoblePoint<P>>(spec: EcSpec<P>): Group {
  const { Point } = spec;
  const q = Point.Fn.ORDER;
  const wrap = (p: P, enc?: Uint8Array): GroupElement => new EcElement(p, enc) as unknown as GroupElement;
  const unwrap = (e: GroupElement): EcElement<P> => e as unknown as EcElement<P>;
  const precomputed = new WeakSet<object>();
  const ops: MsmOps<P> = {
    one: Point.ZERO,
    mul: (a, b) => a.add(b),
    square: (a) => a.double(),
    invert: (a) => a.negate(),
  };

  const largeMsm = spec.largeMsm ?? ((points: readonly P[], exps: readonly bigint[]) => pippenger(ops, points, exps));

  const precompute = (e: GroupElement, size: 'large' | 'small' = 'large'): GroupElement => {
    const el = unwrap(e);
    if (!precomputed.has(el.point as object)) {
      // Lazy: the table is built at the first multiplication, so parsing a key stays cheap.
      // Window 8: 33 additions per multiplication, 4,224 points; window 4: 65 and 520.
      el.point.precompute(size === 'large' ? 8 : 4, true);
      precomputed.add(el.point as object);
    }
    return e;
  };

  const group: Group = {
    suite: spec.suite,
    q,
    elementLength: spec.elementLength,
    scalarLength: 32,
    identity: wrap(Point.ZERO),
    g: wrap(spec.generators.g),
    g1: wrap(spec.generators.g1),
    g2: wrap(spec.generators.g2),
    scalars: makeScalarField(q),
    mul: (a, b) => wrap(unwrap(a).point.add(unwrap(b).point)),
    invert: (a) => wrap(unwrap(a).point.negate()),
    exp: (a, k) => {
      // multiply() is constant-time but rejects 0; secrets are never 0 (sampled from Z_q*).
      if (k === 0n) return wrap(Point.ZERO);
      return wrap(unwrap(a).point.multiply(k));
    },
    multiExp: (bases, exps) => {
      if (bases.length !== exps.length) throw new EcashError('internal', 'multiExp: bases and exponents differ in number');
      // Fixed bases use their precomputed tables; the rest share one multi-exponentiation.
      let acc = Point.ZERO;
      const varPoints: P[] = [];
      const varExps: bigint[] = [];
      for (let i = 0; i < bases.length; i++) {
        const p = unwrap(bases[i]!).point;
        const k = exps[i]!;
        if (k === 0n) continue;
        if (precomputed.has(p as object)) {
          const m = p.multiplyUnsafe(k < 0n ? -k : k);
          acc = acc.add(k < 0n ? m.negate() : m);
        } else {
          varPoints.push(p);
          varExps.push(k);
        }
      }
      if (varPoints.length >= PIPPENGER_THRESHOLD) acc = acc.add(largeMsm(varPoints, varExps));
      else if (varPoints.length > 0) {
        // noble's Strauss–Shamir takes non-negative scalars: fold signs into the points.
        const pts = varPoints.map((p, i) => (varExps[i]! < 0n ? p.negate() : p));
        const ks = varExps.map((k) => (k < 0n ? -k : k));
        acc = acc.add(mulAddUnsafe(Point as never, pts as never, ks) as unknown as P);
      }
      return wrap(acc);
    },
    equals: (a, b) => unwrap(a).point.equals(unwrap(b).point),
    isIdentity: (a) => unwrap(a).point.is0(),
    precompute,
    encode: (a) => {
      const el = unwrap(a);
      if (el.encoding === undefined) {
        if (el.point.is0()) throw new EcashError('identity-element', 'the identity element has no encoding in this protocol');
        el.encoding = spec.toBytes(el.point);
      }
      return el.encoding;
    },
    decode: (bytes, what = 'element') => {
      if (!(bytes instanceof Uint8Array) || bytes.length !== spec.elementLength) {
        throw new EcashError('bad-element', `${what} must be a ${spec.elementLength}-byte ${spec.suite} element`);
      }
      let p: P;
      try {
        p = spec.fromBytes(bytes);
      } catch (cause) {
        throw new EcashError('bad-element', `${what} is not a valid ${spec.suite} group element`, { cause });
      }
      if (p.is0()) throw new EcashError('bad-element', `${what} is the identity element, which is never allowed`);
      return wrap(p, bytes.slice());
    },
    hashToScalar: (fields) => sha512FieldsModQ(fields, q),
  };
  for (const e of [group.g, group.g1, group.g2]) precompute(e);
  return group;
}
