/**
 * What several bank processes on one PostgreSQL database share beyond the bank's tables
 * (docs/operations.md "Several processes"):
 *
 * - Rate-limit counters, one row per key and fixed window in an UNLOGGED table (a crash empties
 *   it: the limits start over, nothing of money is in it), counted by one upsert per request on
 *   the database's clock, so every process counts one window for a key whatever its own clock says.
 * - Revoked credentials, announced with NOTIFY by the revoking transaction (delivered at its
 *   commit) to every process LISTENing on the bank's channel, which drops the credential from its
 *   cache. The channel is per schema (two banks in one database do not hear each other).
 */
import pg from 'pg';
import { EcashError } from '../../../core/index.js';
import type { SqlTx } from './sql.js';
import type { RevocationHandlers, SharedBankState } from './types.js';

/** The rate-limit table (schema version 5). */
export const RATE_LIMIT_TABLE_SQL =
  'CREATE UNLOGGED TABLE rate_limit_windows (key text PRIMARY KEY, ends_at bigint NOT NULL, hits integer NOT NULL);';

/** The database's clock in ms. */
const DB_NOW = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';
/** Counts per key: a window that ended starts again at 1. */
const COUNT_SQL = `INSERT INTO rate_limit_windows AS w (key, ends_at, hits) VALUES ($1, ${DB_NOW} + $2, 1)
  ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN w.ends_at > excluded.ends_at - $2 THEN w.hits + 1 ELSE 1 END,
    ends_at = CASE WHEN w.ends_at > excluded.ends_at - $2 THEN w.ends_at ELSE excluded.ends_at END
  RETURNING hits, w.ends_at - ${DB_NOW} AS ttl`;
/** Ended windows are deleted every this many counts (by the process that counts it). */
const SWEEP_EVERY = 1000;
/** The revocation channel of the connection's schema (md5: a channel name has at most 63 bytes). */
const CHANNEL_SQL = "'ecash_revoked_' || md5(current_schema())";
const RECONNECT_MS = 1000;

export class PostgresSharedState implements SharedBankState {
  private counted = 0;

  constructor(
    private readonly pool: pg.Pool,
    /** A connection's settings as the pool's (URL, search path), for the listening connection. */
    private readonly clientConfig: pg.ClientConfig,
  ) {}

  async countRequest(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }> {
    try {
      if (++this.counted % SWEEP_EVERY === 0) await this.pool.query(`DELETE FROM rate_limit_windows WHERE ends_at < ${DB_NOW}`);
      const row = (await this.pool.query<{ hits: number; ttl: number }>(COUNT_SQL, [key, windowMs])).rows[0]!;
      return { count: row.hits, ttlMs: Math.max(0, row.ttl) };
    } catch (cause) {
      throw new EcashError('database-unavailable', 'the rate limit could not be counted: the database does not answer', { cause });
    }
  }

  async announceRevocation(tx: SqlTx, credentialId: string): Promise<void> {
    await tx.run(`SELECT pg_notify(${CHANNEL_SQL}, ?)`, [credentialId]);
  }

  async watchRevocations(handlers: RevocationHandlers): Promise<{ close(): Promise<void> }> {
    const feed = new RevocationFeed(this.clientConfig, handlers);
    await feed.connect();
    return feed;
  }
}

/**
 * One LISTENing connection, reconnected after a failure. While it is down the process may miss
 * revocations, so `lost` tells the service to stop trusting its credential cache until `listening`.
 */
class RevocationFeed {
  private client: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly handlers: RevocationHandlers,
  ) {}

  async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', () => this.drop(client));
    client.on('end', () => this.drop(client));
    client.on('notification', (n) => {
      if (n.payload !== undefined && n.payload !== '') this.handlers.revoked(n.payload);
    });
    try {
      await client.connect();
      const channel = (await client.query<{ c: string }>(`SELECT ${CHANNEL_SQL} AS c`)).rows[0]!.c;
      await client.query(`LISTEN "${channel}"`);
    } catch (cause) {
      await client.end().catch(() => undefined);
      throw new EcashError('database-unavailable', 'cannot listen for revoked credentials: the database does not answer', { cause });
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.handlers.listening();
  }

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    void client.end().catch(() => undefined);
    this.handlers.lost();
    this.reconnectLater();
  }

  private reconnectLater(): void {
    if (this.closed) return;
    this.retry = setTimeout(() => void this.connect().catch(() => this.reconnectLater()), RECONNECT_MS);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
