/**
 * The round trips a withdrawal and a deposit batch cost on PostgreSQL, counted at node-postgres's
 * Client.query (every statement, BEGIN and COMMIT is one call and one round trip): 3 for a
 * withdrawal (start; answer: the session read and one statement), 7 for a deposit batch (docs/
 * operations.md "PostgreSQL"). A change that adds statements to these steps shows up here.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getGroup, systemRandom } from '../../core/index.js';
import { memoryKeyStore } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { type BankStorage, openStorage } from '../../host/bank/storage/index.js';
import { bankKey, PAYMENT_TIME } from '../core/fixtures.js';
import { postgresUrl, requireService } from '../helpers/env.js';
import { depositorParty, newAccount, pay, testDb, type TestDb, withdrawCoin } from './helpers.js';

const G = getGroup('ristretto255-sha512');
const available = requireService(postgresUrl() !== undefined, 'PostgreSQL (ECASH_TEST_PG_URL)');

describe.skipIf(!available)('round trips to PostgreSQL', () => {
  let db: TestDb;
  let storage: BankStorage;
  let svc: BankService;
  const key = bankKey(G, systemRandom, 500);
  const query = pg.Client.prototype.query;
  let queries = 0;

  beforeAll(async () => {
    db = testDb('postgres');
    storage = await openStorage(db.url);
    svc = await BankService.create({ storage, keys: memoryKeyStore(G.suite, [key]), workerThreads: 0, now: () => PAYMENT_TIME });
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      queries++;
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
  });

  afterAll(async () => {
    pg.Client.prototype.query = query;
    await svc?.close();
    await storage?.close();
    await db?.dispose();
  });

  const counted = async <T>(fn: () => Promise<T>): Promise<{ value: T; queries: number }> => {
    const before = queries;
    const value = await fn();
    return { value, queries: queries - before };
  };

  it('takes 3 for a withdrawal and 7 for a deposit batch', async () => {
    const alice = await newAccount(svc, G, 'alice');
    await svc.cashIn(alice.accountId, 'EUR', 1500, 'cash');
    const shop = await depositorParty(svc, (await svc.addMerchant({ merchantId: 'shop' })).credential);
    const coins: Awaited<ReturnType<typeof withdrawCoin>>[] = [];
    for (let i = 0; i < 3; i++) {
      const w = await counted(() => withdrawCoin(svc, G, alice.account, alice.accountId, key));
      expect(w.queries).toBe(3);
      coins.push(w.value);
    }
    const d = await counted(() =>
      svc.deposit(
        shop,
        'batch-1',
        coins.map((c) => pay(G, alice.account, c, 'shop')),
      ),
    );
    expect(d.value.results.map((r) => r.outcome)).toEqual(['credited', 'credited', 'credited']);
    expect(d.queries).toBe(7);
    expect((await svc.audit()).ok).toBe(true);
  });
});
