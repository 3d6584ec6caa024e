/**
 * SQLite's group commit, for the bank's SQLite driver (sqlite.ts). Every transaction queued on one
 * database file while another group runs goes into the next group: one BEGIN … COMMIT, each
 * transaction in its own savepoint, so most of a commit's cost is shared under load.
 *
 * Durability is grouped too. With synchronous=FULL every COMMIT would fsync the WAL on the
 * main thread, blocking every request behind the disk (measured: most of the bank's main-thread
 * time in withdrawals). Instead commits run with synchronous=NORMAL (consistent, not yet durable)
 * and a write transaction's promise resolves only after an fsync of the WAL file that started
 * after its COMMIT, run on libuv's thread pool: every commit made while one fsync runs shares the
 * next. A committed deposit or withdrawal answer is on disk before the caller hears of it, as
 * with FULL, and the main thread never waits for the disk.
 */
import { closeSync, fsync, realpathSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { SqlTx } from './sql.js';

/** The end of the queue of transactions on one database file, shared by this process's handles. */
export interface FileLock {
  tail: Promise<unknown>;
}
const fileLocks = new Map<string, FileLock>();

export function lockFor(path: string): FileLock {
  let key = path;
  try {
    key = realpathSync(path);
  } catch {
    // In-memory or not yet created: the name is the identity.
  }
  let lock = fileLocks.get(key);
  if (lock === undefined) {
    lock = { tail: Promise.resolve() };
    fileLocks.set(key, lock);
  }
  return lock;
}

/** A transaction waiting for its turn, and how to answer its caller. */
interface QueuedTransaction {
  write: boolean;
  fn: (tx: SqlTx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
}

interface Settled {
  q: QueuedTransaction;
  value: unknown;
}

/** The most transactions one COMMIT carries (bounds how long one group holds the file). */
const MAX_GROUP = 64;

/**
 * fsyncs one file for every caller that committed before the fsync began: a caller arriving while
 * one runs waits for the next, which then covers everyone who arrived in the meantime.
 */
export class GroupSync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  /** Commits made, and commits an fsync has covered (an fsync covers those made before it began). */
  private committed = 0;
  private synced = 0;

  constructor(private readonly fd: number) {}

  /** Called right after a COMMIT, before anything else can read the database. */
  committedOne(): void {
    this.committed++;
  }

  private start(): Promise<void> {
    const covers = this.committed;
    const p = new Promise<void>((resolve, reject) => fsync(this.fd, (e) => (e ? reject(e) : resolve())));
    this.running = p
      .then(() => {
        this.synced = Math.max(this.synced, covers);
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /**
   * Resolves when every commit made so far is on disk: at once if none is pending, so readers
   * never report what a power cut could still take back.
   */
  sync(): Promise<void> {
    if (this.synced >= this.committed) return Promise.resolve();
    if (this.running === undefined) return this.start();
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private closed = false;

  async close(): Promise<void> {
    await this.next?.catch(() => undefined);
    await this.running?.catch(() => undefined);
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** A transaction-control statement the queue needs (prepared by the driver). */
export type TransactionControl =
  | 'BEGIN'
  | 'BEGIN IMMEDIATE'
  | 'COMMIT'
  | 'ROLLBACK'
  | 'SAVEPOINT grouped'
  | 'RELEASE grouped'
  | 'ROLLBACK TO grouped';

/** The queue of one handle's transactions, run in groups on its file's turn. */
export class GroupCommit {
  constructor(
    private readonly db: Database.Database,
    private readonly tx: SqlTx,
    private readonly control: (sql: TransactionControl) => void,
    private readonly lock: FileLock,
    /** Makes the WAL durable; undefined where commits fsync themselves (synchronous=FULL). */
    private readonly wal: () => GroupSync | undefined,
  ) {}

  /** Transactions waiting for this handle's next turn on the file. */
  private pending: QueuedTransaction[] = [];
  private scheduled = false;

  /** Runs `fn` in the next group (a writer's group begins IMMEDIATE); answers after its fsync. */
  enqueue<T>(write: boolean, fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, fn, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    const run = () => this.runGroup();
    const turn = this.lock.tail.then(run, run);
    this.lock.tail = turn.catch(() => undefined);
  }

  /**
   * Runs every transaction queued so far (up to MAX_GROUP) inside one BEGIN … COMMIT, each in its
   * own savepoint: a transaction that throws is rolled back alone and its caller gets the error;
   * the others commit together. Under load most of a commit's cost (writing the WAL frames of the
   * pages it touched, BEGIN and COMMIT themselves) is shared by the group; one at a time it is
   * exactly the former single transaction. Callers hear of the outcome only after the COMMIT, and
   * writers (and readers, who may have seen writes) after the fsync that covers it.
   */
  private async runGroup(): Promise<void> {
    this.scheduled = false;
    const group = this.pending.splice(0, MAX_GROUP);
    this.schedule();
    const alone = group.length === 1;
    const begin = group.some((q) => q.write) ? 'BEGIN IMMEDIATE' : 'BEGIN';
    /** Transactions whose work is in the open SQLite transaction, with their results. */
    let done: Settled[] = [];
    /** Transactions whose caller has its answer (an error) or will have it after the fsync. */
    const answered = new Set<QueuedTransaction>();
    const fail = (q: QueuedTransaction, e: unknown) => {
      answered.add(q);
      q.reject(e);
    };
    const failDone = (e: unknown) => {
      for (const d of done) fail(d.q, e);
      done = [];
    };
    try {
      for (const q of group) {
        // SQLite ends a transaction itself after an I/O, full-disk or memory error: whatever ran
        // in it is lost, and the rest of the group starts a fresh one.
        if (!this.db.inTransaction) this.control(begin);
        if (!alone) this.control('SAVEPOINT grouped');
        try {
          const value = await q.fn(this.tx);
          if (!alone) this.control('RELEASE grouped');
          done.push({ q, value });
        } catch (e) {
          if (!this.db.inTransaction) failDone(e);
          else if (alone) this.control('ROLLBACK');
          else {
            this.control('ROLLBACK TO grouped');
            this.control('RELEASE grouped');
          }
          fail(q, e);
        }
      }
      if (this.db.inTransaction) this.control('COMMIT');
    } catch (e) {
      // BEGIN, a savepoint or COMMIT failed: nothing of this group is committed.
      try {
        if (this.db.inTransaction) this.control('ROLLBACK');
      } catch {
        // The connection is broken; every caller still hears of the first error.
      }
      for (const q of group) if (!answered.has(q)) fail(q, e);
      return;
    }
    if (done.length === 0) return;
    this.wal()?.committedOne();
    void this.deliver(done);
  }

  /** Answers the committed transactions once their commit is on disk. */
  private async deliver(settled: Settled[]): Promise<void> {
    try {
      await this.wal()?.sync();
    } catch (e) {
      for (const d of settled) d.q.reject(e);
      return;
    }
    for (const d of settled) d.q.resolve(d.value);
  }

  /** Resolves once no transaction of this handle is queued or running. */
  async drain(): Promise<void> {
    do await this.lock.tail;
    while (this.scheduled);
  }
}
