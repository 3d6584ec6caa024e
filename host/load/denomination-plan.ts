/**
 * Which coins to load. E-cash has no change, so a card that can pay every amount up to its
 * balance needs a "ladder" of small coins: sorted ascending, each coin at most one unit more than
 * the sum of those before it (then every amount up to the total is a sum of some of them). A ladder
 * climbs with the largest coin allowed at each step, which keeps the count low. When the card's
 * free slots cannot hold a ladder of the finest unit, the plan takes the finest coarser unit whose
 * ladder fits (e.g. every multiple of 1.00 instead of every cent), and as a last resort the fewest
 * coins that make up the amount.
 */
import { EcashError, formatAmount } from '../../core/index.js';

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Fewest coins of `values` (unbounded) summing to each amount 0…limit, with the last coin used. */
function changeTable(values: readonly number[], limit: number): { count: Int32Array; last: Int32Array } {
  const count = new Int32Array(limit + 1).fill(-1);
  const last = new Int32Array(limit + 1).fill(0);
  count[0] = 0;
  for (let a = 1; a <= limit; a++) {
    for (const v of values) {
      if (v > a || count[a - v]! < 0) continue;
      const c = count[a - v]! + 1;
      if (count[a]! < 0 || c < count[a]!) {
        count[a] = c;
        last[a] = v;
      }
    }
  }
  return { count, last };
}

/** A ladder over `amount` (a multiple of `unit`) from the denominations that are multiples of `unit`. */
function ladder(denoms: readonly number[], unit: number, amount: number): number[] {
  const usable = denoms.filter((d) => d % unit === 0).sort((a, b) => b - a);
  const coins: number[] = [];
  for (let reach = 0; reach < amount; ) {
    const step = usable.find((d) => d <= reach + unit && d <= amount - reach);
    if (step === undefined) throw new EcashError('internal', 'denomination ladder could not progress');
    coins.push(step);
    reach += step;
  }
  return coins;
}

/** Above this many minor units the planning tables would need too much memory. */
const MAX_PLAN_AMOUNT = 2_000_000;

/**
 * The coin values (descending) to hold `amount` in at most `slots` coins, keeping as many amounts
 * payable as the slots allow. Throws `bad-amount` when the denominations cannot make the amount,
 * and `card-full` when even the fewest coins do not fit.
 */
export function planDenominations(values: readonly number[], amount: number, slots: number, currency: string): number[] {
  const denoms = [...new Set(values)].filter((v) => Number.isSafeInteger(v) && v > 0).sort((a, b) => a - b);
  if (denoms.length === 0) throw new EcashError('no-denominations', 'the bank offers no denominations in this currency right now');
  if (!Number.isSafeInteger(amount) || amount <= 0)
    throw new EcashError('bad-amount', 'the amount must be a positive integer of minor units');
  const smallest = denoms.reduce(gcd);
  if (amount % smallest !== 0) {
    throw new EcashError(
      'bad-amount',
      `the amount must be a multiple of ${formatAmount(smallest, currency)}, the smallest the bank's denominations can make`,
    );
  }
  if (amount > MAX_PLAN_AMOUNT)
    throw new EcashError('bad-amount', `the amount is too large to load in one go (at most ${formatAmount(MAX_PLAN_AMOUNT, currency)})`);
  const { count, last } = changeTable(denoms, amount);
  const fewest = (x: number): number[] => {
    const coins: number[] = [];
    for (let a = x; a > 0; a -= last[a]!) coins.push(last[a]!);
    return coins;
  };
  if (count[amount]! > slots) {
    throw new EcashError(
      'card-full',
      `the card has ${slots} free coin slots but ${formatAmount(amount, currency)} needs at least ${count[amount]} coins: load less, or spend or rebalance first`,
    );
  }
  for (const unit of denoms) {
    const rest = amount % unit;
    const plan = [...ladder(denoms, unit, amount - rest), ...fewest(rest)];
    if (plan.length <= slots) return plan.sort((a, b) => b - a);
  }
  return fewest(amount).sort((a, b) => b - a);
}

/** Whether every multiple of `unit` up to the sum of `coins` is a sum of some of them. */
export function paysEveryAmount(coins: readonly number[], unit: number): boolean {
  let reach = 0;
  for (const c of [...coins].sort((a, b) => a - b)) {
    if (c > reach + unit) return false;
    reach += c;
  }
  return true;
}

/**
 * A rebalance: the plan for the card's whole balance, and the difference from what it holds now
 * (coins to give back to the bank, coins to withdraw). Coins already in the plan stay on the card.
 */
export function planRebalance(
  held: readonly number[],
  values: readonly number[],
  capacity: number,
  currency: string,
): { target: number[]; giveBack: number[]; withdraw: number[] } {
  const total = held.reduce((s, v) => s + v, 0);
  if (total === 0) return { target: [], giveBack: [], withdraw: [] };
  const target = planDenominations(values, total, capacity, currency);
  const remaining = new Map<number, number>();
  for (const v of target) remaining.set(v, (remaining.get(v) ?? 0) + 1);
  const giveBack: number[] = [];
  for (const v of held) {
    const n = remaining.get(v) ?? 0;
    if (n > 0) remaining.set(v, n - 1);
    else giveBack.push(v);
  }
  const withdraw = [...remaining.entries()].flatMap(([v, n]) => Array<number>(n).fill(v));
  return { target, giveBack: giveBack.sort((a, b) => b - a), withdraw: withdraw.sort((a, b) => b - a) };
}
