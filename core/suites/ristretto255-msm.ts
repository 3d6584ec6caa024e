/**
 * Large multi-exponentiations for ristretto255 (batch verification), computed on the curve under
 * it: edwards25519 (a = −1) in extended coordinates (X:Y:Z:T) with x = X/Z, y = Y/Z, x·y = T/Z.
 *
 * Every base is normalized to affine coordinates in one batch inversion and kept as
 * (y+x, y−x, 2d·x·y), so adding a base to a bucket is a mixed addition of 7 multiplications
 * (Hisil–Wong–Carter–Dawson 2008, madd-2008-hwcd-3) instead of a general addition's 9. The
 * formulas are complete on this curve (d is not a square): no input needs a special case.
 * Products reduce mod p = 2^255 − 19 by folding the high part (2^255 ≡ 19).
 *
 * A ristretto255 element is represented by any of the Edwards points of its coset; sums of
 * representatives represent the sum, so the result is wrapped back as a ristretto255 element.
 * Not constant-time: public inputs only.
 */
import { ed25519, ristretto255 } from '@noble/curves/ed25519.js';
import { invert } from '@noble/curves/abstract/modular.js';
import { batchInverse, type BucketArithmetic, bucketMsm } from '../msm.js';

type EdwardsPoint = InstanceType<typeof ed25519.Point>;
type RistrettoPoint = InstanceType<typeof ristretto255.Point>;

const P = 2n ** 255n - 19n;
const LOW = 2n ** 255n - 1n;
const D = ed25519.Point.CURVE().d;
const D2 = (2n * D) % P;
/** √−1 mod p. */
const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n;

/** x mod p for 0 <= x < 2^515 (every product below stays under 9p²). */
function red(x: bigint): bigint {
  x = (x & LOW) + 19n * (x >> 255n);
  x = (x & LOW) + 19n * (x >> 255n);
  return x >= P ? x - P : x;
}

/** A sum, in extended coordinates. */
interface Extended {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}

/** A base in affine form, with what mixed addition needs precomputed. */
interface AffineBase {
  x: bigint;
  y: bigint;
  t: bigint;
  ypx: bigint;
  ymx: bigint;
  t2d: bigint;
}

function affineBase(x: bigint, y: bigint): AffineBase {
  const t = red(x * y);
  return { x, y, t, ypx: red(y + x), ymx: red(y - x + P), t2d: red(t * D2) };
}

const neg = (v: bigint) => (v === 0n ? 0n : P - v);

/** x^(2^n). */
function squareTimes(x: bigint, n: number): bigint {
  for (let i = 0; i < n; i++) x = red(x * x);
  return x;
}

/** x^((p−5)/8) = x^(2^252 − 3), by the usual addition chain (254 squarings, 11 multiplications). */
function pow22523(x: bigint): bigint {
  const b2 = red(red(x * x) * x);
  const b4 = red(squareTimes(b2, 2) * b2);
  const b5 = red(squareTimes(b4, 1) * x);
  const b10 = red(squareTimes(b5, 5) * b5);
  const b20 = red(squareTimes(b10, 10) * b10);
  const b40 = red(squareTimes(b20, 20) * b20);
  const b80 = red(squareTimes(b40, 40) * b40);
  const b160 = red(squareTimes(b80, 80) * b80);
  const b240 = red(squareTimes(b160, 80) * b80);
  const b250 = red(squareTimes(b240, 10) * b10);
  return red(squareTimes(b250, 2) * x);
}

/**
 * The affine Edwards point RFC 9496's decoding (§4.3.1) gives for a ristretto255 encoding that is
 * ALREADY KNOWN to be valid (canonical, non-negative s, a square where one is needed): the
 * validity checks are the caller's (libsodium's `is_valid_point`, done when the element was
 * decoded); this only does the arithmetic, with the fast reduction above instead of noble's
 * generic one, which is what makes the bucket method worth it for a libsodium element (noble's
 * full decode costs about twice as much). Throws if the square root does not exist, which a
 * valid encoding never gives.
 */
function affineFromValidEncoding(bytes: Uint8Array): AffineBase {
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(bytes[i]!);
  const ss = red(s * s);
  const u1 = red(1n - ss + P);
  const u2 = red(1n + ss);
  const u2u2 = red(u2 * u2);
  const v = red(2n * P - red(D * red(u1 * u1)) - u2u2);
  // SQRT_RATIO_M1(1, v·u2²): r = w³ · (w⁷)^((p−5)/8) for w = v·u2², times √−1 if w·r² = −1.
  const w = red(v * u2u2);
  const w3 = red(red(w * w) * w);
  let r = red(w3 * pow22523(red(red(w3 * w3) * w)));
  const check = red(w * red(r * r));
  if (check === P - 1n) r = red(r * SQRT_M1);
  else if (check !== 1n) throw new Error('ristretto255: an element assumed valid has no square root');
  const denX = red(r * u2);
  const denY = red(red(r * denX) * v);
  const x = red(2n * s * denX);
  // |x|: the non-negative (even) one; the sign of r does not matter once x is made non-negative.
  return affineBase(x & 1n ? P - x : x, red(u1 * denY));
}

/** Extended points to affine bases with one field inversion. */
function normalize(points: readonly EdwardsPoint[]): AffineBase[] {
  const zInv = batchInverse(
    points.map((p) => p.Z),
    (a, b) => red(a * b),
    (a) => invert(a, P),
  );
  return points.map((p, i) => affineBase(red(p.X * zInv[i]!), red(p.Y * zInv[i]!)));
}

/** madd-2008-hwcd-3: 7 multiplications. */
function addAffine(p: Extended, q: AffineBase): Extended {
  const A = red((p.Y - p.X + P) * q.ymx);
  const B = red((p.Y + p.X) * q.ypx);
  const C = red(p.T * q.t2d);
  const D = p.Z << 1n;
  const E = B - A + P;
  const F = D - C + P;
  const G = D + C;
  const H = B + A;
  return { X: red(E * F), Y: red(G * H), T: red(E * H), Z: red(F * G) };
}

/** add-2008-hwcd-3: 9 multiplications. */
function add(p: Extended, q: Extended): Extended {
  const A = red((p.Y - p.X + P) * (q.Y - q.X + P));
  const B = red((p.Y + p.X) * (q.Y + q.X));
  const C = red(red(p.T * D2) * q.T);
  const D = red((p.Z << 1n) * q.Z);
  const E = B - A + P;
  const F = D - C + P;
  const G = D + C;
  const H = B + A;
  return { X: red(E * F), Y: red(G * H), T: red(E * H), Z: red(F * G) };
}

/** dbl-2008-hwcd with a = −1 (signs folded): 4 multiplications and 4 squarings. */
function double(p: Extended): Extended {
  const A = red(p.X * p.X);
  const B = red(p.Y * p.Y);
  const C = red((p.Z * p.Z) << 1n);
  const H = A + B;
  const E = H - red((p.X + p.Y) * (p.X + p.Y)) + P;
  const G = A - B + P;
  const F = C + G;
  return { X: red(E * F), Y: red(G * H), T: red(E * H), Z: red(F * G) };
}

const arithmetic: BucketArithmetic<AffineBase, Extended> = {
  zero: { X: 0n, Y: 1n, Z: 1n, T: 0n },
  fromBase: (b) => ({ X: b.x, Y: b.y, Z: 1n, T: b.t }),
  addBase: addAffine,
  add,
  double,
  inverses: (bases) => bases.map((b) => ({ x: neg(b.x), y: b.y, t: neg(b.t), ypx: b.ymx, ymx: b.ypx, t2d: neg(b.t2d) })),
};

/** The Edwards representative a ristretto255 point wraps (a protected field of noble's class). */
function representative(p: RistrettoPoint): EdwardsPoint {
  return (p as unknown as { readonly ep: EdwardsPoint }).ep;
}

function msm(points: readonly RistrettoPoint[], exps: readonly bigint[]): RistrettoPoint {
  const sum = bucketMsm(arithmetic, normalize(points.map(representative)), exps);
  return new ristretto255.Point(new ed25519.Point(sum.X, sum.Y, sum.Z, sum.T));
}

/**
 * Π bases[i]^exps[i] for exponents in (−q, q), the bases given as encodings already known to be
 * valid ristretto255 elements (see affineFromValidEncoding), the result as its canonical
 * encoding, all zeros for the identity. For the libsodium backend's large multi-exponentiations
 * (batch verification), where one libsodium scalar multiplication per base costs more.
 */
export function ristrettoMsmOfValidEncodings(bases: readonly Uint8Array[], exps: readonly bigint[]): Uint8Array {
  const sum = bucketMsm(arithmetic, bases.map(affineFromValidEncoding), exps);
  const point = new ristretto255.Point(new ed25519.Point(sum.X, sum.Y, sum.Z, sum.T));
  return point.is0() ? new Uint8Array(32) : point.toBytes();
}

/**
 * Π points[i]^exps[i] for exponents in (−q, q); undefined if this version of @noble/curves does
 * not expose the Edwards representative, so the caller falls back to the generic method.
 */
export const ristrettoMsm = representative(ristretto255.Point.BASE) instanceof ed25519.Point ? msm : undefined;
