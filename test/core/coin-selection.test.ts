/**
 * The card's exact-change search (core/coin-selection.ts): exact sums, fewest coins, never more
 * coins than held or than a payment may carry, the two refusals, and — against a table over all
 * amounts as the reference — optimal answers on the denominations of a real bank and on
 * arbitrary ones, within the search's fixed bound on work.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseExactCoins, type HeldCoins } from '../../core/index.js';

/** Fewest coins (bounded counts) for `amount`, by a table over every amount: the reference. */
function fewestByTable(held: readonly HeldCoins[], amount: number, maxCoins: number): number | undefined {
  const best = new Array<number>(amount + 1).fill(Infinity);
  best[0] = 0;
  for (const h of held) {
    for (let k = 0; k < h.count; k++) {
      for (let a = amount; a >= h.value; a--) best[a] = Math.min(best[a]!, best[a - h.value]! + 1);
    }
  }
  return best[amount]! <= maxCoins ? best[amount] : undefined;
}

function expectExact(held: readonly HeldCoins[], amount: number, maxCoins: number): void {
  const choice = chooseExactCoins(held, amount, maxCoins);
  const reference = fewestByTable(held, amount, maxCoins);
  if (reference === undefined) {
    expect(choice.ok).toBe(false);
    return;
  }
  expect(choice.ok).toBe(true);
  if (!choice.ok) return;
  expect(choice.counts.reduce((s, n, i) => s + n * held[i]!.value, 0)).toBe(amount);
  choice.counts.forEach((n, i) => expect(n).toBeLessThanOrEqual(held[i]!.count));
  expect(choice.coins).toBe(reference);
  expect(choice.counts.reduce((s, n) => s + n, 0)).toBe(reference);
}

describe('chooseExactCoins', () => {
  it('pays exactly with the fewest coins, never more than held', () => {
    const held = [
      { value: 1, count: 5 },
      { value: 2, count: 5 },
      { value: 5, count: 2 },
      { value: 10, count: 3 },
    ];
    expect(chooseExactCoins(held, 27, 32)).toEqual({ ok: true, counts: [0, 1, 1, 2], coins: 4 });
    expect(
      chooseExactCoins(
        [
          { value: 10, count: 1 },
          { value: 1, count: 7 },
        ],
        17,
        32,
      ),
    ).toEqual({ ok: true, counts: [1, 7], coins: 8 });
  });

  it('beats greedy where greedy is not the fewest', () => {
    // Greedy takes 4+1+1; the fewest is 3+3.
    expect(
      chooseExactCoins(
        [
          { value: 4, count: 1 },
          { value: 3, count: 2 },
          { value: 1, count: 2 },
        ],
        6,
        32,
      ),
    ).toEqual({ ok: true, counts: [0, 2, 0], coins: 2 });
  });

  it('tells not enough from no exact change, and counts the coins a payment may carry', () => {
    expect(chooseExactCoins([{ value: 100, count: 2 }], 500, 32)).toEqual({ ok: false, reason: 'insufficient' });
    expect(
      chooseExactCoins(
        [
          { value: 500, count: 3 },
          { value: 1000, count: 2 },
        ],
        1250,
        32,
      ),
    ).toEqual({ ok: false, reason: 'no-exact-change' });
    expect(chooseExactCoins([{ value: 1, count: 40 }], 33, 32)).toEqual({ ok: false, reason: 'no-exact-change' });
    expect(chooseExactCoins([{ value: 1, count: 40 }], 32, 32)).toMatchObject({ ok: true, coins: 32 });
    expect(chooseExactCoins([], 1, 32)).toEqual({ ok: false, reason: 'insufficient' });
  });

  it('uses entries of equal value in the order given', () => {
    const held = [
      { value: 50, count: 1 }, // e.g. an older key, deposited first
      { value: 20, count: 3 },
      { value: 50, count: 2 },
    ];
    expect(chooseExactCoins(held, 120, 32)).toEqual({ ok: true, counts: [1, 1, 1], coins: 3 });
  });

  it('rejects amounts and holdings that are not positive integers', () => {
    for (const a of [0, -5, 1.5, Number.NaN])
      expect(() => chooseExactCoins([{ value: 1, count: 1 }], a, 32)).toThrow(expect.objectContaining({ code: 'bad-amount' }));
    expect(() => chooseExactCoins([{ value: 0, count: 1 }], 1, 32)).toThrow(expect.objectContaining({ code: 'bad-amount' }));
  });

  it('is optimal on a bank series of denominations (property, against the table)', () => {
    const values = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: values.length, maxLength: values.length }),
        fc.integer({ min: 1, max: 6_000 }),
        (counts, amount) => {
          expectExact(
            values.map((value, i) => ({ value, count: counts[i]! })),
            amount,
            32,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is optimal on arbitrary denominations, 16 of them as on a full card (property, against the table)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ value: fc.integer({ min: 1, max: 400 }), count: fc.integer({ min: 0, max: 8 }) }), {
          minLength: 1,
          maxLength: 16,
        }),
        fc.integer({ min: 1, max: 3_000 }),
        (held, amount) => expectExact(held, amount, 32),
      ),
      { numRuns: 300 },
    );
  });
});
