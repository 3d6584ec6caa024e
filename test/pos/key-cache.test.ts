import { describe, expect, it } from 'vitest';
import { type DenominationKey, EcashError, generateDenominationKey, getGroup, seededRandom, toHex } from '../../core/index.js';
import { acceptedKeys, TerminalKeyCache } from '../../host/pos/key-cache.js';

const G = getGroup('ristretto255-sha512');
const rng = seededRandom('pos-key-cache');
const key = (terms: Partial<{ currency: string; scope: string; withdrawFrom: number; depositUntil: number }> = {}): DenominationKey => {
  const depositUntil = terms.depositUntil ?? 10_000;
  const withdrawFrom = terms.withdrawFrom ?? 0;
  return generateDenominationKey(
    G,
    {
      value: 100,
      currency: 'EUR',
      scope: '',
      withdrawFrom,
      withdrawUntil: Math.max(withdrawFrom + 1, Math.min(5_000, depositUntil)),
      depositUntil,
      ...terms,
    },
    rng,
  ).key;
};
const policy = { currency: 'EUR', scopes: ['transit'], now: 1_000, depositMarginMs: 500 };
const ids = (keys: readonly DenominationKey[]) => keys.map((k) => toHex(k.keyId));

/** A journal's meta table, in memory. */
function memoryStore(): { getMeta(k: string): string | undefined; setMeta(k: string, v: string): void; writes: number } {
  const meta = new Map<string, string>();
  return {
    writes: 0,
    getMeta: (k) => meta.get(k),
    setMeta(k, v) {
      this.writes++;
      meta.set(k, v);
    },
  };
}

describe('acceptedKeys', () => {
  it('takes the currency, general money and accepted scopes, from the withdrawal window on, until the margin before the deposit deadline', () => {
    const general = key();
    const transit = key({ scope: 'transit' });
    const canteen = key({ scope: 'canteen' });
    const dollars = key({ currency: 'USD' });
    const future = key({ withdrawFrom: 1_001 });
    const edge = key({ depositUntil: 1_500 }); // deadline − margin = now: no time left to deposit
    const justIn = key({ depositUntil: 1_501 });
    expect(ids(acceptedKeys([general, transit, canteen, dollars, future, edge, justIn], policy))).toEqual(ids([general, transit, justIn]));
  });
});

describe('TerminalKeyCache', () => {
  it('holds what the bank listed last, drops expired keys and keeps the journal copy in step', () => {
    const store = memoryStore();
    const cache = new TerminalKeyCache(store);
    const [a, b, c] = [key({ depositUntil: 2_000 }), key(), key()];
    cache.replace(G, [a, b], 1_000);
    expect(ids(cache.current(1_000))).toEqual(ids([a, b]));
    // The bank no longer lists b: it goes.
    cache.replace(G, [a, c], 1_000);
    expect(cache.get(toHex(b.keyId))).toBeUndefined();
    // a's deadline passes: it goes too, here and in the copy a restart loads.
    expect(ids(cache.current(2_001))).toEqual(ids([c]));
    const restarted = new TerminalKeyCache(store);
    restarted.load(G, 1_500);
    expect(ids(restarted.current(1_500))).toEqual(ids([c]));
    // Nothing expired: nothing written.
    const writes = store.writes;
    restarted.current(1_600);
    expect(store.writes).toBe(writes);
  });
});

describe('TerminalKeyCache with its bank', () => {
  /** A bank of `suite` listing `keys`, or not answering. */
  const bank = (keys: readonly DenominationKey[], suite: Parameters<typeof getGroup>[0] = 'ristretto255-sha512', answers = true) => ({
    group: async () => {
      if (!answers) throw new EcashError('bank-unreachable', 'connection refused');
      return getGroup(suite);
    },
    denominationKeys: async () => {
      if (!answers) throw new EcashError('bank-unreachable', 'connection refused');
      return [...keys];
    },
  });

  it('starts from the bank, then from its own copy when the bank does not answer, and never without either', async () => {
    const a = key();
    const store = memoryStore();
    await expect(new TerminalKeyCache(store).start(bank([a], undefined, false), 1_000)).rejects.toMatchObject({ code: 'bank-unreachable' });
    expect(() => new TerminalKeyCache(store).currentGroup).toThrow(expect.objectContaining({ code: 'terminal-not-started' }));

    const first = new TerminalKeyCache(store);
    await first.start(bank([a]), 1_000);
    expect(first.currentGroup.suite).toBe('ristretto255-sha512');
    const offline = new TerminalKeyCache(store);
    await offline.start(bank([], undefined, false), 1_000);
    expect(ids(offline.current(1_000))).toEqual(ids([a]));
  });

  it('refuses a bank of another suite than its journal, keeping its keys', async () => {
    const a = key();
    const cache = new TerminalKeyCache(memoryStore());
    await cache.refresh(bank([a]), 1_000);
    await expect(cache.refresh(bank([], 'p256-uprove'), 1_000)).rejects.toMatchObject({ code: 'wrong-suite' });
    expect(ids(cache.current(1_000))).toEqual(ids([a]));
  });
});
