/**
 * The SQLite driver's transaction discipline. Transactions queued while another runs are carried
 * by one COMMIT, each in its own savepoint; whatever the grouping, a caller is told of success only
 * if its work is committed, and a transaction that fails leaves nothing behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDriver } from '../../host/bank/storage/sql.js';
import { openSqliteDriver } from '../../host/bank/storage/sqlite.js';

describe('SQLite driver', () => {
  let dir: string;
  let db: SqlDriver;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ecash-sqlite-driver-'));
    db = await openSqliteDriver(join(dir, 'bank.db'));
    await db.transaction((tx) => tx.run('CREATE TABLE t (n INTEGER PRIMARY KEY, note TEXT NOT NULL)'));
  });

  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rows = () => db.read((tx) => tx.all<{ n: number; note: string }>('SELECT n, note FROM t ORDER BY n'));

  it('commits transactions issued together one by one: a failing one is rolled back alone, its caller gets its error', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        db.transaction(async (tx) => {
          await tx.run('INSERT INTO t (n, note) VALUES (?, ?)', [i, 'first']);
          if (i === 7) throw new Error('refused by the domain');
          // Transaction 12 breaks the primary key: SQLite fails the statement, not the transaction.
          await tx.run('INSERT INTO t (n, note) VALUES (?, ?)', [i === 12 ? 3 : 100 + i, 'second']);
          return i;
        }),
      ),
    );
    expect(outcomes[7]).toMatchObject({ status: 'rejected', reason: { message: 'refused by the domain' } });
    expect(outcomes[12]).toMatchObject({ status: 'rejected', reason: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' } });
    const ok = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    expect(ok).toEqual(Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 7 && i !== 12));
    expect((await rows()).map((r) => r.n)).toEqual([...ok, ...ok.map((i) => 100 + i)]);
  });

  it('runs them in the order they were issued; a read sees the writes issued before it', async () => {
    const seen: number[] = [];
    const writes = Array.from({ length: 5 }, (_, i) =>
      db.transaction((tx) => tx.run('INSERT INTO t (n, note) VALUES (?, ?)', [i, `w${i}`])),
    );
    const read = db.read(async (tx) => {
      seen.push(...(await tx.all<{ n: number }>('SELECT n FROM t')).map((r) => r.n));
    });
    const late = db.transaction((tx) => tx.run('INSERT INTO t (n, note) VALUES (?, ?)', [5, 'w5']));
    await Promise.all([...writes, read, late]);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect((await rows()).length).toBe(6);
  });

  it('tells no caller of a success SQLite took back: when a transaction ends the whole SQLite transaction, the ones before it in the group fail too', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        db.transaction(async (tx) => {
          await tx.run('INSERT INTO t (n, note) VALUES (?, ?)', [i, 'x']);
          if (i === 3) {
            // What SQLite does itself after an I/O or full-disk error: the transaction is gone.
            await tx.run('ROLLBACK');
            throw new Error('disk I/O error');
          }
          return i;
        }),
      ),
    );
    const committed = new Set((await rows()).map((r) => r.n));
    outcomes.forEach((o, i) => expect(o.status === 'fulfilled', `transaction ${i}`).toBe(committed.has(i)));
    // Those after the lost transaction still commit, in a fresh one.
    expect([...committed].sort()).toEqual([4, 5]);
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: { message: 'disk I/O error' } });
  });

  it('closes after the transactions queued before close', async () => {
    const queued = Array.from({ length: 3 }, (_, i) => db.transaction((tx) => tx.run('INSERT INTO t (n, note) VALUES (?, ?)', [i, 'q'])));
    const closing = db.close();
    await Promise.all(queued);
    await closing;
    db = await openSqliteDriver(join(dir, 'bank.db'));
    expect((await rows()).length).toBe(3);
  });
});
