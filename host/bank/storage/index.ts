/** Opens the bank's storage from one `--db` argument: a PostgreSQL URL or an SQLite file path. */
import type { BankStorage } from './types.js';
import { openPostgresStorage } from './postgres.js';
import { openSqliteStorage } from './sqlite.js';

export * from './types.js';
export { openPostgresStorage } from './postgres.js';
export { openSqliteStorage } from './sqlite.js';
export { noDatabase } from './no-database.js';

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

export interface OpenStorageOptions {
  /**
   * Refuse (`no-database`) a database that does not exist yet instead of creating it: every
   * command but `bank init` passes it, so a mistyped --db never becomes a new, empty bank.
   */
  mustExist?: boolean;
}

export function openStorage(db: string, options: OpenStorageOptions = {}): Promise<BankStorage> {
  return isPostgresUrl(db) ? openPostgresStorage(db, options) : openSqliteStorage(db, options);
}
