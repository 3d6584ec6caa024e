/**
 * Attack (by a shop, or anyone who got hold of a shop's transcripts): deposit the same payment
 * more than once — the same batch again, the same transcript in another batch, twice in one
 * batch — to be credited more than once.
 *
 * Defences: deposits are idempotent by (depositor, batch id): the same batch again gets the
 * stored answer and books nothing (host/bank/service.ts `deposit`, storage `deposit_batches`);
 * the spent-coin record keyed by A classifies the same d again as a `replay`, credited once
 * (host/bank/deposit-booking.ts `bookDepositBatch` with core's `classifyDeposit`). These passed on
 * main's code, the defence existing; checked by taking out the stored-answer lookup (in the
 * service's `deposit` and in `bookDepositBatch` both): the first test then failed (the second answer said `replay`
 * instead of repeating the first); the replay classification keeps the money safe even then,
 * which is why there are two tests.
 */
import { describe, expect, it } from 'vitest';
import { ADAPTERS, pay, withdrawCoin } from '../bank/http-fixture.js';
import { merchantBalance } from '../helpers/world.js';
import { deposit, useAttackBank } from './helpers.js';

describe.each(ADAPTERS)('replayed transcripts at the bank on $kind', ({ kind, available }) => {
  const world = useAttackBank(kind, available, ['shop-1']);
  const balance = () => merchantBalance(world.bank.operator, 'shop-1');

  describe.skipIf(!available)('', () => {
    it('the same batch again: the stored answer, credited once', async () => {
      const { bank, alice, shops } = world;
      const shop = shops['shop-1']!;
      const t = pay(bank, alice, await withdrawCoin(bank, alice), 'shop-1');
      const before = await balance();
      const first = await shop.deposit({ suite: bank.group.suite, batchId: `b-${kind}-1`, transcripts: [t] });
      expect(first.results).toEqual([expect.objectContaining({ outcome: 'credited' })]);
      expect(await shop.deposit({ suite: bank.group.suite, batchId: `b-${kind}-1`, transcripts: [t] })).toEqual(first);
      expect(await balance()).toBe(before + 500);
    });

    it('the same transcript in another batch, and twice in one batch: replay, credited once', async () => {
      const { bank, alice, shops } = world;
      const shop = shops['shop-1']!;
      const t = pay(bank, alice, await withdrawCoin(bank, alice), 'shop-1');
      const before = await balance();
      expect(await deposit(bank, shop, `b-${kind}-2`, [t])).toEqual([expect.objectContaining({ outcome: 'credited' })]);
      expect(await deposit(bank, shop, `b-${kind}-3`, [t])).toEqual([expect.objectContaining({ outcome: 'replay' })]);
      const u = pay(bank, alice, await withdrawCoin(bank, alice), 'shop-1');
      expect((await deposit(bank, shop, `b-${kind}-4`, [u, u, t])).map((r) => r.outcome)).toEqual(['credited', 'replay', 'replay']);
      expect(await balance()).toBe(before + 1_000);
      expect((await bank.operator.doubleSpends()).doubleSpends).toEqual([]);
      expect((await bank.service.audit()).ok).toBe(true);
    });
  });
});
