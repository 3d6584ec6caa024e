/**
 * Upgrading a bank's database, on both adapters: a database made by the first schema version,
 * with the rows the bank of that version wrote (spent coins and double spends keyed by A,
 * withdrawal sessions with w), is opened by this version and must keep every coin, record and
 * answer, under the new keys, and lose every w.
 */
import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeTranscript,
  getGroup,
  identifyDoubleSpender,
  keyToJson,
  proofFromJson,
  seededRandom,
  toHex,
  transcriptCoinId,
  transcriptToJson,
  verifyDoubleSpendProof,
} from '../../core/index.js';
import { memoryKeyStore } from '../../host/bank/keyfile.js';
import { BankService, type DepositingParty, type Party } from '../../host/bank/service.js';
import { openStorage } from '../../host/bank/storage/index.js';
import { POSTGRES_MIGRATIONS } from '../../host/bank/storage/postgres.js';
import { SQLITE_MIGRATIONS } from '../../host/bank/storage/sqlite.js';
import { bankKey, openAccount, PAYMENT_TIME, paymentContext, spend, withdraw } from '../core/fixtures.js';
import { adapters, testDb, type TestDb } from './helpers.js';

const G = getGroup('ristretto255-sha512');
const rng = seededRandom('bank migrations');
const key = bankKey(G, rng, 500);
const alice = openAccount(G, 'alice', rng);
const ALICE = 'a1'.repeat(12);
const merchant = (merchantId: string): DepositingParty => ({
  kind: 'merchant',
  credentialId: `c-${merchantId}`,
  merchantId,
  scopes: [],
  feePerCoin: 0,
});
const operator: Party = { kind: 'operator', credentialId: 'c-ops' };

describe.each(adapters())('bank schema migrations on $kind', ({ kind, available }) => {
  let db: TestDb;
  const closers: { close(): Promise<void> }[] = [];

  beforeEach(() => {
    if (available) db = testDb(kind);
  });

  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c.close();
    if (available) await db.dispose();
  });

  /** An empty database of schema version 1, as the bank of that version created it. */
  async function versionOne(): Promise<void> {
    if (kind === 'sqlite') {
      const raw = new Database(db.file!);
      raw.pragma('journal_mode = WAL');
      raw.exec(SQLITE_MIGRATIONS[0]!);
      raw.pragma('user_version = 1');
      raw.close();
      return;
    }
    await db.raw(`CREATE SCHEMA ${db.schema}`);
    await db.raw('CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)');
    await db.raw(POSTGRES_MIGRATIONS[0]!);
    await db.raw('INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)');
  }

  it.skipIf(!available)(
    'migrates version 1: spent coins and double spends keyed by coin id, sessions without w; every deposit, record and answer keeps its meaning',
    async () => {
      await versionOne();
      // What the bank of version 1 wrote: its suite, key and an account; three coins, two of them
      // deposited by shop-1, the first also paid to shop-2 and recorded as a double spend.
      const [c1, c2, c3] = [withdraw(G, key, alice, rng), withdraw(G, key, alice, rng), withdraw(G, key, alice, rng)];
      const t1 = spend(G, alice, c1, paymentContext(rng, 'shop-1'));
      const t2 = spend(G, alice, c2, paymentContext(rng, 'shop-1'));
      const t1b = spend(G, alice, c1, paymentContext(rng, 'shop-2'));
      const bin = (t: typeof t1) => Buffer.from(encodeTranscript(G, t));
      const A = (t: typeof t1) => Buffer.from(G.encode(t.coin.A));
      await db.raw("INSERT INTO meta (name, value) VALUES ('suite', ?)", [G.suite]);
      const k = key.key;
      await db.raw(
        'INSERT INTO denomination_keys (key_id, key_json, value, currency, withdraw_from, withdraw_until, deposit_until, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [
          Buffer.from(k.keyId),
          JSON.stringify(keyToJson(G, k)),
          k.value,
          k.currency,
          k.withdrawFrom,
          k.withdrawUntil,
          k.depositUntil,
          k.scope,
        ],
      );
      await db.raw('INSERT INTO accounts (account_id, holder, i, created_at) VALUES (?, ?, ?, ?)', [
        ALICE,
        'alice',
        Buffer.from(G.encode(alice.I)),
        PAYMENT_TIME,
      ]);
      for (const t of [t1, t2]) await db.raw('INSERT INTO spent_coins (a, key_no, transcript) VALUES (?, 1, ?)', [A(t), bin(t)]);
      const spender = identifyDoubleSpender(G, t1, t1b);
      await db.raw(
        "INSERT INTO double_spends (key_no, a, transcript, u1, i, account_id, depositor, batch_id, created_at) VALUES (1, ?, ?, ?, ?, ?, 'shop-2', 'b1', ?)",
        [A(t1b), bin(t1b), Buffer.from(G.scalars.encode(spender.u1)), Buffer.from(G.encode(spender.I)), ALICE, PAYMENT_TIME],
      );
      // Two deposit batches, the later one written first (version 1 kept no order of them).
      const stored = JSON.stringify({ r: [0], c: [{ currency: k.currency, balance: k.value }] });
      for (const [depositor, batchId, at] of [
        ['shop-1', 'later', PAYMENT_TIME + 1],
        ['shop-2', 'earlier', PAYMENT_TIME],
      ] as const) {
        await db.raw('INSERT INTO deposit_batches (depositor, batch_id, request_hash, results, created_at) VALUES (?, ?, ?, ?, ?)', [
          depositor,
          batchId,
          Buffer.alloc(32),
          stored,
          at,
        ]);
      }
      // And two withdrawal sessions: one answered (w erased, c and r kept), one open with its w.
      const [answered, open] = [c1.view, withdraw(G, key, alice, rng).view];
      const scalar = (v: bigint) => Buffer.from(G.scalars.encode(v));
      const element = (e: typeof answered.a) => Buffer.from(G.encode(e));
      const session =
        'INSERT INTO withdrawal_sessions (session_id, account_id, key_no, state, w, a, b, c, r, created_at, expires_at, answered_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
      const times = [PAYMENT_TIME, PAYMENT_TIME + 120_000];
      await db.raw(session, [
        's-answered',
        ALICE,
        'answered',
        null,
        element(answered.a),
        element(answered.b),
        scalar(answered.c),
        scalar(answered.r),
        ...times,
        PAYMENT_TIME,
      ]);
      await db.raw(session, ['s-open', ALICE, 'open', scalar(open.w), element(open.a), element(open.b), null, null, ...times, null]);
      const everything = async (): Promise<Buffer> => {
        if (kind === 'sqlite') return Buffer.concat([db.file!, `${db.file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
        const tables = await db.raw<{ t: string }>(
          "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        );
        const rows = [];
        for (const { t } of tables) rows.push(...(await db.raw<{ row: string }>(`SELECT x::text AS row FROM ${t} x`)).map((r) => r.row));
        return Buffer.from(rows.join('\n'), 'latin1');
      };
      const openW = [scalar(open.w), Buffer.from(scalar(open.w).toString('hex'), 'latin1')];
      expect((await everything()).includes(kind === 'sqlite' ? openW[0]! : openW[1]!)).toBe(true);

      const storage = await openStorage(db.url);
      const svc = await BankService.create({ storage, keys: memoryKeyStore(G.suite, [key]), workerThreads: 0, now: () => PAYMENT_TIME });
      closers.push(storage, svc);

      // Every row is keyed by core's coin id of its own transcript.
      for (const table of ['spent_coins', 'double_spends']) {
        const rows = await db.raw<{ coin: Buffer; transcript: Buffer }>(`SELECT coin, transcript FROM ${table}`);
        expect(rows.length).toBeGreaterThan(0);
        for (const r of rows) expect(toHex(r.coin)).toBe(toHex(transcriptCoinId(G, r.transcript)));
      }
      // Every coin version 1 stored was credited (it stored no other).
      expect((await db.raw<{ credited: unknown }>('SELECT credited FROM spent_coins')).map((r) => Boolean(r.credited))).toEqual([
        true,
        true,
      ]);
      if (kind === 'postgres') {
        expect(await db.raw("SELECT pg_get_partkeydef('spent_coins'::regclass) AS k")).toEqual([{ k: 'HASH (coin)' }]);
        const parts = await db.raw<{ name: string }>(
          "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'spent_coins'::regclass ORDER BY 1",
        );
        expect(parts.map((p) => p.name).sort()).toEqual(Array.from({ length: 16 }, (_, i) => `spent_coins_p${i}`).sort());
      }

      // The recorded double spend still lists with a proof anyone can check.
      const [record] = (await svc.listDoubleSpends(operator, undefined, 10)).doubleSpends;
      expect(record).toMatchObject({ accountId: ALICE, holder: 'alice', depositor: 'shop-2' });
      expect(() => verifyDoubleSpendProof(G, proofFromJson(G, record!.proof))).not.toThrow();
      // The old deposits keep their meaning: the same payment is a replay, the same second payment
      // names the same record, another payment of a deposited coin is a new double spend, and a
      // coin never deposited is credited.
      const json = (t: typeof t1) => transcriptToJson(G, t);
      expect((await svc.deposit(merchant('shop-1'), 'again', [json(t1), json(t2)])).results).toEqual([
        { outcome: 'replay' },
        { outcome: 'replay' },
      ]);
      expect((await svc.deposit(merchant('shop-2'), 'again', [json(t1b)])).results).toEqual([
        { outcome: 'double-spend', code: 'double-spend', message: expect.any(String), doubleSpendId: record!.doubleSpendId },
      ]);
      const t2c = spend(G, alice, c2, paymentContext(rng, 'shop-3'));
      expect((await svc.deposit(merchant('shop-3'), 'b1', [json(t2c)])).results[0]).toMatchObject({ outcome: 'double-spend' });
      const t3 = spend(G, alice, c3, paymentContext(rng, 'shop-1'));
      expect((await svc.deposit(merchant('shop-1'), 'new', [json(t3)])).results).toEqual([{ outcome: 'credited' }]);
      // The old batches are numbered in the order they were made, and new ones after them.
      const batches = (await svc.listDepositBatches(operator, undefined, 10)).deposits;
      expect(batches.map((b) => `${b.depositor}/${b.batchId}`)).toEqual([
        'shop-1/new',
        'shop-3/b1',
        'shop-2/again',
        'shop-1/again',
        'shop-1/later',
        'shop-2/earlier',
      ]);
      expect(batches.at(-1)).toMatchObject({ results: [{ outcome: 'credited' }], credited: [{ currency: k.currency, balance: k.value }] });

      // No w is left: not as a column, not in the rows, not in SQLite's free space or WAL. The open
      // session (its offer made of a w the bank no longer has) is closed; the answered one still
      // gives its r for its c (a lost answer).
      const columns =
        kind === 'sqlite'
          ? await db.raw<{ name: string }>('SELECT name FROM pragma_table_info(?)', ['withdrawal_sessions'])
          : await db.raw<{ name: string }>(
              "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'withdrawal_sessions'",
            );
      expect(columns.map((c) => c.name)).not.toContain('w');
      for (const n of openW) expect((await everything()).includes(n)).toBe(false);
      expect(await db.raw('SELECT session_id, state FROM withdrawal_sessions ORDER BY session_id')).toEqual([
        { session_id: 's-answered', state: 'answered' },
        { session_id: 's-open', state: 'expired' },
      ]);
      expect(await svc.answerWithdrawal(ALICE, 's-answered', answered.c)).toBe(answered.r);
      await expect(svc.answerWithdrawal(ALICE, 's-open', answered.c)).rejects.toMatchObject({ code: 'session-expired' });
    },
  );
});
