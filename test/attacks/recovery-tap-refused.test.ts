/**
 * Attack: a card is pulled the moment it has paid, before its answer reaches the terminal (the
 * coins have left the card), and then another card is tapped for the recovery: an empty one, a
 * card of another scheme, or one whose PIN the customer gets wrong. The terminal used to decline
 * the payment with that card's refusal (`insufficient-funds`, `wrong-suite`, `pin-wrong`): a plain
 * decline, so the cashier charged the sale again while the first card's coins were spent for a
 * payment the shop never recorded.
 *
 * Defence (host/pos/terminal.ts, `run` and `refusedBeforeAnswer`): once a card may have answered a
 * request, a refusal on a later tap keeps the payment `interrupted` (`recovery-refused`, with the
 * card's code) and waits for the card that was asked to pay; only its answer, the register's
 * `abandon`, or the card wait running out (`card-not-returned`: coins may be on the card) ends it.
 * While such a card waits for its PIN, a plain cancel is refused as after any interruption.
 *
 * Failed before the fix: each case ended `declined` with the other card's code.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ECASH_INS } from '../../wire/index.js';
import { createVolatileCard, type EcashCard } from '../../firmware-sim/index.js';
import { type CardChannel, cardRemoved, type ReaderSource, type VirtualTransport } from '../../reader-bridge/index.js';
import type { BankClient } from '../../host/bank-client/index.js';
import type { PaymentTerminal, TerminalConfig } from '../../host/pos/terminal.js';
import type { PaymentEvent } from '../../host/pos/journal.js';
import { atState, cornerShopWorld, loadViaReader, PIN, PUK, reasonOf, valueViaReader, type World } from '../helpers/world.js';

let world: World;
let readers: VirtualTransport;
let shop: BankClient;

beforeEach(async () => {
  ({ world, shop, readers } = await cornerShopWorld());
});

afterEach(() => world.close());

/**
 * The counter reader as a customer pulling the card at the worst moment sees it: the first PAY
 * reaches the card and the card pays, then the card leaves before its answer is read.
 */
function pulledAfterFirstPay(reader: string): ReaderSource {
  let pulled = false;
  return {
    listReaders: () => readers.listReaders(),
    watch: (listener) => readers.watch(listener),
    close: async () => undefined,
    async connect(name, options) {
      const channel = await readers.connect(name, options);
      const transmit: CardChannel['transmit'] = async (command, opts) => {
        const answer = await channel.transmit(command, opts);
        // The last (or only) part of a PAY: the card has processed it.
        if (!pulled && command[1] === ECASH_INS.PAY && (command[0]! & 0x10) === 0) {
          pulled = true;
          readers.removeCard(reader);
          throw cardRemoved(reader);
        }
        return answer;
      };
      // The same channel but for its transmit.
      return new Proxy(channel, {
        get: (target, prop) => {
          if (prop === 'transmit') return transmit;
          const value = Reflect.get(target, prop) as unknown;
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
}

/** Terminal t1 of corner-shop on the "Counter" reader whose first tap is pulled after the card paid. */
function pullingCounter(config: Partial<TerminalConfig> = {}): Promise<PaymentTerminal> {
  return world.terminal(
    pulledAfterFirstPay('Counter'),
    { merchantId: 'corner-shop', bank: shop },
    { readerName: 'Counter', terminalId: 't1', ...config },
  );
}

async function loadedCard(name: string): Promise<EcashCard> {
  const card = await world.card();
  await loadViaReader(world, readers, 'Load', card, name, 10_000, 2_000);
  return card;
}

const valueOf = (card: EcashCard) => valueViaReader(readers, 'Load', card);

/** A payment of 750 whose first tap is pulled after the card paid: resolves once it is interrupted. */
async function interruptedPayment(t: PaymentTerminal, card: EcashCard): Promise<string> {
  const interrupted = atState(t, 'interrupted');
  const p = t.startPayment({ amount: 750, currency: 'EUR' });
  readers.insertCard('Counter', card);
  await interrupted;
  return p.id;
}

describe('a recovery tap refused by the card in the reader', () => {
  const others: [string, () => Promise<EcashCard>, string][] = [
    ['an empty card', () => world.card(), 'insufficient-funds'],
    [
      'a card of another scheme',
      () => createVolatileCard({ suite: 'p256-uprove', pin: PIN, puk: PUK, noPinLimit: 100_000 }),
      'wrong-suite',
    ],
  ];
  for (const [what, makeCard, cardCode] of others) {
    it(`keeps the payment interrupted after ${what} refused it, and the card that paid finishes it, charged once`, async () => {
      const card = await loadedCard('pat');
      const other = await makeCard();
      const t = await pullingCounter();
      const id = await interruptedPayment(t, card);

      const refused = atState(t, 'interrupted');
      readers.insertCard('Counter', other);
      await refused;
      const event = t.view(id).events.at(-1)!;
      expect(event.detail).toMatchObject({ code: 'recovery-refused', cardCode });
      readers.removeCard('Counter');

      readers.insertCard('Counter', card);
      const view = await t.outcome(id);
      readers.removeCard('Counter');
      expect({ state: view.state, reason: reasonOf(view) }).toEqual({ state: 'approved', reason: undefined });
      expect(view.coins.reduce((sum, c) => sum + c.value, 0)).toBe(750);
      expect(await valueOf(card)).toBe(2_000 - 750);
    });
  }

  it('keeps the payment interrupted when another card asks for a PIN it gets wrong, then never gets', async () => {
    const card = await loadedCard('pat');
    const other = await world.card({ noPinLimit: 10 });
    await loadViaReader(world, readers, 'Load', other, 'quinn', 10_000, 2_000);
    const t = await pullingCounter();
    const id = await interruptedPayment(t, card);

    const refused = atState(t, 'interrupted');
    const asked: PaymentEvent[] = [];
    let plainCancel: unknown;
    const answer = (pid: string, ev: PaymentEvent) => {
      if (pid !== id || ev.state !== 'pin-required') return;
      asked.push(ev);
      if (asked.length > 1) {
        t.withholdPin(id, 'pin-timeout', 'no PIN was entered in time');
        return;
      }
      // This card refusing to pay without its PIN says nothing of the first card's coins.
      try {
        t.cancel(id);
      } catch (e) {
        plainCancel = e;
      }
      t.supplyPin(id, '0000');
    };
    t.on('payment-event', answer);
    readers.insertCard('Counter', other);
    await refused;
    t.off('payment-event', answer);
    expect(plainCancel).toMatchObject({ code: 'payment-in-flight' });
    expect(asked.map((e) => e.detail?.code)).toEqual([undefined, 'pin-wrong']);
    expect(t.view(id).events.at(-1)!.detail).toMatchObject({ code: 'recovery-refused', cardCode: 'pin-timeout' });
    readers.removeCard('Counter');

    readers.insertCard('Counter', card);
    const view = await t.outcome(id);
    readers.removeCard('Counter');
    expect(view.state).toBe('approved');
    expect(await valueOf(card)).toBe(2_000 - 750);
    expect(await valueOf(other)).toBe(2_000);
  });

  it('ends card-not-returned, never a plain decline, when the other card stays and the first never comes back', async () => {
    const card = await loadedCard('pat');
    const t = await pullingCounter({ cardWaitMs: 1_000 });
    const id = await interruptedPayment(t, card);
    readers.insertCard('Counter', await world.card());
    const view = await t.outcome(id);
    readers.removeCard('Counter');
    expect({ state: view.state, reason: reasonOf(view) }).toEqual({ state: 'declined', reason: 'card-not-returned' });
    expect(view.events.map((e) => e.detail?.code)).toContain('recovery-refused');
    expect(await valueOf(card)).toBe(2_000 - 750);
  });
});
