/**
 * PostgreSQL driver (pg): a connection pool, READ COMMITTED transactions with explicit row locks
 * (SELECT … FOR UPDATE on the session and balance rows, unique indexes for "one open session" and
 * "a coin is spent once", INSERT … ON CONFLICT that waits for a concurrent insert of the same A),
 * retried on deadlock or serialization failure. The spent-coin table is partitioned by hash of the coin id,
 * the layout a sharded PostgreSQL such as Citus distributes unchanged (see docs/operations.md).
 *
 * A `schema` query parameter in the URL (postgres://…/db?schema=bank1) puts the bank's tables in
 * that schema, so several banks or test runs share one database without colliding.
 */
import pg from 'pg';
import { EcashError } from '../../../core/index.js';
import type { SpentCoinRow, SqlDriver, SqlTx, SqlValue } from './sql.js';
import { SqlBankStorage } from './sql-store.js';
import { noDatabase } from './no-database.js';
import { PostgresSharedState, RATE_LIMIT_TABLE_SQL } from './postgres-shared.js';
import { postEntryOnce, postgresWithdrawalSteps } from './postgres-steps.js';
import type { LedgerEntry, LedgerPosting, OneStatementSteps } from './types.js';

const SPENT_COIN_PARTITIONS = 16;

/** The partitions `<table>_p0` … of a table partitioned by hash, for migrations. */
function hashPartitions(table: string): string {
  return `DO $$ BEGIN
    FOR i IN 0..${SPENT_COIN_PARTITIONS - 1} LOOP
      EXECUTE format('CREATE TABLE ${table}_p%s PARTITION OF ${table} FOR VALUES WITH (MODULUS ${SPENT_COIN_PARTITIONS}, REMAINDER %s)', i, i);
    END LOOP;
  END $$;`;
}

/** `s(suite, n)`: the bank's suite and its element length in bytes (docs/protocol.md §1), for migrations. */
const BANK_SUITE = `s AS (SELECT value AS suite, CASE value WHEN 'ristretto255-sha512' THEN 32 WHEN 'p256-uprove' THEN 65 WHEN 'modp2048-256' THEN 256 END AS n FROM meta WHERE name = 'suite')`;

/**
 * core's `transcriptCoinId` in SQL, for migrations: SHA-256 of the fields ECASH-V1/COIN, suite,
 * key id, A and B, each a 4-byte big-endian length and its bytes; the binary transcript is
 * version, suite code, key id (32 bytes), A, B, … (docs/protocol.md §5).
 */
function coinIdSql(transcript: string): string {
  const field = (bytes: string) => `int4send(length(${bytes})) || ${bytes}`;
  return `sha256(${[
    field("convert_to('ECASH-V1/COIN', 'UTF8')"),
    field("convert_to(s.suite, 'UTF8')"),
    field(`substring(${transcript} from 3 for 32)`),
    field(`substring(${transcript} from 35 for s.n)`),
    field(`substring(${transcript} from 35 + s.n for s.n)`),
  ].join(' || ')})`;
}

/**
 * Schema versions, applied in order; `schema_migrations` records each. Exported for the tests that
 * build a database of an earlier version and migrate it.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (name text PRIMARY KEY, value text NOT NULL);
  CREATE TABLE denomination_keys (
    key_no smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id bytea NOT NULL UNIQUE,
    key_json text NOT NULL,
    value bigint NOT NULL,
    currency text NOT NULL,
    withdraw_from bigint NOT NULL,
    withdraw_until bigint NOT NULL,
    deposit_until bigint NOT NULL,
    scope text NOT NULL
  );
  CREATE TABLE accounts (account_id text PRIMARY KEY, holder text NOT NULL, i bytea NOT NULL UNIQUE, created_at bigint NOT NULL);
  CREATE TABLE merchants (merchant_id text PRIMARY KEY, name text NOT NULL, scopes text NOT NULL, fee_per_coin bigint NOT NULL, created_at bigint NOT NULL);
  CREATE TABLE credentials (
    credential_id text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('account', 'merchant', 'operator')),
    party_id text NOT NULL,
    secret_hash bytea NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint
  );
  CREATE TABLE withdrawal_sessions (
    session_id text PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts (account_id),
    key_no smallint NOT NULL REFERENCES denomination_keys (key_no),
    state text NOT NULL CHECK (state IN ('open', 'answered', 'expired', 'cancelled')),
    w bytea,
    a bytea NOT NULL,
    b bytea NOT NULL,
    c bytea,
    r bytea,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    answered_at bigint,
    CHECK ((state = 'open') = (w IS NOT NULL))
  );
  CREATE UNIQUE INDEX one_open_session_per_account ON withdrawal_sessions (account_id) WHERE state = 'open';
  CREATE INDEX open_sessions_by_expiry ON withdrawal_sessions (expires_at) WHERE state = 'open';
  CREATE TABLE ledger_entries (
    entry_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('cash-in', 'withdrawal', 'deposit')),
    reference text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE ledger_postings (
    entry_id bigint NOT NULL REFERENCES ledger_entries (entry_id),
    account text NOT NULL,
    currency text NOT NULL,
    amount bigint NOT NULL,
    PRIMARY KEY (entry_id, account, currency)
  );
  CREATE INDEX postings_by_account ON ledger_postings (account, entry_id);
  CREATE TABLE ledger_balances (account text NOT NULL, currency text NOT NULL, balance bigint NOT NULL, PRIMARY KEY (account, currency));
  CREATE TABLE spent_coins (key_no smallint NOT NULL, a bytea NOT NULL, transcript bytea NOT NULL, PRIMARY KEY (a)) PARTITION BY HASH (a);
  ${hashPartitions('spent_coins')}
  CREATE TABLE double_spends (
    double_spend_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_no smallint NOT NULL,
    a bytea NOT NULL,
    transcript bytea NOT NULL,
    u1 bytea NOT NULL,
    i bytea NOT NULL,
    account_id text,
    depositor text NOT NULL,
    batch_id text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE INDEX double_spends_by_coin ON double_spends (a);
  CREATE TABLE deposit_batches (
    depositor text NOT NULL,
    batch_id text NOT NULL,
    request_hash bytea NOT NULL,
    results text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (depositor, batch_id)
  );
  `,
  // 2: a coin is its key, A and B. Spent coins and double spends were keyed by A alone, so a
  // second coin with the same A (a card that reuses s) was taken for a double spend of the first.
  // The table is rebuilt partitioned by hash of the coin id (uniform, as A was).
  `
  CREATE TABLE spent_coins_v2 (key_no smallint NOT NULL, coin bytea NOT NULL, transcript bytea NOT NULL, PRIMARY KEY (coin)) PARTITION BY HASH (coin);
  ${hashPartitions('spent_coins_v2')}
  WITH ${BANK_SUITE} INSERT INTO spent_coins_v2 (key_no, coin, transcript) SELECT key_no, ${coinIdSql('transcript')}, transcript FROM spent_coins, s;
  DROP TABLE spent_coins;
  ALTER TABLE spent_coins_v2 RENAME TO spent_coins;
  ALTER INDEX spent_coins_v2_pkey RENAME TO spent_coins_pkey;
  DO $$ BEGIN
    FOR i IN 0..${SPENT_COIN_PARTITIONS - 1} LOOP
      EXECUTE format('ALTER TABLE spent_coins_v2_p%s RENAME TO spent_coins_p%s', i, i);
      EXECUTE format('ALTER INDEX spent_coins_v2_p%s_pkey RENAME TO spent_coins_p%s_pkey', i, i);
    END LOOP;
  END $$;
  ALTER TABLE double_spends ADD COLUMN coin bytea;
  WITH ${BANK_SUITE} UPDATE double_spends SET coin = ${coinIdSql('transcript')} FROM s;
  ALTER TABLE double_spends ALTER COLUMN coin SET NOT NULL;
  DROP INDEX double_spends_by_coin;
  ALTER TABLE double_spends DROP COLUMN a;
  CREATE INDEX double_spends_by_coin ON double_spends (coin);
  `,
  // 3: a payment refused for the depositor's scope or the key's deposit window that verifies is
  // kept as the coin's spending, not credited.
  `
  ALTER TABLE spent_coins ADD COLUMN credited boolean NOT NULL DEFAULT true;
  `,
  // 4: no w in the database. An open session's row held w, and c and r stayed after the answer,
  // so x = (r − w)/c followed from any copy that once held w. The bank derives w from the key's
  // secret and the session's id and times now, so a session opened by an earlier version (its
  // offer made of a random w) cannot be answered: it is closed. The table is rebuilt rather than
  // the column dropped: a dropped column's values, and dead row versions, stay in the table's
  // files; dropping the table removes them (WAL archives and backups keep them: docs/operations.md).
  `
  CREATE TABLE withdrawal_sessions_v4 (
    session_id text PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts (account_id),
    key_no smallint NOT NULL REFERENCES denomination_keys (key_no),
    state text NOT NULL CHECK (state IN ('open', 'answered', 'expired', 'cancelled')),
    a bytea NOT NULL,
    b bytea NOT NULL,
    c bytea,
    r bytea,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    answered_at bigint
  );
  INSERT INTO withdrawal_sessions_v4 (session_id, account_id, key_no, state, a, b, c, r, created_at, expires_at, answered_at)
    SELECT session_id, account_id, key_no, CASE state WHEN 'open' THEN 'expired' ELSE state END, a, b, c, r, created_at, expires_at, answered_at FROM withdrawal_sessions;
  DROP TABLE withdrawal_sessions;
  ALTER TABLE withdrawal_sessions_v4 RENAME TO withdrawal_sessions;
  ALTER INDEX withdrawal_sessions_v4_pkey RENAME TO withdrawal_sessions_pkey;
  ALTER TABLE withdrawal_sessions RENAME CONSTRAINT withdrawal_sessions_v4_account_id_fkey TO withdrawal_sessions_account_id_fkey;
  ALTER TABLE withdrawal_sessions RENAME CONSTRAINT withdrawal_sessions_v4_key_no_fkey TO withdrawal_sessions_key_no_fkey;
  ALTER TABLE withdrawal_sessions RENAME CONSTRAINT withdrawal_sessions_v4_state_check TO withdrawal_sessions_state_check;
  CREATE UNIQUE INDEX one_open_session_per_account ON withdrawal_sessions (account_id) WHERE state = 'open';
  CREATE INDEX open_sessions_by_expiry ON withdrawal_sessions (expires_at) WHERE state = 'open';
  `,
  // 5: rate-limit counters shared by the bank's processes (postgres-shared.ts).
  RATE_LIMIT_TABLE_SQL,
  // 6: deposit batches are numbered in the order they were made, so the operator's list of them
  // pages newest first by that number.
  `
  ALTER TABLE deposit_batches ADD COLUMN batch_no bigint GENERATED BY DEFAULT AS IDENTITY;
  UPDATE deposit_batches d SET batch_no = o.n
    FROM (SELECT depositor, batch_id, row_number() OVER (ORDER BY created_at, depositor, batch_id) AS n FROM deposit_batches) o
    WHERE d.depositor = o.depositor AND d.batch_id = o.batch_id;
  CREATE UNIQUE INDEX deposit_batches_by_no ON deposit_batches (batch_no);
  `,
];

/** Deadlock and serialization failure: the transaction is safe to run again. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** bigint columns hold amounts and times in ms, all safe integers: read them as numbers. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

const placeholders = new Map<string, string>();
function toPg(sql: string): string {
  let out = placeholders.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    placeholders.set(sql, out);
  }
  return out;
}

function clientTx(client: pg.Pool | pg.PoolClient): SqlTx {
  const query = (sql: string, params: readonly SqlValue[] = []) => client.query(toPg(sql), params as unknown[]);
  return {
    all: async <T>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows as T[],
    get: async <T>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rowCount ?? 0,
  };
}

function unavailable(cause: unknown): EcashError {
  return new EcashError(
    'database-unavailable',
    `PostgreSQL is unavailable: ${(cause as Error).message}; check the URL and that the server runs`,
    { cause },
  );
}

/** An error the server did not send (no SQLSTATE): the connection failed or could not be made. */
const isConnectionFailure = (e: unknown): boolean => !/^[0-9A-Z]{5}$/.test(String((e as { code?: unknown }).code));

/** A statement alone is its own transaction: retried like one on deadlock or serialization failure. */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) continue;
      if (isConnectionFailure(e)) throw unavailable(e);
      throw e;
    }
  }
}

class PostgresDriver implements SqlDriver {
  readonly kind = 'postgres' as const;
  forUpdate(of?: string): string {
    return of === undefined ? ' FOR UPDATE' : ` FOR UPDATE OF ${of}`;
  }

  readonly single: SqlTx;
  readonly oneStatement: OneStatementSteps;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string | undefined,
    readonly shared: PostgresSharedState,
  ) {
    const pooled = clientTx(pool);
    this.single = {
      all: <T>(sql: string, params?: readonly SqlValue[]) => retried(() => pooled.all<T>(sql, params)),
      get: <T>(sql: string, params?: readonly SqlValue[]) => retried(() => pooled.get<T>(sql, params)),
      run: (sql: string, params?: readonly SqlValue[]) => retried(() => pooled.run(sql, params)),
    };
    this.oneStatement = postgresWithdrawalSteps(this.single);
  }

  postEntry(tx: SqlTx, kind: LedgerEntry['kind'], reference: string, postings: readonly LedgerPosting[], now: number): Promise<number> {
    return postEntryOnce(tx, kind, reference, postings, now);
  }

  announceRevocation(tx: SqlTx, credentialId: string): Promise<void> {
    return this.shared.announceRevocation(tx, credentialId);
  }

  private async withClient<T>(begin: string, fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (e) {
        throw unavailable(e);
      }
      try {
        await client.query(begin);
        const out = await fn(clientTx(client));
        await client.query('COMMIT');
        client.release();
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
        const code = (e as { code?: unknown }).code;
        if (typeof code === 'string' && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) continue;
        throw e;
      }
    }
  }

  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    return this.withClient('BEGIN', fn);
  }

  read<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    return this.withClient('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn);
  }

  async insertSpentCoins(tx: SqlTx, rows: readonly SpentCoinRow[]): Promise<boolean[]> {
    if (rows.length === 0) return [];
    const buf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    const inserted = await tx.all<{ coin: Buffer }>(
      'INSERT INTO spent_coins (key_no, coin, transcript, credited) SELECT * FROM unnest(?::int2[], ?::bytea[], ?::bytea[], ?::bool[]) ON CONFLICT (coin) DO NOTHING RETURNING coin',
      [
        rows.map((r) => r.keyNo),
        rows.map((r) => buf(r.coin)),
        rows.map((r) => buf(r.transcript)),
        rows.map((r) => r.credited),
      ] as unknown as SqlValue[],
    );
    const set = new Set(inserted.map((r) => r.coin.toString('hex')));
    return rows.map((r) => set.has(buf(r.coin).toString('hex')));
  }

  isUniqueViolation(e: unknown): boolean {
    return (e as { code?: unknown }).code === '23505';
  }

  async migrate(): Promise<void> {
    if (this.schema !== undefined) {
      try {
        await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      } catch (e) {
        // Two processes creating the schema at once: the loser sees a unique violation.
        if (!this.isUniqueViolation(e)) throw unavailable(e);
      }
    }
    await this.withClient('BEGIN', async (tx) => {
      // One migrating process at a time.
      await tx.run("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/ecash-bank-migrate'))");
      await tx.run('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)');
      const row = await tx.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
      const version = row?.v ?? 0;
      if (version > POSTGRES_MIGRATIONS.length) {
        throw new EcashError(
          'database-too-new',
          `the database schema is version ${version}, newer than this program's ${POSTGRES_MIGRATIONS.length}; upgrade ecash`,
        );
      }
      for (let v = version; v < POSTGRES_MIGRATIONS.length; v++) {
        await tx.run(POSTGRES_MIGRATIONS[v]!);
        await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [v + 1, Date.now()]);
      }
    });
  }

  async sizeBytes(): Promise<number> {
    const row = await this.read((tx) =>
      tx.get<{ bytes: number }>(
        `SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) AS bytes FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')`,
      ),
    );
    return row!.bytes;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Opens the bank's PostgreSQL database (URL, optional `schema` parameter) and migrates it. */
export async function openPostgresStorage(url: string, options: { poolSize?: number; mustExist?: boolean } = {}): Promise<SqlBankStorage> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new EcashError('bad-database-url', 'the PostgreSQL URL is not a URL (postgres://user:password@host:port/database)');
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  if (schema !== undefined && !SCHEMA_RE.test(schema)) {
    throw new EcashError('bad-database-url', 'the schema parameter must be 1-63 characters of a-z, 0-9 and _, starting with a letter or _');
  }
  parsed.searchParams.delete('schema');
  // The schema goes into the connection's startup options, so every connection has its search
  // path before its first query (a SET sent on 'connect' races the pool's first query).
  const connection: pg.ClientConfig = {
    connectionString: parsed.toString(),
    types,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  };
  const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10 });
  // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const storage = new SqlBankStorage(new PostgresDriver(pool, schema, new PostgresSharedState(pool, connection)));
  try {
    // A bank's schema has its migrations table; without it this URL (or its ?schema) names no bank.
    if (options.mustExist === true) {
      const found = await pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t").catch((e: unknown) => {
        throw new EcashError('database-unavailable', `cannot reach the PostgreSQL database: ${(e as Error).message}`);
      });
      if (found.rows[0]?.t == null) {
        if (parsed.password !== '') parsed.password = '***';
        if (schema !== undefined) parsed.searchParams.set('schema', schema);
        throw noDatabase(parsed.toString());
      }
    }
    await storage.migrate();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return storage;
}
