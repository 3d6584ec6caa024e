/**
 * Attack (on the holder, by circumstance or by a shop): a payment whose answer was lost (the card
 * pulled after PAY reached it) is resumed after the holder has paid somewhere else. The card kept
 * only its last payment's request for a lost answer, so the resumed request looked new and the card
 * paid it again with other coins: the first coins were spent for nothing, and a terminal could
 * provoke it on purpose by resuming late.
 * Defence: `EcashApplet.pay` recognises a request for a payment already in its log (same merchant,
 * terminal, time, amount and currency) and answers it again from the coins that payment spent, or
 * refuses it when those coins' slots were reloaded since; it never pays the same payment twice.
 * This test failed before the fix (the resumed request was paid with new coins).
 */
import { describe, expect, it } from 'vitest';
import { createVolatileCard, type EcashCard } from '../../firmware-sim/index.js';
import { pay, paymentContext, PIN, PUK, select, TestBank, verifyPin } from '../firmware-sim/helpers.js';

const SUITE = 'ristretto255-sha512';

async function cardWith(values: number[]): Promise<{ card: EcashCard; bank: TestBank }> {
  const card = await createVolatileCard({ suite: SUITE, pin: PIN, puk: PUK, noPinLimit: 10_000 });
  card.powerOn();
  await select(card);
  await verifyPin(card);
  const bank = new TestBank(SUITE);
  await bank.open(card);
  for (const v of values) await bank.withdraw(card, v);
  card.reset();
  await select(card);
  return { card, bank };
}

describe('a payment resumed after the holder paid elsewhere', () => {
  it('is answered with the coins it spent the first time, not paid again', async () => {
    const { card, bank } = await cardWith([100, 100, 100]);
    const keys = [bank.key(100).key.keyId];
    const first = paymentContext('shop-a');
    const lost = await pay(card, bank.group, first, 100, keys); // the answer never reaches shop A
    expect(lost.sw).toBe(0x9000);
    expect((await pay(card, bank.group, paymentContext('shop-b'), 100, keys)).sw).toBe(0x9000);

    const resumed = await pay(card, bank.group, first, 100, keys);
    expect(resumed.sw).toBe(0x9000);
    expect(resumed.paid.map((p) => p.r1)).toEqual(lost.paid.map((p) => p.r1));
    expect(resumed.paid.map((p) => p.coin.A)).toEqual(lost.paid.map((p) => p.coin.A));
    // The third coin is still on the card: one more payment of 100, then nothing.
    expect((await pay(card, bank.group, paymentContext('shop-c'), 100, keys)).sw).toBe(0x9000);
    expect((await pay(card, bank.group, paymentContext('shop-d'), 100, keys)).sw).toBe(0x6a88);
  });

  it('is refused, not paid again, once the coins it spent were replaced by a load', async () => {
    const { card, bank } = await cardWith([100, 100]);
    const keys = [bank.key(100).key.keyId];
    const first = paymentContext('shop-a');
    expect((await pay(card, bank.group, first, 100, keys)).sw).toBe(0x9000);
    expect((await pay(card, bank.group, paymentContext('shop-b'), 100, keys)).sw).toBe(0x9000);
    // A load takes the first payment's slot (spent, and no longer the last payment's).
    await verifyPin(card);
    await bank.withdraw(card, 100);

    expect((await pay(card, bank.group, first, 100, keys)).sw).toBe(0x6985);
    // The coin loaded is still the holder's.
    expect((await pay(card, bank.group, paymentContext('shop-c'), 100, keys)).sw).toBe(0x9000);
  });

  it('with the same payment terms but another request is refused, since it is not the same request', async () => {
    const { card, bank } = await cardWith([100, 100]);
    const keys = [bank.key(100).key.keyId];
    const first = paymentContext('shop-a');
    expect((await pay(card, bank.group, first, 100, keys)).sw).toBe(0x9000);
    const twin = { ...first, nonce: new Uint8Array(16).fill(7) };
    expect((await pay(card, bank.group, twin, 100, keys)).sw).toBe(0x6985);
  });
});
