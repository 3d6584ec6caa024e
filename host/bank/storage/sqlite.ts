/**
 * SQLite driver (better-sqlite3): a file on disk in WAL mode. better-sqlite3 is synchronous, so
 * one connection serves the process; an async mutex keeps one transaction at a time on it, and
 * BEGIN IMMEDIATE takes the write lock at once so another process (the CLI while the server runs)
 * waits instead of failing half-way. The mutex is per database file, not per handle: SQLite's busy
 * wait blocks the thread, so a second handle on the same file in the same process, waiting for the
 * first one's lock, would stop the very event loop the first needs to commit (and fail with
 * SQLITE_BUSY). Both the per-file queue and the durability of commits are the group commit's
 * (sqlite-group-commit.ts).
 */
import { existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { EcashError, getGroup, transcriptCoinId } from '../../../core/index.js';
import type { SpentCoinRow, SqlDriver, SqlTx, SqlValue } from './sql.js';
import { GroupCommit, GroupSync, lockFor, type TransactionControl } from './sqlite-group-commit.js';
import { SqlBankStorage } from './sql-store.js';
import { noDatabase } from './no-database.js';

/**
 * Schema versions, applied in order; `PRAGMA user_version` records how many ran. Exported for the
 * tests that build a database of an earlier version and migrate it.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE denomination_keys (
    key_no INTEGER PRIMARY KEY,
    key_id BLOB NOT NULL UNIQUE,
    key_json TEXT NOT NULL,
    value INTEGER NOT NULL,
    currency TEXT NOT NULL,
    withdraw_from INTEGER NOT NULL,
    withdraw_until INTEGER NOT NULL,
    deposit_until INTEGER NOT NULL,
    scope TEXT NOT NULL
  );
  CREATE TABLE accounts (account_id TEXT PRIMARY KEY, holder TEXT NOT NULL, i BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL);
  CREATE TABLE merchants (merchant_id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, fee_per_coin INTEGER NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE credentials (
    credential_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('account', 'merchant', 'operator')),
    party_id TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  CREATE TABLE withdrawal_sessions (
    session_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    key_no INTEGER NOT NULL REFERENCES denomination_keys (key_no),
    state TEXT NOT NULL CHECK (state IN ('open', 'answered', 'expired', 'cancelled')),
    w BLOB,
    a BLOB NOT NULL,
    b BLOB NOT NULL,
    c BLOB,
    r BLOB,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    answered_at INTEGER,
    CHECK ((state = 'open') = (w IS NOT NULL))
  );
  CREATE UNIQUE INDEX one_open_session_per_account ON withdrawal_sessions (account_id) WHERE state = 'open';
  CREATE INDEX open_sessions_by_expiry ON withdrawal_sessions (expires_at) WHERE state = 'open';
  CREATE TABLE ledger_entries (
    entry_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('cash-in', 'withdrawal', 'deposit')),
    reference TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE ledger_postings (
    entry_id INTEGER NOT NULL REFERENCES ledger_entries (entry_id),
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (entry_id, account, currency)
  ) WITHOUT ROWID;
  CREATE INDEX postings_by_account ON ledger_postings (account, entry_id);
  CREATE TABLE ledger_balances (account TEXT NOT NULL, currency TEXT NOT NULL, balance INTEGER NOT NULL, PRIMARY KEY (account, currency)) WITHOUT ROWID;
  CREATE TABLE spent_coins (a BLOB PRIMARY KEY, key_no INTEGER NOT NULL, transcript BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE double_spends (
    double_spend_id INTEGER PRIMARY KEY,
    key_no INTEGER NOT NULL,
    a BLOB NOT NULL,
    transcript BLOB NOT NULL,
    u1 BLOB NOT NULL,
    i BLOB NOT NULL,
    account_id TEXT,
    depositor TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX double_spends_by_coin ON double_spends (a);
  CREATE TABLE deposit_batches (
    depositor TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    results TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (depositor, batch_id)
  );
  `,
  // 2: a coin is its key, A and B. Spent coins and double spends were keyed by A alone, so a
  // second coin with the same A (a card that reuses s) was taken for a double spend of the first.
  `
  CREATE TABLE spent_coins_v2 (coin BLOB PRIMARY KEY, key_no INTEGER NOT NULL, transcript BLOB NOT NULL) WITHOUT ROWID;
  INSERT INTO spent_coins_v2 (coin, key_no, transcript) SELECT ecash_coin_id(transcript), key_no, transcript FROM spent_coins;
  DROP TABLE spent_coins;
  ALTER TABLE spent_coins_v2 RENAME TO spent_coins;
  ALTER TABLE double_spends ADD COLUMN coin BLOB NOT NULL DEFAULT x'';
  UPDATE double_spends SET coin = ecash_coin_id(transcript);
  DROP INDEX double_spends_by_coin;
  ALTER TABLE double_spends DROP COLUMN a;
  CREATE INDEX double_spends_by_coin ON double_spends (coin);
  `,
  // 3: a payment refused for the depositor's scope or the key's deposit window that verifies is
  // kept as the coin's spending, not credited (a constant needs no byte in an SQLite record).
  `
  ALTER TABLE spent_coins ADD COLUMN credited INTEGER NOT NULL DEFAULT 1 CHECK (credited IN (0, 1));
  `,
  // 4: no w in the database. An open session's row held w, and c and r stayed after the answer,
  // so x = (r − w)/c followed from any copy that once held w. The bank derives w from the key's
  // secret and the session's id and times now, so a session opened by an earlier version (its
  // offer made of a random w) cannot be answered: it is closed. The file is then vacuumed
  // (SCRUBBING_MIGRATION), so no old w is left in its free space or its WAL.
  `
  CREATE TABLE withdrawal_sessions_v4 (
    session_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    key_no INTEGER NOT NULL REFERENCES denomination_keys (key_no),
    state TEXT NOT NULL CHECK (state IN ('open', 'answered', 'expired', 'cancelled')),
    a BLOB NOT NULL,
    b BLOB NOT NULL,
    c BLOB,
    r BLOB,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    answered_at INTEGER
  );
  INSERT INTO withdrawal_sessions_v4 (session_id, account_id, key_no, state, a, b, c, r, created_at, expires_at, answered_at)
    SELECT session_id, account_id, key_no, CASE state WHEN 'open' THEN 'expired' ELSE state END, a, b, c, r, created_at, expires_at, answered_at FROM withdrawal_sessions;
  DROP TABLE withdrawal_sessions;
  ALTER TABLE withdrawal_sessions_v4 RENAME TO withdrawal_sessions;
  CREATE UNIQUE INDEX one_open_session_per_account ON withdrawal_sessions (account_id) WHERE state = 'open';
  CREATE INDEX open_sessions_by_expiry ON withdrawal_sessions (expires_at) WHERE state = 'open';
  `,
  // 5: deposit batches are numbered in the order they were made, so the operator's list of them
  // pages newest first by that number (batch_no aliases the rowid).
  `
  CREATE TABLE deposit_batches_v5 (
    batch_no INTEGER PRIMARY KEY,
    depositor TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    results TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (depositor, batch_id)
  );
  INSERT INTO deposit_batches_v5 (depositor, batch_id, request_hash, results, created_at)
    SELECT depositor, batch_id, request_hash, results, created_at FROM deposit_batches ORDER BY created_at, depositor, batch_id;
  DROP TABLE deposit_batches;
  ALTER TABLE deposit_batches_v5 RENAME TO deposit_batches;
  `,
];

/** The migration after which the file is vacuumed and its WAL truncated (it dropped the w's). */
const SCRUBBING_MIGRATION = 4;

const asParam = (v: SqlValue): SqlValue =>
  v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;

class SqliteDriver implements SqlDriver {
  readonly kind = 'sqlite' as const;
  forUpdate(): string {
    return '';
  }
  private readonly statements = new Map<string, Database.Statement>();
  private readonly commits: GroupCommit;

  constructor(
    private readonly db: Database.Database,
    /** Makes the WAL durable; undefined where commits fsync themselves (synchronous=FULL). */
    private readonly wal: () => GroupSync | undefined,
    path: string,
  ) {
    const stmt = (sql: string) => this.statement(sql);
    const tx: SqlTx = {
      all: async <T>(sql: string, params: readonly SqlValue[] = []) => stmt(sql).all(...params.map(asParam)) as T[],
      get: async <T>(sql: string, params: readonly SqlValue[] = []) => stmt(sql).get(...params.map(asParam)) as T | undefined,
      run: async (sql: string, params: readonly SqlValue[] = []) => stmt(sql).run(...params.map(asParam)).changes,
    };
    this.commits = new GroupCommit(db, tx, (sql) => this.control(sql), lockFor(path), wal);
  }

  /** Every statement is prepared once per handle. */
  private statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** A transaction-control statement, prepared (exec would parse it every time). */
  private control(sql: TransactionControl): void {
    this.statement(sql).run();
  }

  /** The caller hears of its commit once it is on disk; the next transactions may already run. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    return this.commits.enqueue(true, fn);
  }

  /** What a reader saw may include others' commits: it is answered once they are on disk too. */
  read<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    return this.commits.enqueue(false, fn);
  }

  async insertSpentCoins(tx: SqlTx, rows: readonly SpentCoinRow[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const r of rows) {
      out.push(
        (await tx.run('INSERT INTO spent_coins (coin, key_no, credited, transcript) VALUES (?, ?, ?, ?) ON CONFLICT (coin) DO NOTHING', [
          r.coin,
          r.keyNo,
          r.credited ? 1 : 0,
          r.transcript,
        ])) === 1,
      );
    }
    return out;
  }

  isUniqueViolation(e: unknown): boolean {
    const code = (e as { code?: unknown }).code;
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  }

  async migrate(): Promise<void> {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SQLITE_MIGRATIONS.length) {
      throw new EcashError(
        'database-too-new',
        `the database schema is version ${version}, newer than this program's ${SQLITE_MIGRATIONS.length}; upgrade ecash`,
      );
    }
    for (let v = version; v < SQLITE_MIGRATIONS.length; v++) {
      if (v > 0) this.defineCoinId();
      this.db
        .transaction(() => {
          this.db.exec(SQLITE_MIGRATIONS[v]!);
          this.db.pragma(`user_version = ${v + 1}`);
        })
        .immediate();
    }
    // Deleted rows stay in a page's free space and in the WAL until overwritten: a database that
    // held w's is rewritten whole, and its WAL emptied.
    if (version > 0 && version < SCRUBBING_MIGRATION) {
      this.db.exec('VACUUM');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
  }

  /**
   * `ecash_coin_id(transcript)`, core's coin id of a stored transcript, for the migrations: the
   * suite is read first (a statement cannot run while the one calling the function does). A bank
   * without a suite has no transcripts to call it on.
   */
  private defineCoinId(): void {
    const suite = this.db.prepare("SELECT value FROM meta WHERE name = 'suite'").pluck().get() as string | undefined;
    const group = suite === undefined ? undefined : getGroup(suite);
    this.db.function('ecash_coin_id', { deterministic: true }, (transcript: unknown) =>
      Buffer.from(transcriptCoinId(group!, transcript as Uint8Array)),
    );
  }

  async sizeBytes(): Promise<number> {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return (pages - free) * size;
  }

  async close(): Promise<void> {
    await this.commits.drain();
    await this.wal()?.close();
    this.db.close();
  }
}

/**
 * The driver under the bank's SQLite store: opens (creating if needed) the database at `path` and
 * brings its schema up to date. Exported for the tests of its transaction discipline.
 */
export async function openSqliteDriver(path: string, options: { mustExist?: boolean } = {}): Promise<SqlDriver> {
  if (options.mustExist === true && !existsSync(path)) throw noDatabase(path);
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (cause) {
    throw new EcashError('database-unavailable', `cannot open the SQLite database ${path}: ${(cause as Error).message}`, { cause });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  let wal: GroupSync | undefined;
  const driver = new SqliteDriver(db, () => wal, path);
  await driver.migrate();
  // The WAL exists once the database has been opened in WAL mode and written (the migrations'
  // first run, or earlier). If it cannot be opened here, commits keep fsyncing themselves.
  try {
    wal = new GroupSync(openSync(`${path}-wal`, 'r'));
    db.pragma('synchronous = NORMAL');
  } catch {
    wal = undefined;
  }
  return driver;
}

/**
 * Opens the bank's SQLite database at `path` (creating it, unless `mustExist`) and brings its
 * schema up to date.
 */
export async function openSqliteStorage(path: string, options: { mustExist?: boolean } = {}): Promise<SqlBankStorage> {
  return new SqlBankStorage(await openSqliteDriver(path, options));
}
