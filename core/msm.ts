/**
 * Multi-exponentiation (multi-scalar multiplication) over any group given its operations.
 * Not constant-time: for public inputs only (verification).
 *
 * - `straus`: interleaved fixed-window exponentiation; best for a few bases (one coin).
 * - `pippenger`: bucket method with signed digits when negation is cheap (elliptic curves)
 *   and unsigned digits otherwise (modp, where an inverse costs an exponentiation). The window
 *   width is chosen from the actual scalar lengths, so the 128-bit weights of batch
 *   verification cost half as much as full-size scalars (zero digits are skipped).
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
 * Π bases[i]^exps[i] by the bucket method. Exponents may be negative when `ops.invert` exists.
 */
export function pippenger<T>(ops: MsmOps<T>, bases: readonly T[], exps: readonly bigint[]): T {
  const n = bases.length;
  if (n === 0) return ops.one;
  const signed = ops.invert !== undefined;
  const bits = exps.map(bitLength);
  const maxBits = Math.max(...bits);
  if (maxBits === 0) return ops.one;
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
  const inverses = signed ? bases.map((b) => ops.invert!(b)) : [];
  const bucketCount = signed ? 1 << (c - 1) : (1 << c) - 1;
  let acc: T | null = null;
  for (let j = windows - 1; j >= 0; j--) {
    if (acc !== null) for (let i = 0; i < c; i++) acc = ops.square(acc);
    const buckets: (T | null)[] = new Array(bucketCount).fill(null);
    for (let i = 0; i < n; i++) {
      const d = digits[i]![j]!;
      if (d === 0) continue;
      const p = d > 0 ? bases[i]! : inverses[i]!;
      const slot = (d > 0 ? d : -d) - 1;
      const cur = buckets[slot];
      buckets[slot] = cur === null || cur === undefined ? p : ops.mul(cur, p);
    }
    // Σ (k+1)·bucket[k] as a running sum from the top bucket down.
    let running: T | null = null;
    let sum: T | null = null;
    for (let k = bucketCount - 1; k >= 0; k--) {
      const b = buckets[k];
      if (b !== null && b !== undefined) running = running === null ? b : ops.mul(running, b);
      if (running !== null) sum = sum === null ? running : ops.mul(sum, running);
    }
    if (sum !== null) acc = acc === null ? sum : ops.mul(acc, sum);
  }
  return acc ?? ops.one;
}
