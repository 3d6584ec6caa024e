/** Opens the bank's storage from one `--db` argument: a PostgreSQL URL or an SQLite file path. */
import type { BankStorage } from './types.js';
import { openPostgresStorage } from './postgres.js';
import { openSqliteStorage } from './sqlite.js';

export * from './types.js';
export { openPostgresStorage } from './postgres.js';
export { openSqliteStorage } from './sqlite.js';

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

export function openStorage(db: string): Promise<BankStorage> {
  return isPostgresUrl(db) ? openPostgresStorage(db) : openSqliteStorage(db);
}
