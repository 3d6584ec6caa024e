/**
 * Attack (by a card holder who means to double-spend): register I = g1^u1·g2^e instead of
 * g1^u1 at account opening. Coins withdrawn on that account pay correctly (the tampered card
 * answers with u1/(1+e) and s·(1+e)), but a double spend then reveals g1^(u1/(1+e)), which is
 * nobody's account: the cheater is never identified.
 *
 * Defence: the Schnorr proof of knowledge of log_g1 I bound to the holder's name
 * (core/account.ts, `verifyAccountOpening`), which the bank checks before it stores anything
 * (host/bank/service.ts, `openAccount`): `400 bad-account-opening`, no account, no credential.
 * These passed on main's code, the defence existing; checked by taking the `verifyAccountOpening`
 * call out of `openAccount`: the HTTP test then failed (the bank opened the account, 201). The
 * core test is moved from test/core/attacks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  identifyDoubleSpender,
  paymentChallenge,
  proveAccountOpening,
  randomNonZeroScalar,
  respondToPayment,
  SUITE_IDS,
  systemRandom,
  type Transcript,
  verifyAccountOpening,
  verifyTranscript,
} from '../../core/index.js';
import { BankError } from '../../host/bank-client/index.js';
import { expectCode } from '../core/expect-code.js';
import { type Account, openAccount, paymentContext, withdraw } from '../core/fixtures.js';
import { ADAPTERS, newHolder, openingBody } from '../bank/http-fixture.js';
import { equations, useAttackBank } from './helpers.js';

describe.each(SUITE_IDS)('%s: a misrepresented I against the equations', (suite) => {
  it('registering I = g1^u1·g2^e without a valid proof fails, and shows what it would have bought', () => {
    const { G, F, rng, bank, alice } = equations(suite);
    const e = randomNonZeroScalar(G, rng);
    const cheat = { u1: alice.u1, I: G.mul(G.exp(G.g1, alice.u1), G.exp(G.g2, e)) };
    // The cheater knows u1 and e but not log_g1 I, so no proof it can make verifies.
    const withU1 = proveAccountOpening(G, cheat.u1, cheat.I, 'mallory', rng);
    expectCode(() => verifyAccountOpening(G, 'mallory', { I: cheat.I, proof: withU1 }), 'bad-account-opening');
    const borrowed = proveAccountOpening(G, alice.u1, alice.I, 'mallory', rng);
    expectCode(() => verifyAccountOpening(G, 'mallory', { I: cheat.I, proof: borrowed }), 'bad-account-opening');
    expectCode(() => verifyAccountOpening(G, 'alice', { I: alice.I, proof: borrowed }), 'bad-account-opening');
    // Had the bank skipped the proof: coins withdrawn on I' = g1^u1·g2^e pay correctly (the card
    // answers with u1/(1+e) and s·(1+e)), and a double spend names g1^(u1/(1+e)), nobody's account.
    const account: Account = { holder: 'mallory', u1: cheat.u1, I: cheat.I, opening: { I: cheat.I, proof: withU1 } };
    const w = withdraw(G, bank, account, rng);
    const k = F.add(e, 1n);
    const cardU1 = F.mul(cheat.u1, F.inv(k));
    const cardSecrets = { ...w.secrets, s: F.mul(w.secrets.s, k) };
    const pay = (shop: string): Transcript => {
      const ctx = paymentContext(rng, shop);
      return { coin: w.coin, ...ctx, ...respondToPayment(G, cardU1, cardSecrets, paymentChallenge(G, w.coin, ctx)) };
    };
    const [t1, t2] = [pay('shop-1'), pay('shop-2')];
    expect(verifyTranscript(G, bank.key, t1) && verifyTranscript(G, bank.key, t2)).toBe(true);
    const named = identifyDoubleSpender(G, t1, t2);
    expect(G.equals(named.I, cheat.I)).toBe(false);
    expect(G.equals(named.I, G.exp(G.g1, cardU1))).toBe(true);
  });
});

describe.each(ADAPTERS)('a misrepresented I at the bank on $kind', ({ kind, available }) => {
  const world = useAttackBank(kind, available);

  describe.skipIf(!available)('', () => {
    it('POST /v1/accounts refuses I = g1^u1·g2^e with every proof the cheater can make: no account, no credential', async () => {
      const { bank } = world;
      const G = bank.group;
      const alice = openAccount(G, 'alice', systemRandom);
      const I = G.mul(G.exp(G.g1, alice.u1), G.exp(G.g2, randomNonZeroScalar(G, systemRandom)));
      const proofs = [
        proveAccountOpening(G, alice.u1, I, 'mallory', systemRandom),
        proveAccountOpening(G, alice.u1, alice.I, 'mallory', systemRandom),
      ];
      for (const proof of proofs) {
        const attempt = bank.anon.openAccount(openingBody(G, { holder: 'mallory', u1: alice.u1, I, opening: { I, proof } }));
        await expect(attempt).rejects.toBeInstanceOf(BankError);
        await expect(attempt).rejects.toMatchObject({ code: 'bad-account-opening', status: 400 });
      }
      // Alice's own proof, lent to the cheater's I or to another name, does not open either.
      await expect(bank.anon.openAccount(openingBody(G, { ...alice, holder: 'mallory' }))).rejects.toMatchObject({
        code: 'bad-account-opening',
      });
      expect((await bank.service.audit()).ok).toBe(true);
      // The honest opening of a fresh card still works.
      expect((await newHolder(bank, 'bob')).opened.accountId).toMatch(/^[0-9a-f]{24}$/);
    });
  });
});
