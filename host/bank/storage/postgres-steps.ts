/**
 * PostgreSQL statements that do a step's reads and writes in one round trip (each statement over
 * the network waits for its answer; BEGIN and COMMIT are two more). Data-modifying CTEs run in one
 * statement, all or nothing like a transaction, and in READ COMMITTED a row locked or updated by
 * one waits for a concurrent writer and then sees that writer's version, so these take the same
 * locks in the same order as the service's transactions (session, then balances in account order)
 * and decide on the rows as they are once locked.
 */
import { balancedPostings, type postEntry } from '../ledger.js';
import { type SessionRow, sessionOf } from './sql-store.js';
import type { SqlTx, SqlValue } from './sql.js';
import type { LedgerEntry, LedgerPosting, NewSession, OneStatementSteps } from './types.js';

/** Array parameters go to pg as they are (node-postgres encodes them). */
const arrays = (...values: unknown[]): SqlValue[] => values as SqlValue[];

/**
 * CTEs `entry`, `postings` and `balances` booking one balanced entry after the CTE named `after`
 * (no row there: nothing booked). Parameters from `$first`: kind, reference, created_at, then the
 * accounts, currencies and amounts as arrays (sorted: the balance rows' lock order).
 */
function entryCtes(after: string, first: number): string {
  const p = (i: number) => `$${first + i}`;
  const rows = `unnest(${p(3)}::text[], ${p(4)}::text[], ${p(5)}::int8[]) AS x(account, currency, amount)`;
  return `entry AS (
      INSERT INTO ledger_entries (kind, reference, created_at) SELECT ${p(0)}, ${p(1)}, ${p(2)} FROM ${after} RETURNING entry_id
    ), postings AS (
      INSERT INTO ledger_postings (entry_id, account, currency, amount) SELECT entry.entry_id, x.account, x.currency, x.amount FROM entry, ${rows}
    ), balances AS (
      INSERT INTO ledger_balances (account, currency, balance) SELECT x.account, x.currency, x.amount FROM entry, ${rows}
      ON CONFLICT (account, currency) DO UPDATE SET balance = ledger_balances.balance + excluded.balance
    )`;
}

function entryParams(kind: LedgerEntry['kind'], reference: string, postings: readonly LedgerPosting[], now: number): SqlValue[] {
  const merged = balancedPostings(postings);
  return [
    kind,
    reference,
    now,
    ...arrays(
      merged.map((p) => p.account),
      merged.map((p) => p.currency),
      merged.map((p) => p.amount),
    ),
  ];
}

/** ledger.ts's postEntry in one statement: the entry, its postings and the balances they move. */
export const postEntryOnce: typeof postEntry = async (tx, kind, reference, postings, now) => {
  const row = await tx.get<{ entry_id: number }>(
    `WITH one AS (SELECT 1), ${entryCtes('one', 1)} SELECT entry_id FROM entry`,
    entryParams(kind, reference, postings, now),
  );
  return row!.entry_id;
};

type PeekRow = SessionRow & { balance: number };

/** The withdrawal's steps over `single`, whose every call is one statement in its own transaction. */
export function postgresWithdrawalSteps(single: SqlTx): OneStatementSteps {
  return {
    async openSession(s: NewSession, funds) {
      // The funds are read without a lock, as the transaction does: the answer reads them again, locked.
      const row = await single.get<{ balance: number; opened: boolean }>(
        `WITH funds AS (SELECT COALESCE((SELECT balance FROM ledger_balances WHERE account = $1 AND currency = $2), 0) AS balance),
         opened AS (
           INSERT INTO withdrawal_sessions (session_id, account_id, key_no, state, a, b, created_at, expires_at)
           SELECT $4, $5, $6, 'open', $7, $8, $9, $10 FROM funds WHERE funds.balance >= $3
           ON CONFLICT (account_id) WHERE state = 'open' DO NOTHING RETURNING 1
         )
         SELECT funds.balance, EXISTS (SELECT 1 FROM opened) AS opened FROM funds`,
        [funds.account, funds.currency, funds.value, s.sessionId, s.accountId, s.keyNo, s.a, s.b, s.createdAt, s.expiresAt],
      );
      if (row!.opened) return 'opened';
      return row!.balance < funds.value ? 'insufficient-funds' : 'session-open';
    },

    async peekSession(sessionId, account) {
      const s = await single.get<PeekRow>(
        `SELECT s.account_id, s.key_no, s.state, s.c, s.r, s.created_at, s.expires_at, k.key_id, k.value, k.currency,
           COALESCE(b.balance, 0) AS balance
         FROM withdrawal_sessions s JOIN denomination_keys k ON k.key_no = s.key_no
         LEFT JOIN ledger_balances b ON b.account = $2 AND b.currency = k.currency
         WHERE s.session_id = $1`,
        [sessionId, account],
      );
      return s && { ...sessionOf(sessionId, s), balance: s.balance };
    },

    async answerSession(a) {
      // `locked` takes the session's row lock first, `funds` the balance's after it (it reads
      // `locked`), as the transaction does; `answered` then updates the session only if it is
      // still open once locked, and the entry is booked only if it did.
      const row = await single.get<{ answered: number }>(
        `WITH locked AS (SELECT session_id FROM withdrawal_sessions WHERE session_id = $1 FOR UPDATE),
         funds AS (
           SELECT balance FROM ledger_balances WHERE account = $7 AND currency = $8 AND EXISTS (SELECT 1 FROM locked) FOR UPDATE
         ),
         answered AS (
           UPDATE withdrawal_sessions SET state = 'answered', c = $3, r = $4, answered_at = $5
           WHERE session_id = $1 AND account_id = $2 AND state = 'open' AND expires_at > $5 AND (SELECT balance FROM funds) >= $6
           RETURNING session_id
         ),
         ${entryCtes('answered', 9)}
         SELECT COUNT(*)::int AS answered FROM answered`,
        [
          a.sessionId,
          a.accountId,
          a.c,
          a.r,
          a.now,
          a.funds.value,
          a.funds.account,
          a.funds.currency,
          ...entryParams('withdrawal', a.reference, a.postings, a.now),
        ],
      );
      return row!.answered === 1;
    },
  };
}
