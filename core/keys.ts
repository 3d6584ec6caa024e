/**
 * Denomination keys. Per denomination (value, currency, validity window, optional scope) the bank
 * has a secret x and publishes h = g^x. The key id binds all of it:
 *   keyId = SHA-256(f("ECASH-V1/KEYID") f(suite) f(h) f(u64 value) f(currency)
 *                   f(u64 withdrawFrom) f(u64 withdrawUntil) f(u64 depositUntil) f(scope))
 * with f(x) = len32be(x) ‖ x and times in ms since the Unix epoch.
 */
import { u64be, utf8 } from './bytes.js';
import { EcashError } from './errors.js';
import type { Group, GroupElement } from './group.js';
import { sha256Fields, TAG_KEY_ID, tag } from './hash.js';
import { type RandomSource, randomNonZeroScalar } from './random.js';
import type { SuiteId } from './suite-ids.js';

export interface DenominationTerms {
  /** Face value in minor units of `currency`. */
  value: number;
  /** ISO 4217 alphabetic code. */
  currency: string;
  /** Coins may be withdrawn in [withdrawFrom, withdrawUntil) and deposited until depositUntil (ms). */
  withdrawFrom: number;
  withdrawUntil: number;
  depositUntil: number;
  /** Empty for general money; otherwise only merchants in this scope accept the coins (e.g. "transit"). */
  scope: string;
}

export interface DenominationKey extends DenominationTerms {
  suite: SuiteId;
  h: GroupElement;
  keyId: Uint8Array;
}

export interface DenominationSecret {
  key: DenominationKey;
  x: bigint;
}

const DAY_MS = 86_400_000;

/**
 * The terms of a key withdrawable for `withdrawDays` days from `from` (ms), and depositable for
 * `depositDays` more after its withdrawal window closes (coins on cards stay good that long).
 */
export function keyTerms(
  value: number,
  currency: string,
  window: { from: number; withdrawDays: number; depositDays: number },
  scope = '',
): DenominationTerms {
  const withdrawUntil = window.from + window.withdrawDays * DAY_MS;
  return { value, currency, withdrawFrom: window.from, withdrawUntil, depositUntil: withdrawUntil + window.depositDays * DAY_MS, scope };
}

const CURRENCY_RE = /^[A-Z]{3}$/;

/** An ISO 4217 alphabetic code's shape: three capital letters. */
export function isCurrencyCode(s: unknown): s is string {
  return typeof s === 'string' && CURRENCY_RE.test(s);
}
const SCOPE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function validateTerms(t: DenominationTerms): void {
  if (!Number.isSafeInteger(t.value) || t.value <= 0) {
    throw new EcashError('bad-value', 'a denomination value must be a positive integer number of minor units');
  }
  if (!isCurrencyCode(t.currency)) throw new EcashError('bad-currency', 'currency must be an ISO 4217 code such as EUR');
  for (const [name, v] of [
    ['withdrawFrom', t.withdrawFrom],
    ['withdrawUntil', t.withdrawUntil],
    ['depositUntil', t.depositUntil],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new EcashError('bad-window', `${name} must be a non-negative integer of milliseconds`);
  }
  if (!(t.withdrawFrom < t.withdrawUntil && t.withdrawUntil <= t.depositUntil)) {
    throw new EcashError('bad-window', 'validity window must satisfy withdrawFrom < withdrawUntil <= depositUntil');
  }
  if (t.scope !== '' && !SCOPE_RE.test(t.scope)) {
    throw new EcashError('bad-scope', 'scope must be empty or 1-64 characters of a-z, 0-9, ".", "_", "-"');
  }
}

export function computeKeyId(group: Group, h: GroupElement, t: DenominationTerms): Uint8Array {
  return sha256Fields([
    tag(TAG_KEY_ID),
    utf8(group.suite),
    group.encode(h),
    u64be(t.value),
    utf8(t.currency),
    u64be(t.withdrawFrom),
    u64be(t.withdrawUntil),
    u64be(t.depositUntil),
    utf8(t.scope),
  ]);
}

/** Assemble a public key from its parts, computing the key id and preparing h for reuse. */
export function makeDenominationKey(group: Group, h: GroupElement, terms: DenominationTerms): DenominationKey {
  validateTerms(terms);
  return { ...terms, suite: group.suite, h: group.precompute(h), keyId: computeKeyId(group, h, terms) };
}

export function generateDenominationKey(group: Group, terms: DenominationTerms, rng: RandomSource): DenominationSecret {
  const x = randomNonZeroScalar(group, rng);
  return { key: makeDenominationKey(group, group.exp(group.g, x), terms), x };
}

/** Whether coins of `key` may be withdrawn / deposited at time `now` (ms). */
export function canWithdraw(key: DenominationTerms, now: number): boolean {
  return now >= key.withdrawFrom && now < key.withdrawUntil;
}

export function canDeposit(key: DenominationTerms, now: number): boolean {
  return now >= key.withdrawFrom && now <= key.depositUntil;
}
