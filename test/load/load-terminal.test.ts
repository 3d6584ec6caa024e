/**
 * The load terminal against the real bank over HTTP, with cards in the virtual reader: a load
 * debits the account once, a refusal carries the bank's code, and a withdrawal the bank answered
 * but the card never stored is finished from the journal without debiting twice.
 *
 * `ecash load --rebalance`: the card gives coins back to the holder's own account — one value at
 * a time, since the card chooses a payment's coins itself, and with a PIN entry per payment, since
 * one verification authorises one payment — and the same value comes back in a mix that pays more
 * amounts exactly.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EcashCardClient, VirtualTransport } from '../../reader-bridge/index.js';
import { httpIssuer } from '../../host/load/bank-issuer.js';
import { loadCard, rebalanceCard, recoverInterruptedLoads } from '../../host/load/load-terminal.js';
import { cardValue, loadViaReader, PIN, valueViaReader, withdrawKeys, World } from '../helpers/world.js';

let world: World;
let readers: VirtualTransport;

beforeEach(async () => {
  world = new World();
  await world.startBank();
  readers = new VirtualTransport(['Load']);
});

afterEach(async () => {
  await readers.close();
  await world.close();
});

describe('load', () => {
  it('withdraws the amount onto the card and debits the account once', async () => {
    const card = await world.card();
    const holder = await loadViaReader(world, readers, 'Load', card, 'alice', 10_000, 3_456);
    expect(await valueViaReader(readers, 'Load', card)).toBe(3_456);
    const account = await holder.bank.account(holder.accountId);
    expect(account.balances).toEqual([{ currency: 'EUR', balance: 10_000 - 3_456 }]);
    expect((await world.service.audit()).ok).toBe(true);
  });

  it("refuses to load more than the account holds, with the bank's code", async () => {
    const c = await world.card();
    readers.insertCard('Load', c);
    const ch = await readers.connect('Load');
    const holder = await world.holder(ch, 'bob', 500);
    await expect(world.load(ch, holder, 1_000)).rejects.toMatchObject({ code: 'insufficient-funds' });
    await ch.disconnect('reset');
  });

  it('finishes a withdrawal the bank answered but the card never stored (card pulled)', async () => {
    const c = await world.card();
    readers.insertCard('Load', c);
    let ch = await readers.connect('Load');
    const holder = await world.holder(ch, 'carol', 5_000);
    const journal = world.loadJournal('interrupted');
    const issuer = await httpIssuer(holder.bank, holder.accountId);
    // The card leaves right after the bank answered the first session.
    const pulling = {
      ...issuer,
      answerWithdrawal: async (id: string, cc: bigint) => {
        const r = await issuer.answerWithdrawal(id, cc);
        readers.removeCard('Load');
        return r;
      },
    };
    const client = EcashCardClient.on(ch);
    await client.select();
    await client.verifyPin(PIN);
    await expect(
      loadCard({ card: client, bank: pulling, journal, account: holder.accountId, currency: 'EUR', amount: 200 }),
    ).rejects.toMatchObject({ code: 'card-removed' });
    const [pending] = journal.unfinished();
    expect(pending).toMatchObject({ step: 'answered' });
    // The bank debited the answered session: the coin exists only as the journal's r and the card's half.
    const debited = 5_000 - (await holder.bank.account(holder.accountId)).balances[0]!.balance;
    expect(debited).toBe(pending!.value);

    readers.insertCard('Load', c);
    ch = await readers.connect('Load');
    const again = EcashCardClient.on(ch);
    await again.select();
    await again.verifyPin(PIN);
    const { recovered, unresolved } = await recoverInterruptedLoads({
      card: again,
      bank: issuer,
      journal,
      account: holder.accountId,
      currency: 'EUR',
    });
    expect(recovered.map((r) => r.sessionId)).toEqual([pending!.sessionId]);
    expect(unresolved).toHaveLength(0);
    expect(await cardValue(ch)).toBe(pending!.value);
    // Nothing was debited twice.
    expect((await holder.bank.account(holder.accountId)).balances[0]!.balance).toBe(5_000 - pending!.value);
    await ch.disconnect('reset');
  });
});

describe('rebalance', () => {
  it('exchanges coarse coins for a mix that pays any amount, the value and the account unchanged', async () => {
    const card = await world.card({ noPinLimit: 0 });
    const holder = await loadViaReader(world, readers, 'Load', card, 'ivy', 0, 0);
    const hundred = (await world.operator.parameters()).keys.find((k) => k.value === 100)!;
    await withdrawKeys(world, readers, 'Load', card, holder, Array(5).fill(hundred.keyId));
    const before = (await holder.bank.account(holder.accountId)).balances;

    readers.insertCard('Load', card);
    const channel = await readers.connect('Load');
    try {
      const client = EcashCardClient.on(channel);
      await client.select();
      await client.verifyPin(PIN);
      let verifications = 0;
      const report = await rebalanceCard({
        card: client,
        bank: await httpIssuer(holder.bank, holder.accountId),
        journal: world.loadJournal('rebalance'),
        account: holder.accountId,
        currency: 'EUR',
        verifyPin: async () => {
          verifications++;
          await client.verifyPin(PIN);
        },
      });
      expect(report.gaveBack.length).toBeGreaterThan(0);
      expect(report.gaveBack.reduce((s, v) => s + v, 0)).toBe(report.withdrew.reduce((s, v) => s + v, 0));
      expect(verifications).toBeGreaterThanOrEqual(2); // before the payment, and again for the withdrawals
      const held = await client.balance();
      expect(held.reduce((s, b) => s + b.value * b.count, 0)).toBe(500);
      // Every amount up to the balance can now be paid exactly (e.g. 0.37): the card has small coins again.
      expect(held.some((b) => b.value < 100)).toBe(true);
    } finally {
      await channel.disconnect('reset');
      readers.removeCard('Load');
    }
    expect((await holder.bank.account(holder.accountId)).balances).toEqual(before);
    expect((await world.service.audit()).ok).toBe(true);
  });
});
