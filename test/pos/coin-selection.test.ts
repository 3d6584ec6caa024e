/**
 * Which keys a terminal offers a card in PAY (host/pos/coin-selection.ts): the keys it accepts
 * (the rule itself, `acceptedKeys`, is test/pos/key-cache.test.ts's), in key-id order, never more
 * than a request carries. (The card's own choice of coins is core's,
 * test/core/coin-selection.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { type DenominationTerms, generateDenominationKey, getGroup, seededRandom, toHex } from '../../core/index.js';
import { MAX_ACCEPTED_KEYS } from '../../wire/index.js';
import { coinsAtMost, offeredKeys } from '../../host/pos/coin-selection.js';

const group = getGroup('ristretto255-sha512');
const rng = seededRandom('acceptance');
const NOW = 1_000_000;
const policy = { currency: 'EUR', scopes: ['transit'], now: NOW, depositMarginMs: 100 };
const key = (terms: Partial<DenominationTerms> = {}) =>
  generateDenominationKey(
    group,
    { value: 100, currency: 'EUR', withdrawFrom: NOW - 10, withdrawUntil: NOW + 10, depositUntil: NOW + 1_000, scope: '', ...terms },
    rng,
  ).key;

describe('offeredKeys', () => {
  it('offers the acceptable keys in key-id order', () => {
    const keys = [key(), key({ scope: 'canteen' }), key({ value: 5 }), key({ currency: 'USD' }), key({ value: 20, scope: 'transit' })];
    const offered = offeredKeys(keys, policy);
    expect(offered.map((k) => k.value).sort((a, b) => a - b)).toEqual([5, 20, 100]);
    expect(offered.map((k) => toHex(k.keyId))).toEqual(offered.map((k) => toHex(k.keyId)).sort());
    expect(offeredKeys([key({ currency: 'USD' })], policy)).toEqual([]);
  });

  it('offers at most what one request carries, keeping the keys that can be deposited longest', () => {
    const keys = Array.from({ length: MAX_ACCEPTED_KEYS + 1 }, (_, i) => key({ depositUntil: NOW + 1_000 + i }));
    const offered = offeredKeys(keys, policy);
    expect(offered).toHaveLength(MAX_ACCEPTED_KEYS);
    expect(offered.some((k) => k.depositUntil === NOW + 1_000)).toBe(false);
  });
});

describe('coinsAtMost', () => {
  it('bounds the coins of a payment by the smallest value offered and by what a payment carries', () => {
    expect(coinsAtMost(250, [key({ value: 100 }), key({ value: 50 })])).toBe(5);
    expect(coinsAtMost(10_000, [key({ value: 1 })])).toBe(32);
    expect(coinsAtMost(5, [key({ value: 100 })])).toBe(1);
  });
});
