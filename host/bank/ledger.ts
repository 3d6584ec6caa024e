/**
 * The bank's double-entry ledger: the names of its accounts, and how an entry is posted. Amounts
 * are credit-positive: what the bank owes a holder or a merchant is positive, the bank's cash (an
 * asset) is negative, and every entry sums to zero per currency (checked before anything is
 * written).
 */
import { EcashError, toHex } from '../../core/index.js';
import type { SqlTx } from './storage/sql.js';
import type { LedgerEntry, LedgerPosting } from './storage/types.js';

/** The bank's cash or settlement account: debited when an operator takes money in. */
export const CASH_ACCOUNT = 'cash';
/** The bank's fee income. */
export const FEES_ACCOUNT = 'fees';

export const holderAccount = (accountId: string): string => `holder:${accountId}`;
export const merchantAccount = (merchantId: string): string => `merchant:${merchantId}`;
/** The liability for e-cash issued under one key and not yet deposited. */
export const outstandingAccount = (keyId: Uint8Array): string => `outstanding:${toHex(keyId)}`;

/**
 * The merchant id under which an account holder deposits coins back to its own account
 * (rebalancing): the card binds its payment to this id as to any merchant's.
 */
export const ACCOUNT_DEPOSITOR_PREFIX = 'account:';
export const accountDepositorId = (accountId: string): string => `${ACCOUNT_DEPOSITOR_PREFIX}${accountId}`;

/** A coin deposited: the key's liability settled, the depositor credited its value less the fee, the fee booked. */
export const depositPostings = (
  keyId: Uint8Array,
  currency: string,
  value: number,
  creditAccount: string,
  fee: number,
): LedgerPosting[] => [
  { account: outstandingAccount(keyId), currency, amount: -value },
  { account: creditAccount, currency, amount: value - fee },
  { account: FEES_ACCOUNT, currency, amount: fee },
];

/** An operator's cash-in: the bank's cash against the holder's account. */
export const cashInPostings = (accountId: string, currency: string, amount: number): LedgerPosting[] => [
  { account: CASH_ACCOUNT, currency, amount: -amount },
  { account: holderAccount(accountId), currency, amount },
];

/** A coin withdrawn: the holder's account debited, the key's liability for e-cash out credited. */
export const withdrawalPostings = (accountId: string, keyId: Uint8Array, currency: string, value: number): LedgerPosting[] => [
  { account: holderAccount(accountId), currency, amount: -value },
  { account: outstandingAccount(keyId), currency, amount: value },
];

/** The sum of postings per (account, currency), sorted by account: the lock order. */
function mergePostings(postings: readonly LedgerPosting[]): LedgerPosting[] {
  const m = new Map<string, LedgerPosting>();
  for (const p of postings) {
    const k = `${p.account}\u0000${p.currency}`;
    const cur = m.get(k);
    if (cur) cur.amount += p.amount;
    else m.set(k, { ...p });
  }
  return [...m.values()]
    .filter((p) => p.amount !== 0)
    .sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : a.currency < b.currency ? -1 : 1));
}

function checkBalanced(postings: readonly LedgerPosting[]): void {
  const sums = new Map<string, number>();
  for (const p of postings) {
    if (!Number.isSafeInteger(p.amount)) throw new EcashError('internal', 'a ledger amount is not a safe integer');
    sums.set(p.currency, (sums.get(p.currency) ?? 0) + p.amount);
  }
  for (const [currency, sum] of sums) {
    if (sum !== 0) throw new EcashError('internal', `a ledger entry does not balance in ${currency}; nothing was booked`);
  }
}

/** An entry's postings merged per (account, currency), sorted (the lock order) and checked to balance. */
export function balancedPostings(postings: readonly LedgerPosting[]): LedgerPosting[] {
  const merged = mergePostings(postings);
  checkBalanced(merged);
  return merged;
}

/**
 * Books one entry inside the caller's transaction: its postings merged per (account, currency) and
 * checked to balance, then written with the balances they move. Returns the entry id.
 */
export async function postEntry(
  tx: SqlTx,
  kind: LedgerEntry['kind'],
  reference: string,
  postings: readonly LedgerPosting[],
  now: number,
): Promise<number> {
  const merged = balancedPostings(postings);
  const row = await tx.get<{ entry_id: number }>(
    'INSERT INTO ledger_entries (kind, reference, created_at) VALUES (?, ?, ?) RETURNING entry_id',
    [kind, reference, now],
  );
  const entryId = row!.entry_id;
  // One statement for the postings and one for the balances, whatever their number (each
  // statement is a round trip on PostgreSQL). The postings are sorted, so concurrent entries lock
  // balance rows in one order.
  if (merged.length === 0) return entryId;
  const rows = merged.map(() => '(?, ?, ?, ?)').join(', ');
  await tx.run(
    `INSERT INTO ledger_postings (entry_id, account, currency, amount) VALUES ${rows}`,
    merged.flatMap((p) => [entryId, p.account, p.currency, p.amount]),
  );
  await tx.run(
    `INSERT INTO ledger_balances (account, currency, balance) VALUES ${merged.map(() => '(?, ?, ?)').join(', ')} ` +
      'ON CONFLICT (account, currency) DO UPDATE SET balance = ledger_balances.balance + excluded.balance',
    merged.flatMap((p) => [p.account, p.currency, p.amount]),
  );
  return entryId;
}
