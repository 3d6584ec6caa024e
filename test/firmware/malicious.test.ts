/**
 * The test-only double-spending card, end to end with core's bank-side roles: it pays two shops
 * with the same coin, each transcript verifies on its own, and the deposit check identifies the
 * account that opened the card, with a proof anyone can check.
 */
import { describe, expect, it } from 'vitest';
import {
  classifyDeposit,
  getGroup,
  identifyDoubleSpender,
  makeDoubleSpendProof,
  paymentTranscripts,
  verifyDoubleSpendProof,
  verifyTranscript,
} from '../../core/index.js';
import { createDoubleSpendingCard } from '../../firmware-sim/testing/malicious.js';
import * as firmware from '../../firmware-sim/index.js';
import { pay, paymentContext, PIN, PUK, select, TestBank, verifyPin } from './helpers.js';

describe('the double-spending card (test only)', () => {
  it('cannot be made by accident: not in the public face, and it wants an acknowledgement', async () => {
    expect(Object.keys(firmware).some((k) => /double|malicious/i.test(k))).toBe(false);
    await expect(createDoubleSpendingCard({ pin: PIN, puk: PUK, acknowledge: 'yes' as never })).rejects.toMatchObject({ code: 'not-acknowledged' });
  });

  it('pays twice with one coin, and the bank identifies its account', async () => {
    const suite = 'p256-uprove';
    const group = getGroup(suite);
    const card = await createDoubleSpendingCard({ suite, pin: PIN, puk: PUK, noPinLimit: 1000, acknowledge: 'this card double-spends' });
    card.powerOn();
    await select(card);
    await verifyPin(card);
    const bank = new TestBank(suite);
    await bank.open(card);
    await bank.withdraw(card, 100);
    const key = bank.key(100).key;
    const ctxA = paymentContext('shop-a');
    const ctxB = paymentContext('shop-b');
    const [t1] = paymentTranscripts(ctxA, (await pay(card, group, ctxA, [{ keyId: key.keyId, count: 1 }])).paid);
    const [t2] = paymentTranscripts(ctxB, (await pay(card, group, ctxB, [{ keyId: key.keyId, count: 1 }])).paid);
    expect(verifyTranscript(group, key, t1!)).toBe(true);
    expect(verifyTranscript(group, key, t2!)).toBe(true);
    expect(group.equals(t1!.coin.A, t2!.coin.A)).toBe(true);
    expect(classifyDeposit(group, t2!, t1!)).toBe('double-spend');
    const spender = identifyDoubleSpender(group, t1!, t2!);
    expect(group.equals(spender.I, bank.I!)).toBe(true);
    const proof = makeDoubleSpendProof(group, key, t1!, t2!);
    expect(() => verifyDoubleSpendProof(group, proof)).not.toThrow();
  });
});
