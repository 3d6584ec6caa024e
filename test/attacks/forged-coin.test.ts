/**
 * Attack (by anyone who wants money the bank never issued): forge a coin. Without the bank's key
 * x nobody makes a coin that verifies; each way of trying is carried out here, first against the
 * bare equations, then deposited at the real bank over HTTP on SQLite and PostgreSQL:
 *
 * - no bank signature at all: random z', a', b', r' on an (A, B) whose logarithms the forger
 *   knows, so its payment answer r1, r2 is right and only the signature is missing;
 * - a signature from another key: the forger's own key, or a genuine coin of the bank's 100 key
 *   relabelled as its 500 key;
 * - a genuine signature (z', a', b', r') re-used on another (A, B) of the forger's choosing;
 * - A = 1 (the card blinds with s = 0): both signature equations hold and the coin would pay
 *   forever without ever identifying anyone.
 *
 * Defences: core's `verifyCoin` / `batchVerifyTranscripts` (core/coin.ts, core/batch.ts: c' binds
 * the key id, A, B, z', a', b'; g^r' = h^c'·a' and A^r' = z'^c'·b'; A ≠ 1), run by the bank on every
 * deposit (host/bank/deposit-check.ts, `rejected` `invalid-transcript`), and the strict decoders
 * (the identity is not an element: `bad-transcript`). These passed on main's code, the defence
 * existing; checked by taking `batchVerifyTranscripts` out of deposit-check.ts: the HTTP tests
 * then failed (the forged coins were credited). The A = 1 and relabelling tests are moved from
 * test/core/attacks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  BankWithdrawalSession,
  batchVerifyTranscripts,
  bigIntToBytes,
  type Coin,
  coinChallenge,
  coinFromJson,
  coinToJson,
  decodeCoin,
  encodeCoin,
  generateDenominationKey,
  type Group,
  identifyDoubleSpender,
  randomNonZeroScalar,
  randomScalar,
  respondToPayment,
  SUITE_IDS,
  systemRandom,
  type Transcript,
  toHex,
  TAG_H,
  type TranscriptJson,
  utf8,
  verifyCoin,
  verifyPaymentResponse,
  verifyTranscript,
} from '../../core/index.js';
import { expectCode } from '../core/expect-code.js';
import { accountZ, bankKey, PAYMENT_TIME, paymentContext, spend, terms, withdraw } from '../core/fixtures.js';
import { ADAPTERS, pay, withdrawCoin } from '../bank/http-fixture.js';
import { merchantBalance } from '../helpers/world.js';
import { deposit, equations, forgedPayment, forgerBase, useAttackBank } from './helpers.js';

/** The identity's conventional encoding in each suite (which this protocol never accepts). */
function identityBytes(G: Group): Uint8Array {
  if (G.suite === 'modp2048-256') return bigIntToBytes(1n, 256);
  return new Uint8Array(G.elementLength);
}

describe.each(SUITE_IDS)('%s: forged coins against the equations', (suite) => {
  it('a coin with A = 1 satisfies both signature equations but is refused everywhere', () => {
    const { G, F, rng, bank, alice } = equations(suite);
    // The attacker's card blinds with s = 0: A = z' = b' = 1. Its hash of the coin uses the
    // identity's usual encoding, since the protocol's encoder refuses to give one.
    const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
    const u = randomNonZeroScalar(G, rng);
    const vPrime = randomScalar(G, rng);
    const [x1, x2] = [randomScalar(G, rng), randomScalar(G, rng)];
    const one = G.identity;
    const B = G.multiExp([G.g1, G.g2], [x1, x2]);
    const aPrime = G.mul(G.exp(session.offer.a, u), G.exp(G.g, vPrime));
    const id = identityBytes(G);
    const cPrime = G.hashToScalar([utf8(TAG_H), utf8(suite), bank.key.keyId, id, G.encode(B), id, G.encode(aPrime), id]);
    const r = session.answer(F.mul(cPrime, F.inv(u)));
    const coin: Coin = { keyId: bank.key.keyId, A: one, B, z: one, a: aPrime, b: one, r: F.add(F.mul(r, u), vPrime) };
    // Both equations hold: g^r' = h^c'·a' and A^r' = z'^c'·b' (1 = 1).
    expect(G.equals(G.exp(G.g, coin.r), G.mul(G.exp(bank.key.h, cPrime), aPrime))).toBe(true);
    // Such a coin pays forever with r1 = x1, r2 = x2 and never identifies anyone.
    const payWith = (i: number): Transcript => {
      const ctx = paymentContext(rng, `shop-${i}`);
      const d = G.hashToScalar([utf8('any'), utf8(String(i))]);
      return { coin, ...ctx, ...respondToPayment(G, alice.u1, { s: 0n, x1, x2 }, d) };
    };
    expectCode(() => identifyDoubleSpender(G, payWith(1), payWith(2)), 'not-double-spend');
    // The checks: verification, batch verification, the encoders and the decoders.
    expect(verifyCoin(G, bank.key, coin)).toBe(false);
    expect(batchVerifyTranscripts(G, [{ key: bank.key, transcript: payWith(1) }])).toEqual([0]);
    expectCode(() => encodeCoin(G, coin), 'identity-element');
    expectCode(() => coinToJson(G, coin), 'identity-element');
    const honest = withdraw(G, bank, alice, rng).coin;
    const bytes = encodeCoin(G, honest);
    bytes.set(id, 2 + 32);
    expectCode(() => decodeCoin(G, bytes), 'bad-element');
    expectCode(() => coinFromJson(G, honest.keyId, { ...coinToJson(G, honest), A: toHex(id) }), 'bad-element');
  });

  it("a coin's value cannot be relabelled: a coin of one key never verifies under another", () => {
    const { G, rng, bank, alice } = equations(suite);
    const w = withdraw(G, bank, alice, rng);
    const t = spend(G, alice, w, paymentContext(rng, 'shop-1'));
    const bigger = bankKey(G, rng, 5000);
    expect(verifyTranscript(G, bigger.key, { ...t, coin: { ...t.coin, keyId: bigger.key.keyId } })).toBe(false);
    // z' is tied to the account and key: a coin withdrawn under one key never verifies under another.
    expect(G.equals(w.coin.z, G.exp(accountZ(G, bigger, alice.I), w.secrets.s))).toBe(false);
  });
});

describe.each(ADAPTERS)('forged coins deposited at the bank on $kind', ({ kind, available }) => {
  const world = useAttackBank(kind, available, ['shop-1']);
  let batch = 0;

  /** Deposits one forged transcript: refused with `code`, nothing credited, the books in order. */
  async function refused(t: Transcript | TranscriptJson, code: string): Promise<void> {
    const { bank } = world;
    const before = await merchantBalance(bank.operator, 'shop-1');
    const [result] = await deposit(bank, world.shops['shop-1']!, `forged-${kind}-${batch++}`, [t]);
    expect(result).toMatchObject({ outcome: 'rejected', code });
    expect(await merchantBalance(bank.operator, 'shop-1')).toBe(before);
    expect((await bank.service.audit()).ok).toBe(true);
  }

  describe.skipIf(!available)('', () => {
    it("no bank signature: random z', a', b', r' on an (A, B) whose payment answer is right", async () => {
      const { bank } = world;
      const G = bank.group;
      const base = forgerBase(G, systemRandom);
      const random = () => G.exp(G.g, randomNonZeroScalar(G, systemRandom));
      const coin: Coin = {
        keyId: bank.key.key.keyId,
        A: base.A,
        B: base.B,
        z: random(),
        a: random(),
        b: random(),
        r: randomScalar(G, systemRandom),
      };
      const t = forgedPayment(G, coin, base, paymentContext(systemRandom, 'shop-1', 'till-1', PAYMENT_TIME));
      // The payment answer verifies: only the bank's signature is missing.
      expect(verifyPaymentResponse(G, t)).toBe(true);
      expect(verifyCoin(G, bank.key.key, coin)).toBe(false);
      await refused(t, 'invalid-transcript');
    });

    it("a signature made with another key: the forger's own, and a genuine coin of the 100 key relabelled as the 500 key", async () => {
      const { bank, alice } = world;
      const G = bank.group;
      const F = G.scalars;
      // The forger signs with its own x under the bank's 500 key id: a coin perfect for h = g^x, not for the bank's h.
      const own = generateDenominationKey(G, terms(500), systemRandom);
      const base = forgerBase(G, systemRandom);
      const w = randomScalar(G, systemRandom);
      const unsigned = { keyId: bank.key.key.keyId, A: base.A, B: base.B, z: G.exp(base.A, own.x), a: G.exp(G.g, w), b: G.exp(base.A, w) };
      const coin: Coin = { ...unsigned, r: F.add(F.mul(coinChallenge(G, unsigned), own.x), w) };
      expect(verifyCoin(G, { ...own.key, keyId: bank.key.key.keyId }, coin)).toBe(true);
      const t = forgedPayment(G, coin, base, paymentContext(systemRandom, 'shop-1', 'till-1', PAYMENT_TIME));
      expect(verifyPaymentResponse(G, t)).toBe(true);
      await refused(t, 'invalid-transcript');

      // A genuine 100 coin, paid honestly, then its key id swapped for the 500 key's.
      const small = await withdrawCoin(bank, alice, bank.small);
      const honest = pay(bank, alice, small, 'shop-1');
      await refused({ ...honest, keyId: toHex(bank.key.key.keyId) }, 'invalid-transcript');
    });

    it("a genuine signature (z', a', b', r') re-used on another (A, B)", async () => {
      const { bank, alice } = world;
      const G = bank.group;
      const genuine = (await withdrawCoin(bank, alice)).coin;
      const base = forgerBase(G, systemRandom);
      const coin: Coin = { ...genuine, A: base.A, B: base.B };
      const t = forgedPayment(G, coin, base, paymentContext(systemRandom, 'shop-1', 'till-1', PAYMENT_TIME));
      expect(verifyPaymentResponse(G, t)).toBe(true);
      await refused(t, 'invalid-transcript');
      // Only B swapped (A kept): the forger cannot even answer the payment, and c' no longer matches.
      const onlyB: Coin = { ...genuine, B: base.B };
      expect(verifyCoin(G, bank.key.key, onlyB)).toBe(false);
      expect(verifyCoin(G, bank.key.key, genuine)).toBe(true);
    });

    it('a coin with A = 1 is not even a transcript to the bank', async () => {
      const { bank, alice } = world;
      const G = bank.group;
      const honest = pay(bank, alice, await withdrawCoin(bank, alice), 'shop-1');
      const identity = toHex(identityBytes(G));
      await refused({ ...honest, coin: { ...honest.coin, A: identity, z: identity, b: identity } }, 'bad-transcript');
      // The honest payment of that coin is still good (nothing above touched it).
      expect((await deposit(bank, world.shops['shop-1']!, `honest-${kind}`, [honest]))[0]).toMatchObject({ outcome: 'credited' });
    });
  });
});
