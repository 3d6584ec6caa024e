/**
 * The bank's HTTP API over real HTTP (startBankServer on a free port, BankClient and raw fetch),
 * on both storage adapters: accounts, cash-in, withdrawals of real coins (core blinds and
 * unblinds), deposits with every outcome, double spends with proofs that verify, who may read
 * what, statements and health. Every response is checked against docs/openapi/bank.json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fromHex,
  proofFromJson,
  seededRandom,
  systemRandom,
  toHex,
  verifyCoin,
  verifyDoubleSpendProof,
  blindWithdrawal,
  completeWithdrawal,
  type TranscriptJson,
} from '../../core/index.js';
import { BankError } from '../../host/bank-client/index.js';
import { openAccount } from '../core/fixtures.js';
import { ADAPTERS, type BankFixture, type Holder, newHolder, openingBody, pay, raw, startBank, withdrawCoin } from './http-fixture.js';
import { OpenApiFile, recordResponses } from '../helpers/openapi.js';

const recorded = recordResponses();

async function refused(p: Promise<unknown>, code: string, status: number): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, `expected ${code}`).toBeInstanceOf(BankError);
  expect({ code: (e as BankError).code, status: (e as BankError).status }).toEqual({ code, status });
}

describe.each(ADAPTERS)('bank HTTP API on $kind', ({ kind, available }) => {
  let bank: BankFixture;
  let alice: Holder;
  let bob: Holder;
  let shop1: BankFixture['anon'];
  let shop2: BankFixture['anon'];

  beforeAll(async () => {
    if (!available) return;
    bank = await startBank(kind);
    alice = await newHolder(bank, 'alice', 5000);
    bob = await newHolder(bank, 'bob', 0);
    shop1 = bank.anon.withToken((await bank.operator.addMerchant({ merchantId: 'shop-1', name: 'Shop One', feePerCoin: 5 })).credential);
    shop2 = bank.anon.withToken((await bank.operator.addMerchant({ merchantId: 'shop-2' })).credential);
  });
  afterAll(async () => {
    await bank?.dispose();
  });

  describe.skipIf(!available)('', () => {
    it('answers health and the public parameters without a credential', async () => {
      expect(await bank.anon.health()).toEqual({ status: 'ok', suite: bank.group.suite, storage: kind });
      const p = await bank.anon.parameters();
      expect(p.suite).toBe(bank.group.suite);
      expect(p.keys.map((k) => k.keyId).sort()).toEqual([toHex(bank.key.key.keyId), toHex(bank.small.key.keyId)].sort());
      expect(p.generators.g).toBe(toHex(bank.group.encode(bank.group.g)));
      expect(p.maxDepositBatch).toBe(1000);
    });

    it('opens an account only with a valid proof, once per I, and in the bank suite', async () => {
      const carol = openAccount(bank.group, 'carol', seededRandom(`carol-${kind}`));
      // The proof binds the holder's name: the same proof under another name does not verify.
      await refused(bank.anon.openAccount({ ...openingBody(bank.group, carol), holder: 'mallory' }), 'bad-account-opening', 400);
      await refused(bank.anon.openAccount({ ...openingBody(bank.group, carol), suite: 'p256-uprove' }), 'wrong-suite', 400);
      const opened = await bank.anon.openAccount(openingBody(bank.group, carol));
      expect(opened.holder).toBe('carol');
      expect(opened.depositorId).toBe(`account:${opened.accountId}`);
      expect(opened.z.map((z) => z.keyId).sort()).toEqual([toHex(bank.key.key.keyId), toHex(bank.small.key.keyId)].sort());
      await refused(bank.anon.openAccount(openingBody(bank.group, carol)), 'account-exists', 409);
      const view = await bank.anon.withToken(opened.credential).account(opened.accountId);
      expect(view).toMatchObject({ accountId: opened.accountId, holder: 'carol', balances: [] });
    });

    it('lets only an operator credit an account, and books it', async () => {
      await refused(alice.client.credit(alice.opened.accountId, { currency: 'EUR', amount: 1, reference: 'self' }), 'forbidden', 403);
      await refused(shop1.credit(alice.opened.accountId, { currency: 'EUR', amount: 1, reference: 'shop' }), 'forbidden', 403);
      await refused(bank.anon.credit(alice.opened.accountId, { currency: 'EUR', amount: 1, reference: 'anon' }), 'unauthorized', 401);
      await refused(bank.operator.credit('0'.repeat(24), { currency: 'EUR', amount: 1, reference: 'nobody' }), 'account-not-found', 404);
      const { entryId } = await bank.operator.credit(bob.opened.accountId, { currency: 'EUR', amount: 700, reference: 'cash at desk 3' });
      expect(entryId).toBeGreaterThan(0);
      const st = await bob.client.accountStatement(bob.opened.accountId);
      expect(st.entries[0]).toMatchObject({ entryId, kind: 'cash-in', reference: 'cash at desk 3' });
      expect((await bob.client.account(bob.opened.accountId)).balances).toEqual([{ currency: 'EUR', balance: 700 }]);
    });

    it('withdraws real coins, answering a lost answer again but never a second challenge', async () => {
      const G = bank.group;
      const before = (await alice.client.account(alice.opened.accountId)).balances[0]!.balance;
      const s = await alice.client.startWithdrawal(toHex(bank.key.key.keyId));
      expect(s.keyId).toBe(toHex(bank.key.key.keyId));
      // One open session per account.
      await refused(alice.client.startWithdrawal(toHex(bank.key.key.keyId)), 'session-open', 409);
      // Another account cannot answer (or learn of) alice's session.
      await refused(bob.client.answerWithdrawal(s.sessionId, toHex(G.scalars.encode(1n))), 'session-not-found', 404);
      await refused(bob.client.cancelWithdrawal(s.sessionId), 'session-not-found', 404);
      await refused(shop1.answerWithdrawal(s.sessionId, toHex(G.scalars.encode(1n))), 'forbidden', 403);
      const ctx = { key: bank.key.key, z: G.decode(fromHex(s.z)), I: alice.account.I };
      const p = blindWithdrawal(G, ctx, { a: G.decode(fromHex(s.a)), b: G.decode(fromHex(s.b)) }, systemRandom);
      const cHex = toHex(G.scalars.encode(p.c));
      const { r } = await alice.client.answerWithdrawal(s.sessionId, cHex);
      expect((await alice.client.answerWithdrawal(s.sessionId, cHex)).r).toBe(r);
      await refused(alice.client.answerWithdrawal(s.sessionId, toHex(G.scalars.encode(p.c + 1n))), 'session-answered', 409);
      const coin = completeWithdrawal(G, ctx, p, G.scalars.decode(fromHex(r)));
      expect(verifyCoin(G, bank.key.key, coin.coin)).toBe(true);
      // Debited once, although answered twice.
      expect((await alice.client.account(alice.opened.accountId)).balances).toEqual([{ currency: 'EUR', balance: before - 500 }]);
      const st = await alice.client.accountStatement(alice.opened.accountId, { limit: 1 });
      expect(st.entries).toHaveLength(1);
      expect(st.entries[0]!.kind).toBe('withdrawal');
      expect(st.next).toBe(st.entries[0]!.entryId);
    });

    it('cancels, expires and refuses withdrawals without funds or from the wrong party', async () => {
      const s = await alice.client.startWithdrawal(toHex(bank.small.key.keyId));
      await alice.client.cancelWithdrawal(s.sessionId);
      await refused(alice.client.answerWithdrawal(s.sessionId, toHex(bank.group.scalars.encode(5n))), 'session-cancelled', 409);
      await refused(alice.client.cancelWithdrawal(s.sessionId), 'session-not-found', 404);

      const t = await alice.client.startWithdrawal(toHex(bank.small.key.keyId));
      bank.clock.now += bank.service.sessionTtlMs + 1;
      try {
        await refused(alice.client.answerWithdrawal(t.sessionId, toHex(bank.group.scalars.encode(5n))), 'session-expired', 410);
      } finally {
        bank.clock.now -= bank.service.sessionTtlMs + 1;
      }

      const dora = await newHolder(bank, 'dora', 499);
      await refused(dora.client.startWithdrawal(toHex(bank.key.key.keyId)), 'insufficient-funds', 409);
      await refused(dora.client.startWithdrawal('ab'.repeat(32)), 'unknown-key', 400);
      await refused(shop1.startWithdrawal(toHex(bank.key.key.keyId)), 'forbidden', 403);
      await refused(bank.operator.startWithdrawal(toHex(bank.key.key.keyId)), 'forbidden', 403);
      await refused(bank.anon.startWithdrawal(toHex(bank.key.key.keyId)), 'unauthorized', 401);
      await refused(
        bank.anon.withToken(`ecash.${'0'.repeat(16)}.${'A'.repeat(43)}`).startWithdrawal(toHex(bank.key.key.keyId)),
        'unauthorized',
        401,
      );
      expect((await dora.client.account(dora.opened.accountId)).balances).toEqual([{ currency: 'EUR', balance: 499 }]);
    });

    it('deposits per coin: credited, replay, double spend with a proof, wrong merchant; idempotent by batch id', async () => {
      const c1 = await withdrawCoin(bank, alice);
      const c2 = await withdrawCoin(bank, alice);
      const c3 = await withdrawCoin(bank, alice);
      const t1 = pay(bank, alice, c1, 'shop-1');
      const t2 = pay(bank, alice, c2, 'shop-1');
      const forShop2 = pay(bank, alice, c3, 'shop-2');
      const batch = { suite: bank.group.suite, batchId: `b-${kind}-1`, transcripts: [t1, t2, forShop2, { nonsense: true }] };
      const res = await shop1.deposit(batch);
      expect(res.batchId).toBe(batch.batchId);
      expect(res.depositor).toBe('shop-1');
      expect(res.results.map((r) => r.outcome)).toEqual(['credited', 'credited', 'rejected', 'rejected']);
      expect(res.results[2]!.code).toBe('wrong-merchant');
      expect(res.results[3]!.code).toBe('bad-transcript');
      // Two coins of 500 less the merchant's fee of 5 each.
      expect(res.credited).toEqual([{ currency: 'EUR', balance: 990 }]);
      expect((await shop1.merchant('shop-1')).balances).toEqual([{ currency: 'EUR', balance: 990 }]);

      // The same batch again: the stored answer, nothing booked twice.
      expect(await shop1.deposit(batch)).toEqual(res);
      expect(await shop1.depositBatch(batch.batchId)).toEqual(res);
      await refused(shop1.deposit({ ...batch, transcripts: [t1] }), 'batch-id-reused', 409);
      await refused(shop2.depositBatch(batch.batchId), 'batch-not-found', 404);
      await refused(bank.operator.deposit({ ...batch, batchId: 'op' }), 'forbidden', 403);
      expect((await shop1.merchant('shop-1')).balances).toEqual([{ currency: 'EUR', balance: 990 }]);

      // The shop-2 coin is still good for shop-2; t1 again is a replay; c1 paid again is a double spend.
      const again = pay(bank, alice, c1, 'shop-1');
      const res2 = await shop2.deposit({ suite: bank.group.suite, batchId: `b-${kind}-2`, transcripts: [forShop2] });
      expect(res2.results).toEqual([{ outcome: 'credited' }]);
      const res3 = await shop1.deposit({ suite: bank.group.suite, batchId: `b-${kind}-3`, transcripts: [t1, again] });
      expect(res3.results[0]).toEqual({ outcome: 'replay' });
      expect(res3.results[1]).toMatchObject({ outcome: 'double-spend', code: 'double-spend' });
      const dsId = res3.results[1]!.doubleSpendId!;

      const all = await bank.operator.doubleSpends();
      const ds = all.doubleSpends.find((d) => d.doubleSpendId === dsId)!;
      expect(ds).toMatchObject({ accountId: alice.opened.accountId, holder: 'alice', depositor: 'shop-1', batchId: `b-${kind}-3` });
      // The proof stands on its own: anyone with the public key can check it names alice's I.
      const proof = proofFromJson(bank.group, JSON.parse(JSON.stringify(ds.proof)));
      expect(() => verifyDoubleSpendProof(bank.group, proof)).not.toThrow();
      expect(bank.group.equals(proof.I, alice.account.I)).toBe(true);

      expect((await shop1.doubleSpends()).doubleSpends.map((d) => d.doubleSpendId)).toContain(dsId);
      expect((await shop2.doubleSpends()).doubleSpends).toEqual([]);
      expect((await alice.client.doubleSpends()).doubleSpends).toEqual([]);
      const page = await bank.operator.doubleSpends({ limit: 1 });
      expect(page.doubleSpends).toHaveLength(1);
      expect(page.next).toBe(page.doubleSpends[0]!.doubleSpendId);
      expect((await bank.operator.doubleSpends({ after: page.next! })).doubleSpends.every((d) => d.doubleSpendId > page.next!)).toBe(true);

      // The batches, newest first, each with its per-coin results: every depositor's for the
      // operator, a depositor's own for it; paged by batch number.
      const [newest, second, third] = (await bank.operator.deposits()).deposits;
      expect([newest, second, third]).toEqual([res3, res2, res].map((b) => ({ batchNo: expect.any(Number), ...b })));
      expect(newest!.batchNo > second!.batchNo && second!.batchNo > third!.batchNo).toBe(true);
      expect((await shop1.deposits()).deposits.slice(0, 2).map((b) => b.batchId)).toEqual([res3.batchId, res.batchId]);
      expect((await shop1.deposits()).deposits.every((b) => b.depositor === 'shop-1')).toBe(true);
      expect((await shop2.deposits()).deposits.every((b) => b.depositor === 'shop-2')).toBe(true);
      expect((await alice.client.deposits()).deposits.every((b) => b.depositor.endsWith(alice.opened.accountId))).toBe(true);
      const first = await bank.operator.deposits({ limit: 1 });
      expect(first).toEqual({ deposits: [newest], next: newest!.batchNo });
      expect((await bank.operator.deposits({ before: first.next!, limit: 1 })).deposits).toEqual([second]);
      await refused(bank.anon.deposits(), 'unauthorized', 401);
      expect((await bank.service.audit()).ok).toBe(true);
    });

    it('lets an account holder deposit coins paid to its own depositor id', async () => {
      const c = await withdrawCoin(bank, bob);
      const before = (await bob.client.account(bob.opened.accountId)).balances[0]!.balance;
      const t = pay(bank, bob, c, bob.opened.depositorId);
      const res = await bob.client.deposit({ suite: bank.group.suite, batchId: 'own-1', transcripts: [t] });
      expect(res).toMatchObject({ depositor: bob.opened.depositorId, results: [{ outcome: 'credited' }] });
      expect((await bob.client.account(bob.opened.accountId)).balances).toEqual([{ currency: 'EUR', balance: before + 500 }]);
      expect(await bob.client.depositBatch('own-1')).toEqual(res);
    });

    it('shows each party only its own account, merchant and statement', async () => {
      await refused(shop1.merchant('shop-2'), 'forbidden', 403);
      await refused(shop1.merchantStatement('shop-2'), 'forbidden', 403);
      await refused(alice.client.merchant('shop-1'), 'forbidden', 403);
      await refused(shop1.account(alice.opened.accountId), 'forbidden', 403);
      await refused(bob.client.account(alice.opened.accountId), 'forbidden', 403);
      await refused(bob.client.accountStatement(alice.opened.accountId), 'forbidden', 403);
      await refused(bank.anon.account(alice.opened.accountId), 'unauthorized', 401);
      await refused(bank.operator.merchant('shop-9'), 'merchant-not-found', 404);
      await refused(bank.operator.accountStatement('f'.repeat(24)), 'account-not-found', 404);
      const m = await shop1.merchant('shop-1');
      expect(m).toMatchObject({ merchantId: 'shop-1', name: 'Shop One', feePerCoin: 5, scopes: [] });
      const st = await shop1.merchantStatement('shop-1');
      expect(st.entries.length).toBeGreaterThan(0);
      expect(st.entries.every((e) => e.kind === 'deposit')).toBe(true);
      expect((await bank.operator.merchantStatement('shop-1', { limit: 1 })).entries).toHaveLength(1);
      expect(await bank.operator.account(alice.opened.accountId)).toEqual(await alice.client.account(alice.opened.accountId));
    });

    it('adds merchants for operators only, once per id', async () => {
      await refused(shop1.addMerchant({ merchantId: 'shop-3' }), 'forbidden', 403);
      await refused(bank.operator.addMerchant({ merchantId: 'shop-1' }), 'merchant-exists', 409);
      await refused(bank.operator.addMerchant({ merchantId: 'account:x' }), 'bad-name', 400);
      await refused(bank.operator.addMerchant({ merchantId: 'shop-3', scopes: ['Bad Scope'] }), 'bad-scope', 400);
      const m = await bank.operator.addMerchant({ merchantId: 'shop-3', scopes: ['transit'], feePerCoin: 0 });
      expect(m.merchantId).toBe('shop-3');
      expect(await bank.anon.withToken(m.credential).merchant('shop-3')).toMatchObject({ scopes: ['transit'], balances: [] });
    });

    it('answers unknown paths, and every error as JSON without a stack', async () => {
      const r = await raw(bank, 'GET', '/v1/nothing');
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ error: { code: 'not-found', message: expect.any(String) } });
      expect((await bank.service.audit()).ok).toBe(true);
    });

    it('lists accounts and merchants with their balances and gives the audit, to an operator only', async () => {
      const accounts = await bank.operator.accounts();
      expect(accounts.accounts.map((a) => a.holder)).toEqual(expect.arrayContaining(['alice', 'bob']));
      expect(accounts.accounts.map((a) => a.accountId)).toEqual([...accounts.accounts.map((a) => a.accountId)].sort());
      const first = await bank.operator.accounts({ limit: 1 });
      expect(first.accounts).toHaveLength(1);
      const rest = await bank.operator.accounts({ after: first.next!, limit: 100 });
      expect([...first.accounts, ...rest.accounts].map((a) => a.accountId)).toEqual(accounts.accounts.map((a) => a.accountId));
      const merchants = await bank.operator.merchants();
      expect(merchants.merchants.find((m) => m.merchantId === 'shop-1')).toMatchObject({ name: 'Shop One', feePerCoin: 5 });
      const audit = await bank.operator.audit();
      expect(audit.ok).toBe(true);
      expect(audit.keys.length).toBeGreaterThan(0);
      for (const list of [() => alice.client.accounts(), () => shop1.merchants(), () => shop1.audit()])
        await refused(list(), 'forbidden', 403);
      await refused(bank.anon.audit(), 'unauthorized', 401);
      await refused(bank.operator.accounts({ after: 'nothex' }), 'bad-request', 400);
    });
  });
});

describe('bank HTTP API without its database', () => {
  it('answers health with 503 database-unavailable once the database is gone, and no detail of it', async () => {
    const bank = await startBank('sqlite');
    try {
      expect((await bank.anon.health()).status).toBe('ok');
      await bank.storage.close();
      const e = await bank.anon.health().then(
        () => undefined,
        (x: unknown) => x as BankError,
      );
      expect(e).toBeInstanceOf(BankError);
      expect({ status: e!.status, code: e!.code }).toEqual({ status: 503, code: 'database-unavailable' });
      expect(e!.message).not.toMatch(/connection|sqlite|\.db/i);
    } finally {
      await bank.dispose();
    }
  });
});

describe('bank HTTP API with two worker threads', () => {
  it('withdraws with offers made in the threads (each answer checked by the card) and verifies a deposit there with the same outcomes', async () => {
    const bank = await startBank('sqlite', { workerThreads: 2 });
    try {
      expect(bank.service.workerThreads).toBe(2);
      const h = await newHolder(bank, 'erin', 2000);
      const shop = bank.anon.withToken((await bank.operator.addMerchant({ merchantId: 'shop-w' })).credential);
      const coins = [await withdrawCoin(bank, h), await withdrawCoin(bank, h), await withdrawCoin(bank, h)];
      const ts = coins.map((c) => pay(bank, h, c, 'shop-w'));
      const bad = { ...ts[0]!, r1: ts[1]!.r1 };
      const res = await shop.deposit({ suite: bank.group.suite, batchId: 'w1', transcripts: [...ts, bad] });
      expect(res.results.map((r) => r.outcome)).toEqual(['credited', 'credited', 'credited', 'rejected']);
      expect(res.results[3]!.code).toBe('invalid-transcript');
      expect((await bank.service.audit()).ok).toBe(true);
    } finally {
      await bank.dispose();
    }
  });

  it('splits a large batch between the threads and puts every result back in its place', async () => {
    const bank = await startBank('sqlite', { workerThreads: 2 });
    try {
      const n = 70; // two slices of 35 (a batch splits from 2 × 32 transcripts)
      const h = await newHolder(bank, 'fay', n * bank.key.key.value);
      const shop = bank.anon.withToken((await bank.operator.addMerchant({ merchantId: 'shop-s' })).credential);
      const ts: TranscriptJson[] = [];
      for (let i = 0; i < n; i++) ts.push(pay(bank, h, await withdrawCoin(bank, h), 'shop-s'));
      // One bad transcript in each slice, at positions only an in-order reassembly gets right.
      const batch = ts.map((t, i) => (i === 5 || i === 50 ? { ...t, r1: ts[(i + 1) % n]!.r1 } : t));
      const res = await shop.deposit({ suite: bank.group.suite, batchId: 'split', transcripts: batch });
      expect(res.results.flatMap((r, i) => (r.outcome === 'credited' ? [] : [[i, r.code]]))).toEqual([
        [5, 'invalid-transcript'],
        [50, 'invalid-transcript'],
      ]);
      expect(res.credited).toEqual([{ currency: 'EUR', balance: (n - 2) * bank.key.key.value }]);
    } finally {
      await bank.dispose();
    }
  });
});

describe('responses against docs/openapi/bank.json', () => {
  it('match the documented schemas, and the tests above reach every operation', () => {
    const spec = new OpenApiFile('bank');
    // Every operation answered at least once: answers that stop being recorded (as when the
    // client moved off fetch) cannot pass for a check.
    expect(spec.validateRecorded(recorded)).toEqual(spec.operations());
  });
});
