/**
 * `ecash load --rebalance` against the real bank: the card gives coins back to the holder's own
 * account — one value at a time, since the card chooses a payment's coins itself, and with a PIN
 * entry per payment, since one verification authorises one payment — and the same value comes
 * back in a mix that pays more amounts exactly.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EcashCardClient, VirtualTransport } from '../../reader-bridge/index.js';
import { httpIssuer } from '../../host/load/bank-issuer.js';
import { rebalanceCard } from '../../host/load/load-terminal.js';
import { loadViaReader, PIN, withdrawKeys, World } from '../helpers/world.js';

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
