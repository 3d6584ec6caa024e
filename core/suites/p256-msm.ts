/**
 * Large multi-exponentiations for P-256 (batch verification) in Jacobian coordinates
 * (x = X/Z², y = Y/Z³, Z = 0 the point at infinity) with a = −3.
 *
 * Every base is normalized to affine coordinates in one batch inversion, so adding a base to a
 * bucket is a mixed addition (madd-2007-bl: 7 multiplications and 4 squarings) rather than the
 * complete projective addition @noble/curves uses everywhere (12 multiplications and more).
 * Jacobian formulas are not complete: equal or opposite inputs are detected (H = 0) and handled
 * as a doubling or the point at infinity, as a batch may hold the same coin twice.
 * Not constant-time: public inputs only.
 */
import { invert } from '@noble/curves/abstract/modular.js';
import { p256 } from '@noble/curves/nist.js';
import { batchInverse, type BucketArithmetic, bucketMsm } from '../msm.js';

type P256Point = InstanceType<typeof p256.Point>;

const P = p256.Point.Fp.ORDER;

const mod = (x: bigint): bigint => {
  const r = x % P;
  return r < 0n ? r + P : r;
};

interface Jacobian {
  X: bigint;
  Y: bigint;
  Z: bigint;
}

interface Affine {
  x: bigint;
  y: bigint;
}

const INFINITY: Jacobian = { X: 1n, Y: 1n, Z: 0n };

/** dbl-2001-b (a = −3): 3 multiplications and 5 squarings. */
function double(p: Jacobian): Jacobian {
  if (p.Z === 0n || p.Y === 0n) return INFINITY;
  const delta = mod(p.Z * p.Z);
  const gamma = mod(p.Y * p.Y);
  const beta = mod(p.X * gamma);
  const alpha = mod(3n * (p.X - delta) * (p.X + delta));
  const X = mod(alpha * alpha - 8n * beta);
  const Z = mod((p.Y + p.Z) * (p.Y + p.Z) - gamma - delta);
  const Y = mod(alpha * (4n * beta - X) - 8n * gamma * gamma);
  return { X, Y, Z };
}

/** madd-2007-bl: p + q with q affine. */
function addAffine(p: Jacobian, q: Affine): Jacobian {
  if (p.Z === 0n) return { X: q.x, Y: q.y, Z: 1n };
  const z1z1 = mod(p.Z * p.Z);
  const H = mod(q.x * z1z1 - p.X);
  const s = mod(q.y * p.Z * z1z1 - p.Y);
  if (H === 0n) return s === 0n ? double(p) : INFINITY;
  const hh = mod(H * H);
  const I = 4n * hh;
  const J = mod(H * I);
  const r = 2n * s;
  const V = mod(p.X * I);
  const X = mod(r * r - J - 2n * V);
  const Y = mod(r * (V - X) - 2n * p.Y * J);
  const Z = mod((p.Z + H) * (p.Z + H) - z1z1 - hh);
  return { X, Y, Z };
}

/** add-2007-bl: 11 multiplications and 5 squarings. */
function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p.Z === 0n) return q;
  if (q.Z === 0n) return p;
  const z1z1 = mod(p.Z * p.Z);
  const z2z2 = mod(q.Z * q.Z);
  const u1 = mod(p.X * z2z2);
  const s1 = mod(p.Y * q.Z * z2z2);
  const H = mod(q.X * z1z1 - u1);
  const s = mod(q.Y * p.Z * z1z1 - s1);
  if (H === 0n) return s === 0n ? double(p) : INFINITY;
  const I = mod(4n * H * H);
  const J = mod(H * I);
  const r = 2n * s;
  const V = mod(u1 * I);
  const X = mod(r * r - J - 2n * V);
  const Y = mod(r * (V - X) - 2n * s1 * J);
  const Z = mod(((p.Z + q.Z) * (p.Z + q.Z) - z1z1 - z2z2) * H);
  return { X, Y, Z };
}

/** Projective points (x = X/Z, y = Y/Z, none at infinity) to affine with one field inversion. */
function normalize(points: readonly P256Point[]): Affine[] {
  const zInv = batchInverse(
    points.map((p) => p.Z),
    (a, b) => mod(a * b),
    (a) => invert(a, P),
  );
  return points.map((p, i) => ({ x: mod(p.X * zInv[i]!), y: mod(p.Y * zInv[i]!) }));
}

const arithmetic: BucketArithmetic<Affine, Jacobian> = {
  zero: INFINITY,
  fromBase: (b) => ({ X: b.x, Y: b.y, Z: 1n }),
  addBase: addAffine,
  add,
  double,
  inverses: (bases) => bases.map((b) => ({ x: b.x, y: b.y === 0n ? 0n : P - b.y })),
};

/** Π points[i]^exps[i] for exponents in (−q, q). */
export function p256Msm(points: readonly P256Point[], exps: readonly bigint[]): P256Point {
  // The point at infinity has no affine form and adds nothing.
  const keep = points.flatMap((p, i) => (p.is0() ? [] : [i]));
  const sum = bucketMsm(
    arithmetic,
    normalize(keep.map((i) => points[i]!)),
    keep.map((i) => exps[i]!),
  );
  if (sum.Z === 0n) return p256.Point.ZERO;
  // Jacobian (X, Y, Z) is projective (X·Z, Y, Z³).
  return new p256.Point(mod(sum.X * sum.Z), sum.Y, mod(sum.Z * sum.Z * sum.Z));
}
