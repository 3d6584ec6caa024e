/**
 * Attack: a tampered card pays with coins the shop must not take, and the terminal believes what
 * the card says about them. A coin's value, currency, scope and deposit window are the bank's,
 * in the key list the terminal holds; a card that lies about them, or pays with coins of keys the
 * terminal did not offer, must be declined at the counter — never approved and then rejected
 * (`key-expired`, `scope-not-accepted`) at the bank.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EcashCard } from '../../firmware-sim/index.js';
import { createTamperedCard } from '../../firmware-sim/testing/malicious.js';
import { EcashCardClient, VirtualTransport } from '../../reader-bridge/index.js';
import type { PaymentTerminal } from '../../host/pos/terminal.js';
import { CURRENCY, type Holder, loadViaReader, payWithCard, PIN, PUK, reasonOf, withdrawKeys, World } from '../helpers/world.js';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

let world: World;
let readers: VirtualTransport;
let terminal: PaymentTerminal;

beforeEach(async () => {
  world = new World();
  const now = Date.now();
  const general = { currency: CURRENCY, withdrawFrom: now - DAY, withdrawUntil: now + 30 * DAY, depositUntil: now + 90 * DAY, scope: '' };
  await world.startBank([100, 200], {
    other: [
      { ...general, value: 500, scope: 'transit' },
      // Withdrawable now, but its coins must be deposited within the hour: inside the terminal's margin.
      { ...general, value: 500, withdrawUntil: now + HOUR / 2, depositUntil: now + HOUR },
      { ...general, value: 500, currency: 'USD' },
    ],
  });
  const shop = await world.addMerchant('general-shop');
  readers = new VirtualTransport(['Counter', 'Load']);
  terminal = await world.terminal(readers, { merchantId: 'general-shop', bank: shop }, { readerName: 'Counter', terminalId: 't1' });
});

afterEach(async () => {
  await readers.close();
  await world.close();
});

/** A tampered card holding one coin of each key matching `pick`, and some general coins. */
async function tamperedCardWith(
  pick: (k: { value: number; currency: string; scope: string; depositUntil: number }) => boolean,
): Promise<EcashCard> {
  const card = await createTamperedCard({
    suite: world.suite,
    pin: PIN,
    puk: PUK,
    noPinLimit: 100_000,
    posingAs: { currency: CURRENCY },
    acknowledge: 'this card lies about its coins',
  });
  const holder: Holder = await loadViaReader(world, readers, 'Load', card, 'mallory', 10_000, 300);
  const keys = (await world.operator.parameters()).keys.filter((k) => k.value === 500 && pick(k));
  expect(keys).toHaveLength(1);
  await withdrawKeys(
    world,
    readers,
    'Load',
    card,
    holder,
    keys.map((k) => k.keyId),
  );
  return card;
}

const pay = (card: EcashCard, amount: number) => payWithCard(terminal, readers, 'Counter', card, amount);

describe('a card that lies about its coins', () => {
  it('is declined when it pays a general shop with a transit-only coin', async () => {
    const card = await tamperedCardWith((k) => k.scope === 'transit');
    const view = await pay(card, 500);
    expect(view.state).toBe('declined');
    expect(reasonOf(view)).toBe('coin-not-accepted');
  });

  it('is declined when it pays with a coin whose deposit window closes before the terminal could settle it', async () => {
    const card = await tamperedCardWith((k) => k.currency === CURRENCY && k.scope === '' && k.depositUntil < Date.now() + DAY);
    const view = await pay(card, 500);
    expect(view.state).toBe('declined');
    expect(reasonOf(view)).toBe('coin-not-accepted');
  });

  it('is declined when it pays with a coin of a key the terminal did not offer (another currency)', async () => {
    const card = await tamperedCardWith((k) => k.currency === 'USD');
    const view = await pay(card, 500);
    expect(view.state).toBe('declined');
    expect(reasonOf(view)).toBe('coin-not-accepted');
  });
});

describe('a terminal without the PIN', () => {
  it("cannot read the card's holdings", async () => {
    const card = await world.card();
    await loadViaReader(world, readers, 'Load', card, 'alice', 10_000, 300);
    readers.insertCard('Counter', card);
    const channel = await readers.connect('Counter');
    try {
      const client = EcashCardClient.on(channel);
      await client.select();
      await expect(client.balance()).rejects.toMatchObject({ code: 'pin-required' });
    } finally {
      await channel.disconnect('reset');
      readers.removeCard('Counter');
    }
  });
});
