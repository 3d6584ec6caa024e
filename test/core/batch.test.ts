/**
 * Batch verification of deposits: one weighted multi-exponentiation for a whole batch, bisection
 * to name the bad transcripts, and the multi-exponentiation algorithms it rests on.
 */
import { ristretto255 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { modPow } from 'bigint-crypto-utils';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BatchItem,
  batchVerifyTranscripts,
  type DenominationSecret,
  getGroup,
  meteredGroup,
  type MsmOps,
  pippenger,
  SUITE_IDS,
  seededRandom,
  straus,
  type Transcript,
  verifyTranscript,
  zeroCounts,
} from '../../core/index.js';
import { MODP_G, MODP_P, MODP_Q } from '../../core/suites/modp2048.js';
import { p256Msm } from '../../core/suites/p256-msm.js';
import { ristrettoMsm } from '../../core/suites/ristretto255-msm.js';
import { type Account, bankKey, openAccount, paymentContext, spend, withdraw } from './fixtures.js';

/** Batch sizes by suite: modp's exponentiations cost ~1 ms each. */
const SIZE: Record<(typeof SUITE_IDS)[number], number> = { 'ristretto255-sha512': 24, 'p256-uprove': 16, 'modp2048-256': 8 };

describe.each(SUITE_IDS)('%s batch verification', (suite) => {
  const G = getGroup(suite);
  const F = G.scalars;
  const rng = seededRandom(`batch-test/${suite}`);
  let keys: DenominationSecret[];
  let alice: Account;
  let items: BatchItem[];

  beforeAll(() => {
    keys = [bankKey(G, rng, 100), bankKey(G, rng, 200), bankKey(G, rng, 500)];
    alice = openAccount(G, 'alice', rng);
    items = Array.from({ length: SIZE[suite] }, (_, i) => {
      const key = keys[i % keys.length]!;
      const w = withdraw(G, key, alice, rng);
      return { key: key.key, transcript: spend(G, alice, w, paymentContext(rng, `shop-${i % 3}`)) };
    });
  });

  const tamper = (item: BatchItem, f: (t: Transcript) => Transcript): BatchItem => ({ key: item.key, transcript: f(item.transcript) });
  const bumpR1 = (t: Transcript): Transcript => ({ ...t, r1: F.add(t.r1, 1n) });

  it('accepts a batch of valid transcripts under several keys, and an empty batch', () => {
    expect(batchVerifyTranscripts(G, items)).toEqual([]);
    expect(batchVerifyTranscripts(G, [])).toEqual([]);
    expect(batchVerifyTranscripts(G, items.slice(0, 1))).toEqual([]);
  });

  it("accepts the same transcript twice and both halves of a double spend (classifying them is the bank's job)", () => {
    const first = items[0]!;
    const w = withdraw(G, keys[0]!, alice, rng);
    const spentTwice = [spend(G, alice, w, paymentContext(rng, 'shop-a')), spend(G, alice, w, paymentContext(rng, 'shop-b'))];
    const batch = [first, ...items.slice(1, 5), first, ...spentTwice.map((t) => ({ key: keys[0]!.key, transcript: t }))];
    expect(batchVerifyTranscripts(G, batch)).toEqual([]);
  });

  it('names exactly the bad transcripts, wherever they are', () => {
    const n = items.length;
    for (const badSet of [[0], [n - 1], [1, n - 2], [0, 3, 4, n - 1], Array.from({ length: n }, (_, i) => i)]) {
      const batch = items.map((it, i) => (badSet.includes(i) ? tamper(it, bumpR1) : it));
      expect(batchVerifyTranscripts(G, batch, seededRandom('weights'))).toEqual(badSet);
    }
  });

  it('finds every kind of tampering', () => {
    const t = items[2]!.transcript;
    const variants: Transcript[] = [
      { ...t, r2: F.add(t.r2, 1n) },
      { ...t, merchantId: 'other-shop' },
      { ...t, timestamp: t.timestamp + 1 },
      { ...t, coin: { ...t.coin, r: F.add(t.coin.r, 1n) } },
      { ...t, coin: { ...t.coin, A: G.mul(t.coin.A, G.g) } },
      { ...t, coin: { ...t.coin, B: G.mul(t.coin.B, G.g) } },
      { ...t, coin: { ...t.coin, z: G.mul(t.coin.z, G.g) } },
      { ...t, coin: { ...t.coin, a: G.mul(t.coin.a, G.g) } },
      { ...t, coin: { ...t.coin, b: G.mul(t.coin.b, G.g) } },
      { ...t, coin: { ...t.coin, keyId: items[0]!.transcript.coin.keyId } },
    ];
    for (const v of variants) {
      const batch = items.slice(0, 6).map((it, i) => (i === 2 ? { key: it.key, transcript: v } : it));
      expect(batchVerifyTranscripts(G, batch)).toEqual([2]);
    }
  });

  it('refuses items whose key does not match (id, suite) or whose A is 1, before any arithmetic', () => {
    const [a, b, c, d] = items;
    const wrongKey = { key: keys[(keys.findIndex((k) => k.key === b!.key) + 1) % keys.length]!.key, transcript: b!.transcript };
    const otherSuite = { key: { ...c!.key, suite: SUITE_IDS.find((s) => s !== suite)! }, transcript: c!.transcript };
    const identityA = tamper(d!, (t) => ({ ...t, coin: { ...t.coin, A: G.identity } }));
    expect(batchVerifyTranscripts(G, [a!, wrongKey, otherSuite, identityA])).toEqual([1, 2, 3]);
  });

  it('cannot be fooled by errors that cancel out in an unweighted sum', () => {
    const delta = 987654321n;
    const batch = items
      .slice(0, 4)
      .map((it, i) =>
        i === 1
          ? tamper(it, (t) => ({ ...t, r1: F.add(t.r1, delta) }))
          : i === 2
            ? tamper(it, (t) => ({ ...t, r1: F.sub(t.r1, delta) }))
            : it,
      );
    // Same coin, r1 moved up in one transcript and down in another: Σr1 is unchanged.
    const sameCoin = [
      items[0]!,
      tamper(items[0]!, (t) => ({ ...t, r1: F.add(t.r1, delta) })),
      tamper(items[0]!, (t) => ({ ...t, r1: F.sub(t.r1, delta) })),
    ];
    expect(batchVerifyTranscripts(G, batch)).toEqual([1, 2]);
    expect(batchVerifyTranscripts(G, sameCoin)).toEqual([1, 2]);
  });

  it('bisects instead of falling back to coin-by-coin: one bad item costs O(log n) combined checks', () => {
    const counts = zeroCounts();
    const batch = items.map((it, i) => (i === 5 ? tamper(it, bumpR1) : it));
    expect(batchVerifyTranscripts(meteredGroup(G, counts), batch)).toEqual([5]);
    const coinByCoin = 3 * items.length;
    const levels = Math.ceil(Math.log2(items.length));
    // One check of the whole batch, two halves per level on the way down, and at the bottom the
    // two leaves of at most two items each checked coin by coin (3 multi-exps per item).
    expect(counts.multiExp).toBeLessThanOrEqual(1 + 2 * levels + 4 * 3);
    expect(counts.multiExp).toBeLessThan(coinByCoin);
  });

  it('agrees with coin-by-coin verification on any pattern of tampering', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: items.length, maxLength: items.length }), fc.nat(), (bad, seed) => {
        const batch = items.map((it, i) => (bad[i] ? tamper(it, bumpR1) : it));
        const expected = batch.flatMap((it, i) => (verifyTranscript(G, it.key, it.transcript) ? [] : [i]));
        expect(batchVerifyTranscripts(G, batch, seededRandom(`w-${seed}`))).toEqual(expected);
      }),
      { numRuns: suite === 'modp2048-256' ? 3 : 10 },
    );
  });
});

describe('multi-exponentiation algorithms', () => {
  const modp: MsmOps<bigint> = { one: 1n, mul: (a, b) => (a * b) % MODP_P, square: (a) => (a * a) % MODP_P };
  const naiveModp = (bases: bigint[], exps: bigint[]) => bases.reduce((acc, b, i) => (acc * modPow(b, exps[i]!, MODP_P)) % MODP_P, 1n);

  type Pt = InstanceType<typeof ristretto255.Point>;
  const ed: MsmOps<Pt> = {
    one: ristretto255.Point.ZERO,
    mul: (a, b) => a.add(b),
    square: (a) => a.double(),
    invert: (a) => a.negate(),
  };
  type P256Pt = InstanceType<typeof p256.Point>;
  const nist: MsmOps<P256Pt> = { one: p256.Point.ZERO, mul: (a, b) => a.add(b), square: (a) => a.double(), invert: (a) => a.negate() };

  const expArb = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
  const sizes = fc.integer({ min: 0, max: 40 });

  it('straus and pippenger (unsigned digits) equal the naive product mod p', () => {
    fc.assert(
      fc.property(sizes, fc.array(expArb(256), { maxLength: 40 }), fc.array(expArb(128), { maxLength: 40 }), (n, long, short) => {
        const exps = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? (long[i] ?? 0n) : (short[i] ?? 1n)) % MODP_Q);
        const bases = exps.map((_, i) => modPow(MODP_G, BigInt(i + 2), MODP_P));
        const expected = naiveModp(bases, exps);
        expect(straus(modp, bases, exps)).toBe(expected);
        expect(pippenger(modp, bases, exps)).toBe(expected);
      }),
      { numRuns: 12 },
    );
  });

  it('pippenger with signed digits handles negative, zero and mixed-length exponents on both curves', () => {
    const cases = fc.array(
      fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.oneof(expArb(253), expArb(128), fc.constantFrom(0n, 1n, 2n, 255n, 256n))),
      { maxLength: 48 },
    );
    fc.assert(
      fc.property(cases, fc.array(fc.boolean(), { minLength: 48, maxLength: 48 }), (pairs, negative) => {
        const n = ristretto255.Point.Fn.ORDER;
        const exps = pairs.map(([, e], i) => (negative[i] ? -(e % n) : e % n));
        const edBases = pairs.map(([m]) => ristretto255.Point.BASE.multiply(BigInt(m)));
        const edExpected = edBases.reduce((acc, b, i) => acc.add(exps[i]! === 0n ? ed.one : b.multiplyUnsafe((exps[i]! + n) % n)), ed.one);
        expect(pippenger(ed, edBases, exps).equals(edExpected)).toBe(true);
        const pBases = pairs.map(([m]) => p256.Point.BASE.multiply(BigInt(m)));
        const pn = p256.Point.Fn.ORDER;
        const pExpected = pBases.reduce(
          (acc, b, i) => acc.add(exps[i]! === 0n ? nist.one : b.multiplyUnsafe((exps[i]! + pn) % pn)),
          nist.one,
        );
        expect(pippenger(nist, pBases, exps).equals(pExpected)).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it.each(SUITE_IDS)("%s: the suite's bucket method agrees with single exponentiations", (suite) => {
    const G = getGroup(suite);
    const F = G.scalars;
    const rng = seededRandom(`msm-test/${suite}`);
    const k = () => F.reduce(BigInt('0x' + Buffer.from(rng.bytes(40)).toString('hex')));
    // Bases from arithmetic (projective Z ≠ 1) and from decoding (Z = 1), a base twice, a base
    // and its inverse, the identity; exponents full-length, 128-bit, negative and zero.
    const fresh = Array.from({ length: 30 }, () => G.exp(G.g1, k()));
    const decoded = fresh.slice(0, 10).map((e) => G.decode(G.encode(e)));
    const bases = [...fresh, ...decoded, fresh[0]!, G.invert(fresh[1]!), G.identity];
    const exps = bases.map((_, i) => (i % 3 === 0 ? k() : i % 3 === 1 ? -(k() >> 125n) : k() >> 128n));
    exps[5] = 0n;
    const naive = (bs: typeof bases, es: bigint[]) => bs.reduce((acc, b, i) => G.mul(acc, G.exp(b, F.reduce(es[i]!))), G.identity);
    expect(G.equals(G.multiExp(bases, exps), naive(bases, exps))).toBe(true);
    // Sums that cancel: x^e · x^e · (x^-1)^(2e) = 1, with the same base in one bucket.
    const x = fresh[2]!;
    const cancel = [...fresh.slice(10, 30), x, x, G.invert(x)];
    const cancelExps = [...fresh.slice(10, 30).map(() => 0n), 77n, 77n, 154n];
    expect(G.isIdentity(G.multiExp(cancel, cancelExps))).toBe(true);
    // Many copies of one base: every bucket addition is a doubling.
    expect(G.equals(G.multiExp(Array(40).fill(x), Array(40).fill(3n)), G.exp(x, 120n))).toBe(true);
  });

  it('the curve-specific bucket methods handle equal and opposite points, and the point at infinity', () => {
    const x = p256.Point.BASE.multiply(123456789n);
    const pe = (a: P256Pt, b: P256Pt) => expect(a.equals(b)).toBe(true);
    pe(p256Msm([x, x.negate(), x], [5n, 5n, 5n]), x.multiply(5n)); // x + (−x) in one bucket, then x again
    expect(p256Msm([x, x.negate()], [5n, 5n]).is0()).toBe(true);
    pe(p256Msm([x, x], [5n, 5n]), x.multiply(10n)); // x + x: the doubling case of a mixed addition
    pe(p256Msm([p256.Point.ZERO, x], [3n, 4n]), x.multiply(4n));
    pe(p256Msm([x, x.double()], [2n, -1n]), p256.Point.ZERO);
    expect(p256Msm([], []).is0()).toBe(true);
    const r = ristretto255.Point.BASE.multiply(987654321n);
    expect(ristrettoMsm).toBeDefined();
    expect(ristrettoMsm!([r, r.negate(), r], [5n, 5n, 5n]).equals(r.multiply(5n))).toBe(true);
    expect(ristrettoMsm!([r, r], [5n, 5n]).equals(r.multiply(10n))).toBe(true);
    expect(ristrettoMsm!([ristretto255.Point.ZERO, r], [3n, -4n]).equals(r.multiply(4n).negate())).toBe(true);
    expect(ristrettoMsm!([], []).is0()).toBe(true);
  });

  it('copes with repeated bases, a base and its inverse, and all-zero exponents', () => {
    const P = ristretto255.Point.BASE.multiply(7n);
    expect(pippenger(ed, [P, P, P.negate()], [5n, 6n, 11n]).is0()).toBe(true);
    expect(pippenger(ed, [P, P], [0n, 0n]).is0()).toBe(true);
    expect(pippenger(ed, [], []).is0()).toBe(true);
    expect(pippenger(ed, Array(30).fill(P), Array(30).fill(3n)).equals(P.multiply(90n))).toBe(true);
    expect(straus(modp, [], [])).toBe(1n);
  });
});
