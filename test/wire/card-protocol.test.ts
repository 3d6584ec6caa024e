/**
 * The applet's message codecs (wire/card-protocol.ts): every request and response round-trips on
 * every suite, and strict decoding refuses wrong lengths, bad fields and non-members.
 */
import { describe, expect, it } from 'vitest';
import {
  blindWithdrawal,
  BankWithdrawalSession,
  completeWithdrawal,
  generateAccountSecret,
  generateDenominationKey,
  getGroup,
  isEcashError,
  paymentChallenge,
  proveAccountOpening,
  respondToPayment,
  seededRandom,
  SUITE_IDS,
  verifyAccountOpening,
  verifyTranscript,
} from '../../core/index.js';
import {
  COST_FIELDS,
  decodeBalance,
  decodeChangePin,
  decodeCost,
  decodeFci,
  decodeLog,
  decodeOpenAccount,
  decodeOpenAccountResponse,
  decodePay,
  decodePayResponse,
  decodePersonalise,
  decodeSetLimit,
  decodeUnblockPin,
  decodeVerify,
  decodeWithdrawBegin,
  decodeWithdrawChallenge,
  decodeWithdrawEnd,
  decodeWithdrawEndResponse,
  encodeBalance,
  encodeChangePin,
  encodeCost,
  encodeFci,
  encodeLog,
  encodeOpenAccount,
  encodeOpenAccountResponse,
  encodePay,
  encodePayResponse,
  MAX_ACCEPTED_KEYS,
  encodePersonalise,
  encodeSetLimit,
  encodeUnblockPin,
  encodeVerify,
  encodeWithdrawBegin,
  encodeWithdrawChallenge,
  encodeWithdrawEnd,
  encodeWithdrawEndResponse,
  paymentTranscripts,
  type CommandCost,
  type PayRequest,
} from '../../wire/index.js';

const rng = seededRandom('card-protocol-test');
const terms = { value: 500, currency: 'EUR', withdrawFrom: 0, withdrawUntil: 2e12, depositUntil: 3e12, scope: '' };

function expectCode(fn: () => unknown, ...codes: string[]): void {
  try {
    fn();
  } catch (e) {
    expect(isEcashError(e)).toBe(true);
    expect(codes).toContain((e as { code: string }).code);
    return;
  }
  throw new Error('expected an EcashError');
}

describe.each(SUITE_IDS)('card protocol on %s', (suite) => {
  const group = getGroup(suite);
  const secret = generateDenominationKey(group, terms, rng);
  const { u1, I } = generateAccountSecret(group, rng);
  const z = group.exp(group.mul(I, group.g2), secret.x);

  it('round-trips OPEN ACCOUNT and its answer, which the bank can verify', () => {
    expect(decodeOpenAccount(encodeOpenAccount('alice@example'))).toBe('alice@example');
    const opening = { I, proof: proveAccountOpening(group, u1, I, 'alice', rng) };
    const back = decodeOpenAccountResponse(group, encodeOpenAccountResponse(group, opening));
    expect(() => verifyAccountOpening(group, 'alice', back)).not.toThrow();
    expectCode(() => decodeOpenAccountResponse(group, encodeOpenAccountResponse(group, opening).subarray(1)), 'truncated', 'bad-element');
  });

  it('round-trips a whole withdrawal and a payment through the codecs', () => {
    const session = BankWithdrawalSession.offer(group, secret, I, rng);
    const begin = decodeWithdrawBegin(group, encodeWithdrawBegin(group, { key: secret.key, z, offer: session.offer }));
    expect(Buffer.from(begin.key.keyId)).toEqual(Buffer.from(secret.key.keyId));
    const ctx = { key: begin.key, z: begin.z, I };
    const pending = blindWithdrawal(group, ctx, begin.offer, rng);
    const challenge = decodeWithdrawChallenge(group, encodeWithdrawChallenge(group, { keyId: pending.keyId, c: pending.c }));
    expect(challenge.c).toBe(pending.c);
    const r = decodeWithdrawEnd(group, encodeWithdrawEnd(group, session.answer(challenge.c)));
    const { coin, secrets } = completeWithdrawal(group, ctx, pending, r);
    const end = decodeWithdrawEndResponse(encodeWithdrawEndResponse({ keyId: coin.keyId, freeSlots: 7 }));
    expect(end.freeSlots).toBe(7);

    const request: PayRequest = {
      context: { merchantId: 'shop-1', terminalId: 'till-2', timestamp: 1_700_000_000_000, nonce: rng.bytes(16) },
      amount: secret.key.value,
      currency: secret.key.currency,
      acceptedKeys: [coin.keyId],
    };
    const decoded = decodePay(encodePay(request));
    expect(decoded.context.merchantId).toBe('shop-1');
    // A leading U+FEFF is part of an id (TextDecoder drops it by default): the card's d must be the terminal's.
    const marked = { ...request, context: { ...request.context, merchantId: '\uFEFFshop-1', terminalId: '\uFEFF' } };
    expect(decodePay(encodePay(marked)).context).toMatchObject({ merchantId: '\uFEFFshop-1', terminalId: '\uFEFF' });
    expect(decoded).toMatchObject({ amount: secret.key.value, currency: secret.key.currency });
    expect(decoded.acceptedKeys.map((k) => Buffer.from(k))).toEqual([Buffer.from(coin.keyId)]);
    const d = paymentChallenge(group, coin, decoded.context);
    const paid = decodePayResponse(group, encodePayResponse(group, [{ coin, ...respondToPayment(group, u1, secrets, d) }]));
    const [transcript] = paymentTranscripts(request.context, paid);
    expect(verifyTranscript(group, secret.key, transcript!)).toBe(true);
  });

  it('refuses a withdrawal message with a non-member, a bad window or trailing bytes', () => {
    const session = BankWithdrawalSession.offer(group, secret, I, rng);
    const good = encodeWithdrawBegin(group, { key: secret.key, z, offer: session.offer });
    const bad = good.slice();
    bad.fill(0xff, bad.length - group.elementLength);
    expectCode(() => decodeWithdrawBegin(group, bad), 'bad-element');
    expectCode(() => decodeWithdrawBegin(group, Uint8Array.of(...good, 0)), 'trailing-bytes');
    const badKey = { ...secret.key, withdrawUntil: 0 };
    expectCode(() => decodeWithdrawBegin(group, encodeWithdrawBegin(group, { key: badKey, z, offer: session.offer })), 'bad-card-message');
  });
});

describe('card protocol, suite-independent messages', () => {
  it('round-trips the FCI, with and without a suite', () => {
    expect(decodeFci(encodeFci({ version: 1, suite: 'modp2048-256', capacity: 15 }))).toEqual({
      version: 1,
      suite: 'modp2048-256',
      capacity: 15,
    });
    expect(decodeFci(encodeFci({ version: 1, suite: undefined, capacity: 0 }))).toEqual({ version: 1, suite: undefined, capacity: 0 });
    const fci = encodeFci({ version: 1, suite: 'p256-uprove', capacity: 3 });
    fci[4] = fci[4]! ^ 1; // AID byte
    expectCode(() => decodeFci(fci), 'bad-card-message');
  });

  it('round-trips PIN, PUK, PERSONALISE and SET LIMIT messages and enforces their rules', () => {
    expect(decodeVerify(encodeVerify('1234'))).toBe('1234');
    expect(decodeChangePin(encodeChangePin({ oldPin: '1234', newPin: '987654' }))).toEqual({ oldPin: '1234', newPin: '987654' });
    expect(decodeUnblockPin(encodeUnblockPin({ puk: '12345678', newPin: '0000' }))).toEqual({ puk: '12345678', newPin: '0000' });
    const p = { suite: 'ristretto255-sha512' as const, pin: '1234', puk: '1234567890', noPinLimit: 2000 };
    expect(decodePersonalise(encodePersonalise(p))).toEqual(p);
    expect(decodeSetLimit(encodeSetLimit({ pin: '1234', limit: 0 }))).toEqual({ pin: '1234', limit: 0 });
    expectCode(() => encodeSetLimit({ pin: '12', limit: 5 }), 'bad-card-message');
    expectCode(() => decodeVerify(new TextEncoder().encode('12a4')), 'bad-card-message');
    expectCode(() => decodeVerify(new TextEncoder().encode('123')), 'bad-card-message');
    expectCode(() => encodeUnblockPin({ puk: '1234567', newPin: '1234' }), 'bad-card-message');
    expectCode(() => decodeSetLimit(new Uint8Array(7)), 'truncated');
    expectCode(() => decodeSetLimit(Uint8Array.of(4, 0x31, 0x32, 0x33, 0x34, 0, 0, 0, 0, 0, 0, 0)), 'truncated');
    expectCode(() => decodePersonalise(Uint8Array.of(9, 4, 0x31, 0x32, 0x33, 0x34)), 'bad-card-message');
  });

  it('round-trips balance, log and cost answers', () => {
    const keyId = new Uint8Array(32).fill(7);
    const balance = [{ keyId, value: 200, currency: 'EUR', scope: 'transit', depositUntil: 5, count: 3 }];
    expect(decodeBalance(encodeBalance(balance))).toEqual(balance);
    const log = [{ timestamp: 9, merchantId: 'm', terminalId: 't', amount: 700, currency: 'EUR', coins: 2 }];
    expect(decodeLog(encodeLog(log))).toEqual(log);
    const cost = Object.fromEntries(COST_FIELDS.map((f, i) => [f, i * 3])) as unknown as CommandCost;
    expect(decodeCost(encodeCost(cost))).toEqual(cost);
    expectCode(() => decodeBalance(Uint8Array.of(1)), 'truncated');
  });

  it('refuses payment requests that offer a key twice, no key or too many, or no proper amount or currency', () => {
    const keyId = new Uint8Array(32);
    const context = { merchantId: 'm', terminalId: 't', timestamp: 1, nonce: new Uint8Array(16) };
    const ok = { context, amount: 100, currency: 'EUR', acceptedKeys: [keyId] };
    expect(decodePay(encodePay(ok)).amount).toBe(100);
    expectCode(() => encodePay({ ...ok, acceptedKeys: [] }), 'bad-card-message');
    expectCode(() => encodePay({ ...ok, acceptedKeys: [keyId, keyId] }), 'bad-card-message');
    const many = Array.from({ length: MAX_ACCEPTED_KEYS + 1 }, (_, i) => Uint8Array.of(i & 0xff, i >> 8, ...new Uint8Array(30)));
    expectCode(() => encodePay({ ...ok, acceptedKeys: many }), 'bad-card-message');
    expect(decodePay(encodePay({ ...ok, acceptedKeys: many.slice(1) })).acceptedKeys).toHaveLength(MAX_ACCEPTED_KEYS);
    for (const amount of [0, -1, 1.5]) expectCode(() => encodePay({ ...ok, amount }), 'bad-card-message');
    expectCode(() => encodePay({ ...ok, currency: 'eur' }), 'bad-card-message');
    expectCode(() => encodePay({ ...ok, context: { ...context, merchantId: '' } }), 'bad-card-message');
    // On the wire: an amount of 0 and a key offered twice are refused by the decoder too.
    const wire = encodePay(ok);
    const zero = wire.slice();
    zero.fill(0, wire.length - 32 - 1 - 4 - 8, wire.length - 32 - 1 - 4);
    expectCode(() => decodePay(zero), 'bad-card-message');
    expectCode(() => decodePay(Uint8Array.of(...wire.subarray(0, wire.length - 33), 2, ...keyId, ...keyId)), 'bad-card-message');
    expectCode(() => decodePay(wire.subarray(0, wire.length - 1)), 'truncated');
  });
});
