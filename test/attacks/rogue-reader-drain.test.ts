/**
 * Attack: a rogue reader drains a card. A reader in the field (or software sharing the reader)
 * that gets one PIN verification in a card session, or none at all, pays again and again:
 * - without the PIN, a per-payment limit with no running total lets it repeat small payments;
 * - after one VERIFY, every further payment of the session went through without the holder;
 * - after one VERIFY, it raised the no-PIN limit and then paid freely.
 * A verified PIN authorises one payment; payments without the PIN share one cumulative limit, kept
 * in the card's persistent memory, that only a PIN verification resets; SET LIMIT carries the PIN.
 */
import { describe, expect, it } from 'vitest';
import { u64be } from '../../core/index.js';
import { CLA_ECASH, ECASH_INS } from '../../wire/index.js';
import { createVolatileCard, type EcashCard } from '../../firmware-sim/index.js';
import { pay, paymentContext, PIN, PUK, select, send, TestBank, verifyPin } from '../firmware-sim/helpers.js';

const SUITE = 'ristretto255-sha512';

async function cardWith(values: number[], noPinLimit: number): Promise<{ card: EcashCard; bank: TestBank }> {
  const card = await createVolatileCard({ suite: SUITE, pin: PIN, puk: PUK, noPinLimit });
  card.powerOn();
  await select(card);
  await verifyPin(card);
  const bank = new TestBank(SUITE);
  await bank.open(card);
  for (const v of values) await bank.withdraw(card, v);
  // A fresh session: the rogue reader starts without the holder's PIN.
  card.reset();
  await select(card);
  return { card, bank };
}

const payOne = async (card: EcashCard, bank: TestBank, value: number) =>
  (await pay(card, bank.group, paymentContext('rogue-shop'), value, [bank.key(value).key.keyId])).sw;

describe('rogue reader', () => {
  it('cannot repeat payments under the no-PIN limit: they share one cumulative limit, across resets', async () => {
    const { card, bank } = await cardWith([100, 100, 100, 100, 100, 100], 250);
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) {
      answers.push(await payOne(card, bank, 100));
      // Pulling the card (a reset, or power off and on) does not forget what was paid.
      card.powerOff();
      card.powerOn();
      await select(card);
    }
    expect(answers.map((sw) => sw.toString(16))).toEqual(['9000', '9000', '6982', '6982', '6982', '6982']);
  });

  it('gets one payment per PIN verification, not every payment of the session', async () => {
    const { card, bank } = await cardWith([500, 500, 500], 100);
    expect((await verifyPin(card)).sw).toBe(0x9000);
    expect(await payOne(card, bank, 500)).toBe(0x9000);
    expect(await payOne(card, bank, 500)).toBe(0x6982);
    expect((await verifyPin(card)).sw).toBe(0x9000);
    expect(await payOne(card, bank, 500)).toBe(0x9000);
  });

  it('cannot raise the no-PIN limit on the verification the holder gave for one payment', async () => {
    const { card, bank } = await cardWith([500, 500], 100);
    expect((await verifyPin(card)).sw).toBe(0x9000);
    // What a reader can send without knowing the PIN: a new limit alone.
    expect((await send(card, CLA_ECASH, ECASH_INS.SET_LIMIT, u64be(1_000_000))).sw).not.toBe(0x9000);
    expect(await payOne(card, bank, 500)).toBe(0x9000); // the one payment the PIN was given for
    expect(await payOne(card, bank, 500)).toBe(0x6982);
  });
});
