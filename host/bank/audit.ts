/**
 * The audit: proves from the database that the books balance and that no e-cash was created or
 * lost. Three independent records must agree for every key: the withdrawal sessions that answered
 * (issued), the spent-coin table (deposited: its credited rows) and the ledger's liability
 * account (outstanding):
 *   issued × value = outstanding balance + deposited × value.
 * A coin recorded as spent by a payment the bank refused (the depositor's scope, the key's deposit
 * window) was not credited: it is still outstanding, and is counted apart (refused), so
 * issued ≥ deposited + refused: every recorded coin, credited or not, was issued.
 * Besides, every ledger entry sums to zero per currency, every stored balance equals the sum of
 * its postings, and all balances together sum to zero per currency.
 */
import { formatAmount, toHex } from '../../core/index.js';
import type { AuditJson } from '../bank-client/index.js';
import { outstandingAccount } from './ledger.js';
import type { SqlTx } from './storage/sql.js';
import type { AuditFacts, Balance, BankStorage } from './storage/types.js';

/** The audit as the API gives it (GET /v1/audit) and `ecash bank audit` prints it. */
export type AuditReport = AuditJson;
export type KeyAuditJson = AuditJson['keys'][number];

export async function auditBooks(storage: BankStorage): Promise<AuditReport> {
  const facts = await storage.audit();
  const problems: string[] = [];
  for (const u of facts.unbalancedEntries)
    problems.push(`ledger entry ${u.entryId} does not balance in ${u.currency} (sums to ${formatAmount(u.sum, u.currency)})`);
  for (const m of facts.balanceMismatches) {
    problems.push(
      `balance of ${m.account} in ${m.currency} is ${formatAmount(m.stored, m.currency)} but its postings sum to ${formatAmount(m.fromPostings, m.currency)}`,
    );
  }
  for (const t of facts.totals)
    if (t.balance !== 0)
      problems.push(`all ${t.currency} balances sum to ${formatAmount(t.balance, t.currency)}, not ${formatAmount(0, t.currency)}`);
  const keys = facts.keys.map((k) => {
    const keyId = toHex(k.keyId);
    const outstanding = k.issued - k.deposited;
    const balanced = outstanding >= 0 && k.outstandingBalance === outstanding * k.value;
    if (!balanced) {
      problems.push(
        `key ${keyId}: issued ${k.issued} coins of ${formatAmount(k.value, k.currency)}, deposited ${k.deposited}, but the outstanding liability is ${formatAmount(k.outstandingBalance, k.currency)} (expected ${formatAmount(outstanding * k.value, k.currency)})`,
      );
    }
    const recorded = k.refused <= outstanding;
    if (!recorded)
      problems.push(`key ${keyId}: ${k.refused} coins are recorded as spent by refused payments, more than the ${outstanding} outstanding`);
    const ok = balanced && recorded;
    return {
      keyId,
      value: k.value,
      currency: k.currency,
      issued: k.issued,
      deposited: k.deposited,
      refused: k.refused,
      outstanding,
      outstandingBalance: k.outstandingBalance,
      ok,
    };
  });
  return { ok: problems.length === 0, problems, totals: facts.totals, keys };
}

/** The facts the audit compares, read in one consistent view of the database. */
export async function readAuditFacts(tx: SqlTx): Promise<AuditFacts> {
  const unbalanced = await tx.all<{ entry_id: number; currency: string; sum: number }>(
    'SELECT entry_id, currency, CAST(SUM(amount) AS BIGINT) AS sum FROM ledger_postings GROUP BY entry_id, currency HAVING SUM(amount) <> 0 ORDER BY entry_id',
  );
  const fromPostings = await tx.all<{ account: string; currency: string; sum: number }>(
    'SELECT account, currency, CAST(SUM(amount) AS BIGINT) AS sum FROM ledger_postings GROUP BY account, currency',
  );
  const stored = await tx.all<{ account: string; currency: string; balance: number }>(
    'SELECT account, currency, balance FROM ledger_balances',
  );
  const key = (a: string, c: string) => `${a}\u0000${c}`;
  const storedMap = new Map(stored.map((s) => [key(s.account, s.currency), s.balance]));
  const postedMap = new Map(fromPostings.map((p) => [key(p.account, p.currency), p.sum]));
  const mismatches: AuditFacts['balanceMismatches'] = [];
  for (const k of new Set([...storedMap.keys(), ...postedMap.keys()])) {
    const s = storedMap.get(k) ?? 0;
    const p = postedMap.get(k) ?? 0;
    if (s !== p) {
      const [account, currency] = k.split('\u0000') as [string, string];
      mismatches.push({ account, currency, stored: s, fromPostings: p });
    }
  }
  const totals = await tx.all<Balance>(
    'SELECT currency, CAST(SUM(balance) AS BIGINT) AS balance FROM ledger_balances GROUP BY currency ORDER BY currency',
  );
  const keys = await tx.all<{ key_no: number; key_id: Uint8Array; value: number; currency: string }>(
    'SELECT key_no, key_id, value, currency FROM denomination_keys ORDER BY key_no',
  );
  const issued = new Map(
    (
      await tx.all<{ key_no: number; n: number }>(
        "SELECT key_no, COUNT(*) AS n FROM withdrawal_sessions WHERE state = 'answered' GROUP BY key_no",
      )
    ).map((r) => [r.key_no, r.n]),
  );
  const spent = await tx.all<{ key_no: number; credited: boolean | number; n: number }>(
    'SELECT key_no, credited, COUNT(*) AS n FROM spent_coins GROUP BY key_no, credited',
  );
  const count = (keyNo: number, credited: boolean) => spent.find((r) => r.key_no === keyNo && Boolean(r.credited) === credited)?.n ?? 0;
  return {
    unbalancedEntries: unbalanced.map((u) => ({ entryId: u.entry_id, currency: u.currency, sum: u.sum })),
    balanceMismatches: mismatches,
    totals,
    keys: keys.map((k) => ({
      keyNo: k.key_no,
      keyId: k.key_id,
      value: k.value,
      currency: k.currency,
      issued: issued.get(k.key_no) ?? 0,
      deposited: count(k.key_no, true),
      refused: count(k.key_no, false),
      outstandingBalance: postedMap.get(key(outstandingAccount(k.key_id), k.currency)) ?? 0,
    })),
  };
}
