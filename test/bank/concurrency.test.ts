/**
 * Two bank services over one database, each with its own storage handle: what two server
 * processes behind a load balancer are. The money rules must hold in the database, not in one
 * process's memory: a coin is credited once, an account has one open session, a session answers
 * one challenge and debits once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blindWithdrawal, fromHex, getGroup, systemRandom } from '../../core/index.js';
import { memoryKeyStore } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { openStorage } from '../../host/bank/storage/index.js';
import { bankKey, PAYMENT_TIME } from '../core/fixtures.js';
import { adapters, depositorParty, newAccount, pay, testDb, type TestDb, withdrawCoin } from './helpers.js';

const G = getGroup('ristretto255-sha512');
const PARALLEL = 8;

describe.each(adapters())('bank concurrency on $kind', ({ kind, available }) => {
  let db: TestDb;
  let services: BankService[];
  const closers: { close(): Promise<void> }[] = [];
  const key = bankKey(G, systemRandom, 500);

  beforeEach(async () => {
    if (!available) return;
    db = testDb(kind);
    services = [];
    for (let i = 0; i < 2; i++) {
      const storage = await openStorage(db.url);
      const svc = await BankService.create({ storage, keys: memoryKeyStore(G.suite, [key]), workerThreads: 0, now: () => PAYMENT_TIME });
      closers.push(storage, svc);
      services.push(svc);
    }
  });

  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c.close();
    if (available) await db.dispose();
  });

  it.skipIf(!available)('credits a coin deposited in parallel by two merchants once, and records one double spend', async () => {
    const [a, b] = services as [BankService, BankService];
    const alice = await newAccount(a, G, 'alice');
    await a.cashIn(alice.accountId, 'EUR', 500, 'cash');
    const coin = await withdrawCoin(b, G, alice.account, alice.accountId, key);
    const shop1 = await depositorParty(a, (await a.addMerchant({ merchantId: 'shop-1' })).credential);
    const shop2 = await depositorParty(b, (await b.addMerchant({ merchantId: 'shop-2' })).credential);
    const t1 = pay(G, alice.account, coin, 'shop-1');
    const t2 = pay(G, alice.account, coin, 'shop-2');
    // Each merchant deposits its payment several times at once, in different batches, through
    // both services.
    const runs = Array.from({ length: PARALLEL }, (_, i) => {
      const svc = services[i % 2]!;
      return i % 2 === 0 ? svc.deposit(shop1, `s1-${i}`, [t1]) : svc.deposit(shop2, `s2-${i}`, [t2]);
    });
    const outcomes = (await Promise.all(runs)).map((r) => r.results[0]!.outcome);
    expect(outcomes.filter((o) => o === 'credited')).toHaveLength(1);
    const winner = outcomes.indexOf('credited') % 2;
    // The winner's other deposits are replays, the loser's are all the same double spend.
    outcomes.forEach((o, i) => expect(o).toBe(i % 2 === winner ? (o === 'credited' ? 'credited' : 'replay') : 'double-spend'));
    expect(await db.raw('SELECT double_spend_id FROM double_spends')).toHaveLength(1);
    expect(await db.raw('SELECT coin FROM spent_coins')).toHaveLength(1);
    const ops = await a.authenticate((await a.addOperator('ops')).credential);
    const ds = (await b.listDoubleSpends(ops, undefined, 10)).doubleSpends;
    expect(ds.map((d) => [d.accountId, d.depositor])).toEqual([[alice.accountId, winner === 0 ? 'shop-2' : 'shop-1']]);
    const balances = [(await a.merchantView('shop-1')).balances, (await a.merchantView('shop-2')).balances];
    expect(balances[winner]).toEqual([{ currency: 'EUR', balance: 500 }]);
    expect(balances[1 - winner]).toEqual([]);
    expect(await b.audit()).toMatchObject({ ok: true, problems: [] });
  });

  it.skipIf(!available)('opens one withdrawal session when starts race on one account', async () => {
    const [a] = services as [BankService, BankService];
    const alice = await newAccount(a, G, 'alice');
    await a.cashIn(alice.accountId, 'EUR', 5000, 'cash');
    const settled = await Promise.allSettled(
      Array.from({ length: PARALLEL }, (_, i) => services[i % 2]!.startWithdrawal(alice.accountId, key.key.keyId)),
    );
    const ok = settled.filter((s) => s.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    for (const s of settled) if (s.status === 'rejected') expect(s.reason).toMatchObject({ code: 'session-open' });
    expect(await db.raw("SELECT session_id FROM withdrawal_sessions WHERE state = 'open'")).toHaveLength(1);
  });

  it.skipIf(!available)('answers one challenge and debits once when answers race on one session', async () => {
    const [a, b] = services as [BankService, BankService];
    const alice = await newAccount(a, G, 'alice');
    await a.cashIn(alice.accountId, 'EUR', 5000, 'cash');
    const s = await a.startWithdrawal(alice.accountId, key.key.keyId);
    const ctx = { key: key.key, z: G.decode(fromHex(s.z)), I: alice.account.I };
    const offer = { a: G.decode(fromHex(s.a)), b: G.decode(fromHex(s.b)) };
    const challenges = Array.from({ length: PARALLEL }, () => blindWithdrawal(G, ctx, offer, systemRandom).c);
    const settled = await Promise.allSettled(challenges.map((c, i) => services[i % 2]!.answerWithdrawal(alice.accountId, s.sessionId, c)));
    const ok = settled.flatMap((x, i) => (x.status === 'fulfilled' ? [{ i, r: x.value }] : []));
    expect(ok).toHaveLength(1);
    for (const x of settled) if (x.status === 'rejected') expect(x.reason).toMatchObject({ code: 'session-answered' });
    // The winner's challenge still gets its r (a lost answer is asked again), from either service.
    expect(await b.answerWithdrawal(alice.accountId, s.sessionId, challenges[ok[0]!.i]!)).toBe(ok[0]!.r);
    expect((await a.accountView(alice.accountId)).balances).toEqual([{ currency: 'EUR', balance: 4500 }]);
    const audit = await b.audit();
    expect(audit.ok).toBe(true);
    expect(audit.keys[0]).toMatchObject({ issued: 1, outstandingBalance: 500 });
  });
});
