/**
 * The three group suites: parameters, generators reproduced from their published recipes with
 * independent code (node:crypto hashes, plain bigint arithmetic), group laws, canonical encodings,
 * strict decoders and the hash to Z_q.
 */
import { createHash } from 'node:crypto';
import { ristretto255_hasher } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { isProbablyPrime, modPow } from 'bigint-crypto-utils';
import { describe, expect, it } from 'vitest';
import {
  bigIntToBytes,
  bytesToBigInt,
  concatBytes,
  DEFAULT_SUITE,
  encodeFields,
  getGroup,
  groupExponentiations,
  meteredGroup,
  randomNonZeroScalar,
  randomScalar,
  randomWeight,
  SUITE_IDS,
  seededRandom,
  systemRandom,
  toHex,
  u32be,
  utf8,
  zeroCounts,
} from '../../core/index.js';
import { MODP_G, MODP_P, MODP_Q } from '../../core/suites/modp2048.js';
import { badElements } from './bad-elements.js';
import { expectCode } from './expect-code.js';

const sha = (alg: 'sha256' | 'sha512', ...parts: Uint8Array[]) =>
  new Uint8Array(
    createHash(alg)
      .update(concatBytes(...parts))
      .digest(),
  );

/** RFC 9380 §5.3.1 expand_message_xmd with SHA-512, 64 output bytes (one block). */
function expandMessageXmdSha512(msg: Uint8Array, dst: string): Uint8Array {
  const dstPrime = concatBytes(utf8(dst), new Uint8Array([dst.length]));
  const b0 = sha('sha512', new Uint8Array(128), msg, new Uint8Array([0, 64, 0]), dstPrime);
  return sha('sha512', b0, new Uint8Array([1]), dstPrime);
}

/** The U-Prove recipe with bigint square roots (P-256's p ≡ 3 mod 4, so √v = v^((p+1)/4)). */
function uproveGeneratorIndependently(index: number): { x: bigint; y: bigint } {
  const { p, a, b } = { p: p256.Point.Fp.ORDER, a: p256.Point.CURVE().a, b: p256.Point.CURVE().b };
  for (let k = 0; ; k++) {
    const x = bytesToBigInt(sha('sha256', utf8(`U-Prove Recommended Parameters ProfileP-256${index}${k}0`))) % p;
    const rhs = (((x * x) % p) * x + a * x + b) % p;
    const y = modPow(rhs, (p + 1n) / 4n, p);
    // biome-ignore lint/complexity/useMathMinMax: bigints (Math.min takes numbers)
    if ((y * y) % p === rhs) return { x, y: y < p - y ? y : p - y };
  }
}

describe('suite parameters and generators', () => {
  it('the default suite is ristretto255-sha512 and unknown suites are refused', () => {
    expect(DEFAULT_SUITE).toBe('ristretto255-sha512');
    expectCode(() => getGroup('ed448'), 'unknown-suite');
  });

  it.each(SUITE_IDS)('%s: q is a prime of at most 256 bits and the generators are distinct group members', async (suite) => {
    const G = getGroup(suite);
    expect(await isProbablyPrime(G.q, 32, true)).toBe(true);
    expect(G.q < 2n ** 256n && G.q > 2n ** 250n).toBe(true);
    expect(G.scalarLength).toBe(32);
    const gens = [G.g, G.g1, G.g2];
    for (const e of gens) {
      expect(G.isIdentity(e)).toBe(false);
      // e^(q-1)·e = 1: e has order q (q is prime and e is not 1).
      expect(G.isIdentity(G.mul(G.exp(e, G.q - 1n), e))).toBe(true);
      expect(G.encode(e)).toHaveLength(G.elementLength);
      expect(G.equals(G.decode(G.encode(e)), e)).toBe(true);
    }
    const hexes = new Set(gens.map((e) => toHex(G.encode(e))));
    expect(hexes.size).toBe(3);
  });

  it('ristretto255: g, g1, g2 are hash_to_ristretto255 of "g", "g1", "g2" under DST ECASH-V1-GENERATORS', () => {
    const G = getGroup('ristretto255-sha512');
    for (const [name, el] of [
      ['g', G.g],
      ['g1', G.g1],
      ['g2', G.g2],
    ] as const) {
      const uniform = expandMessageXmdSha512(utf8(name), 'ECASH-V1-GENERATORS');
      const expected = ristretto255_hasher.deriveToCurve!(uniform).toBytes();
      expect(toHex(G.encode(el))).toBe(toHex(expected));
    }
  });

  it('p256-uprove: g is the base point; g1, g2 follow the U-Prove recipe and match the published parameters', () => {
    const G = getGroup('p256-uprove');
    expect(toHex(G.encode(G.g))).toBe(toHex(p256.Point.BASE.toBytes(false)));
    // U-Prove Recommended Parameters Profile, P-256 generators g1 and g2 as Microsoft publishes them.
    const published = [
      {
        x: 'f1b986d5d11f43483ae736e886af750e870d7f0c2312aad8db5c8a3e34f5391e',
        y: '64347b7f493187a53b370894b8f8e38fd22cb99302393d79dce225918eba61ee',
      },
      {
        x: '1554cf983e0b060c78705ed7d14a4941b02e608cdb78f6a75a52345978141fd3',
        y: '62540e690c8fa9fe107e2141dfc6907f74f5feebdf5b12d7153b4635a2df6a76',
      },
    ];
    for (const [i, el] of [G.g1, G.g2].entries()) {
      const { x, y } = uproveGeneratorIndependently(i + 1);
      const hex = toHex(concatBytes(new Uint8Array([4]), bigIntToBytes(x, 32), bigIntToBytes(y, 32)));
      expect(toHex(G.encode(el))).toBe(hex);
      expect(hex).toBe('04' + published[i]!.x + published[i]!.y);
    }
  });

  it('modp2048-256: the RFC 5114 §2.3 parameters hold together and g1, g2 follow the recipe', async () => {
    const G = getGroup('modp2048-256');
    expect(MODP_P.toString(2)).toHaveLength(2048);
    expect(await isProbablyPrime(MODP_P, 16, true)).toBe(true);
    expect((MODP_P - 1n) % MODP_Q).toBe(0n);
    expect(G.q).toBe(MODP_Q);
    expect(modPow(MODP_G, MODP_Q, MODP_P)).toBe(1n);
    expect(toHex(G.encode(G.g))).toBe(toHex(bigIntToBytes(MODP_G, 256)));
    for (const [name, el] of [
      ['g1', G.g1],
      ['g2', G.g2],
    ] as const) {
      let expected = 1n;
      for (let counter = 0; expected === 1n; counter++) {
        const digest = sha('sha512', utf8('ECASH-V1-GENERATORS'), utf8('modp2048-256'), utf8(name), u32be(counter));
        expected = modPow(bytesToBigInt(digest) % MODP_P, (MODP_P - 1n) / MODP_Q, MODP_P);
      }
      expect(toHex(G.encode(el))).toBe(toHex(bigIntToBytes(expected, 256)));
    }
  });
});

describe.each(SUITE_IDS)('%s group', (suite) => {
  const G = getGroup(suite);
  const F = G.scalars;
  const rng = seededRandom(`suites-test/${suite}`);
  const k = () => randomNonZeroScalar(G, rng);

  it('exponentiation, multiplication and inversion agree with scalar arithmetic', () => {
    const [a, b] = [k(), k()];
    expect(G.equals(G.mul(G.exp(G.g, a), G.exp(G.g, b)), G.exp(G.g, F.add(a, b)))).toBe(true);
    expect(G.equals(G.exp(G.exp(G.g1, a), b), G.exp(G.g1, F.mul(a, b)))).toBe(true);
    expect(G.equals(G.invert(G.exp(G.g2, a)), G.exp(G.g2, F.neg(a)))).toBe(true);
    expect(G.isIdentity(G.exp(G.g, 0n))).toBe(true);
    expect(G.isIdentity(G.mul(G.g, G.invert(G.g)))).toBe(true);
    expect(G.equals(G.mul(G.identity, G.g1), G.g1)).toBe(true);
  });

  it('multiExp equals the product of single exponentiations, with negative and zero exponents', () => {
    const bases = [G.g, G.g1, G.g2, G.exp(G.g, k()), G.exp(G.g1, k())];
    for (const exps of [
      bases.map(() => k()),
      bases.map((_, i) => (i % 2 === 0 ? -k() : k())),
      [0n, k(), 0n, -1n, 1n],
      bases.map(() => 0n),
    ]) {
      let expected = G.identity;
      for (const [i, b] of bases.entries()) expected = G.mul(expected, G.exp(b, F.reduce(exps[i]!)));
      expect(G.equals(G.multiExp(bases, exps), expected)).toBe(true);
    }
    expect(G.isIdentity(G.multiExp([], []))).toBe(true);
  });

  it('precompute prepares a base without changing any result', () => {
    const e = k();
    const base = G.exp(G.g2, k());
    const before = G.encode(G.exp(base, e));
    const prepared = G.precompute(G.decode(G.encode(base)));
    expect(toHex(G.encode(G.exp(prepared, e)))).toBe(toHex(before));
    expect(G.equals(G.multiExp([prepared, G.g], [e, -e]), G.multiExp([base, G.g], [e, -e]))).toBe(true);
  });

  it('encodes canonically and decodes what it encodes', () => {
    for (let i = 0; i < 4; i++) {
      const e = G.exp(G.g, k());
      const bytes = G.encode(e);
      expect(bytes).toHaveLength(G.elementLength);
      const back = G.decode(bytes);
      expect(G.equals(back, e)).toBe(true);
      expect(toHex(G.encode(back))).toBe(toHex(bytes));
    }
  });

  it('has no encoding for the identity', () => {
    expectCode(() => G.encode(G.identity), 'identity-element');
    expectCode(() => G.encode(G.mul(G.g, G.invert(G.g))), 'identity-element');
  });

  it.each(badElements(G).map((b) => [b.why, b.bytes] as const))('decode refuses %s', (_why, bytes) => {
    expectCode(() => G.decode(bytes, 'test element'), 'bad-element');
  });

  it('decodes scalars strictly: 32 bytes, below q', () => {
    const s = k();
    expect(F.decode(F.encode(s))).toBe(s);
    expect(F.decode(new Uint8Array(32))).toBe(0n);
    expect(F.decode(bigIntToBytes(G.q - 1n, 32))).toBe(G.q - 1n);
    expectCode(() => F.decode(bigIntToBytes(G.q, 32)), 'bad-scalar');
    expectCode(() => F.decode(new Uint8Array(32).fill(0xff)), 'bad-scalar');
    expectCode(() => F.decode(new Uint8Array(31)), 'bad-scalar');
    expectCode(() => F.decode(new Uint8Array(33)), 'bad-scalar');
  });

  it('does scalar arithmetic mod q', () => {
    const [a, b] = [k(), k()];
    expect(F.add(a, b)).toBe((a + b) % G.q);
    expect(F.sub(a, b)).toBe((((a - b) % G.q) + G.q) % G.q);
    expect(F.mul(a, b)).toBe((a * b) % G.q);
    expect(F.add(a, F.neg(a))).toBe(0n);
    expect(F.mul(a, F.inv(a))).toBe(1n);
    expect(F.reduce(-1n)).toBe(G.q - 1n);
    expectCode(() => F.inv(0n), 'not-invertible');
  });

  it('hashes to Z_q as SHA-512 over length-prefixed fields, read big-endian, mod q', () => {
    const fields = [utf8('ECASH-V1/H'), utf8(suite), new Uint8Array(32).fill(7), new Uint8Array(0)];
    const encoded = encodeFields(fields);
    expect(toHex(encoded.subarray(0, 14))).toBe('0000000a' + toHex(utf8('ECASH-V1/H')));
    expect(G.hashToScalar(fields)).toBe(bytesToBigInt(sha('sha512', encoded)) % G.q);
    // Field boundaries matter: moving a byte from one field to the next changes the hash.
    expect(G.hashToScalar([utf8('ab'), utf8('c')])).not.toBe(G.hashToScalar([utf8('a'), utf8('bc')]));
  });

  it('a metered view counts what it does', () => {
    const counts = zeroCounts();
    const M = meteredGroup(G, counts);
    M.exp(M.g, 5n);
    M.multiExp([M.g, M.g1], [1n, 2n]);
    M.mul(M.g, M.g1);
    M.scalars.mul(2n, 3n);
    M.scalars.add(2n, 3n);
    M.scalars.inv(3n);
    M.hashToScalar([utf8('x')]);
    M.decode(G.encode(G.g));
    expect(counts).toEqual({
      exp: 1,
      multiExp: 1,
      multiExpBases: 2,
      groupMul: 1,
      scalarMul: 1,
      scalarAdd: 1,
      scalarInv: 1,
      hash: 1,
      decode: 1,
    });
    expect(groupExponentiations(counts)).toBe(2);
  });
});

describe('randomness', () => {
  it('a seeded source is deterministic and seeds are independent', () => {
    const a = seededRandom('seed-1');
    const b = seededRandom('seed-1');
    expect(toHex(a.bytes(100))).toBe(toHex(b.bytes(60)) + toHex(b.bytes(40)));
    expect(toHex(seededRandom('seed-2').bytes(32))).not.toBe(toHex(seededRandom('seed-1').bytes(32)));
  });

  it('the seeded stream is SHA-512("ECASH-V1/TEST-RNG" ‖ seed ‖ u64be(i)) block by block', () => {
    const expected = sha('sha512', utf8('ECASH-V1/TEST-RNG'), utf8('abc'), new Uint8Array(8));
    expect(toHex(seededRandom('abc').bytes(64))).toBe(toHex(expected));
  });

  it('the system source gives every caller its own bytes, across refills of its pool and beyond its size', () => {
    const prefixes = new Set<string>();
    let draws = 0;
    for (let total = 0, n = 16; total < 3 * 4096; total += n, n = 16 + ((n * 7) % 90)) {
      const b = systemRandom.bytes(n);
      expect(b.length).toBe(n);
      prefixes.add(toHex(b.subarray(0, 16)));
      draws++;
    }
    // No two draws share their first 16 bytes: bytes cut from the pool are never handed out twice
    // (nor the wiped zeros).
    expect(prefixes.size).toBe(draws);
    const large = systemRandom.bytes(100_000);
    expect(large.length).toBe(100_000);
    expect(new Set(large).size).toBeGreaterThan(200);
    expect(systemRandom.bytes(0).length).toBe(0);
  });

  it('scalars are reduced, nonzero where asked, and weights are nonzero and 128-bit', () => {
    const G = getGroup(DEFAULT_SUITE);
    const rng = seededRandom('random-test');
    for (let i = 0; i < 200; i++) {
      const s = randomScalar(G, rng);
      expect(s >= 0n && s < G.q).toBe(true);
      expect(randomNonZeroScalar(G, rng)).not.toBe(0n);
      const w = randomWeight(rng);
      expect(w > 0n && w < 2n ** 128n).toBe(true);
    }
    // An all-zero source would loop forever for a nonzero draw; one zero block is skipped.
    let calls = 0;
    const zeroOnce = { bytes: (n: number) => (calls++ === 0 ? new Uint8Array(n) : new Uint8Array(n).fill(1)) };
    expect(randomWeight(zeroOnce)).toBe(bytesToBigInt(new Uint8Array(16).fill(1)));
  });
});
