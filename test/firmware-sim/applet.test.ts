/**
 * The e-cash applet through its APDUs: PIN policy, withdrawal, balance, payment (limit, replay,
 * erased coins), log, limits, cost counts, privacy of what a shop sees, and every suite end to end.
 */
import { describe, expect, it } from 'vitest';
import {
  BankWithdrawalSession,
  getGroup,
  groupExponentiations,
  seededRandom,
  SUITE_IDS,
  toHex,
  verifyAccountOpening,
  verifyTranscript,
  type SuiteId,
} from '../../core/index.js';
import {
  CARD_ATR,
  CLA_ECASH,
  CLA_ISO,
  decodeCost,
  decodeFci,
  decodeLog,
  decodeWithdrawChallenge,
  decodeWithdrawEndResponse,
  ECASH_INS,
  decodeOpenAccountResponse,
  encodeChangePin,
  encodePay,
  encodePayResponse,
  encodeSetLimit,
  encodeUnblockPin,
  encodeWithdrawBegin,
  ISO_INS,
  paymentTranscripts,
  PIN_REFERENCE,
} from '../../wire/index.js';
import { createVolatileCard, type EcashCard } from '../../firmware-sim/index.js';
import { balance, expectOk, pay, paymentContext, PIN, PUK, select, send, TestBank, verifyPin } from './helpers.js';

async function freshCard(
  suite: SuiteId = 'ristretto255-sha512',
  noPinLimit = 1000,
  capacity?: number,
): Promise<{ card: EcashCard; bank: TestBank }> {
  const card = await createVolatileCard({
    suite,
    pin: PIN,
    puk: PUK,
    noPinLimit,
    rng: seededRandom(`card-${suite}-${noPinLimit}`),
    ...(capacity ? { capacity } : {}),
  });
  card.powerOn();
  await select(card);
  expect((await verifyPin(card)).sw).toBe(0x9000);
  const bank = new TestBank(suite);
  await bank.open(card);
  return { card, bank };
}

const cost = async (card: EcashCard) => decodeCost(await expectOk(send(card, CLA_ECASH, ECASH_INS.GET_COST)));

describe('PIN', () => {
  it('counts wrong tries, blocks after three and unblocks with the PUK', async () => {
    const { card } = await freshCard();
    card.reset();
    await select(card);
    expect((await send(card, CLA_ISO, ISO_INS.VERIFY, new Uint8Array(0), { p2: PIN_REFERENCE })).sw).toBe(0x63c3);
    expect((await verifyPin(card, '9999')).sw).toBe(0x63c2);
    expect((await verifyPin(card, '9999')).sw).toBe(0x63c1);
    expect((await verifyPin(card, '9999')).sw).toBe(0x63c0);
    expect((await verifyPin(card, PIN)).sw).toBe(0x6983);
    expect((await send(card, CLA_ISO, ISO_INS.VERIFY, new TextEncoder().encode('12'), { p2: PIN_REFERENCE })).sw).toBe(0x6a80);
    // Wrong PUK costs a PUK try; the right one sets a new PIN, which still has to be verified.
    expect(
      (await send(card, CLA_ISO, ISO_INS.RESET_RETRY_COUNTER, encodeUnblockPin({ puk: '87654321', newPin: '4321' }), { p2: PIN_REFERENCE }))
        .sw,
    ).toBe(0x63c9);
    expect(
      (await send(card, CLA_ISO, ISO_INS.RESET_RETRY_COUNTER, encodeUnblockPin({ puk: PUK, newPin: '4321' }), { p2: PIN_REFERENCE })).sw,
    ).toBe(0x9000);
    expect((await send(card, CLA_ECASH, ECASH_INS.READ_LOG)).sw).toBe(0x6982);
    expect((await verifyPin(card, '4321')).sw).toBe(0x9000);
    expect((await send(card, CLA_ECASH, ECASH_INS.READ_LOG)).sw).toBe(0x9000);
  });

  it('changes the PIN only with the old one, and a reset forgets the verification', async () => {
    const { card } = await freshCard();
    expect(
      (await send(card, CLA_ISO, ISO_INS.CHANGE_REFERENCE_DATA, encodeChangePin({ oldPin: '0000', newPin: '5555' }), { p2: PIN_REFERENCE }))
        .sw,
    ).toBe(0x63c2);
    expect(
      (await send(card, CLA_ISO, ISO_INS.CHANGE_REFERENCE_DATA, encodeChangePin({ oldPin: PIN, newPin: '5555' }), { p2: PIN_REFERENCE }))
        .sw,
    ).toBe(0x9000);
    card.reset();
    await select(card);
    expect((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_STATUS)).sw).toBe(0x6982);
    expect((await verifyPin(card, PIN)).sw).toBe(0x63c2);
    expect((await verifyPin(card, '5555')).sw).toBe(0x9000);
    // The try counter was restored by the right PIN.
    card.powerOff();
    card.powerOn();
    await select(card);
    expect((await send(card, CLA_ISO, ISO_INS.VERIFY, new Uint8Array(0), { p2: PIN_REFERENCE })).sw).toBe(0x63c3);
  });

  it('guards loading, administration and the balance, not small payments; SET LIMIT carries the PIN', async () => {
    const { card, bank } = await freshCard('ristretto255-sha512', 500);
    await bank.withdraw(card, 200);
    await bank.withdraw(card, 500);
    card.reset();
    await select(card);
    expect((await bank.begin(card, 200)).sw).toBe(0x6982);
    expect((await send(card, CLA_ECASH, ECASH_INS.OPEN_ACCOUNT, Uint8Array.of(1, 0x61))).sw).toBe(0x6982);
    expect((await send(card, CLA_ECASH, ECASH_INS.SET_LIMIT, encodeSetLimit({ pin: '0000', limit: 0 }))).sw).toBe(0x63c2);
    expect((await send(card, CLA_ECASH, ECASH_INS.SET_LIMIT, encodeSetLimit({ pin: PIN, limit: 500 }))).sw).toBe(0x9000);
    // SET LIMIT's own PIN opens no session.
    expect((await send(card, CLA_ECASH, ECASH_INS.READ_LOG)).sw).toBe(0x6982);
    expect((await send(card, CLA_ECASH, ECASH_INS.GET_BALANCE)).sw).toBe(0x6982);
    const group = getGroup('ristretto255-sha512');
    expect((await pay(card, group, paymentContext(), 200, [bank.key(200).key.keyId])).sw).toBe(0x9000);
    // 500 alone is at the limit (allowed) once a PIN verification has reset the 200 paid without it.
    await verifyPin(card);
    await bank.withdraw(card, 200);
    card.reset();
    await select(card);
    const over = await pay(card, group, paymentContext(), 700, [bank.key(200).key.keyId, bank.key(500).key.keyId]);
    expect(over.sw).toBe(0x6982);
    expect((await pay(card, group, paymentContext(), 500, [bank.key(500).key.keyId])).sw).toBe(0x9000);
  });

  it('lets a verification authorise one payment, and payments without it share a limit that only the PIN resets', async () => {
    const { card, bank } = await freshCard('ristretto255-sha512', 300);
    for (const v of [100, 100, 100, 100, 100, 100, 500, 500]) await bank.withdraw(card, v);
    card.reset();
    await select(card);
    const group = getGroup('ristretto255-sha512');
    const payOne = async (value: number, ctx = paymentContext()) => (await pay(card, group, ctx, value, [bank.key(value).key.keyId])).sw;
    const pinState = async () => (await send(card, CLA_ISO, ISO_INS.VERIFY, new Uint8Array(0), { p2: PIN_REFERENCE })).sw;
    expect(await payOne(100)).toBe(0x9000);
    expect(await payOne(100)).toBe(0x9000);
    card.powerOff(); // pulling the card keeps the running total
    card.powerOn();
    await select(card);
    expect(await payOne(100)).toBe(0x9000);
    expect(await payOne(100)).toBe(0x6982);

    // With the PIN: one payment (not counted in the total, which the verification reset).
    expect((await verifyPin(card)).sw).toBe(0x9000);
    expect(await pinState()).toBe(0x9000);
    const ctx = paymentContext();
    const withPin = await pay(card, group, ctx, 500, [bank.key(500).key.keyId]);
    expect(withPin.sw).toBe(0x9000);
    expect(await pinState()).toBe(0x63c3);
    expect((await send(card, CLA_ECASH, ECASH_INS.READ_LOG)).sw).toBe(0x6982);
    expect(await payOne(500)).toBe(0x6982);
    // The lost answer of the PIN payment is still recovered: same request, same answer.
    const again = await pay(card, group, ctx, 500, [bank.key(500).key.keyId]);
    expect(again.sw).toBe(0x9000);
    expect(again.paid[0]!.r1).toBe(withPin.paid[0]!.r1);
    // The verification reset the total: up to 300 without the PIN again.
    expect(await payOne(100)).toBe(0x9000);
    expect(await payOne(100)).toBe(0x9000);
    expect(await payOne(500)).toBe(0x6982);
    // CHANGE REFERENCE DATA verifies the PIN too: it resets the total and authorises one payment.
    expect(
      (await send(card, CLA_ISO, ISO_INS.CHANGE_REFERENCE_DATA, encodeChangePin({ oldPin: PIN, newPin: PIN }), { p2: PIN_REFERENCE })).sw,
    ).toBe(0x9000);
    expect(await payOne(500)).toBe(0x9000);
    expect(await payOne(100)).toBe(0x9000);
  });
});

describe('withdrawal', () => {
  it('keeps the pending state when the bank answer does not verify, and reports and aborts it', async () => {
    const { card, bank } = await freshCard();
    const { session, c } = await bank.begin(card, 100);
    expect((await bank.begin(card, 100)).sw).toBe(0x6985);
    const status = decodeWithdrawChallenge(bank.group, await expectOk(send(card, CLA_ECASH, ECASH_INS.WITHDRAW_STATUS)));
    expect(status.c).toBe(c);
    const r = session.answer(c);
    const wrong = bank.group.scalars.add(r, 1n);
    expect((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_END, bank.endCommand(wrong))).sw).toBe(0x6a80);
    expect(await balance(card)).toEqual([]);
    const end = decodeWithdrawEndResponse(await expectOk(send(card, CLA_ECASH, ECASH_INS.WITHDRAW_END, bank.endCommand(r))));
    expect(toHex(end.keyId)).toBe(toHex(bank.key(100).key.keyId));
    expect((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_STATUS)).sw).toBe(0x6a88);
    expect((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_END, bank.endCommand(r))).sw).toBe(0x6a88);
    await bank.begin(card, 100);
    expect((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_ABORT)).sw).toBe(0x9000);
    expect((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_ABORT)).sw).toBe(0x6a88);
    expect((await balance(card))[0]!.count).toBe(1);
  });

  it('refuses a new coin on a full card with 6A84 and frees room when coins are spent', async () => {
    const { card, bank } = await freshCard('modp2048-256', 10_000, 16 * 1024);
    const fci = decodeFci(await expectOk(select(card)));
    await verifyPin(card);
    expect(fci.capacity).toBeGreaterThan(0);
    for (let i = 0; i < fci.capacity; i++) await bank.withdraw(card, 10);
    expect((await bank.begin(card, 10)).sw).toBe(0x6a84);
    const group = getGroup('modp2048-256');
    expect((await pay(card, group, paymentContext(), 10, [bank.key(10).key.keyId])).sw).toBe(0x9000);
    await verifyPin(card); // the payment used up the verification
    await bank.withdraw(card, 10);
    expect((await balance(card))[0]!.count).toBe(fci.capacity);
  });

  it('refuses an offer element outside the group', async () => {
    const { card, bank } = await freshCard('p256-uprove');
    const secret = bank.key(100);
    const session = BankWithdrawalSession.offer(bank.group, secret, bank.I!, bank.rng);
    const data = encodeWithdrawBegin(bank.group, { key: secret.key, z: session.offer.a, offer: session.offer });
    data[data.length - 1] = data[data.length - 1]! ^ 1; // b is no longer on the curve
    expect((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_BEGIN, data)).sw).toBe(0x6a80);
    expect((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_BEGIN, data.subarray(0, 10))).sw).toBe(0x6700);
  });
});

describe('payment', () => {
  it('pays with no group exponentiation and two multiplications mod q per coin', async () => {
    const { card, bank } = await freshCard();
    for (const v of [100, 100, 100, 50, 20]) await bank.withdraw(card, v);
    const group = getGroup('ristretto255-sha512');
    const ctx = paymentContext();
    const r = await pay(
      card,
      group,
      ctx,
      370,
      [100, 50, 20].map((v) => bank.key(v).key.keyId),
    );
    expect(r.sw).toBe(0x9000);
    // The card chose the coins: larger values first.
    expect(r.paid.map((p) => toHex(p.coin.keyId))).toEqual([100, 100, 100, 50, 20].map((v) => toHex(bank.key(v).key.keyId)));
    for (const t of paymentTranscripts(ctx, r.paid)) {
      const key = [...bank.keys.values()].find((k) => toHex(k.key.keyId) === toHex(t.coin.keyId))!.key;
      expect(verifyTranscript(group, key, t)).toBe(true);
    }
    const c = await cost(card);
    expect(groupExponentiations(c)).toBe(0);
    expect(c.groupMul).toBe(0);
    expect(c.scalarMul).toBe(2 * 5);
    expect(c.scalarAdd).toBe(2 * 5);
    expect(c.hash).toBe(5 + 1); // d per coin, and the request digest
    expect(c.nvmBytesWritten).toBeGreaterThan(0);
    await verifyPin(card);
    expect(await balance(card)).toEqual([]);
  });

  it('chooses the fewest coins of the offered keys only, and tells only whether it cannot pay for lack of value or of exact change', async () => {
    const { card, bank } = await freshCard('ristretto255-sha512', 100_000);
    for (const v of [200, 100, 100, 50, 20, 20, 20, 5]) await bank.withdraw(card, v);
    const group = getGroup('ristretto255-sha512');
    const keys = (...values: number[]) => values.map((v) => bank.key(v).key.keyId);
    const all = keys(200, 100, 50, 20, 5);
    card.reset();
    await select(card);
    // 60 = 20+20+20 (50 cannot make it: 50+5+5 is not held).
    const sixty = await pay(card, group, paymentContext(), 60, all);
    expect(sixty.paid.map((p) => toHex(p.coin.keyId))).toEqual(keys(20, 20, 20).map(toHex));
    // Only what is offered: 200 without offering the 200 key takes 100+100.
    const twoHundred = await pay(card, group, paymentContext(), 200, keys(100, 50));
    expect(twoHundred.paid.map((p) => toHex(p.coin.keyId))).toEqual(keys(100, 100).map(toHex));
    // Left: 200, 50, 5. Not enough value among the keys offered: 6A88; enough but no exact sum: 6A83.
    expect((await pay(card, group, paymentContext(), 60, keys(50, 5))).sw).toBe(0x6a88);
    expect((await pay(card, group, paymentContext(), 100, all)).sw).toBe(0x6a83);
    // Another currency's keys, or keys it does not hold, make nothing.
    expect((await pay(card, group, paymentContext(), 5, keys(5), { currency: 'USD' })).sw).toBe(0x6a88);
    expect((await pay(card, group, paymentContext(), 5, [new Uint8Array(32)])).sw).toBe(0x6a88);
    // Nothing was spent by the refusals.
    expect((await pay(card, group, paymentContext(), 255, all)).sw).toBe(0x9000);
  });

  it('answers a repeated request identically, and refuses erased coins to any other request', async () => {
    const { card, bank } = await freshCard();
    await bank.withdraw(card, 100);
    const group = getGroup('ristretto255-sha512');
    const ctx = paymentContext();
    const keys = [bank.key(100).key.keyId];
    const first = await pay(card, group, ctx, 100, keys);
    card.powerOff(); // the answer was lost with the card
    card.powerOn();
    await select(card);
    const again = await pay(card, group, ctx, 100, keys);
    expect(again.sw).toBe(0x9000);
    expect(again.paid[0]!.r1).toBe(first.paid[0]!.r1);
    expect(again.paid[0]!.r2).toBe(first.paid[0]!.r2);
    const c = await cost(card);
    expect(c.scalarMul).toBe(0);
    expect(c.nvmBytesWritten).toBe(0);
    // The same payment's terms in another request: already made, not paid again (6985).
    expect((await pay(card, group, { ...ctx, nonce: new Uint8Array(16).fill(9) }, 100, keys)).sw).toBe(0x6985);
    expect((await pay(card, group, { ...ctx, merchantId: 'another-shop' }, 100, keys)).sw).toBe(0x6a88);
  });

  it('pays in the currency asked, refuses malformed requests, and logs what it paid', async () => {
    const { card, bank } = await freshCard();
    await bank.withdraw(card, 100);
    const usd = bank.key(7, 'USD');
    bank.keys.set(7, usd);
    await bank.withdraw(card, 7);
    const group = getGroup('ristretto255-sha512');
    const both = [bank.key(100).key.keyId, usd.key.keyId];
    // The request itself is checked: a currency code, distinct keys, a positive amount.
    const good = encodePay({ context: paymentContext(), amount: 7, currency: 'USD', acceptedKeys: both });
    const lowerCase = good.slice();
    lowerCase.set(new TextEncoder().encode('usd'), good.length - 1 - 2 * 32 - 3);
    expect((await send(card, CLA_ECASH, ECASH_INS.PAY, lowerCase)).sw).toBe(0x6a80);
    expect((await send(card, CLA_ECASH, ECASH_INS.PAY, good.subarray(0, good.length - 1))).sw).toBe(0x6700);
    expect((await pay(card, group, paymentContext('shop-a'), 7, both, { currency: 'USD' })).sw).toBe(0x9000);
    expect((await pay(card, group, paymentContext('shop-b'), 100, both)).sw).toBe(0x9000);
    await verifyPin(card);
    const log = decodeLog(await expectOk(send(card, CLA_ECASH, ECASH_INS.READ_LOG)));
    expect(log.map((e) => [e.merchantId, e.amount, e.currency, e.coins])).toEqual([
      ['shop-b', 100, 'EUR', 1],
      ['shop-a', 7, 'USD', 1],
    ]);
  });

  it('keeps the log to the last ten payments', async () => {
    const { card, bank } = await freshCard('ristretto255-sha512', 10_000);
    const group = getGroup('ristretto255-sha512');
    for (let i = 0; i < 12; i++) {
      await verifyPin(card);
      await bank.withdraw(card, 1);
      expect((await pay(card, group, paymentContext(`shop-${i}`), 1, [bank.key(1).key.keyId])).sw).toBe(0x9000);
    }
    await verifyPin(card);
    const log = decodeLog(await expectOk(send(card, CLA_ECASH, ECASH_INS.READ_LOG)));
    expect(log.map((e) => e.merchantId)).toEqual(Array.from({ length: 10 }, (_, i) => `shop-${11 - i}`));
  });
});

describe('privacy', () => {
  it('shows a shop nothing static: same ATR and FCI for two cards, no I in payments', async () => {
    const a = await freshCard();
    const b = await freshCard('ristretto255-sha512', 1000);
    expect(a.card.powerOn()).toEqual(CARD_ATR);
    const fciA = await expectOk(select(a.card));
    const fciB = await expectOk(select(b.card));
    expect(toHex(fciA)).toBe(toHex(fciB));
    await verifyPin(a.card);
    await a.bank.withdraw(a.card, 100);
    const r = await pay(a.card, a.bank.group, paymentContext(), 100, [a.bank.key(100).key.keyId]);
    const I = toHex(a.bank.group.encode(a.bank.I!));
    expect(toHex(encodePayResponse(a.bank.group, r.paid))).not.toContain(I);
  });

  it('proves the account opening to the bank with a fresh proof each time', async () => {
    const { card, bank } = await freshCard('p256-uprove');
    const holder = Uint8Array.of(5, ...new TextEncoder().encode('alice'));
    const one = decodeOpenAccountResponse(bank.group, await expectOk(send(card, CLA_ECASH, ECASH_INS.OPEN_ACCOUNT, holder)));
    const two = decodeOpenAccountResponse(bank.group, await expectOk(send(card, CLA_ECASH, ECASH_INS.OPEN_ACCOUNT, holder)));
    expect(() => verifyAccountOpening(bank.group, 'alice', one)).not.toThrow();
    expect(bank.group.equals(one.I, two.I)).toBe(true);
    expect(one.proof.s).not.toBe(two.proof.s);
    expect(() => verifyAccountOpening(bank.group, 'bob', one)).toThrow();
  });
});

describe.each(SUITE_IDS)('every suite end to end on %s', (suite) => {
  it('withdraws and pays five coins, short APDUs with GET RESPONSE and extended APDUs', async () => {
    const { card, bank } = await freshCard(suite, 10_000);
    for (let i = 0; i < 10; i++) await bank.withdraw(card, 10);
    const group = getGroup(suite);
    for (const extended of [false, true]) {
      const ctx = paymentContext();
      const r = await pay(card, group, ctx, 50, [bank.key(10).key.keyId], { extended });
      expect(r.sw).toBe(0x9000);
      for (const t of paymentTranscripts(ctx, r.paid)) expect(verifyTranscript(group, bank.key(10).key, t)).toBe(true);
    }
    await verifyPin(card);
    expect(await balance(card)).toEqual([]);
  });
});
