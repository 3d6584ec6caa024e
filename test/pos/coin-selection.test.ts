import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isEcashError } from '../../core/index.js';
import { chooseCoins, type HeldDenomination } from '../../host/pos/coin-selection.js';

const policy = { currency: 'EUR', scopes: ['transit'], now: 1_000, depositMarginMs: 100 };
const denom = (id: number, value: number, count: number, extra: Partial<HeldDenomination> = {}): HeldDenomination => ({
  keyId: new Uint8Array([id]),
  value,
  currency: 'EUR',
  scope: '',
  depositUntil: 1_000_000,
  count,
  ...extra,
});

describe('chooseCoins', () => {
  it('pays exactly with the fewest coins', () => {
    const held = [denom(1, 1, 5), denom(2, 2, 5), denom(3, 5, 2), denom(4, 10, 3)];
    const choice = chooseCoins(held, 27, policy);
    expect(choice.reduce((s, c) => s + c.value * c.count, 0)).toBe(27);
    expect(choice.reduce((s, c) => s + c.count, 0)).toBe(4); // 10+10+5+2
  });

  it('does not take more coins than the card holds', () => {
    const held = [denom(1, 10, 1), denom(2, 1, 7)];
    const choice = chooseCoins(held, 17, policy);
    expect(choice).toEqual([
      { keyId: new Uint8Array([1]), value: 10, count: 1 },
      { keyId: new Uint8Array([2]), value: 1, count: 7 },
    ]);
  });

  it('says when the value is there but the denominations are not, and what can be paid', () => {
    const held = [denom(1, 500, 3), denom(2, 1000, 2)];
    try {
      chooseCoins(held, 1250, policy);
      expect.unreachable();
    } catch (e) {
      expect(isEcashError(e, 'no-exact-change')).toBe(true);
      expect((e as { details: Record<string, unknown> }).details).toMatchObject({ payableBelow: 1000, payableAbove: 1500 });
      expect((e as Error).message).toMatch(/rebalance/);
    }
  });

  it('refuses with insufficient-funds when the acceptable value is too small', () => {
    expect(() => chooseCoins([denom(1, 100, 2)], 500, policy)).toThrow(expect.objectContaining({ code: 'insufficient-funds' }));
  });

  it('ignores other currencies, foreign scopes and keys near their deposit deadline', () => {
    const held = [
      denom(1, 100, 1, { currency: 'USD' }),
      denom(2, 100, 1, { scope: 'canteen' }),
      denom(3, 100, 1, { depositUntil: 1_050 }),
      denom(4, 100, 1, { scope: 'transit' }),
    ];
    expect(chooseCoins(held, 100, policy)).toEqual([{ keyId: new Uint8Array([4]), value: 100, count: 1 }]);
    expect(() => chooseCoins(held, 200, policy)).toThrow(expect.objectContaining({ code: 'insufficient-funds' }));
  });

  it('rejects amounts that are not positive integers', () => {
    for (const a of [0, -5, 1.5, Number.NaN]) expect(() => chooseCoins([denom(1, 1, 1)], a, policy)).toThrow(expect.objectContaining({ code: 'bad-amount' }));
  });

  it('always returns an exact, affordable and minimal choice (property)', () => {
    const values = [1, 2, 5, 10, 20, 50];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: values.length, maxLength: values.length }), fc.integer({ min: 1, max: 200 }), (counts, amount) => {
        const held = values.map((v, i) => denom(i, v, counts[i]!));
        // brute force the fewest coins
        let best = Infinity;
        const rec = (i: number, left: number, used: number): void => {
          if (left === 0) best = Math.min(best, used);
          if (i === values.length || left <= 0) return;
          for (let k = 0; k <= counts[i]! && k * values[i]! <= left; k++) rec(i + 1, left - k * values[i]!, used + k);
        };
        rec(0, amount, 0);
        try {
          const choice = chooseCoins(held, amount, policy);
          expect(choice.reduce((s, c) => s + c.value * c.count, 0)).toBe(amount);
          for (const c of choice) expect(c.count).toBeLessThanOrEqual(counts[c.keyId[0]!]!);
          expect(choice.reduce((s, c) => s + c.count, 0)).toBe(best);
        } catch (e) {
          expect(best).toBe(Infinity);
          expect(isEcashError(e)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
