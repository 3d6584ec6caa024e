/**
 * Attack (on the merchant, by a card holder with coins the bank will no longer take): pay with
 * coins of a key that has expired or that the bank has retired. The terminal's cached keys were
 * never dropped, so it kept taking coins the bank then refuses (`key-expired`, `unknown-key`): the
 * shop hands over goods for nothing.
 *
 * Defence (host/pos/key-cache.ts): the cache holds the keys the bank listed at the last refresh
 * less those past their deposit deadline, and `acceptedKeys` takes a key's coins only while its
 * deposit deadline is more than the terminal's deposit margin away (24 h by default), on the
 * terminal's own copy of the key rather than on what the card says. The terminal's clock is
 * injected (`TerminalConfig.now`), the bank's too: nothing here waits for time to pass.
 *
 * Both tests failed on the code before the fix (the terminal approved both payments).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualTransport } from '../../reader-bridge/index.js';
import type { BankClient } from '../../host/bank-client/index.js';
import type { EcashCard } from '../../firmware-sim/index.js';
import type { PaymentTerminal, PaymentView } from '../../host/pos/terminal.js';
import { loadViaReader, merchantBalance, payWithCard, reasonOf, World } from '../helpers/world.js';

const HOUR = 3600 * 1000;

let world: World;
let readers: VirtualTransport;
let shop: BankClient;
let card: EcashCard;
/** The bank's clock. */
const bankClock = { now: 0 };

beforeEach(async () => {
  bankClock.now = Date.now();
  world = new World();
  await world.startBank(undefined, { now: () => bankClock.now });
  shop = await world.addMerchant('kiosk');
  readers = new VirtualTransport(['Counter', 'Load']);
  card = await world.card();
  await loadViaReader(world, readers, 'Load', card, 'alice', 10_000, 3_000);
});

afterEach(async () => {
  await readers.close();
  await world.close();
});

const pay = (terminal: PaymentTerminal, amount: number): Promise<PaymentView> => payWithCard(terminal, readers, 'Counter', card, amount);

/** The deposit deadline the World gives all its keys. */
async function depositDeadline(): Promise<number> {
  const deadlines = new Set((await shop.parameters()).keys.map((k) => k.depositUntil));
  expect(deadlines.size).toBe(1);
  return [...deadlines][0]!;
}

describe('expired and retired keys leave the terminal', () => {
  it('a cached key that expires while the terminal runs: refused from the deposit margin on, dropped from the cache at its deadline', async () => {
    const clock = { now: Date.now() };
    const journal = world.journal('t1');
    const t = await world.terminal(
      readers,
      { merchantId: 'kiosk', bank: shop },
      { readerName: 'Counter', terminalId: 't1', now: () => clock.now },
      journal,
    );
    const first = await pay(t, 500);
    expect(first.state).toBe('approved');

    const deadline = await depositDeadline();
    // Inside the margin: the key is still cached but no longer taken (there would be no time to deposit).
    clock.now = deadline - 12 * HOUR;
    const late = await pay(t, 500);
    expect(late.state).toBe('declined');
    // The terminal has no key left to offer the card: it does not even ask it to pay.
    expect(reasonOf(late)).toBe('no-acceptable-keys');
    expect(late.events.map((e) => e.state)).not.toContain('request-sent');
    expect(JSON.parse(journal.getMeta('denomination-keys')!)).not.toEqual([]);

    // Past the deadline: the key leaves the cache, here and in the journal a restart reads.
    clock.now = deadline + 1;
    const expired = await pay(t, 500);
    expect(reasonOf(expired)).toBe('no-acceptable-keys');
    expect(JSON.parse(journal.getMeta('denomination-keys')!)).toEqual([]);

    // The coins taken in time still settle (the bank's own clock is before the deadline).
    expect((await t.settle()).outcomes).toEqual({ credited: first.coins.length });
    expect(await merchantBalance(shop, 'kiosk')).toBe(500);
  });

  it('a key the bank no longer lists leaves the cache at the next refresh, and a restarted terminal does not take it either', async () => {
    const journal = world.journal('t1');
    const t = await world.terminal(readers, { merchantId: 'kiosk', bank: shop }, { readerName: 'Counter', terminalId: 't1' }, journal);
    expect((await pay(t, 200)).state).toBe('approved');
    // The bank's clock passes the keys' deadline: /v1/parameters no longer lists them. The
    // terminal's own clock has not moved, so only the bank's list can tell it.
    bankClock.now = (await depositDeadline()) + 1;
    expect((await shop.parameters()).keys).toEqual([]);
    await t.refreshKeys();
    const refused = await pay(t, 200);
    expect(reasonOf(refused)).toBe('no-acceptable-keys');
    await t.close();

    await world.bankDown();
    const restarted = await world.terminal(
      readers,
      { merchantId: 'kiosk', bank: shop },
      { readerName: 'Counter', terminalId: 't1' },
      journal,
    );
    expect(reasonOf(await pay(restarted, 200))).toBe('no-acceptable-keys');
    await world.bankUp();
  });
});
