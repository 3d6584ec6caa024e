/**
 * Choosing which coins pay an amount exactly. The card tells the terminal only how many coins it
 * holds per denomination (GET BALANCE); the terminal picks counts per denomination whose values sum
 * exactly to the amount, with as few coins as possible (fewer coins: a faster tap, smaller deposits).
 * E-cash has no change: when the card holds enough value but not the right denominations, the error
 * says so and names the nearest amounts the card can pay.
 */
import { type BalanceEntry, EcashError, toHex } from '../../core/index.js';

/** One denomination the card holds, as GET BALANCE reports it. */
export type HeldDenomination = BalanceEntry;

/** How many coins of one denomination to spend. */
export interface ChosenDenomination {
  keyId: Uint8Array;
  value: number;
  count: number;
}

export interface AcceptancePolicy {
  currency: string;
  /** Scopes this merchant accepts besides general money (scope ""). */
  scopes: readonly string[];
  /** Current time (ms) and how long before a key's deposit deadline its coins are refused. */
  now: number;
  depositMarginMs: number;
}

/** The card's denominations this terminal may accept, and why others are not. */
export function acceptableDenominations(held: readonly HeldDenomination[], policy: AcceptancePolicy): HeldDenomination[] {
  return held.filter(
    (h) =>
      h.count > 0 &&
      h.currency === policy.currency &&
      (h.scope === '' || policy.scopes.includes(h.scope)) &&
      h.depositUntil - policy.depositMarginMs > policy.now,
  );
}

/** Above this amount (minor units) the exact-change search would need too much memory. */
const MAX_SEARCH_AMOUNT = 1_000_000;

interface Item {
  denom: number;
  value: number;
  multiplicity: number;
}

/**
 * Fewest coins summing exactly to each amount 0…limit (Infinity where impossible), as a bounded
 * knapsack with binary-split counts; `pick` lets the caller rebuild the choice.
 */
function fewestCoins(denoms: readonly HeldDenomination[], limit: number): { best: Float64Array; items: Item[]; pick: Uint8Array[] } {
  const items: Item[] = [];
  denoms.forEach((d, denom) => {
    let left = d.count;
    for (let k = 1; left > 0; k *= 2) {
      const m = Math.min(k, left);
      items.push({ denom, value: d.value * m, multiplicity: m });
      left -= m;
    }
  });
  const best = new Float64Array(limit + 1).fill(Infinity);
  best[0] = 0;
  const pick: Uint8Array[] = [];
  for (const it of items) {
    const took = new Uint8Array(limit + 1);
    for (let a = limit; a >= it.value; a--) {
      const c = best[a - it.value]! + it.multiplicity;
      if (c < best[a]!) {
        best[a] = c;
        took[a] = 1;
      }
    }
    pick.push(took);
  }
  return { best, items, pick };
}

/**
 * The coins (counts per denomination) paying `amount` exactly with the fewest coins. Throws
 * `insufficient-funds` or `no-exact-change` (with the nearest payable amounts in `details`).
 */
export function chooseCoins(held: readonly HeldDenomination[], amount: number, policy: AcceptancePolicy): ChosenDenomination[] {
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new EcashError('bad-amount', 'the amount must be a positive integer of minor units');
  const usable = acceptableDenominations(held, policy);
  const total = usable.reduce((s, d) => s + d.value * d.count, 0);
  if (total < amount) {
    throw new EcashError(
      'insufficient-funds',
      `the card holds ${total} ${policy.currency} (minor units) this terminal can accept, less than the ${amount} asked; load more value or pay less`,
      { details: { acceptable: total, amount } },
    );
  }
  if (amount > MAX_SEARCH_AMOUNT) throw new EcashError('amount-too-large', `amounts above ${MAX_SEARCH_AMOUNT} minor units cannot be paid in one tap`);
  const limit = Math.min(total, amount + (usable.length > 0 ? Math.max(...usable.map((d) => d.value)) : 0));
  const { best, items, pick } = fewestCoins(usable, limit);
  if (best[amount] === Infinity) {
    let below = amount - 1;
    while (below > 0 && best[below] === Infinity) below--;
    let above = amount + 1;
    while (above <= limit && best[above] === Infinity) above++;
    const options = [below > 0 ? `${below}` : undefined, above <= limit ? `${above}` : undefined].filter((x) => x !== undefined);
    throw new EcashError(
      'no-exact-change',
      `the card holds enough value (${total} ${policy.currency} in minor units) but no coins that add up to exactly ${amount}; ` +
        `the nearest amounts it can pay are ${options.join(' and ')}, or the holder can rebalance the card at a load terminal (ecash load --rebalance)`,
      { details: { amount, payableBelow: below > 0 ? below : null, payableAbove: above <= limit ? above : null } },
    );
  }
  const counts = new Map<number, number>();
  let a = amount;
  for (let i = items.length - 1; i >= 0; i--) {
    if (pick[i]![a] === 1) {
      const it = items[i]!;
      counts.set(it.denom, (counts.get(it.denom) ?? 0) + it.multiplicity);
      a -= it.value;
    }
  }
  if (a !== 0) throw new EcashError('internal', 'coin selection could not rebuild its choice');
  return [...counts.entries()]
    .map(([denom, count]) => ({ keyId: usable[denom]!.keyId, value: usable[denom]!.value, count }))
    .sort((x, y) => y.value - x.value || toHex(x.keyId).localeCompare(toHex(y.keyId)));
}
