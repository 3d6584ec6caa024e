/**
 * What an SQL database must offer the bank's store. The store's statements are written once
 * (sql-store.ts) in SQL both SQLite and PostgreSQL accept; a driver adds the connection, the
 * transaction discipline, the schema and the few statements that differ.
 */
import type { LedgerEntry, LedgerPosting, OneStatementSteps, SharedBankState } from './types.js';

export type SqlValue = string | number | null | Uint8Array;

export interface SqlTx {
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface SpentCoinRow {
  /** The coin id (key, A and B hashed). */
  coin: Uint8Array;
  keyNo: number;
  /** False for a payment recorded but refused (see VerifiedDeposit.refusal). */
  credited: boolean;
  transcript: Uint8Array;
}

export interface SqlDriver {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Appended to a SELECT that must lock its rows until commit ('' where a writer locks all): of
   * every table it reads, or only of the table aliased `of` (a joined table's rows stay unlocked).
   */
  forUpdate(of?: string): string;
  /** Runs `fn` in one read-write transaction (retried on serialization failures where needed). */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  /** Runs `fn` with a consistent read-only view. */
  read<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  /** Inserts coins not yet spent; returns, per row, whether it was inserted (false: the coin exists). */
  insertSpentCoins(tx: SqlTx, rows: readonly SpentCoinRow[]): Promise<boolean[]>;
  isUniqueViolation(e: unknown): boolean;
  /**
   * Statements each run alone in its own implicit transaction, one round trip each (PostgreSQL):
   * a read of one statement needs no BEGIN and COMMIT around it. Without it the store wraps each
   * in `read`.
   */
  readonly single?: SqlTx;
  /** The withdrawal's steps in one statement each (PostgreSQL only). */
  readonly oneStatement?: OneStatementSteps;
  /** ledger.ts's postEntry in one statement (PostgreSQL only). */
  postEntry?(tx: SqlTx, kind: LedgerEntry['kind'], reference: string, postings: readonly LedgerPosting[], now: number): Promise<number>;
  /** What several processes on this database share (PostgreSQL only). */
  readonly shared?: SharedBankState;
  /** Inside the revoking transaction: tells the other processes at commit (PostgreSQL only). */
  announceRevocation?(tx: SqlTx, credentialId: string): Promise<void>;
  migrate(): Promise<void>;
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}
