/**
 * The POS terminal's copy of its bank's denomination keys, kept in the journal so that it verifies
 * coins offline, and the rule for which keys' coins it takes.
 *
 * The copy holds exactly the keys the bank listed at the last refresh, less those whose deposit
 * deadline has passed since: a key the bank retired or that expired leaves it, and the terminal
 * stops taking its coins (the bank would refuse them: `unknown-key`, `key-expired`).
 */
import { type DenominationKey, EcashError, getGroup, type Group, keyFromJson, keyToJson, toHex } from '../../core/index.js';
import type { AcquirerBank } from './acquirer.js';

/** What a terminal takes: its currency and scopes, at a time, with a margin before deposit deadlines. */
export interface AcceptancePolicy {
  currency: string;
  /** Scopes this merchant accepts besides general money (scope ""). */
  scopes: readonly string[];
  /** Current time (ms) and how long before a key's deposit deadline its coins are refused (time to settle). */
  now: number;
  depositMarginMs: number;
}

/**
 * The keys whose coins a terminal may take: its currency, general money or a scope its merchant
 * accepts, withdrawal window started (no honest coin of a key exists before), and a deposit
 * deadline more than the policy's margin away, so the terminal has time to deposit them.
 * Pure: the card's own claims about its coins play no part.
 */
export function acceptedKeys(keys: Iterable<DenominationKey>, policy: AcceptancePolicy): DenominationKey[] {
  return [...keys].filter(
    (k) =>
      k.currency === policy.currency &&
      (k.scope === '' || policy.scopes.includes(k.scope)) &&
      k.withdrawFrom <= policy.now &&
      k.depositUntil - policy.depositMarginMs > policy.now,
  );
}

/** Where the cache lives: entries of the journal's meta table (the keys, the bank's suite). */
export interface KeyStore {
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
}

const KEYS_META = 'denomination-keys';
const SUITE_META = 'suite';

/** What the cache asks the bank: its group and its current keys. */
export type KeySource = Pick<AcquirerBank, 'group' | 'denominationKeys'>;

export class TerminalKeyCache {
  private readonly byId = new Map<string, DenominationKey>();
  private group: Group | undefined;

  constructor(private readonly store: KeyStore) {}

  /** The bank's group, once the keys were loaded or fetched. */
  get currentGroup(): Group {
    if (this.group === undefined) throw new EcashError('terminal-not-started', 'start the terminal first');
    return this.group;
  }

  /** Takes the bank's current keys, or when it does not answer those the journal holds (offline is fine). */
  async start(bank: KeySource, now: number): Promise<void> {
    const suite = this.store.getMeta(SUITE_META);
    try {
      await this.refresh(bank, now);
    } catch (e) {
      if (suite === undefined) {
        throw new EcashError(
          'bank-unreachable',
          `the terminal has never reached its bank and has no denomination keys: ${(e as Error).message}`,
        );
      }
      this.load(getGroup(suite), now);
    }
  }

  /**
   * Fetches the bank's current keys and keeps them in place of the old ones: a key the bank no
   * longer lists is no longer taken. A bank of another suite than the journal's is refused.
   */
  async refresh(bank: KeySource, now: number): Promise<void> {
    // Keys first: they fetch the parameters, and the group then comes from what they fetched.
    const fresh = await bank.denominationKeys();
    const group = await bank.group();
    const suite = this.store.getMeta(SUITE_META);
    if (suite !== undefined && suite !== group.suite) {
      throw new EcashError('wrong-suite', `the bank works in suite ${group.suite} and this terminal's journal in ${suite}: check --bank`);
    }
    this.store.setMeta(SUITE_META, group.suite);
    this.replace(group, fresh, now);
  }

  /** Loads the keys the journal holds (after a restart, with the bank unreachable). */
  load(group: Group, now: number): void {
    this.group = group;
    this.byId.clear();
    const raw = this.store.getMeta(KEYS_META);
    if (raw === undefined) return;
    for (const k of JSON.parse(raw) as unknown[]) {
      const key = keyFromJson(group, k, "the journal's cached key");
      this.byId.set(toHex(key.keyId), key);
    }
    this.dropExpired(now);
  }

  /** The bank's current list replaces the copy: keys it no longer lists are dropped. */
  replace(group: Group, fresh: readonly DenominationKey[], now: number): void {
    this.group = group;
    this.byId.clear();
    for (const k of fresh) this.byId.set(toHex(k.keyId), k);
    this.dropExpired(now, true);
  }

  /** Drops the keys whose deposit deadline has passed (and saves the copy if anything changed). */
  dropExpired(now: number, save = false): void {
    let changed = save;
    for (const [id, k] of this.byId) {
      if (k.depositUntil < now) {
        this.byId.delete(id);
        changed = true;
      }
    }
    if (changed && this.group !== undefined) {
      const group = this.group;
      this.store.setMeta(KEYS_META, JSON.stringify([...this.byId.values()].map((k) => keyToJson(group, k))));
    }
  }

  get(keyIdHex: string): DenominationKey | undefined {
    return this.byId.get(keyIdHex);
  }

  /** Every key held, expired ones dropped first. */
  current(now: number): DenominationKey[] {
    this.dropExpired(now);
    return [...this.byId.values()];
  }
}
