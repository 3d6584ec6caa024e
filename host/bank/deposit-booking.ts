/**
 * How the bank books a deposit batch its workers have checked (deposit-check.ts), inside one
 * storage transaction: which coin is credited, which payment is a replay, which a double spend,
 * the fees, the postings and the stored results. These are the service's rules; the storage only
 * reads, locks and writes the rows they name.
 *
 * Locks follow the storage's order: the batch id is claimed first (a concurrent deposit of the
 * same batch waits for it), the new coins are inserted in the order of their coin ids, a spent
 * coin's row is locked before its conflicts are settled, and the balances last (ledger.ts sorts
 * them).
 */
import {
  bytesEqual,
  classifyDeposit,
  decodeTranscript,
  type DenominationKey,
  EcashError,
  type Group,
  makeDoubleSpendProof,
  toHex,
} from '../../core/index.js';
import type { BankApiErrorCode } from '../bank-client/index.js';
import { depositPostings } from './ledger.js';
import type { Balance, BankTransaction, DepositBatchRecord, DepositResult, LedgerPosting } from './storage/index.js';

/** One verified transcript ready to be booked, with what the bank derived from it. */
export interface VerifiedDeposit {
  index: number;
  keyNo: number;
  keyId: Uint8Array;
  value: number;
  currency: string;
  /**
   * The coin id (core's `transcriptCoinId`: its key, A and B hashed), the spent-coin key: a coin
   * at the bank is (key, A, B), so two coins with one A and different B are two coins.
   */
  coin: Uint8Array;
  /** The whole transcript in core's binary encoding. */
  transcript: Uint8Array;
  /**
   * Set for a payment the bank refuses only for the depositor's scope or the key's deposit
   * window: it verifies, so it spends the coin. Stored as the coin's spending, not credited; the
   * same payment again is refused the same way (or credited, if the bank now takes it); another
   * payment of the coin is a double spend.
   */
  refusal?: { code: BankApiErrorCode; message: string };
}

export interface DepositBatch {
  depositor: string;
  batchId: string;
  /** SHA-256 of the request's transcripts: the same batch id with other contents is refused. */
  requestHash: Uint8Array;
  /** Every transcript's result so far: rejected ones are final, the others are `undefined`. */
  prechecked: readonly (DepositResult | undefined)[];
  verified: readonly VerifiedDeposit[];
  /** The ledger account credited (`merchant:<id>` or `holder:<id>`) and its per-coin fee. */
  creditAccount: string;
  feePerCoin: number;
  now: number;
}

/** What the booking needs of the bank to tell a replay from a double spend. */
export interface ConflictKeys {
  group: Group;
  keyOf(keyNo: number): DenominationKey;
}

/**
 * How an incoming transcript for an already spent coin relates to the coin's first transcript: the
 * same challenge d (a replay), or another one (a double spend, u1 and I derived). Throws for a
 * stored transcript that does not decode (see settleConflict).
 */
type ConflictClass = { kind: 'replay' } | { kind: 'double-spend'; u1: Uint8Array; I: Uint8Array };

function classifyConflict(keys: ConflictKeys, incoming: VerifiedDeposit, first: Uint8Array): ConflictClass {
  const { group } = keys;
  const t2 = decodeTranscript(group, incoming.transcript);
  const t1 = decodeTranscript(group, first);
  if (classifyDeposit(group, t2, t1) === 'replay') return { kind: 'replay' };
  const proof = makeDoubleSpendProof(group, keys.keyOf(incoming.keyNo), t1, t2);
  return { kind: 'double-spend', u1: group.scalars.encode(proof.u1), I: group.encode(proof.I) };
}

const refused = (r: { code: BankApiErrorCode; message: string }): DepositResult => ({ outcome: 'rejected', ...r });

/** The batch's record: booked now, or as booked before under the same id (idempotent). */
export async function bookDepositBatch(tx: BankTransaction, q: DepositBatch, keys: ConflictKeys): Promise<DepositBatchRecord> {
  if (!(await tx.claimBatch(q.depositor, q.batchId, q.requestHash, q.now))) {
    // Deposited before (or just now by a concurrent request, which we waited for).
    const prior = (await tx.readBatch(q.depositor, q.batchId))!;
    if (!bytesEqual(prior.requestHash, q.requestHash)) {
      throw new EcashError(
        'batch-id-reused',
        `batch ${q.batchId} was already deposited with other transcripts; use a new batch id for a new batch`,
      );
    }
    return {
      depositor: prior.depositor,
      batchId: prior.batchId,
      createdAt: prior.createdAt,
      results: prior.results,
      credited: prior.credited,
    };
  }
  const results = [...q.prechecked];
  // The first transcript of each coin in the batch goes in one insert, in the order of coin ids.
  const firstOfCoin = new Map<string, VerifiedDeposit>();
  for (const v of q.verified) {
    const k = toHex(v.coin);
    if (!firstOfCoin.has(k)) firstOfCoin.set(k, v);
  }
  const firsts = [...firstOfCoin.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
  const inserted = await tx.insertSpentCoins(
    firsts.map((v) => ({ coin: v.coin, keyNo: v.keyNo, credited: v.refusal === undefined, transcript: v.transcript })),
  );
  firsts.forEach((v, i) => {
    if (inserted[i]) results[v.index] = v.refusal === undefined ? { outcome: 'credited' } : refused(v.refusal);
  });
  for (const v of q.verified) {
    if (results[v.index] === undefined) results[v.index] = await settleConflict(tx, q, v, keys);
  }
  const postings: LedgerPosting[] = [];
  const creditedTotals = new Map<string, number>();
  for (const v of q.verified.filter((c) => results[c.index]?.outcome === 'credited')) {
    const fee = Math.min(q.feePerCoin, v.value);
    postings.push(...depositPostings(v.keyId, v.currency, v.value, q.creditAccount, fee));
    creditedTotals.set(v.currency, (creditedTotals.get(v.currency) ?? 0) + v.value - fee);
  }
  if (postings.length > 0) await tx.post('deposit', `deposit:${q.depositor}:${q.batchId}`, postings, q.now);
  const final = results.map((r, i) => {
    if (r === undefined) throw new EcashError('internal', `deposit result ${i} was not decided`);
    return r;
  });
  const credited: Balance[] = [...creditedTotals.entries()].sort().map(([currency, balance]) => ({ currency, balance }));
  await tx.saveBatchResults(q.depositor, q.batchId, final, credited);
  return { depositor: q.depositor, batchId: q.batchId, createdAt: q.now, results: final, credited };
}

/** A transcript for an already spent coin: a replay, or a double spend to record. */
async function settleConflict(tx: BankTransaction, q: DepositBatch, v: VerifiedDeposit, keys: ConflictKeys): Promise<DepositResult> {
  // Locking the coin's row serialises the settling of its conflicts: two deposits of the same
  // second transcript at once would otherwise both find no record and both insert one.
  const first = await tx.lockSpentCoin(v.coin);
  if (first === undefined) throw new EcashError('internal', 'a spent coin vanished during a deposit');
  const later = await tx.doubleSpendsOf(v.coin);
  const replay = async (): Promise<DepositResult> => {
    if (first.credited) return { outcome: 'replay' };
    if (v.refusal !== undefined) return refused(v.refusal);
    // The payment the bank recorded when it refused it, from its payee, who the bank now
    // credits (a deposit window that has opened, a scope the merchant was given).
    await tx.creditSpentCoin(v.coin);
    return { outcome: 'credited' };
  };
  if (bytesEqual(first.transcript, v.transcript)) return replay();
  const same = later.find((l) => bytesEqual(l.transcript, v.transcript));
  if (same !== undefined) return { outcome: 'double-spend', doubleSpendId: same.doubleSpendId, accountId: same.accountId };
  let cls: ConflictClass;
  try {
    cls = classifyConflict(keys, v, first.transcript);
  } catch {
    // Only a stored transcript that is not what the bank wrote (or a bug) gets here: valid
    // transcripts of one coin are a replay or identify their spender. This transcript is
    // refused alone and not stored, so it can be deposited again once the record is repaired.
    return {
      outcome: 'rejected',
      code: 'conflict-unresolved',
      message:
        "this coin's earlier deposit could not be compared with this payment; nothing was credited; keep the transcript and tell the bank's operator",
    };
  }
  if (cls.kind === 'replay') return replay();
  const accountId = (await tx.accountWithI(cls.I)) ?? null;
  const doubleSpendId = await tx.recordDoubleSpend({
    keyNo: v.keyNo,
    coin: v.coin,
    transcript: v.transcript,
    u1: cls.u1,
    I: cls.I,
    accountId,
    depositor: q.depositor,
    batchId: q.batchId,
    createdAt: q.now,
  });
  return { outcome: 'double-spend', doubleSpendId, accountId };
}
