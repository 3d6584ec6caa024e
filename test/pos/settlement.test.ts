/**
 * The POS terminal's settlement against the real bank over HTTP: what the terminal does with a
 * bank answer that is neither a verdict on the coin nor the terminal's own fault.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VirtualTransport } from '../../reader-bridge/index.js';
import type { BankClient } from '../../host/bank-client/index.js';
import { cornerShopWorld, loadViaReader, payWithCard, type World } from '../helpers/world.js';

let world: World;
let readers: VirtualTransport;
let shop: BankClient;
let cafe: BankClient;

beforeEach(async () => {
  ({ world, shop, readers } = await cornerShopWorld());
  cafe = await world.addMerchant('cafe');
});

afterEach(() => world.close());

type SpentCoin = { coin: Buffer; transcript: Buffer };

describe('settlement', () => {
  it('keeps a coin the bank could not compare with its earlier deposit (conflict-unresolved) pending, says so, and settles it once the bank is repaired', async () => {
    const honest = await world.card();
    await loadViaReader(world, readers, 'Load', honest, 'nina', 10_000, 1_000);
    const evil = await world.doubleSpendingCard();
    await loadViaReader(world, readers, 'Load', evil, 'mallory', 10_000, 1_000);
    const t1 = await world.terminal(readers, { merchantId: 'corner-shop', bank: shop }, { readerName: 'Counter', terminalId: 't1' });
    const t2 = await world.terminal(readers, { merchantId: 'cafe', bank: cafe }, { readerName: 'Counter', terminalId: 't2' });

    const bankDb = new Database(join(world.dir, 'bank.db'));
    try {
      const spent = () => bankDb.prepare('SELECT coin, transcript FROM spent_coins').all() as SpentCoin[];
      expect((await payWithCard(t1, readers, 'Counter', honest, 200)).state).toBe('approved');
      await t1.settle();
      const before = spent();
      expect((await payWithCard(t1, readers, 'Counter', evil, 500)).state).toBe('approved');
      await t1.settle();
      const evilCoins = spent().filter((r) => !before.some((b) => b.coin.equals(r.coin)));
      expect(evilCoins.length).toBeGreaterThan(0);
      // Someone with write access to the bank's database puts another coin's transcript in the
      // records of the coins the card spends again: the bank cannot compare the next payment.
      const put = bankDb.prepare('UPDATE spent_coins SET transcript = ? WHERE coin = ?');
      for (const r of evilCoins) put.run(before[0]!.transcript, r.coin);

      const second = await payWithCard(t2, readers, 'Counter', evil, 500);
      expect(second.state).toBe('approved'); // offline: the cafe cannot know
      const failed = await t2.settle().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failed).toMatchObject({ code: 'conflict-unresolved' });
      expect((failed as Error).message).toMatch(/tell the bank's operator/);
      expect((failed as { details: { problems: unknown[] } }).details.problems).toEqual([
        expect.objectContaining({ code: 'conflict-unresolved', coins: evilCoins.length }),
      ]);
      expect(t2.settlementStatus()).toMatchObject({ unsettled: evilCoins.length, pendingBatches: 0 });
      expect(t2.view(second.id).state).toBe('approved');

      // The bank's operator repairs the records: the next settlement finds the double spend.
      for (const r of evilCoins) put.run(r.transcript, r.coin);
      const report = await t2.settle();
      expect(report.outcomes).toEqual({ 'double-spend': evilCoins.length });
      expect(t2.settlementStatus()).toMatchObject({ unsettled: 0, pendingBatches: 0 });
      expect(t2.view(second.id).state).toBe('settled');
    } finally {
      bankDb.close();
    }
  });
});
