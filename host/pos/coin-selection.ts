/**
 * Which coins a terminal takes. The card chooses the coins of a payment itself (core's
 * `chooseExactCoins`, run on the card), among the keys the terminal offers in its PAY request; the
 * terminal decides which keys those are, from its own copy of the bank's key list
 * (`acceptedKeys`) — never from what a card says — and takes each paid coin's value, currency,
 * scope and windows from that list.
 */
import { type DenominationKey, toHex } from '../../core/index.js';
import { MAX_ACCEPTED_KEYS, MAX_COINS_PER_PAYMENT } from '../../wire/index.js';
import { type AcceptancePolicy, acceptedKeys } from './key-cache.js';

/**
 * The keys a PAY request offers: those the terminal takes (key-cache.ts's `acceptedKeys`, on its
 * own copy of the bank's keys), in key-id order, at most MAX_ACCEPTED_KEYS (the ones whose coins
 * can be deposited longest, when there are more).
 */
export function offeredKeys(keys: Iterable<DenominationKey>, policy: AcceptancePolicy): DenominationKey[] {
  return acceptedKeys(keys, policy)
    .sort((a, b) => b.depositUntil - a.depositUntil)
    .slice(0, MAX_ACCEPTED_KEYS)
    .sort((a, b) => toHex(a.keyId).localeCompare(toHex(b.keyId)));
}

/** The most coins a card can pay `amount` with from `offered` (for the time budget of PAY). */
export function coinsAtMost(amount: number, offered: readonly DenominationKey[]): number {
  const smallest = Math.min(...offered.map((k) => k.value));
  return Math.max(1, Math.min(MAX_COINS_PER_PAYMENT, Math.floor(amount / smallest)));
}
