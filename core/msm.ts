/**
 * Multi-exponentiation (multi-scalar multiplication) over any group given its operations.
 * Not constant-time: for public inputs only (verification).
 *
 * - `straus`: interleaved fixed-window exponentiation; best for a few bases (one coin).
 * - `bucketMsm`: the bucket method (Pippenger) over a suite's own arithmetic, with signed digits
 *   when the bases' inverses are at hand (point negation, or one batch inversion in modp) and
 *   unsigned digits otherwise. The window width is chosen from the actual scalar lengths, so
 *   the 128-bit weights of batch verification cost half as much as full-size scalars (zero
 *   digits are skipped). `pippenger` is the same over plain group operations.
 */

export interface MsmOps<T> {
  readonly one: T;
  mul(a: T, b: T): T;
  square(a: T): T;
  /** Inverse, only where it is cheap (point negation). */
  invert?(a: T): T;
}

function bitLength(k: bigint): number {
  return k === 0n ? 0 : (k < 0n ? -k : k).toString(2).length;
}

/** Π bases[i]^exps[i] by interleaved 4-bit windows. */
export function straus<T>(ops: MsmOps<T>, bases: readonly T[], exps: readonly bigint[]): T {
  const w = 4;
  const tables: T[][] = bases.map((b) => {
    const t: T[] = [ops.one, b];
    for (let i = 2; i < 1 << w; i++) t.push(ops.mul(t[i - 1]!, b));
    return t;
  });
  const maxBits = Math.max(0, ...exps.map(bitLength));
  const windows = Math.ceil(maxBits / w);
  let acc: T | null = null;
  for (let j = windows - 1; j >= 0; j--) {
    if (acc !== null) for (let i = 0; i < w; i++) acc = ops.square(acc);
    const shift = BigInt(j * w);
    for (let i = 0; i < bases.length; i++) {
      const d = Number((exps[i]! >> shift) & 15n);
      if (d !== 0) acc = acc === null ? tables[i]![d]! : ops.mul(acc, tables[i]![d]!);
    }
  }
  return acc ?? ops.one;
}

/**
 * Split k into `windows` digits of c bits, signed (in [-2^(c-1), 2^(c-1)]) if `signed`. A negative
 * k (allowed only when signed) gives the digits of -k, negated.
 */
function recode(k: bigint, c: number, windows: number, signed: boolean): Int32Array {
  const out = new Int32Array(windows);
  const negative = k < 0n;
  if (negative) k = -k;
  const mask = (1n << BigInt(c)) - 1n;
  const half = 1 << (c - 1);
  const full = 1 << c;
  const cb = BigInt(c);
  let carry = 0;
  for (let j = 0; j < windows; j++) {
    let d = Number(k & mask) + carry;
    k >>= cb;
    carry = 0;
    if (signed && d > half) {
      d -= full;
      carry = 1;
    } else if (!signed && d === full) {
      d = 0;
      carry = 1;
    }
    out[j] = negative ? -d : d;
  }
  return out;
}

/** Estimated group operations for window width c, used to pick c. */
function pippengerCost(bits: readonly number[], c: number, maxBits: number, signed: boolean): number {
  const windows = Math.ceil((maxBits + 1) / c);
  let adds = 0;
  for (const b of bits) adds += Math.ceil((b + 1) / c);
  const buckets = signed ? 1 << (c - 1) : (1 << c) - 1;
  return adds + windows * 2 * buckets + windows * c;
}

/**
 * The arithmetic the bucket method needs. Bases (B) may have a cheaper form to add than sums (S):
 * on a curve, bases normalized to affine coordinates in one batch inversion make each bucket
 * addition a mixed addition, where almost all of the work is.
 */
export interface BucketArithmetic<B, S> {
  readonly zero: S;
  /** A sum holding one base. */
  fromBase(b: B): S;
  /** sum · base: the bucket step. */
  addBase(sum: S, b: B): S;
  add(a: S, b: S): S;
  double(a: S): S;
  /** The inverses of all bases, for signed digits; absent where inverting costs too much. */
  inverses?(bases: readonly B[]): B[];
}

/**
 * Π bases[i]^exps[i] by the bucket method. Exponents may be negative only when
 * `arith.inverses` exists.
 */
export function bucketMsm<B, S>(arith: BucketArithmetic<B, S>, bases: readonly B[], exps: readonly bigint[]): S {
  const n = bases.length;
  if (n === 0) return arith.zero;
  const signed = arith.inverses !== undefined;
  const bits = exps.map(bitLength);
  const maxBits = Math.max(...bits);
  if (maxBits === 0) return arith.zero;
  let c = 2;
  let best = Infinity;
  for (let cand = 2; cand <= 16; cand++) {
    const cost = pippengerCost(bits, cand, maxBits, signed);
    if (cost < best) {
      best = cost;
      c = cand;
    }
  }
  const windows = Math.ceil((maxBits + 1) / c);
  const digits = exps.map((k) => recode(k, c, windows, signed));
  const inverses = signed ? arith.inverses!(bases) : [];
  const bucketCount = signed ? 1 << (c - 1) : (1 << c) - 1;
  let acc: S | null = null;
  for (let j = windows - 1; j >= 0; j--) {
    if (acc !== null) for (let i = 0; i < c; i++) acc = arith.double(acc);
    const buckets: (S | null)[] = new Array(bucketCount).fill(null);
    for (let i = 0; i < n; i++) {
      const d = digits[i]![j]!;
      if (d === 0) continue;
      const p = d > 0 ? bases[i]! : inverses[i]!;
      const slot = (d > 0 ? d : -d) - 1;
      const cur = buckets[slot];
      buckets[slot] = cur === null || cur === undefined ? arith.fromBase(p) : arith.addBase(cur, p);
    }
    // Σ (k+1)·bucket[k] as a running sum from the top bucket down.
    let running: S | null = null;
    let sum: S | null = null;
    for (let k = bucketCount - 1; k >= 0; k--) {
      const b = buckets[k];
      if (b !== null && b !== undefined) running = running === null ? b : arith.add(running, b);
      if (running !== null) sum = sum === null ? running : arith.add(sum, running);
    }
    if (sum !== null) acc = acc === null ? sum : arith.add(acc, sum);
  }
  return acc ?? arith.zero;
}

/**
 * Inverses of nonzero field elements with one inversion and three multiplications each
 * (Montgomery's trick): what normalizing many points, or inverting many bases, costs.
 */
export function batchInverse(values: readonly bigint[], mul: (a: bigint, b: bigint) => bigint, invert: (a: bigint) => bigint): bigint[] {
  const prefix: bigint[] = new Array(values.length);
  let acc = 1n;
  for (let i = 0; i < values.length; i++) {
    prefix[i] = acc;
    acc = mul(acc, values[i]!);
  }
  let inv = invert(acc);
  const out: bigint[] = new Array(values.length);
  for (let i = values.length - 1; i >= 0; i--) {
    out[i] = mul(inv, prefix[i]!);
    inv = mul(inv, values[i]!);
  }
  return out;
}

/** The bucket method over plain group operations. Exponents may be negative when `ops.invert` exists. */
export function pippenger<T>(ops: MsmOps<T>, bases: readonly T[], exps: readonly bigint[]): T {
  const invert = ops.invert;
  return bucketMsm<T, T>(
    {
      zero: ops.one,
      fromBase: (b) => b,
      addBase: ops.mul,
      add: ops.mul,
      double: ops.square,
      ...(invert === undefined ? {} : { inverses: (bs: readonly T[]) => bs.map(invert) }),
    },
    bases,
    exps,
  );
}
