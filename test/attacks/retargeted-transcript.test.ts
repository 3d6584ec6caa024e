/**
 * Attack (by another shop, or by the payee itself): re-target a payment's transcript. Shop B
 * deposits a payment the card made to shop A, as it is or with the merchant id changed to its own;
 * or the payee edits the timestamp, nonce or terminal id (to pass a second copy off as another
 * payment, or to move it in time).
 *
 * Defences: the card's challenge d = H0(suite, key id, A, B, merchant id, terminal id, timestamp,
 * nonce) binds its answer r1, r2 to every one of them (core/payment.ts), so any edit fails
 * verification (`invalid-transcript`); and the bank recomputes d for the depositor only: a
 * transcript naming another merchant is `wrong-merchant` (host/bank/deposit-check.ts). These
 * passed on main's code, the defence existing; checked by taking the depositor check out of
 * deposit-check.ts: the first HTTP test then failed (shop B was credited shop A's payment). The
 * core test is moved from test/core/attacks.test.ts. Shop B reading shop A's batches from the
 * list of batches (GET /v1/deposits) is refused by listing a depositor its own batches only
 * (service.ts); checked by listing every batch to every party: the first HTTP test then failed.
 */
import { describe, expect, it } from 'vitest';
import { SUITE_IDS, toHex, verifyTranscript } from '../../core/index.js';
import { paymentContext, spend, withdraw } from '../core/fixtures.js';
import { ADAPTERS, pay, withdrawCoin } from '../bank/http-fixture.js';
import { merchantBalance } from '../helpers/world.js';
import { deposit, equations, useAttackBank } from './helpers.js';

describe.each(SUITE_IDS)('%s: a re-targeted transcript against the equations', (suite) => {
  it("a shop cannot redeposit another shop's payment under its own id, nor change its time, nonce or terminal", () => {
    const { G, rng, bank, alice } = equations(suite);
    const t = spend(G, alice, withdraw(G, bank, alice, rng), paymentContext(rng, 'shop-1'));
    expect(verifyTranscript(G, bank.key, t)).toBe(true);
    expect(verifyTranscript(G, bank.key, { ...t, merchantId: 'shop-2' })).toBe(false);
    expect(verifyTranscript(G, bank.key, { ...t, terminalId: 'till-2' })).toBe(false);
    expect(verifyTranscript(G, bank.key, { ...t, timestamp: t.timestamp + 1 })).toBe(false);
    expect(verifyTranscript(G, bank.key, { ...t, nonce: rng.bytes(16) })).toBe(false);
  });
});

describe.each(ADAPTERS)('re-targeted transcripts at the bank on $kind', ({ kind, available }) => {
  const world = useAttackBank(kind, available, ['shop-a', 'shop-b']);
  const balance = (merchantId: string) => merchantBalance(world.bank.operator, merchantId);

  describe.skipIf(!available)('', () => {
    it("shop B cannot deposit shop A's payment, as it is or relabelled to itself; shop A then is credited once", async () => {
      const { bank, alice, shops } = world;
      const [shopA, shopB] = [shops['shop-a']!, shops['shop-b']!];
      const t = pay(bank, alice, await withdrawCoin(bank, alice), 'shop-a');
      expect(await deposit(bank, shopB, `b-${kind}-1`, [t])).toEqual([
        expect.objectContaining({ outcome: 'rejected', code: 'wrong-merchant' }),
      ]);
      expect(await deposit(bank, shopB, `b-${kind}-2`, [{ ...t, merchantId: 'shop-b' }])).toEqual([
        expect.objectContaining({ outcome: 'rejected', code: 'invalid-transcript' }),
      ]);
      expect(await balance('shop-b')).toBe(0);
      expect(await deposit(bank, shopA, `a-${kind}-1`, [t])).toEqual([expect.objectContaining({ outcome: 'credited' })]);
      expect(await balance('shop-a')).toBe(500);
      // Nor can shop B read shop A's batches (what it was paid, by which coins) from the list of
      // batches: it sees its own refused ones; the operator sees all three.
      const ids = (list: { deposits: { batchId: string; depositor: string }[] }) => list.deposits.map((b) => `${b.depositor}/${b.batchId}`);
      expect(ids(await shopB.deposits())).toEqual([`shop-b/b-${kind}-2`, `shop-b/b-${kind}-1`]);
      expect(ids(await shopA.deposits())).toEqual([`shop-a/a-${kind}-1`]);
      expect(ids(await bank.operator.deposits()).slice(0, 3)).toEqual([`shop-a/a-${kind}-1`, `shop-b/b-${kind}-2`, `shop-b/b-${kind}-1`]);
    });

    it('the payee cannot change the timestamp, nonce or terminal id of a payment: none verifies, none is a double spend', async () => {
      const { bank, alice, shops } = world;
      const shopA = shops['shop-a']!;
      const t = pay(bank, alice, await withdrawCoin(bank, alice), 'shop-a');
      const before = await balance('shop-a');
      const edits = [
        { ...t, timestamp: t.timestamp + 60_000 },
        { ...t, nonce: toHex(new Uint8Array(16).fill(7)) },
        { ...t, terminalId: 'till-other' },
      ];
      const results = await deposit(bank, shopA, `a-${kind}-2`, edits);
      expect(results).toEqual(edits.map(() => expect.objectContaining({ outcome: 'rejected', code: 'invalid-transcript' })));
      expect(await balance('shop-a')).toBe(before);
      // The payment as made still deposits once, and nobody was named a double spender.
      expect(await deposit(bank, shopA, `a-${kind}-3`, [t])).toEqual([expect.objectContaining({ outcome: 'credited' })]);
      expect(await balance('shop-a')).toBe(before + 500);
      expect((await bank.operator.doubleSpends()).doubleSpends).toEqual([]);
      expect((await bank.service.audit()).ok).toBe(true);
    });
  });
});
