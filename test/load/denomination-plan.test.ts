import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { paysEveryAmount, planDenominations, planRebalance } from '../../host/load/denomination-plan.js';

const EURO = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);

describe('planDenominations', () => {
  it('loads a ladder that pays every amount when the slots allow', () => {
    const plan = planDenominations(EURO, 10_000, 100, 'EUR');
    expect(sum(plan)).toBe(10_000);
    expect(paysEveryAmount(plan, 1)).toBe(true);
    expect(plan.length).toBeLessThanOrEqual(25);
  });

  it('falls back to a coarser unit when the card has few free slots', () => {
    const plan = planDenominations(EURO, 10_000, 10, 'EUR');
    expect(sum(plan)).toBe(10_000);
    expect(plan.length).toBeLessThanOrEqual(10);
    expect(
      paysEveryAmount(
        plan.map((v) => v / 100),
        1,
      ),
    ).toBe(true); // every whole euro
  });

  it('refuses what cannot fit and what the denominations cannot make', () => {
    expect(() => planDenominations([500], 10_000, 5, 'EUR')).toThrow(expect.objectContaining({ code: 'card-full' }));
    expect(() => planDenominations([10, 20], 15, 5, 'EUR')).toThrow(expect.objectContaining({ code: 'bad-amount' }));
    expect(() => planDenominations([], 15, 5, 'EUR')).toThrow(expect.objectContaining({ code: 'no-denominations' }));
  });

  it('always sums to the amount within the slots (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50_000 }), fc.integer({ min: 1, max: 60 }), (amount, slots) => {
        try {
          const plan = planDenominations(EURO, amount, slots, 'EUR');
          expect(sum(plan)).toBe(amount);
          expect(plan.length).toBeLessThanOrEqual(slots);
        } catch (e) {
          expect((e as { code: string }).code).toBe('card-full');
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('planRebalance', () => {
  it('keeps coins that fit the plan and exchanges the rest', () => {
    const r = planRebalance([5000, 5000, 1], EURO, 40, 'EUR');
    expect(sum(r.target)).toBe(10_001);
    expect(sum(r.giveBack) + sum(r.target) - sum(r.withdraw)).toBe(10_001);
    expect(r.giveBack).toContain(5000);
    const kept = [5000, 5000, 1];
    for (const v of r.giveBack) kept.splice(kept.indexOf(v), 1);
    expect([...kept, ...r.withdraw].sort((a, b) => a - b)).toEqual([...r.target].sort((a, b) => a - b));
  });
});
