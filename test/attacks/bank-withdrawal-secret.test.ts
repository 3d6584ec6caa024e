/**
 * Issue 11, finding 3: the bank's secret x must not follow from a copy of its database. The bank
 * answers a withdrawal with r = c·x + w; whoever knows w, c and r of one session knows
 * x = (r − w)/c, and whoever gets two answers r, r' on one w knows x = (r − r')/(c − c'). The bank
 * used to write w in the session's row while the session was open (a backup taken then, a WAL
 * file, a replica or a WAL archive kept it) and to answer any open row: a database restored from
 * such a copy, or rolled back under the running bank, brought the session back open, with w, for
 * a second challenge.
 *
 * A thief here has a copy of the database at every moment of a withdrawal: SQLite's `bank.db`
 * and `bank.db-wal` as raw bytes, PostgreSQL's every column of every row. On the code before the
 * fix each test recovers x (g^x = h); after it, w is written nowhere (its 32 bytes and their hex
 * appear in no copy) and a restored or rolled-back session does not answer again.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blindWithdrawal, fromHex, getGroup, randomNonZeroScalar, systemRandom } from '../../core/index.js';
import { memoryKeyStore } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { type BankStorage, openStorage } from '../../host/bank/storage/index.js';
import { bankKey, PAYMENT_TIME } from '../core/fixtures.js';
import { adapters, newAccount, testDb, type TestDb } from '../bank/helpers.js';

const G = getGroup('ristretto255-sha512');
const F = G.scalars;

/** What a thief holds: every byte of the copy (to search) and the session rows as it reads them. */
interface Copy {
  bytes: Buffer;
  sessions: Record<string, unknown>[];
  /** SQLite: the files themselves, to restore the database from them. */
  files?: { db: Buffer; wal: Buffer | undefined };
}

const asBuffer = (v: unknown): Buffer | undefined => (Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v) : undefined);

describe.each(adapters())("the bank's w never reaches its database, on $kind", ({ kind, available }) => {
  let db: TestDb;
  let clock: number;
  let running: { storage: BankStorage; svc: BankService } | undefined;
  const key = bankKey(G, systemRandom, 500);

  beforeEach(() => {
    clock = PAYMENT_TIME;
    if (available) db = testDb(kind);
  });

  afterEach(async () => {
    await stop();
    if (available) await db.dispose();
  });

  async function start(workerThreads = 0): Promise<BankService> {
    const storage = await openStorage(db.url);
    const svc = await BankService.create({ storage, keys: memoryKeyStore(G.suite, [key]), workerThreads, now: () => clock });
    running = { storage, svc };
    return svc;
  }

  async function stop(): Promise<void> {
    if (running === undefined) return;
    await running.svc.close();
    await running.storage.close();
    running = undefined;
  }

  async function copyOfDatabase(): Promise<Copy> {
    if (kind === 'sqlite') {
      const file = db.file!;
      const files = { db: readFileSync(file), wal: existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`) : undefined };
      // The thief opens its copy with SQLite, which replays the copied WAL.
      const dir = mkdtempSync(join(tmpdir(), 'ecash-thief-'));
      try {
        writeFileSync(join(dir, 'bank.db'), files.db);
        if (files.wal !== undefined) writeFileSync(join(dir, 'bank.db-wal'), files.wal);
        const copy = new Database(join(dir, 'bank.db'));
        const sessions = copy.prepare('SELECT * FROM withdrawal_sessions').all() as Record<string, unknown>[];
        copy.close();
        return { bytes: Buffer.concat([files.db, files.wal ?? Buffer.alloc(0)]), sessions, files };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const tables = await db.raw<{ t: string }>(
      "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    );
    const parts: Buffer[] = [];
    let sessions: Record<string, unknown>[] = [];
    for (const { t } of tables) {
      const rows = await db.raw<Record<string, unknown>>(`SELECT * FROM ${t}`);
      if (t === 'withdrawal_sessions') sessions = rows;
      for (const row of rows) {
        for (const v of Object.values(row)) {
          const b = asBuffer(v);
          parts.push(b ?? Buffer.from(String(v), 'latin1'));
          if (b !== undefined) parts.push(Buffer.from(b.toString('hex'), 'latin1'));
        }
      }
    }
    return { bytes: Buffer.concat(parts), sessions };
  }

  /** x from every w and every (c, r) the copies hold, if any combination gives g^x = h. */
  function xFromCopies(copies: readonly Copy[]): bigint | undefined {
    const rows = copies.flatMap((c) => c.sessions);
    const ws = rows.flatMap((row) => (asBuffer(row.w)?.length === 32 ? [F.decode(asBuffer(row.w)!)] : []));
    const answers = rows.flatMap((row) => {
      const c = asBuffer(row.c);
      const r = asBuffer(row.r);
      return c !== undefined && r !== undefined ? [{ c: F.decode(c), r: F.decode(r) }] : [];
    });
    for (const w of ws) {
      for (const { c, r } of answers) {
        const x = F.mul(F.sub(r, w), F.inv(c));
        if (G.equals(G.exp(G.g, x), key.key.h)) return x;
      }
    }
    return undefined;
  }

  /** A holder with funds and an open session whose offer it has. */
  async function openSession(svc: BankService) {
    const alice = await newAccount(svc, G, 'alice');
    await svc.cashIn(alice.accountId, 'EUR', 5000, 'cash');
    const s = await svc.startWithdrawal(alice.accountId, key.key.keyId);
    const ctx = { key: key.key, z: G.decode(fromHex(s.z)), I: alice.account.I };
    const c = blindWithdrawal(G, ctx, { a: G.decode(fromHex(s.a)), b: G.decode(fromHex(s.b)) }, systemRandom).c;
    return { accountId: alice.accountId, sessionId: s.sessionId, a: Buffer.from(fromHex(s.a)), c };
  }

  /** Whether a second answer r2 to challenge c2, beside r to c, gives x = (r − r2)/(c − c2). */
  const leaks = (c: bigint, r: bigint, c2: bigint, answer: unknown): boolean =>
    typeof answer === 'bigint' && G.equals(G.exp(G.g, F.mul(F.sub(r, answer), F.inv(F.sub(c, c2)))), key.key.h);

  it.skipIf(!available)('a copy taken while the session is open, after its answer or after the bank stops holds no w', async () => {
    const svc = await start(1);
    const session = await openSession(svc);
    const copies = [await copyOfDatabase()];
    const r = await svc.answerWithdrawal(session.accountId, session.sessionId, session.c);
    copies.push(await copyOfDatabase());
    await stop();
    copies.push(await copyOfDatabase());

    expect(xFromCopies(copies)).toBeUndefined();
    // The w the bank used (the test holds x): in no copy, neither its bytes nor their hex.
    const w = Buffer.from(F.encode(F.sub(r, F.mul(session.c, key.x))));
    const needles = [w, Buffer.from(w.toString('hex'), 'latin1'), Buffer.from(w.toString('hex').toUpperCase(), 'latin1')];
    for (const copy of copies) {
      // The search sees the session's row: its offer a is there.
      expect(copy.bytes.includes(session.a) || copy.bytes.includes(Buffer.from(session.a.toString('hex'), 'latin1'))).toBe(true);
      for (const n of needles) expect(copy.bytes.includes(n)).toBe(false);
    }
  });

  it.skipIf(!available)('a database restored from a copy taken while the session was open does not answer it again', async () => {
    let svc = await start();
    const session = await openSession(svc);
    const backup = await copyOfDatabase();
    const row = backup.sessions.find((s) => s.session_id === session.sessionId)!;
    const r = await svc.answerWithdrawal(session.accountId, session.sessionId, session.c);
    await stop();
    // The operator restores the backup and starts the bank again.
    if (kind === 'sqlite') {
      writeFileSync(db.file!, backup.files!.db);
      rmSync(`${db.file}-wal`, { force: true });
      rmSync(`${db.file}-shm`, { force: true });
      if (backup.files!.wal !== undefined) writeFileSync(`${db.file}-wal`, backup.files!.wal);
    } else {
      await restoreRow(row);
    }
    clock += 1;
    svc = await start();
    const c2 = randomNonZeroScalar(G, systemRandom);
    const second = await svc.answerWithdrawal(session.accountId, session.sessionId, c2).catch((e: unknown) => e);
    expect(leaks(session.c, r, c2, second)).toBe(false);
    expect(second).toMatchObject({ code: 'session-expired' });
  });

  it.skipIf(!available)('a session rolled back under the running bank does not answer a second challenge', async () => {
    const svc = await start();
    const session = await openSession(svc);
    const row = (await copyOfDatabase()).sessions.find((s) => s.session_id === session.sessionId)!;
    const r = await svc.answerWithdrawal(session.accountId, session.sessionId, session.c);
    // A replica promoted after losing the last commits, or a point-in-time recovery, while the
    // bank runs: the session's row is as it was before the answer.
    await restoreRow(row);
    const c2 = randomNonZeroScalar(G, systemRandom);
    const second = await svc.answerWithdrawal(session.accountId, session.sessionId, c2).catch((e: unknown) => e);
    expect(leaks(session.c, r, c2, second)).toBe(false);
    expect(second).toMatchObject({ code: 'session-answered' });
    // The card that asks again with its own challenge still gets its answer.
    expect(await svc.answerWithdrawal(session.accountId, session.sessionId, session.c)).toBe(r);
  });

  /** Puts every column of a session's row back as a copy had it. */
  async function restoreRow(row: Record<string, unknown>): Promise<void> {
    const columns = Object.keys(row).filter((c) => c !== 'session_id');
    await db.raw(`UPDATE withdrawal_sessions SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE session_id = ?`, [
      ...columns.map((c) => row[c]),
      row.session_id,
    ]);
  }
});
