/**
 * One storage suite, run on both adapters (an SQLite file, and PostgreSQL in a schema of its own
 * per test): the BankStorage contract directly and through BankService in process. Every money
 * rule is checked where it lives (inside the database transaction), and the audit is shown to
 * catch a row edited behind the bank's back.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DenominationSecret, getGroup, systemRandom } from '../../core/index.js';
import { KeyFile, memoryKeyStore, type BankKeyStore } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { type BankStorage, openStorage } from '../../host/bank/storage/index.js';
import { bankKey, DEPOSIT_UNTIL, PAYMENT_TIME, terms, WITHDRAW_UNTIL } from '../core/fixtures.js';
import { adapters, depositorParty, hex, newAccount, pay, testDb, type TestDb, withdrawCoin } from './helpers.js';

const G = getGroup('ristretto255-sha512');
const PASSPHRASE = 'correct horse battery staple';
/**
 * Schema versions of each adapter (the migrations of sqlite.ts and postgres.ts; PostgreSQL's 5th:
 * shared rate limits; the last of each: deposit batches numbered).
 */
const SCHEMA_VERSION = { sqlite: 5, postgres: 6 };

describe.each(adapters())('bank storage on $kind', ({ kind, available }) => {
  let db: TestDb;
  let clock: number;
  const open: { close(): Promise<void> }[] = [];

  beforeEach(() => {
    clock = PAYMENT_TIME;
    if (available) db = testDb(kind);
  });

  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
    if (available) await db.dispose();
  });

  async function storage(): Promise<BankStorage> {
    const s = await openStorage(db.url);
    open.push(s);
    return s;
  }

  async function bank(
    keys: BankKeyStore | DenominationSecret[],
    opts: { sessionTtlMs?: number } = {},
  ): Promise<{ svc: BankService; storage: BankStorage }> {
    const st = await storage();
    const store = Array.isArray(keys) ? memoryKeyStore(G.suite, keys) : keys;
    const svc = await BankService.create({ storage: st, keys: store, workerThreads: 0, now: () => clock, ...opts });
    open.push(svc);
    return { svc, storage: st };
  }

  it.skipIf(!available)('migrates idempotently and keeps data across reopening', async () => {
    const key = bankKey(G, systemRandom);
    const first = await bank([key]);
    await first.storage.migrate();
    await first.storage.migrate();
    const alice = await newAccount(first.svc, G, 'alice');
    await first.svc.cashIn(alice.accountId, 'EUR', 700, 'opening cash');
    const again = await storage();
    await again.migrate();
    expect((await again.getAccount(alice.accountId))?.holder).toBe('alice');
    expect(await again.balances(`holder:${alice.accountId}`)).toEqual([{ currency: 'EUR', balance: 700 }]);
    expect((await again.listKeys()).map((k) => hex(k.keyId))).toEqual([hex(key.key.keyId)]);
    // Exactly one schema version was recorded, however often migrate ran.
    if (kind === 'sqlite')
      expect((await db.raw<{ user_version: number }>('PRAGMA user_version'))[0]!.user_version).toBe(SCHEMA_VERSION.sqlite);
    else expect((await db.raw<{ n: string }>('SELECT COUNT(*) AS n FROM schema_migrations'))[0]!.n).toBe(String(SCHEMA_VERSION.postgres));
  });

  it.skipIf(!available)('fixes the suite at the first initialisation and refuses another', async () => {
    const st = await storage();
    expect(await st.getSuite()).toBeUndefined();
    expect(await st.initSuite('ristretto255-sha512')).toBe('ristretto255-sha512');
    expect(await st.initSuite('ristretto255-sha512')).toBe('ristretto255-sha512');
    await expect(st.initSuite('p256-uprove')).rejects.toMatchObject({ code: 'wrong-suite' });
    const P = getGroup('p256-uprove');
    await expect(
      BankService.create({ storage: st, keys: memoryKeyStore(P.suite, [bankKey(P, systemRandom)]), workerThreads: 0 }),
    ).rejects.toMatchObject({
      code: 'wrong-suite',
    });
  });

  it.skipIf(!available)('registers keys once, in order, and lists them', async () => {
    const k1 = bankKey(G, systemRandom, 100);
    const k2 = bankKey(G, systemRandom, 200);
    const { svc, storage: st } = await bank([k1, k2]);
    const keys = await st.listKeys();
    expect(keys.map((k) => [hex(k.keyId), k.value, k.currency])).toEqual([
      [hex(k1.key.keyId), 100, 'EUR'],
      [hex(k2.key.keyId), 200, 'EUR'],
    ]);
    const again = await st.registerKey({ ...keys[0]!, keyId: k1.key.keyId });
    expect(again.keyNo).toBe(keys[0]!.keyNo);
    expect(await st.listKeys()).toHaveLength(2);
    expect(svc.parameters().keys.map((k) => k.keyId)).toEqual([hex(k1.key.keyId), hex(k2.key.keyId)]);
  });

  it.skipIf(!available)('opens one account per I, with a valid opening proof only', async () => {
    const { svc, storage: st } = await bank([bankKey(G, systemRandom)]);
    const alice = await newAccount(svc, G, 'alice');
    expect((await svc.accountView(alice.accountId)).balances).toEqual([]);
    await expect(svc.openAccount('alice', alice.account.I, alice.account.opening.proof)).rejects.toMatchObject({ code: 'account-exists' });
    // The proof binds the holder's name: the same proof for another name does not verify.
    const bob = await newAccount(svc, G, 'bob');
    await expect(
      st.createAccount({ accountId: 'x', holder: 'mallory', I: G.encode(bob.account.I), createdAt: clock }),
    ).rejects.toMatchObject({ code: 'account-exists' });
    const { account } = await newAccount(svc, G, 'carol');
    await expect(svc.openAccount('dave', account.I, account.opening.proof)).rejects.toMatchObject({ code: 'bad-account-opening' });
    await expect(svc.accountView('nope')).rejects.toMatchObject({ code: 'account-not-found' });
    await expect(svc.cashIn('nope', 'EUR', 5, 'x')).rejects.toMatchObject({ code: 'account-not-found' });
    await expect(svc.cashIn(alice.accountId, 'EUR', 0, 'x')).rejects.toMatchObject({ code: 'bad-amount' });
  });

  it.skipIf(!available)('withdrawal sessions: one open per account, expiry, answers once', async () => {
    const key = bankKey(G, systemRandom, 500);
    const { svc, storage: st } = await bank([key], { sessionTtlMs: 60_000 });
    const alice = await newAccount(svc, G, 'alice');
    await expect(svc.startWithdrawal(alice.accountId, key.key.keyId)).rejects.toMatchObject({ code: 'insufficient-funds' });
    await svc.cashIn(alice.accountId, 'EUR', 1000, 'cash');

    // One open session per account.
    const s1 = await svc.startWithdrawal(alice.accountId, key.key.keyId);
    await expect(svc.startWithdrawal(alice.accountId, key.key.keyId)).rejects.toMatchObject({ code: 'session-open' });

    // Expiry closes the session, which cannot answer then.
    const state = async (sessionId: string) =>
      (await db.raw<{ state: string }>('SELECT state FROM withdrawal_sessions WHERE session_id = ?', [sessionId]))[0]!.state;
    clock += 60_000;
    expect(await st.expireSessions(clock)).toBe(1);
    expect(await state(s1.sessionId)).toBe('expired');
    await expect(svc.answerWithdrawal(alice.accountId, s1.sessionId, 5n)).rejects.toMatchObject({ code: 'session-expired' });

    // A session past its expiry that the sweeper has not seen yet: answering expires it, and a
    // new start replaces it.
    const s2 = await svc.startWithdrawal(alice.accountId, key.key.keyId);
    clock += 60_001;
    await expect(svc.answerWithdrawal(alice.accountId, s2.sessionId, 5n)).rejects.toMatchObject({ code: 'session-expired' });
    expect(await state(s2.sessionId)).toBe('expired');
    const s3 = await svc.startWithdrawal(alice.accountId, key.key.keyId);
    clock += 60_001;
    const s4 = await svc.startWithdrawal(alice.accountId, key.key.keyId);
    expect(await state(s3.sessionId)).toBe('expired');

    // Answer once: the same c gives the same r (a lost answer), another c is refused, one debit.
    await expect(
      svc.answerWithdrawal(
        alice.accountId,
        s4.sessionId.replace(/^./, (c) => (c === '0' ? '1' : '0')),
        7n,
      ),
    ).rejects.toMatchObject({
      code: 'session-not-found',
    });
    const bob = await newAccount(svc, G, 'bob');
    await expect(svc.answerWithdrawal(bob.accountId, s4.sessionId, 7n)).rejects.toMatchObject({ code: 'session-not-found' });
    const r = await svc.answerWithdrawal(alice.accountId, s4.sessionId, 7n);
    expect(await svc.answerWithdrawal(alice.accountId, s4.sessionId, 7n)).toBe(r);
    await expect(svc.answerWithdrawal(alice.accountId, s4.sessionId, 8n)).rejects.toMatchObject({ code: 'session-answered' });
    expect(await state(s4.sessionId)).toBe('answered');
    expect((await svc.accountView(alice.accountId)).balances).toEqual([{ currency: 'EUR', balance: 500 }]);

    // Cancel: the session no longer answers, a second cancel finds nothing.
    const s5 = await svc.startWithdrawal(alice.accountId, key.key.keyId);
    await expect(svc.cancelWithdrawal(bob.accountId, s5.sessionId)).rejects.toMatchObject({ code: 'session-not-found' });
    await svc.cancelWithdrawal(alice.accountId, s5.sessionId);
    await expect(svc.cancelWithdrawal(alice.accountId, s5.sessionId)).rejects.toMatchObject({ code: 'session-not-found' });
    await expect(svc.answerWithdrawal(alice.accountId, s5.sessionId, 7n)).rejects.toMatchObject({ code: 'session-cancelled' });
    expect(await state(s5.sessionId)).toBe('cancelled');

    // Spend the rest, then the start is refused; and an answer without funds is refused even for
    // a session that is open (the balance is checked again inside the answer's transaction, before
    // r is computed): here one written straight into the table. It stays open, unanswered.
    await withdrawCoin(svc, G, alice.account, alice.accountId, key);
    await expect(svc.startWithdrawal(alice.accountId, key.key.keyId)).rejects.toMatchObject({ code: 'insufficient-funds' });
    const keyNo = (await st.listKeys())[0]!.keyNo;
    const direct = { accountId: alice.accountId, keyNo, a: G.encode(G.g), b: G.encode(G.g), createdAt: clock, expiresAt: clock + 1000 };
    await db.raw(
      "INSERT INTO withdrawal_sessions (session_id, account_id, key_no, state, a, b, created_at, expires_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?)",
      ['direct', direct.accountId, keyNo, Buffer.from(direct.a), Buffer.from(direct.b), direct.createdAt, direct.expiresAt],
    );
    await expect(svc.answerWithdrawal(alice.accountId, 'direct', 7n)).rejects.toMatchObject({ code: 'insufficient-funds' });
    expect(
      await db.raw<{ state: string; r: unknown }>('SELECT state, r FROM withdrawal_sessions WHERE session_id = ?', ['direct']),
    ).toEqual([{ state: 'open', r: null }]);
    expect((await svc.accountView(alice.accountId)).balances).toEqual([{ currency: 'EUR', balance: 0 }]);
    expect((await svc.audit()).ok).toBe(true);
  });

  it.skipIf(!available)(
    'deposits: credited, replayed, double spent (with the account), idempotent by batch, rejected per coin',
    async () => {
      const key = bankKey(G, systemRandom, 500);
      const { svc } = await bank([key]);
      const alice = await newAccount(svc, G, 'alice');
      await svc.cashIn(alice.accountId, 'EUR', 1500, 'cash');
      const coins = [];
      for (let i = 0; i < 3; i++) coins.push(await withdrawCoin(svc, G, alice.account, alice.accountId, key));
      const shop = await depositorParty(svc, (await svc.addMerchant({ merchantId: 'shop-1' })).credential);
      const other = await depositorParty(svc, (await svc.addMerchant({ merchantId: 'shop-2' })).credential);
      await expect(svc.addMerchant({ merchantId: 'shop-1' })).rejects.toMatchObject({ code: 'merchant-exists' });

      const t = coins.map((c) => pay(G, alice.account, c, 'shop-1'));
      const toOther = pay(G, alice.account, coins[2]!, 'shop-2');
      const b1 = await svc.deposit(shop, 'b1', [t[0], t[1], { nonsense: true }, toOther]);
      expect(b1.results.map((r) => [r.outcome, 'code' in r ? r.code : undefined])).toEqual([
        ['credited', undefined],
        ['credited', undefined],
        ['rejected', 'bad-transcript'],
        ['rejected', 'wrong-merchant'],
      ]);
      expect(b1.credited).toEqual([{ currency: 'EUR', balance: 1000 }]);

      // The same batch again: the stored result, nothing credited twice; other contents: refused.
      expect(await svc.deposit(shop, 'b1', [t[0], t[1], { nonsense: true }, toOther])).toEqual(b1);
      await expect(svc.deposit(shop, 'b1', [t[2]])).rejects.toMatchObject({ code: 'batch-id-reused' });
      expect((await svc.getDepositBatch(shop, 'b1')).results).toEqual(b1.results);
      expect((await svc.merchantView('shop-1')).balances).toEqual([{ currency: 'EUR', balance: 1000 }]);

      // The same transcript in a new batch is a replay; the same coin paid again is a double spend
      // that names alice's account, and depositing that same second transcript again names the
      // same record. The other merchant's copy of coin 2 is a double spend too (after shop-1's).
      const again = pay(G, alice.account, coins[0]!, 'shop-1');
      const b2 = await svc.deposit(shop, 'b2', [t[0], again, t[2], again]);
      expect(b2.results.map((r) => r.outcome)).toEqual(['replay', 'double-spend', 'credited', 'double-spend']);
      const ds = b2.results[1]!;
      expect(ds.outcome === 'double-spend' && ds.doubleSpendId === (b2.results[3] as typeof ds).doubleSpendId).toBe(true);
      const b3 = await svc.deposit(other, 'b1', [toOther]);
      expect(b3.results[0]!.outcome).toBe('double-spend');
      expect(b3.credited).toEqual([]);

      const all = await svc.listDoubleSpends(await svc.authenticate((await svc.addOperator('ops')).credential), undefined, 10);
      expect(all.doubleSpends.map((d) => [d.accountId, d.holder, d.depositor])).toEqual([
        [alice.accountId, 'alice', 'shop-1'],
        [alice.accountId, 'alice', 'shop-2'],
      ]);
      expect((await svc.listDoubleSpends(other, undefined, 10)).doubleSpends).toHaveLength(1);
      // The batches newest first with their per-coin results: all for an operator, its own for a shop.
      const ops = await svc.authenticate((await svc.addOperator('ops-2')).credential);
      const batches = await svc.listDepositBatches(ops, undefined, 10);
      expect(batches.deposits).toEqual([b3, b2, b1].map((b) => ({ batchNo: expect.any(Number), ...b })));
      expect((await svc.listDepositBatches(other, undefined, 10)).deposits.map((b) => b.batchId)).toEqual(['b1']);
      expect(await svc.listDepositBatches(ops, batches.deposits[0]!.batchNo, 2)).toEqual({
        deposits: batches.deposits.slice(1),
        next: batches.deposits[2]!.batchNo,
      });
      expect((await svc.merchantView('shop-1')).balances).toEqual([{ currency: 'EUR', balance: 1500 }]);
      expect((await svc.merchantView('shop-2')).balances).toEqual([]);

      // An account holder deposits its own coins under its depositor id; unknown keys are rejected.
      const foreign = bankKey(G, systemRandom, 500);
      const forged = pay(
        G,
        alice.account,
        { coin: { ...coins[0]!.coin, keyId: foreign.key.keyId }, secrets: coins[0]!.secrets },
        `account:${alice.accountId}`,
      );
      const own = await svc.deposit(await depositorParty(svc, alice.credential), 'own-1', [forged]);
      expect(own.results[0]).toMatchObject({ outcome: 'rejected', code: 'unknown-key' });
      await expect(svc.deposit(shop, 'empty', [])).rejects.toMatchObject({ code: 'bad-batch' });
      const audit = await svc.audit();
      expect(audit).toMatchObject({ ok: true, problems: [] });
      expect(audit.keys[0]).toMatchObject({ issued: 3, deposited: 3, outstanding: 0, outstandingBalance: 0 });
    },
  );

  it.skipIf(!available)('books the fee per coin to the fee account', async () => {
    const key = bankKey(G, systemRandom, 200);
    const { svc, storage: st } = await bank([key]);
    const alice = await newAccount(svc, G, 'alice');
    await svc.cashIn(alice.accountId, 'EUR', 400, 'cash');
    const c1 = await withdrawCoin(svc, G, alice.account, alice.accountId, key);
    const c2 = await withdrawCoin(svc, G, alice.account, alice.accountId, key);
    const shop = await depositorParty(svc, (await svc.addMerchant({ merchantId: 'shop-fee', feePerCoin: 3 })).credential);
    const b = await svc.deposit(shop, 'b', [pay(G, alice.account, c1, 'shop-fee'), pay(G, alice.account, c2, 'shop-fee')]);
    expect(b.credited).toEqual([{ currency: 'EUR', balance: 394 }]);
    expect(await st.balances('merchant:shop-fee')).toEqual([{ currency: 'EUR', balance: 394 }]);
    expect(await st.balances('fees')).toEqual([{ currency: 'EUR', balance: 6 }]);
    expect(await st.balances(`outstanding:${hex(key.key.keyId)}`)).toEqual([{ currency: 'EUR', balance: 0 }]);
    const entry = (await svc.merchantStatement('shop-fee', undefined, 10)).entries[0]!;
    expect(entry.kind).toBe('deposit');
    expect(entry.postings).toEqual([
      { account: 'fees', currency: 'EUR', amount: 6 },
      { account: 'merchant:shop-fee', currency: 'EUR', amount: 394 },
      { account: `outstanding:${hex(key.key.keyId)}`, currency: 'EUR', amount: -400 },
    ]);
    expect((await svc.audit()).ok).toBe(true);
    await expect(svc.addMerchant({ merchantId: 'neg', feePerCoin: -1 })).rejects.toMatchObject({ code: 'bad-amount' });
  });

  it.skipIf(!available)('revokes a credential for good: refused from then on, on a second revocation too', async () => {
    const { svc } = await bank([bankKey(G, systemRandom)]);
    const alice = await newAccount(svc, G, 'alice');
    const shop = await svc.addMerchant({ merchantId: 'shop-r' });
    await svc.authenticate(alice.credential); // now in the credential cache
    const id = alice.credential.split('.')[1]!;
    const first = await svc.revokeCredential(id);
    expect(first).toMatchObject({ credentialId: id, kind: 'account', partyId: alice.accountId, revokedAt: clock });
    await expect(svc.authenticate(alice.credential)).rejects.toMatchObject({ code: 'unauthorized' });
    clock += 1000;
    expect((await svc.revokeCredential(id)).revokedAt).toBe(first.revokedAt);
    expect((await svc.authenticate(shop.credential)).kind).toBe('merchant');
    await expect(svc.revokeCredential('0123456789abcdef')).rejects.toMatchObject({ code: 'credential-not-found' });
    await expect(svc.revokeCredential(alice.credential)).rejects.toMatchObject({ code: 'bad-credential-id' });
  });

  it.skipIf(!available)('pages statements from the newest entry back', async () => {
    const { svc, storage: st } = await bank([bankKey(G, systemRandom)]);
    const alice = await newAccount(svc, G, 'alice');
    const bob = await newAccount(svc, G, 'bob');
    for (let i = 1; i <= 5; i++) {
      await svc.cashIn(alice.accountId, 'EUR', i, `ref-${i}`);
      await svc.cashIn(bob.accountId, 'EUR', 10 * i, `bob-${i}`);
    }
    const seen: string[] = [];
    let before: number | undefined;
    for (let page = 0; page < 5; page++) {
      const s = await svc.accountStatement(alice.accountId, before, 2);
      seen.push(...s.entries.map((e) => e.reference));
      expect(s.entries.length).toBeLessThanOrEqual(2);
      if (s.next === undefined) break;
      before = s.next;
    }
    expect(seen).toEqual(['ref-5', 'ref-4', 'ref-3', 'ref-2', 'ref-1']);
    expect(await st.statement({ account: 'cash', limit: 100 })).toHaveLength(10);
    // A party with no entries gets an empty page; one that does not exist, an error.
    expect(await svc.accountStatement(bob.accountId, 1, 10)).toEqual({ entries: [] });
    await expect(svc.accountStatement('0'.repeat(24), undefined, 10)).rejects.toMatchObject({ code: 'account-not-found' });
    await expect(svc.merchantStatement('nobody', undefined, 10)).rejects.toMatchObject({ code: 'merchant-not-found' });
  });

  it.skipIf(!available)('audits a mixed history as balanced and reports a tampered row', async () => {
    const k1 = bankKey(G, systemRandom, 100);
    const k2 = bankKey(G, systemRandom, 500, 'USD');
    const { svc, storage: st } = await bank([k1, k2]);
    const alice = await newAccount(svc, G, 'alice');
    await svc.cashIn(alice.accountId, 'EUR', 300, 'cash');
    await svc.cashIn(alice.accountId, 'USD', 1000, 'cash');
    const e1 = await withdrawCoin(svc, G, alice.account, alice.accountId, k1);
    const e2 = await withdrawCoin(svc, G, alice.account, alice.accountId, k1);
    const u1 = await withdrawCoin(svc, G, alice.account, alice.accountId, k2);
    await withdrawCoin(svc, G, alice.account, alice.accountId, k2);
    const shop = await depositorParty(svc, (await svc.addMerchant({ merchantId: 'shop', feePerCoin: 1 })).credential);
    await svc.deposit(shop, 'b1', [pay(G, alice.account, e1, 'shop'), pay(G, alice.account, u1, 'shop')]);
    await svc.deposit(shop, 'b2', [pay(G, alice.account, e1, 'shop'), pay(G, alice.account, e2, 'shop')]);
    const own = await depositorParty(svc, alice.credential);
    await svc.deposit(own, 'r1', [pay(G, alice.account, e2, `account:${alice.accountId}`)]);

    const ok = await svc.audit();
    expect(ok.problems).toEqual([]);
    expect(ok.totals).toEqual([
      { currency: 'EUR', balance: 0 },
      { currency: 'USD', balance: 0 },
    ]);
    expect(ok.keys.map((k) => [k.currency, k.issued, k.deposited, k.outstanding, k.outstandingBalance])).toEqual([
      ['EUR', 2, 2, 0, 0],
      ['USD', 2, 1, 1, 500],
    ]);

    // Someone with database access adds 50 to alice's EUR balance.
    await db.raw("UPDATE ledger_balances SET balance = balance + 50 WHERE account = ? AND currency = 'EUR'", [`holder:${alice.accountId}`]);
    const tampered = await svc.audit();
    expect(tampered.ok).toBe(false);
    expect(tampered.problems).toEqual([
      `balance of holder:${alice.accountId} in EUR is 1.50 EUR but its postings sum to 1.00 EUR`,
      'all EUR balances sum to 0.50 EUR, not 0.00 EUR',
    ]);
    // And deletes a spent coin (so it could be deposited again): the key's books no longer agree.
    await db.raw("UPDATE ledger_balances SET balance = balance - 50 WHERE account = ? AND currency = 'EUR'", [`holder:${alice.accountId}`]);
    await db.raw('DELETE FROM spent_coins WHERE key_no = ?', [(await st.listKeys())[1]!.keyNo]);
    const deleted = await svc.audit();
    expect(deleted.ok).toBe(false);
    expect(deleted.problems).toEqual([
      `key ${hex(k2.key.keyId)}: issued 2 coins of 5.00 USD, deposited 0, but the outstanding liability is 5.00 USD (expected 10.00 USD)`,
    ]);
  });

  it.skipIf(!available)(
    'rotates keys through the key file with withdraw and deposit windows; secrets never reach the database',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ecash-keys-'));
      try {
        const path = join(dir, 'bank.keys');
        const file = KeyFile.create(path, PASSPHRASE, G.suite, [terms(500)]);
        expect(() => KeyFile.create(path, PASSPHRASE, G.suite, [])).toThrow(expect.objectContaining({ code: 'keyfile-exists' }));
        expect(() => KeyFile.create(join(dir, 'weak.keys'), 'short', G.suite, [])).toThrow(
          expect.objectContaining({ code: 'weak-passphrase' }),
        );
        expect(() => KeyFile.open(path, 'not the passphrase!')).toThrow(expect.objectContaining({ code: 'keyfile-locked' }));
        expect(() => KeyFile.open(join(dir, 'missing.keys'), PASSPHRASE)).toThrow(expect.objectContaining({ code: 'keyfile-missing' }));

        // Rotation: the next key is withdrawable from the old one's end; both deposit meanwhile.
        const next = file.addKey({
          value: 500,
          currency: 'EUR',
          withdrawFrom: WITHDRAW_UNTIL,
          withdrawUntil: WITHDRAW_UNTIL + 365 * 86_400_000,
          depositUntil: DEPOSIT_UNTIL + 365 * 86_400_000,
          scope: '',
        });
        const reopened = KeyFile.open(path, PASSPHRASE);
        const secrets = reopened.loadSecrets();
        expect(secrets.map((s) => hex(s.key.keyId))).toEqual([reopened.publicKeys()[0]!.keyId, hex(next.key.keyId)]);
        const [old] = secrets as [DenominationSecret, DenominationSecret];

        const { svc } = await bank(reopened);
        const alice = await newAccount(svc, G, 'alice');
        await svc.cashIn(alice.accountId, 'EUR', 2000, 'cash');
        await expect(svc.startWithdrawal(alice.accountId, next.key.keyId)).rejects.toMatchObject({ code: 'key-not-withdrawable' });
        const oldCoin = await withdrawCoin(svc, G, alice.account, alice.accountId, old);
        const oldCoin2 = await withdrawCoin(svc, G, alice.account, alice.accountId, old);
        clock = WITHDRAW_UNTIL + 1;
        await expect(svc.startWithdrawal(alice.accountId, old.key.keyId)).rejects.toMatchObject({ code: 'key-not-withdrawable' });
        const newCoin = await withdrawCoin(svc, G, alice.account, alice.accountId, next);
        const shop = await depositorParty(svc, (await svc.addMerchant({ merchantId: 'shop' })).credential);
        const b = await svc.deposit(shop, 'b', [pay(G, alice.account, oldCoin, 'shop'), pay(G, alice.account, newCoin, 'shop')]);
        expect(b.results.map((r) => r.outcome)).toEqual(['credited', 'credited']);
        clock = DEPOSIT_UNTIL + 1;
        const late = await svc.deposit(shop, 'late', [pay(G, alice.account, oldCoin2, 'shop')]);
        expect(late.results[0]).toMatchObject({ outcome: 'rejected', code: 'key-expired' });
        expect(svc.parameters().keys.map((k) => k.keyId)).toEqual([hex(next.key.keyId)]);
        expect((await svc.audit()).ok).toBe(true);

        // The public part is the cipher's associated data: editing it breaks the seal.
        const edited = JSON.parse(readFileSync(path, 'utf8')) as { keys: { value: number }[] };
        edited.keys[0]!.value = 50_000;
        const editedPath = join(dir, 'edited.keys');
        writeFileSync(editedPath, JSON.stringify(edited));
        expect(() => KeyFile.open(editedPath, PASSPHRASE)).toThrow(expect.objectContaining({ code: 'keyfile-locked' }));
        writeFileSync(editedPath, 'not json');
        expect(() => KeyFile.open(editedPath, PASSPHRASE)).toThrow(expect.objectContaining({ code: 'bad-keyfile' }));

        // No secret x, in bytes or hex, anywhere in the database.
        for (const o of open.splice(0).reverse()) await o.close();
        const needles = secrets.flatMap((s) => {
          const bytes = Buffer.from(G.scalars.encode(s.x));
          return [bytes, Buffer.from(bytes.toString('hex'), 'latin1'), Buffer.from(bytes.toString('hex').toUpperCase(), 'latin1')];
        });
        let haystack: Buffer;
        if (kind === 'sqlite') {
          const files = [db.file!, `${db.file}-wal`].filter((f) => existsSync(f));
          haystack = Buffer.concat(files.map((f) => readFileSync(f)));
          // The database holds the public keys: the search would find them, so it can find x too.
          expect(haystack.includes(Buffer.from(hex(next.key.keyId), 'latin1'))).toBe(true);
        } else {
          const tables = await db.raw<{ t: string }>(
            "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
          );
          const dumps = [];
          for (const { t } of tables) dumps.push(...(await db.raw<{ row: string }>(`SELECT x::text AS row FROM ${t} x`)).map((r) => r.row));
          haystack = Buffer.from(dumps.join('\n'), 'latin1');
          expect(haystack.includes(Buffer.from(hex(next.key.keyId), 'latin1'))).toBe(true);
        }
        for (const n of needles) expect(haystack.includes(n)).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
