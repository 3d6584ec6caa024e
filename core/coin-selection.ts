/**
 * Which coins pay an amount exactly. E-cash has no change: a payment is a set of whole coins whose
 * values add up to the amount, and the card itself makes the choice (PAY names an amount, not
 * coins), so that a shop learns no more than the coins it is paid with. This is the card's
 * algorithm, written as a card would need it: memory proportional to the number of
 * denominations (a card holds at most 16), no table over amounts, and a fixed bound on the
 * work, whatever the amount.
 *
 * Fewest coins first (a faster tap, smaller deposits), at most `maxCoins`. Depth-first over the
 * distinct values from the largest, trying the most coins of each value first, pruned by three
 * bounds: what is left must not exceed what the smaller values can make, must be a multiple of
 * their greatest common divisor, and the coins still needed (at least what is left divided by the
 * largest value left, rounded up) must leave room to beat the best choice found. The first choice found is greedy's, which is already the fewest for
 * the usual 1-2-5 series. After MAX_SEARCH_STEPS the search stops with the best choice so far:
 * exact, though perhaps not the fewest coins, or none (reported as no exact change).
 */
import { EcashError } from './errors.js';

/** Coins of one denomination held, as the search sees them. */
export interface HeldCoins {
  value: number;
  count: number;
}

export type ExactChoice =
  /** How many coins of each input entry to pay, in the order given. */
  | { ok: true; counts: number[]; coins: number }
  /** `insufficient`: less value than the amount; `no-exact-change`: enough value, no exact sum within `maxCoins` coins. */
  | { ok: false; reason: 'insufficient' | 'no-exact-change' };

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The search's bound on its work (visited choices), so that a card's time is bounded too. */
export const MAX_SEARCH_STEPS = 20_000;

/**
 * The fewest coins of `held` summing exactly to `amount`, at most `maxCoins`. Entries of equal
 * value are interchangeable for the search and are used up in the order given (a card lists
 * first the coins whose deposit deadline comes first).
 */
export function chooseExactCoins(held: readonly HeldCoins[], amount: number, maxCoins: number): ExactChoice {
  if (!Number.isSafeInteger(amount) || amount <= 0)
    throw new EcashError('bad-amount', 'the amount must be a positive integer of minor units');
  if (!Number.isSafeInteger(maxCoins) || maxCoins <= 0) throw new EcashError('bad-amount', 'a payment has at least one coin');
  for (const h of held) {
    if (!Number.isSafeInteger(h.value) || h.value <= 0 || !Number.isSafeInteger(h.count) || h.count < 0) {
      throw new EcashError('bad-amount', 'coin values are positive integers and counts are not negative');
    }
  }
  // Distinct values, largest first, with how many coins of each are held (only what can be used).
  const byValue = new Map<number, number>();
  for (const h of held) byValue.set(h.value, (byValue.get(h.value) ?? 0) + h.count);
  const values = [...byValue.keys()].filter((v) => byValue.get(v)! > 0).sort((a, b) => b - a);
  const counts = values.map((v) => Math.min(byValue.get(v)!, maxCoins));
  let total = 0;
  for (const v of values) total += v * byValue.get(v)!;
  if (total < amount) return { ok: false, reason: 'insufficient' };

  // What the values from i on can make at most, and the step all their sums are multiples of.
  const reach = new Array<number>(values.length + 1).fill(0);
  const step = new Array<number>(values.length + 1).fill(0);
  for (let i = values.length - 1; i >= 0; i--) {
    reach[i] = reach[i + 1]! + values[i]! * counts[i]!;
    step[i] = gcd(values[i]!, step[i + 1]!);
  }
  const current = new Array<number>(values.length).fill(0);
  let best: number[] | undefined;
  let bestCoins = maxCoins + 1;
  let steps = 0;
  const search = (i: number, left: number, used: number): void => {
    if (left === 0) {
      best = current.slice();
      bestCoins = used;
      return;
    }
    if (i === values.length || steps >= MAX_SEARCH_STEPS) return;
    steps++;
    const v = values[i]!;
    if (left % step[i]! !== 0 || used + Math.ceil(left / v) >= bestCoins) return;
    const next = values[i + 1];
    for (let n = Math.min(counts[i]!, Math.floor(left / v), bestCoins - 1 - used); n >= 0; n--) {
      const rest = left - n * v;
      // Fewer coins of v leave more for the smaller values, so once either bound fails it fails for every smaller n.
      if (rest > reach[i + 1]!) break;
      if (rest > 0 && (next === undefined || used + n + Math.ceil(rest / next) >= bestCoins)) break;
      current[i] = n;
      search(i + 1, rest, used + n);
      current[i] = 0;
    }
  };
  search(0, amount, 0);
  if (best === undefined) return { ok: false, reason: 'no-exact-change' };

  // Back to the entries as given: each value's coins from its entries in order.
  const perValue = new Map(values.map((v, i) => [v, best![i]!]));
  const out = held.map((h) => {
    const want = perValue.get(h.value) ?? 0;
    const take = Math.min(want, h.count);
    perValue.set(h.value, want - take);
    return take;
  });
  return { ok: true, counts: out, coins: bestCoins };
}
