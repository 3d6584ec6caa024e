/**
 * The scheme's four properties, as fast-check properties on every suite. Every random choice of a
 * run comes from a seed fast-check draws, so a failure shrinks to a reproducible seed.
 *
 * 1. Unforgeable coins: a coin from a real withdrawal verifies; the same coin with any one field
 *    changed does not.
 * 2. Double spending: a coin spent twice names exactly its account, with a proof anyone can check.
 * 3. Anonymity: for any bank view (a, b, c, r) and any other valid coin of the same account, the
 *    blinding (s, u, v') that joins them exists; the test computes it and checks every blinding
 *    equation, so the view carries no information about which coin it produced.
 * 4. A shop holding one payment cannot answer another challenge: the answers it can compute all
 *    fail, and the one right answer reveals s = log_(I·g2) A, a discrete logarithm.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  batchVerifyTranscripts,
  type Coin,
  coinChallenge,
  type DenominationSecret,
  getGroup,
  identifyDoubleSpender,
  makeDoubleSpendProof,
  paymentChallenge,
  proofFromJson,
  proofToJson,
  SUITE_IDS,
  seededRandom,
  type Transcript,
  verifyCoin,
  verifyDoubleSpendProof,
  verifyTranscript,
} from '../../core/index.js';
import { type Account, accountZ, bankKey, openAccount, paymentContext, spend, withdraw } from './fixtures.js';

const RUNS: Record<(typeof SUITE_IDS)[number], number> = { 'ristretto255-sha512': 25, 'p256-uprove': 15, 'modp2048-256': 4 };
const seedArb = fc.uint8Array({ minLength: 16, maxLength: 16 });
const idArb = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const contextArb = fc.record({
  merchantId: idArb,
  terminalId: idArb,
  timestamp: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }),
});

describe.each(SUITE_IDS)('%s properties', (suite) => {
  const G = getGroup(suite);
  const F = G.scalars;
  const numRuns = RUNS[suite];
  const setup = seededRandom(`properties-test/${suite}`);
  let bank: DenominationSecret;
  let accounts: Account[];

  beforeAll(() => {
    bank = bankKey(G, setup);
    accounts = ['alice', 'bob', 'carol'].map((h) => openAccount(G, h, setup));
  });

  it('1. a withdrawn coin verifies and the same coin with any field changed does not', () => {
    const fields = ['keyId', 'A', 'B', 'z', 'a', 'b', 'r'] as const;
    fc.assert(
      fc.property(seedArb, fc.constantFrom(...fields), fc.bigInt({ min: 1n, max: G.q - 1n }), (seed, field, delta) => {
        const { coin } = withdraw(G, bank, accounts[0]!, seededRandom(seed));
        expect(verifyCoin(G, bank.key, coin)).toBe(true);
        const tampered: Coin = { ...coin };
        if (field === 'r') tampered.r = F.add(coin.r, delta);
        else if (field === 'keyId') {
          tampered.keyId = coin.keyId.slice();
          tampered.keyId[Number(delta % 32n)]! ^= 1 << Number(delta % 8n);
        } else tampered[field] = G.mul(coin[field], G.exp(G.g, delta));
        expect(verifyCoin(G, bank.key, tampered)).toBe(false);
        const t = spend(G, accounts[0]!, { coin: tampered, secrets: { s: 1n, x1: 1n, x2: 1n } }, paymentContext(seededRandom(seed)));
        expect(verifyTranscript(G, bank.key, t)).toBe(false);
        expect(batchVerifyTranscripts(G, [{ key: bank.key, transcript: t }])).toEqual([0]);
      }),
      { numRuns },
    );
  });

  it('2. a coin spent twice names exactly its account, and the proof verifies from its JSON', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 0, max: 2 }), contextArb, contextArb, (seed, who, ctx1, ctx2) => {
        const same = ctx1.merchantId === ctx2.merchantId && ctx1.terminalId === ctx2.terminalId && ctx1.timestamp === ctx2.timestamp;
        fc.pre(!(same && Buffer.from(ctx1.nonce).equals(Buffer.from(ctx2.nonce))));
        const account = accounts[who]!;
        const w = withdraw(G, bank, account, seededRandom(seed));
        const t1 = spend(G, account, w, ctx1);
        const t2 = spend(G, account, w, ctx2);
        expect(verifyTranscript(G, bank.key, t1) && verifyTranscript(G, bank.key, t2)).toBe(true);
        const { u1, I } = identifyDoubleSpender(G, t1, t2);
        expect(accounts.map((a) => G.equals(a.I, I))).toEqual(accounts.map((_, i) => i === who));
        expect(u1).toBe(account.u1);
        const proof = makeDoubleSpendProof(G, bank.key, t1, t2);
        const published = proofFromJson(G, JSON.parse(JSON.stringify(proofToJson(G, proof))));
        expect(() => verifyDoubleSpendProof(G, published)).not.toThrow();
        expect(G.equals(published.I, account.I)).toBe(true);
      }),
      { numRuns },
    );
  });

  it("3. any bank view and any other coin of the account are joined by a blinding (s, u, v')", () => {
    fc.assert(
      fc.property(seedArb, seedArb, fc.integer({ min: 0, max: 2 }), (seedView, seedCoin, who) => {
        const account = accounts[who]!;
        const { view } = withdraw(G, bank, account, seededRandom(seedView));
        const other = withdraw(G, bank, account, seededRandom(seedCoin));
        const coin = other.coin;
        expect(verifyCoin(G, bank.key, coin)).toBe(true);
        // The joining blinding: s is fixed by A = (I·g2)^s; u and v' follow from c and r.
        const s = other.secrets.s;
        const cPrime = coinChallenge(G, coin);
        const u = F.mul(cPrime, F.inv(view.c));
        const vPrime = F.sub(coin.r, F.mul(view.r, u));
        const Ig2 = G.mul(account.I, G.g2);
        expect(G.equals(coin.A, G.exp(Ig2, s))).toBe(true);
        expect(G.equals(coin.z, G.exp(accountZ(G, bank, account.I), s))).toBe(true);
        expect(G.equals(coin.a, G.mul(G.exp(view.a, u), G.exp(G.g, vPrime)))).toBe(true);
        expect(G.equals(coin.b, G.mul(G.exp(view.b, F.mul(s, u)), G.exp(coin.A, vPrime)))).toBe(true);
        expect(F.mul(cPrime, F.inv(u))).toBe(view.c);
        expect(coin.r).toBe(F.add(F.mul(view.r, u), vPrime));
        expect(u).not.toBe(0n);
      }),
      { numRuns },
    );
  });

  it('4. a shop holding one payment cannot answer another challenge', () => {
    const strategies = ['reuse', 'scale', 'shift', 'guess', 'random-multiples'] as const;
    fc.assert(
      fc.property(
        seedArb,
        contextArb,
        contextArb,
        fc.constantFrom(...strategies),
        fc.bigInt({ min: 1n, max: G.q - 1n }),
        fc.bigInt({ min: 1n, max: G.q - 1n }),
        (seed, ctx1, ctx2, strategy, k, m) => {
          const account = accounts[0]!;
          const w = withdraw(G, bank, account, seededRandom(seed));
          const t = spend(G, account, w, ctx1);
          const d = paymentChallenge(G, t.coin, t);
          const d2 = paymentChallenge(G, t.coin, ctx2);
          fc.pre(d !== d2);
          const delta = F.sub(d2, d);
          const ratio = F.mul(d2, F.inv(d));
          const forged: Record<(typeof strategies)[number], [bigint, bigint]> = {
            reuse: [t.r1, t.r2],
            scale: [F.mul(t.r1, ratio), F.mul(t.r2, ratio)],
            shift: [F.add(t.r1, delta), F.add(t.r2, delta)],
            guess: [k, m],
            // The right answer has this form with k = u1·s and m = s, which the shop does not know.
            'random-multiples': [F.add(t.r1, F.mul(k, delta)), F.add(t.r2, F.mul(m, delta))],
          };
          const [r1, r2] = forged[strategy];
          const attempt: Transcript = { coin: t.coin, ...ctx2, r1, r2 };
          fc.pre(!(strategy === 'random-multiples' && m === w.secrets.s));
          expect(verifyTranscript(G, bank.key, attempt)).toBe(false);
          // The card's real answer for d2 is what a forger would have to produce; it yields s and
          // u1·s, so producing it means computing the discrete logarithm of A to base I·g2.
          const real = spend(G, account, w, ctx2);
          const s = F.mul(F.sub(real.r2, t.r2), F.inv(delta));
          expect(G.equals(G.exp(G.mul(account.I, G.g2), s), t.coin.A)).toBe(true);
          expect(F.mul(F.sub(real.r1, t.r1), F.inv(delta))).toBe(F.mul(account.u1, s));
        },
      ),
      { numRuns },
    );
  });
});
