/**
 * Typed reads of a row a program stored in its own database (a terminal's journal): SQLite keeps
 * whatever a damaged or edited file holds, so a value of the wrong type or outside its set is
 * refused with one stable code (`journal-corrupt`) instead of travelling on as a wrong type.
 */
import { EcashError } from './errors.js';

export const JOURNAL_CORRUPT = 'journal-corrupt';

export class StoredRow {
  constructor(
    private readonly row: Record<string, unknown>,
    /** What the row is, for the message ("the terminal's journal, payments"). */
    private readonly what: string,
  ) {}

  private fail(column: string, why: string): never {
    throw new EcashError(JOURNAL_CORRUPT, `${this.what} is damaged: ${column} ${why}; restore the file from a backup`, {
      details: { column },
    });
  }

  integer(column: string, min = Number.MIN_SAFE_INTEGER): number {
    const v = this.row[column];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(column, `is not an integer >= ${min}`);
    return v;
  }

  /** A boolean stored as 0 or 1. */
  flag(column: string): boolean {
    const v = this.row[column];
    if (v !== 0 && v !== 1) this.fail(column, 'is neither 0 nor 1');
    return v === 1;
  }

  text(column: string): string {
    const v = this.row[column];
    if (typeof v !== 'string') this.fail(column, 'is not text');
    return v;
  }

  optionalText(column: string): string | null {
    return this.row[column] === null ? null : this.text(column);
  }

  blob(column: string): Uint8Array {
    const v = this.row[column];
    if (!(v instanceof Uint8Array)) this.fail(column, 'is not bytes');
    return new Uint8Array(v);
  }

  oneOf<T extends string>(column: string, allowed: readonly T[]): T {
    const v = this.row[column];
    if (!allowed.includes(v as T)) this.fail(column, `is none of ${allowed.join(', ')}`);
    return v as T;
  }

  /** A JSON document stored as text: `check` says which values are acceptable. */
  json<T>(column: string, check: (v: unknown) => v is T, expected: string): T {
    let v: unknown;
    try {
      v = JSON.parse(this.text(column));
    } catch (e) {
      if (e instanceof EcashError) throw e;
      this.fail(column, 'is not JSON');
    }
    if (!check(v)) this.fail(column, `is not ${expected}`);
    return v;
  }

  /** A JSON object stored as text, or NULL. */
  optionalJsonObject(column: string): Record<string, unknown> | null {
    if (this.row[column] === null) return null;
    return this.json(column, isJsonObject, 'a JSON object');
  }
}

export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
