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
import { toHex } from '../../core/index.js';
import type { BankStorage, Balance } from './storage/index.js';

export interface KeyAuditJson {
  keyId: string;
  value: number;
  currency: string;
  issued: number;
  deposited: number;
  /** Of the outstanding coins, those recorded as spent by a refused payment. */
  refused: number;
  outstanding: number;
  outstandingBalance: number;
  ok: boolean;
}

export interface AuditReport {
  ok: boolean;
  problems: string[];
  totals: Balance[];
  keys: KeyAuditJson[];
}

export async function auditBooks(storage: BankStorage): Promise<AuditReport> {
  const facts = await storage.audit();
  const problems: string[] = [];
  for (const u of facts.unbalancedEntries) problems.push(`ledger entry ${u.entryId} does not balance in ${u.currency} (sums to ${u.sum})`);
  for (const m of facts.balanceMismatches) {
    problems.push(`balance of ${m.account} in ${m.currency} is ${m.stored} but its postings sum to ${m.fromPostings}`);
  }
  for (const t of facts.totals) if (t.balance !== 0) problems.push(`all ${t.currency} balances sum to ${t.balance}, not 0`);
  const keys = facts.keys.map((k) => {
    const keyId = toHex(k.keyId);
    const outstanding = k.issued - k.deposited;
    const balanced = outstanding >= 0 && k.outstandingBalance === outstanding * k.value;
    if (!balanced) {
      problems.push(
        `key ${keyId}: issued ${k.issued} coins of ${k.value} ${k.currency}, deposited ${k.deposited}, but the outstanding liability is ${k.outstandingBalance} (expected ${outstanding * k.value})`,
      );
    }
    const recorded = k.refused <= outstanding;
    if (!recorded) problems.push(`key ${keyId}: ${k.refused} coins are recorded as spent by refused payments, more than the ${outstanding} outstanding`);
    const ok = balanced && recorded;
    return { keyId, value: k.value, currency: k.currency, issued: k.issued, deposited: k.deposited, refused: k.refused, outstanding, outstandingBalance: k.outstandingBalance, ok };
  });
  return { ok: problems.length === 0, problems, totals: facts.totals, keys };
}
