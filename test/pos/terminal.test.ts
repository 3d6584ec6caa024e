/**
 * The POS terminal against the real bank over HTTP, with cards in the virtual reader: offline and
 * online payments, settlement, double spends, refusals and interruptions (the cards are loaded by
 * the load terminal, whose own tests are test/load/load-terminal.test.ts). The same flows run
 * through pcscd and vpcd in test/pos/pcsc-e2e.serial.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EcashError, fromHex, toHex, transcriptCoinId } from '../../core/index.js';
import type { EcashCard } from '../../firmware-sim/index.js';
import { EcashCardClient, VirtualTransport } from '../../reader-bridge/index.js';
import type { AcquirerBank } from '../../host/pos/acquirer.js';
import { httpAcquirer } from '../../host/pos/bank-acquirer.js';
import type { Journal } from '../../host/pos/journal.js';
import type { PaymentTerminal } from '../../host/pos/terminal.js';
import type { BankClient } from '../../host/bank-client/index.js';
import {
  atState,
  cornerShopWorld,
  type Holder,
  merchantBalance,
  loadViaReader,
  payWithCard,
  reasonOf,
  valueViaReader,
  withdrawKeys,
  World,
} from '../helpers/world.js';

let world: World;
let readers: VirtualTransport;
let shop: BankClient;

beforeEach(async () => {
  ({ world, shop, readers } = await cornerShopWorld());
});

afterEach(() => world.close());

/** A card with an account holding `credit`, loaded with `load` (card left out of the readers). */
async function loadedCard(name: string, credit: number, load: number, card?: EcashCard): Promise<{ card: EcashCard; holder: Holder }> {
  const c = card ?? (await world.card());
  return { card: c, holder: await loadViaReader(world, readers, 'Load', c, name, credit, load) };
}

const valueOf = (card: EcashCard) => valueViaReader(readers, 'Load', card);

const pay = (terminal: PaymentTerminal, card: EcashCard, amount: number) => payWithCard(terminal, readers, 'Counter', card, amount);

/** One byte form: the bank's spent coins hold exactly the bytes the terminal journalled for the payment. */
async function expectBankHoldsJournalBytes(journal: Journal, paymentId: string): Promise<void> {
  const group = world.service.group;
  const journalled = journal.transcripts(paymentId).map((t) => toHex(t.bytes));
  const booked = await world.service.storage.transaction(async (tx) => {
    const out: string[] = [];
    for (const t of journal.transcripts(paymentId)) out.push(toHex((await tx.lockSpentCoin(transcriptCoinId(group, t.bytes)))!.transcript));
    return out;
  });
  expect(journalled.length).toBeGreaterThan(0);
  expect(booked).toEqual(journalled);
}

describe('POS terminal', () => {
  it('takes an offline payment, approves it, and settles it once', async () => {
    const { card } = await loadedCard('alice', 10_000, 5_000);
    const journal = world.journal('t1');
    const t = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: 'Counter', terminalId: 't1' },
      journal,
    );
    const view = await pay(t, card, 1_234);
    expect(view.state).toBe('approved');
    expect(view.coins.reduce((s, c) => s + c.value, 0)).toBe(1_234);
    expect(view.receipt).toContain('12.34');
    expect(await valueOf(card)).toBe(5_000 - 1_234);
    expect(await merchantBalance(shop, 'corner-shop')).toBe(0);

    const report = await t.settle();
    expect(report.outcomes).toEqual({ credited: view.coins.length });
    expect(await merchantBalance(shop, 'corner-shop')).toBe(1_234);
    expect(t.view(view.id).state).toBe('settled');
    await expectBankHoldsJournalBytes(journal, view.id);
    expect((await t.settle()).transcripts).toBe(0);
    expect(await merchantBalance(shop, 'corner-shop')).toBe(1_234);
    expect((await world.service.audit()).ok).toBe(true);
  });

  it('says when the card has the value but not the denominations', async () => {
    // A bank with only 5.00 and 10.00 coins: 15.00 loaded cannot pay 3.00 exactly.
    const coarse = new World();
    const coarseReaders = new VirtualTransport(['Counter']);
    try {
      await coarse.startBank([500, 1000]);
      const bank = await coarse.addMerchant('corner-shop');
      const card = await coarse.card();
      coarseReaders.insertCard('Counter', card);
      const ch = await coarseReaders.connect('Counter');
      await coarse.load(ch, await coarse.holder(ch, 'dave', 5_000), 1_500);
      await ch.disconnect('reset');
      coarseReaders.removeCard('Counter');
      const t = await coarse.terminal(coarseReaders, { merchantId: 'corner-shop', bank }, { readerName: 'Counter', terminalId: 't1' });
      const p = t.startPayment({ amount: 300, currency: 'EUR' });
      coarseReaders.insertCard('Counter', card);
      const view = await t.outcome(p.id);
      expect(view.state).toBe('declined');
      expect(reasonOf(view)).toBe('no-exact-change');
      expect((view.events.at(-1)!.detail as { message: string }).message).toMatch(/rebalance/);
    } finally {
      await coarseReaders.close();
      await coarse.close();
    }
  });

  it('pays with coins of the keys the terminal offers only: a transit coin pays a transit shop, not a general one', async () => {
    const scoped = new World();
    const scopedReaders = new VirtualTransport(['Counter', 'Load']);
    try {
      const now = Date.now();
      await scoped.startBank([100], {
        other: [
          {
            value: 500,
            currency: 'EUR',
            withdrawFrom: now - 60_000,
            withdrawUntil: now + 3_600_000,
            depositUntil: now + 7 * 24 * 3_600_000,
            scope: 'transit',
          },
        ],
      });
      const general = await scoped.addMerchant('corner-shop');
      const transit = await scoped.addMerchant('metro', ['transit']);
      const card = await scoped.card();
      const holder = await loadViaReader(scoped, scopedReaders, 'Load', card, 'uma', 1_000, 0);
      const transitKey = (await scoped.operator.parameters()).keys.find((k) => k.scope === 'transit')!;
      await withdrawKeys(scoped, scopedReaders, 'Load', card, holder, [transitKey.keyId]);
      const payAt = (t: PaymentTerminal) => payWithCard(t, scopedReaders, 'Counter', card, 500);
      const shopTerminal = await scoped.terminal(
        scopedReaders,
        { merchantId: 'corner-shop', bank: general },
        { readerName: 'Counter', terminalId: 't-shop' },
      );
      const refused = await payAt(shopTerminal);
      expect(refused.state).toBe('declined');
      expect(reasonOf(refused)).toBe('insufficient-funds');
      const metro = await scoped.terminal(
        scopedReaders,
        { merchantId: 'metro', bank: transit },
        { readerName: 'Counter', terminalId: 't-metro', scopes: ['transit'] },
      );
      const paid = await payAt(metro);
      expect(paid.state).toBe('approved');
      expect(paid.coins).toEqual([{ keyId: transitKey.keyId, value: 500, evidenceOnly: false }]);
    } finally {
      await scopedReaders.close();
      await scoped.close();
    }
  });

  it('online mode deposits before approving; floor-limit mode goes online above the limit', async () => {
    const { card } = await loadedCard('erin', 10_000, 5_000);
    const journal = world.journal('t-online');
    const online = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: 'Counter', terminalId: 't-online', mode: 'online' },
      journal,
    );
    const v = await pay(online, card, 700);
    expect(v).toMatchObject({ state: 'approved', mode: 'online' });
    await expectBankHoldsJournalBytes(journal, v.id);
    expect(await merchantBalance(shop, 'corner-shop')).toBe(700);
    await online.close();

    const floor = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: 'Counter', terminalId: 't-floor', mode: 'floor-limit', floorLimit: 1_000 },
    );
    expect((await pay(floor, card, 500)).mode).toBe('offline');
    expect((await pay(floor, card, 1_500)).mode).toBe('online');
    expect(await merchantBalance(shop, 'corner-shop')).toBe(700 + 1_500);
  });

  it('catches a card that spends a coin twice: at settlement offline, at the counter online', async () => {
    const evil = await world.doubleSpendingCard();
    const { holder } = await loadedCard('mallory', 10_000, 1_000, evil);
    const cafe = await world.addMerchant('cafe');
    const t1 = await world.terminal(readers, { merchantId: 'corner-shop', bank: shop }, { readerName: 'Counter', terminalId: 't1' });
    const t2 = await world.terminal(readers, { merchantId: 'cafe', bank: cafe }, { readerName: 'Counter', terminalId: 't2' });
    const first = await pay(t1, evil, 500);
    expect(first.state).toBe('approved');
    const second = await pay(t2, evil, 500);
    expect(second.state).toBe('approved'); // offline, the cafe cannot know
    expect((await t1.settle()).outcomes).toEqual({ credited: first.coins.length });
    const report = await t2.settle();
    expect(report.doubleSpends.length).toBeGreaterThan(0);
    expect(report.doubleSpends.every((d) => d.paymentId === second.id)).toBe(true);
    const { doubleSpends } = await world.operator.doubleSpends({});
    expect(doubleSpends[0]!.accountId).toBe(holder.accountId);

    const kiosk = await world.addMerchant('kiosk');
    const t3 = await world.terminal(
      readers,
      { merchantId: 'kiosk', bank: kiosk },
      { readerName: 'Counter', terminalId: 't3', mode: 'online' },
    );
    const refused = await pay(t3, evil, 500);
    expect(refused.state).toBe('declined');
    expect(reasonOf(refused)).toBe('double-spend');
    expect(await merchantBalance(kiosk, 'kiosk')).toBe(0);
    expect((await world.service.audit()).ok).toBe(true);
  });

  it('refuses at the counter a coin this terminal has already taken', async () => {
    const evil = await world.doubleSpendingCard();
    await loadedCard('oscar', 10_000, 500, evil);
    const t = await world.terminal(readers, { merchantId: 'corner-shop', bank: shop }, { readerName: 'Counter', terminalId: 't1' });
    expect((await pay(t, evil, 500)).state).toBe('approved');
    const again = await pay(t, evil, 500);
    expect(again.state).toBe('declined');
    expect(reasonOf(again)).toBe('coin-already-seen');
    // The evidence is kept for the bank and settled with the rest.
    expect(again.coins[0]!.evidenceOnly).toBe(true);
  });

  it('takes the next sale from a card taken out and tapped again the moment the outcome shows', async () => {
    const { card } = await loadedCard('nina', 10_000, 1_000);
    // A short card wait: a terminal that missed the card leaving declines the next sale with
    // card-still-present once it runs out, instead of reading the card tapped for it.
    const t = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: 'Counter', terminalId: 't1', cardWaitMs: 2_000 },
    );
    // The customer takes the card as soon as the outcome shows and taps it again for the next
    // sale, before the terminal has let go of its connection to the card.
    const retapped = atState(t, 'approved', () => {
      readers.removeCard('Counter');
      readers.insertCard('Counter', card);
    });
    const first = t.startPayment({ amount: 300, currency: 'EUR' });
    readers.insertCard('Counter', card);
    expect((await t.outcome(first.id)).state).toBe('approved');
    await retapped;
    const next = await t.outcome(t.startPayment({ amount: 200, currency: 'EUR' }).id);
    readers.removeCard('Counter');
    expect({ state: next.state, reason: reasonOf(next) }).toEqual({ state: 'approved', reason: undefined });
    expect(await valueOf(card)).toBe(1_000 - 300 - 200);
  });

  it('a card pulled after the request reached it is finished by the same request, charging once', async () => {
    const { card } = await loadedCard('pat', 10_000, 2_000);
    const t = await world.terminal(readers, { merchantId: 'corner-shop', bank: shop }, { readerName: 'Counter', terminalId: 't1' });
    // Pull the card the moment the journal records the request.
    void atState(t, 'request-sent', () => readers.removeCard('Counter'));
    const interrupted = atState(t, 'interrupted');
    const p = t.startPayment({ amount: 750, currency: 'EUR' });
    readers.insertCard('Counter', card);
    await interrupted;
    readers.insertCard('Counter', card);
    const view = await t.outcome(p.id);
    readers.removeCard('Counter');
    expect(view.state).toBe('approved');
    expect(await valueOf(card)).toBe(2_000 - 750);
  });

  it('a reader unplugged after the request reached the card: plugged back in, the same request finishes the payment', async () => {
    const { card } = await loadedCard('uma', 10_000, 2_000);
    const t = await world.terminal(readers, { merchantId: 'corner-shop', bank: shop }, { readerName: 'Counter', terminalId: 't1' });
    void atState(t, 'request-sent', () => readers.removeReader('Counter'));
    const interrupted = atState(t, 'interrupted');
    const p = t.startPayment({ amount: 650, currency: 'EUR' });
    readers.insertCard('Counter', card);
    await interrupted;
    expect(reasonOf(t.view(p.id))).toBe('no-reader');
    readers.addReader('Counter');
    readers.insertCard('Counter', card);
    const view = await t.outcome(p.id);
    readers.removeCard('Counter');
    expect(view.state).toBe('approved');
    expect(await valueOf(card)).toBe(2_000 - 650);
  });

  it('a card pulled after the request that never comes back: declined card-not-returned, the request kept', async () => {
    const { card } = await loadedCard('vera', 10_000, 2_000);
    const journal = world.journal('lost');
    const t = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: 'Counter', terminalId: 't1', cardWaitMs: 1_000 },
      journal,
    );
    void atState(t, 'request-sent', () => readers.removeCard('Counter'));
    const p = t.startPayment({ amount: 650, currency: 'EUR' });
    readers.insertCard('Counter', card);
    const view = await t.outcome(p.id);
    expect(view.state).toBe('declined');
    expect(reasonOf(view)).toBe('card-not-returned');
    expect(view.events.map((e) => e.state)).toContain('interrupted');
    expect(journal.latestRequest(p.id)).toBeDefined();
  });

  it('resumes after a crash: a request the card already answered is answered again, charging once', async () => {
    const { card } = await loadedCard('quinn', 10_000, 2_000);
    const journal = world.journal('restart');
    // What a terminal killed mid-tap leaves: the payment, its durable request, no responses;
    // and the card, which did receive the request and paid (its answers lost with the terminal).
    const p = journal.createPayment({
      amount: 300,
      currency: 'EUR',
      reference: null,
      merchantId: 'corner-shop',
      terminalId: 't1',
      mode: 'offline',
    });
    journal.appendEvent(p.id, 'waiting-for-card');
    readers.insertCard('Counter', card);
    const ch = await readers.connect('Counter');
    const client = EcashCardClient.on(ch);
    await client.select();
    const accepted = (await world.operator.parameters()).keys
      .filter((k) => k.currency === 'EUR' && k.scope === '')
      .map((k) => k.keyId)
      .sort();
    const request = { timestamp: Date.now(), nonce: new Uint8Array(16).fill(7), accepted };
    journal.recordRequest(p.id, request);
    const context = { merchantId: 'corner-shop', terminalId: 't1', timestamp: request.timestamp, nonce: request.nonce };
    await client.pay({ context, amount: 300, currency: 'EUR', acceptedKeys: accepted.map((k) => fromHex(k, 'key id', 32)) });
    await ch.disconnect('reset');
    readers.removeCard('Counter');
    expect(await valueOf(card)).toBe(1_700);

    const restarted = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: 'Counter', terminalId: 't1' },
      journal,
    );
    expect(restarted.resumeUnfinished()).toEqual([p.id]);
    readers.insertCard('Counter', card);
    const view = await restarted.outcome(p.id);
    readers.removeCard('Counter');
    expect(view.state).toBe('approved');
    expect(view.coins.reduce((sum, c) => sum + c.value, 0)).toBe(300);
    expect(await valueOf(card)).toBe(1_700);
  });

  it('offline with the bank down: approves, settlement fails, and later succeeds with the same batch', async () => {
    const { card } = await loadedCard('rita', 10_000, 2_000);
    const t = await world.terminal(readers, { merchantId: 'corner-shop', bank: shop }, { readerName: 'Counter', terminalId: 't1' });
    await world.bankDown();
    expect((await pay(t, card, 500)).state).toBe('approved');
    await expect(t.settle()).rejects.toMatchObject({ code: 'bank-unreachable' });
    expect(await valueOf(card)).toBe(1_500);
    await world.bankUp();
    const report = await t.settle();
    expect(report).toMatchObject({ batches: 1, outcomes: { credited: 1 } });
    expect(await merchantBalance(shop, 'corner-shop')).toBe(500);
  });

  it('declines pin-timeout when no PIN comes after a wrong one; the card spends nothing and its PIN still works', async () => {
    const { card } = await loadedCard('pia', 10_000, 1_000, await world.card({ noPinLimit: 0 }));
    const t = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: 'Counter', terminalId: 't1', pinWaitMs: 300 },
    );
    const wrong = atState(t, 'pin-required', () => t.supplyPin(p.id, '0000'));
    const p = t.startPayment({ amount: 200, currency: 'EUR' });
    readers.insertCard('Counter', card);
    await wrong;
    const view = await t.outcome(p.id);
    readers.removeCard('Counter');
    expect(view.events.filter((e) => e.state === 'pin-required').map((e) => e.detail?.triesLeft)).toEqual([undefined, 2]);
    expect({ state: view.state, reason: reasonOf(view) }).toEqual({ state: 'declined', reason: 'pin-timeout' });
    // Two tries were left, not used up by the wait: the right PIN still opens the card.
    expect(await valueOf(card)).toBe(1_000);
  });

  it('online with the bank down before the tap: declines and the card spends nothing', async () => {
    const { card } = await loadedCard('sam', 10_000, 2_000);
    const t = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: 'Counter', terminalId: 't1', mode: 'online' },
    );
    await world.bankDown();
    const view = await pay(t, card, 500);
    expect(view.state).toBe('declined');
    expect(reasonOf(view)).toBe('bank-unreachable');
    expect(view.coins).toHaveLength(0);
    expect(await valueOf(card)).toBe(2_000);
  });

  it('online with the bank lost after the card paid: stands in offline and deposits at settlement', async () => {
    const { card } = await loadedCard('tom', 10_000, 2_000);
    let bankAnswers = false;
    const real = httpAcquirer(shop);
    const flaky: AcquirerBank = {
      ...real,
      deposit: (batchId, transcripts) =>
        bankAnswers ? real.deposit(batchId, transcripts) : Promise.reject(new EcashError('bank-unreachable', 'connection reset')),
    };
    const t = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: flaky },
      { readerName: 'Counter', terminalId: 't1', mode: 'online' },
    );
    const view = await pay(t, card, 500);
    expect(view.state).toBe('approved');
    expect(reasonOf(view)).toBe('offline-fallback');
    bankAnswers = true;
    expect((await t.settle()).outcomes).toEqual({ credited: 1 });
    expect(await merchantBalance(shop, 'corner-shop')).toBe(500);
  });

  it('online with a bank that answers the wrong number of results: keeps none of them, stands in offline, settles later', async () => {
    const { card } = await loadedCard('tia', 10_000, 2_000);
    let miscount = true;
    const real = httpAcquirer(shop);
    const shortAnswers: AcquirerBank = {
      ...real,
      deposit: async (batchId, transcripts) => (miscount ? [] : real.deposit(batchId, transcripts)),
    };
    const t = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shortAnswers },
      { readerName: 'Counter', terminalId: 't1', mode: 'online' },
    );
    const view = await pay(t, card, 500);
    // An empty answer checked no coin for a double spend: not an online approval.
    expect(view.state).toBe('approved');
    expect(reasonOf(view)).toBe('offline-fallback');
    miscount = false;
    expect((await t.settle()).outcomes).toEqual({ credited: 1 });
    expect(await merchantBalance(shop, 'corner-shop')).toBe(500);
  });
});
