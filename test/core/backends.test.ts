/**
 * The faster group backends (core/backends/) against the reference, byte for byte, as fast-check
 * properties: random programs of exponentiations (variable and fixed bases), multiplications,
 * inversions and multi-exponentiations (few bases, and enough for the bucket method) must give
 * the same encodings and the same identity/equality answers on both; decoding must accept and
 * refuse exactly the same byte strings (random ones, every known bad element, the identity).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToBigInt, type Group, type GroupElement, installGroup, toHex } from '../../core/index.js';
import { MODP_P } from '../../core/suites/modp2048.js';
import { badElements } from './bad-elements.js';
import { expectCode } from './expect-code.js';
import { fastGroups, referenceGroups } from './group-backends.js';

/** One step of a program over a list of elements (indices taken modulo its length). */
type Step =
  | { op: 'exp'; i: number; k: bigint }
  | { op: 'expFixed'; base: 'g' | 'g1' | 'g2'; k: bigint }
  | { op: 'mul'; i: number; j: number }
  | { op: 'invert'; i: number }
  | { op: 'multiExp'; picks: { i: number; k: bigint; fixed: boolean }[] };

/** What a program's elements look like from outside: identity, or their encoding. */
function view(G: Group, e: GroupElement): string {
  return G.isIdentity(e) ? 'identity' : toHex(G.encode(e));
}

function run(G: Group, seeds: readonly bigint[], steps: readonly Step[]): string[] {
  // Start from elements decoded from bytes, as received ones are.
  const els: GroupElement[] = seeds.map((s) => G.decode(G.encode(G.exp(G.g2, s))));
  const at = (i: number) => els[i % els.length]!;
  for (const s of steps) {
    if (s.op === 'exp') els.push(G.exp(at(s.i), s.k));
    else if (s.op === 'expFixed') els.push(G.exp(G[s.base], s.k));
    else if (s.op === 'mul') els.push(G.mul(at(s.i), at(s.j)));
    else if (s.op === 'invert') els.push(G.invert(at(s.i)));
    else {
      els.push(
        G.multiExp(
          s.picks.map((p) => (p.fixed ? G.g1 : at(p.i))),
          s.picks.map((p) => p.k),
        ),
      );
    }
  }
  const out = els.map((e) => view(G, e));
  // Equality answers between neighbours (equal elements appear through x·x^-1 and k = 0).
  for (let i = 1; i < els.length; i++) out.push(String(G.equals(els[i - 1]!, els[i]!)));
  return out;
}

describe.each(fastGroups.map((b) => [b.suite, b.backend, b.group] as const))('%s on %s matches the reference', (suite, _backend, fast) => {
  const ref = referenceGroups[suite];
  const q = ref.q;
  const runs = suite === 'modp2048-256' ? 6 : 40;
  const scalar = fc.oneof(fc.bigInt({ min: 0n, max: q - 1n }), fc.constantFrom(0n, 1n, q - 1n));
  const signed = fc.oneof(fc.bigInt({ min: -(q - 1n), max: q - 1n }), fc.bigInt({ min: -(2n ** 128n), max: 2n ** 128n }), fc.constant(0n));
  const index = fc.nat({ max: 40 });
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ op: fc.constant('exp' as const), i: index, k: scalar }),
    fc.record({ op: fc.constant('expFixed' as const), base: fc.constantFrom('g' as const, 'g1' as const, 'g2' as const), k: scalar }),
    fc.record({ op: fc.constant('mul' as const), i: index, j: index }),
    fc.record({ op: fc.constant('invert' as const), i: index }),
    fc.record({
      op: fc.constant('multiExp' as const),
      picks: fc.array(fc.record({ i: index, k: signed, fixed: fc.boolean() }), { minLength: 0, maxLength: 5 }),
    }),
  );

  it('random programs of group operations give the same bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 1n, max: q - 1n }), { minLength: 1, maxLength: 3 }),
        fc.array(step, { maxLength: 8 }),
        (seeds, steps) => {
          expect(run(fast, seeds, steps)).toEqual(run(ref, seeds, steps));
        },
      ),
      { numRuns: runs },
    );
  });

  it('x·x^-1 and x^0 are the identity, which has no encoding, on both', () => {
    for (const G of [ref, fast]) {
      const x = G.decode(G.encode(G.exp(G.g2, 12345n)));
      expect(G.isIdentity(G.mul(x, G.invert(x)))).toBe(true);
      expect(G.isIdentity(G.exp(x, 0n))).toBe(true);
      expect(G.isIdentity(G.multiExp([x, x], [5n, -5n]))).toBe(true);
      expect(G.equals(G.exp(x, 0n), G.identity)).toBe(true);
      expectCode(() => G.encode(G.identity), 'identity-element');
      expect(view(G, G.mul(G.identity, x))).toBe(toHex(G.encode(x)));
    }
  });

  it('a multi-exponentiation large enough for the bucket method gives the same bytes', () => {
    const n = suite === 'modp2048-256' ? 20 : 40;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.bigInt({ min: 1n, max: q - 1n }), signed), { minLength: n, maxLength: n }), (pairs) => {
        const views = [ref, fast].map((G) => {
          const bases = pairs.map(([s]) => G.decode(G.encode(G.exp(G.g, s))));
          return view(G, G.multiExp([G.g, G.g2, ...bases], [pairs[0]![1], -pairs[1]![1], ...pairs.map(([, k]) => k)]));
        });
        expect(views[1]).toBe(views[0]);
      }),
      { numRuns: suite === 'modp2048-256' ? 2 : 5 },
    );
  });

  it("a batch verification's multi-exponentiation (many 128-bit weights, some full exponents) gives the same bytes", () => {
    // Enough short exponents for each backend's bucket path (libsodium sends only those to it),
    // bases both decoded and computed, the identity and zero exponents mixed in, and pairs that
    // cancel so that the result is sometimes the identity.
    const n = suite === 'modp2048-256' ? 20 : 330;
    const weight = fc.bigInt({ min: -(2n ** 128n), max: 2n ** 128n });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.bigInt({ min: 1n, max: q - 1n }), weight), { minLength: n, maxLength: n }),
        fc.array(fc.bigInt({ min: -(q - 1n), max: q - 1n }), { minLength: 2, maxLength: 2 }),
        fc.boolean(),
        (pairs, full, cancel) => {
          const views = [ref, fast].map((G) => {
            const bases = pairs.map(([s], i) => (i % 2 === 0 ? G.decode(G.encode(G.exp(G.g, s))) : G.exp(G.g2, s)));
            const exps = pairs.map(([, k]) => k);
            for (let i = 1; cancel && i < n; i += 2) {
              exps[i] = -exps[i - 1]!;
              bases[i] = bases[i - 1]!;
            }
            return view(G, G.multiExp([...bases, G.identity, G.g1, bases[0]!], [...exps, 7n, full[0]!, full[1]!]));
          });
          expect(views[1]).toBe(views[0]);
        },
      ),
      { numRuns: suite === 'modp2048-256' ? 2 : 4 },
    );
  });

  it('decoding accepts and refuses the same random byte strings', () => {
    const length = ref.elementLength;
    // For modp, random values are almost never members: mix in members and values just off them.
    const member = fc.bigInt({ min: 1n, max: q - 1n }).map((k) => ref.encode(ref.exp(ref.g1, k)));
    const bytes = fc.oneof(
      fc.uint8Array({ minLength: length, maxLength: length }),
      member,
      member.map((b) => b.map((x, i) => (i === length - 1 ? x ^ 1 : x))),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const outcome = (G: Group) => {
          try {
            return toHex(G.encode(G.decode(b)));
          } catch (e) {
            return `refused ${(e as { code?: string }).code}`;
          }
        };
        expect(outcome(fast)).toBe(outcome(ref));
      }),
      { numRuns: suite === 'modp2048-256' ? 20 : 500 },
    );
  });

  it('refuses every known bad element, the identity included, as the reference does', () => {
    for (const bad of badElements(ref)) {
      expectCode(() => ref.decode(bad.bytes), 'bad-element');
      expectCode(() => fast.decode(bad.bytes), 'bad-element');
    }
    if (suite === 'modp2048-256') {
      // p − 1 has order 2: OpenSSL refuses it as a base, which must read as "not a member".
      const pMinus1 = new Uint8Array(256);
      for (let i = 0, v = MODP_P - 1n; i < 256; i++, v >>= 8n) pMinus1[255 - i] = Number(v & 0xffn);
      expect(bytesToBigInt(pMinus1)).toBe(MODP_P - 1n);
      expectCode(() => fast.decode(pMinus1), 'bad-element');
    }
  });
});

describe('installing a backend', () => {
  it('is refused once the suite is in use, so elements of two implementations never mix', async () => {
    const { getGroup } = await import('../../core/index.js');
    const inUse = getGroup('p256-uprove');
    installGroup(inUse); // the same group again is fine
    expectCode(() => installGroup(referenceGroups['p256-uprove']), 'internal');
    expect(getGroup('p256-uprove')).toBe(inUse);
  });

  it('installGroupBackends puts libsodium and OpenSSL behind getGroup, and P-256 stays on noble', async () => {
    const { getGroup, referenceGroup } = await import('../../core/index.js');
    const { installGroupBackends } = await import('../../core/backends/index.js');
    expect(await installGroupBackends()).toEqual({
      'ristretto255-sha512': 'libsodium',
      'p256-uprove': 'reference',
      'modp2048-256': 'openssl',
    });
    for (const suite of ['ristretto255-sha512', 'modp2048-256'] as const) {
      const G = getGroup(suite);
      expect(G.encode(G.g2)).toEqual(referenceGroups[suite].encode(referenceGroups[suite].g2));
      expectCode(() => installGroup(referenceGroup(suite)), 'internal');
    }
  });
});
