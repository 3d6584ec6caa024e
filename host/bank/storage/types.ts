/**
 * The bank's one storage interface. Each method is one database transaction with a meaning in the
 * domain (open a withdrawal session, answer it and debit, deposit a batch and credit), so that
 * every rule that protects money holds inside the database: one open session per account, a
 * session answers once, a coin is credited once. Two adapters implement it: SQLite (embedded
 * default) and PostgreSQL; the same test suite runs on both.
 *
 * The ledger is double-entry with credit-positive amounts: every entry's postings sum to zero per
 * currency; a holder's or merchant's balance is what the bank owes them (positive), the bank's
 * cash is negative (an asset), and `outstanding:<keyId>` is the e-cash liability of one key.
 */
import type { SuiteId } from '../../../core/index.js';

export type PartyKind = 'account' | 'merchant' | 'operator';

export interface KeyRecord {
  keyNo: number;
  keyId: Uint8Array;
  /** The key's public JSON (core's `keyToJson`). */
  keyJson: string;
  value: number;
  currency: string;
  withdrawFrom: number;
  withdrawUntil: number;
  depositUntil: number;
  scope: string;
}

export type NewKey = Omit<KeyRecord, 'keyNo'>;

export interface AccountRecord {
  accountId: string;
  holder: string;
  /** I, encoded. */
  I: Uint8Array;
  createdAt: number;
}

export interface MerchantRecord {
  merchantId: string;
  name: string;
  scopes: string[];
  /** Fee in minor units per deposited coin, booked to `fees`. */
  feePerCoin: number;
  createdAt: number;
}

export interface CredentialRecord {
  credentialId: string;
  kind: PartyKind;
  partyId: string;
  secretHash: Uint8Array;
  createdAt: number;
  revokedAt: number | null;
}

export type SessionState = 'open' | 'answered' | 'expired' | 'cancelled';

/**
 * A withdrawal session as stored: its offer (a, b) but never its w, which the bank derives from
 * the key's secret and the session's id and times (core's WithdrawalNonces) when it answers.
 */
export interface NewSession {
  sessionId: string;
  accountId: string;
  keyNo: number;
  a: Uint8Array;
  b: Uint8Array;
  createdAt: number;
  expiresAt: number;
}

export interface AnswerRequest {
  sessionId: string;
  accountId: string;
  /** The card's challenge, encoded. */
  c: Uint8Array;
  now: number;
  /**
   * Computes r = c·x + w inside the transaction, for an open, unexpired session of the account
   * with the funds: the caller derives w from the session's key, id and times, and may refuse
   * (throw) to answer it. The transaction is then rolled back and the error thrown.
   */
  answer: (session: { keyNo: number; createdAt: number; expiresAt: number }) => Uint8Array;
}

export interface LedgerPosting {
  account: string;
  currency: string;
  amount: number;
}

export interface LedgerEntry {
  entryId: number;
  kind: 'cash-in' | 'withdrawal' | 'deposit';
  reference: string;
  createdAt: number;
  postings: LedgerPosting[];
}

export interface Balance {
  currency: string;
  balance: number;
}

/** One verified transcript ready to be stored, with what the bank derived from it. */
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
  refusal?: { code: string; message: string };
}

export type DepositResult =
  | { outcome: 'credited' }
  | { outcome: 'replay' }
  | { outcome: 'double-spend'; doubleSpendId: number; accountId: string | null }
  | { outcome: 'rejected'; code: string; message: string };

/**
 * How an incoming transcript for an already spent coin relates to the coin's first transcript (the
 * one credited, or recorded when refused): the same challenge d (a replay), or another one (a
 * double spend, u1 and I derived).
 * If it throws, the storage rejects that transcript alone (`conflict-unresolved`) and the rest of
 * the batch is booked: one transcript never fails a batch.
 */
export type ConflictClass = { kind: 'replay' } | { kind: 'double-spend'; u1: Uint8Array; I: Uint8Array };
export type ConflictClassifier = (incoming: VerifiedDeposit, first: Uint8Array) => ConflictClass;

export interface DepositBatchRequest {
  depositor: string;
  batchId: string;
  /** SHA-256 of the request's transcripts: the same batch id with other contents is refused. */
  requestHash: Uint8Array;
  /** Every transcript's result so far: rejected ones are final, the others are `undefined`. */
  prechecked: (DepositResult | undefined)[];
  verified: VerifiedDeposit[];
  /** The ledger account credited (`merchant:<id>` or `holder:<id>`) and its per-coin fee. */
  creditAccount: string;
  feePerCoin: number;
  classify: ConflictClassifier;
  now: number;
}

export interface DepositBatchRecord {
  depositor: string;
  batchId: string;
  createdAt: number;
  results: DepositResult[];
  /** Total credited per currency (after fees). */
  credited: Balance[];
}

export interface DoubleSpendRecord {
  doubleSpendId: number;
  keyNo: number;
  /** The coin id. */
  coin: Uint8Array;
  /** The coin's first transcript (credited, or recorded when refused) and the later, different one. */
  first: Uint8Array;
  second: Uint8Array;
  u1: Uint8Array;
  I: Uint8Array;
  accountId: string | null;
  depositor: string;
  batchId: string;
  createdAt: number;
}

export interface KeyAudit {
  keyNo: number;
  keyId: Uint8Array;
  value: number;
  currency: string;
  /** Coins answered by withdrawal sessions under the key. */
  issued: number;
  /** Distinct coins deposited and credited (rows of the spent-coin table). */
  deposited: number;
  /** Coins recorded as spent by a payment the bank refused (scope, window): still outstanding. */
  refused: number;
  /** The liability account's balance (minor units). */
  outstandingBalance: number;
}

export interface AuditFacts {
  /** Σ of postings per entry that is not zero (should be none), per currency. */
  unbalancedEntries: { entryId: number; currency: string; sum: number }[];
  /** Stored balances that differ from the sum of their postings (should be none). */
  balanceMismatches: { account: string; currency: string; stored: number; fromPostings: number }[];
  /** Σ of all balances per currency (should be 0). */
  totals: Balance[];
  keys: KeyAudit[];
}

export interface StatementQuery {
  account: string;
  /** Entries with ids below this one (paging backwards); undefined for the newest. */
  before?: number;
  limit: number;
}

export interface BankStorage {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** The suite is fixed when the bank is initialised; later opens must agree. */
  initSuite(suite: SuiteId): Promise<SuiteId>;
  getSuite(): Promise<SuiteId | undefined>;

  registerKey(key: NewKey): Promise<KeyRecord>;
  listKeys(): Promise<KeyRecord[]>;

  /** Fails with `account-exists` if I is already registered. */
  createAccount(account: AccountRecord): Promise<void>;
  getAccount(accountId: string): Promise<AccountRecord | undefined>;

  /** Fails with `merchant-exists`. */
  createMerchant(merchant: MerchantRecord): Promise<void>;
  getMerchant(merchantId: string): Promise<MerchantRecord | undefined>;

  addCredential(credential: CredentialRecord): Promise<void>;
  getCredential(credentialId: string): Promise<CredentialRecord | undefined>;
  /** Revokes a credential for good (a revoked one keeps its first revocation time); undefined if there is none. */
  revokeCredential(credentialId: string, now: number): Promise<CredentialRecord | undefined>;

  /** Operator cash-in: `holder:<id>` is credited against `cash`. Returns the entry id. */
  cashIn(accountId: string, currency: string, amount: number, reference: string, now: number): Promise<number>;
  balances(account: string): Promise<Balance[]>;
  statement(query: StatementQuery): Promise<LedgerEntry[]>;

  /**
   * Opens a session, in one transaction: fails with `insufficient-funds` if the account's balance
   * is below the key's value, and with `session-open` if the account still has an unexpired open
   * session (a stale one is expired first).
   */
  openSession(session: NewSession): Promise<void>;
  /**
   * Answers once: marks the session answered, stores c and r, debits the account and books the
   * withdrawal, all in one transaction. The same c again returns the stored r; another c fails
   * with `session-answered`; `session-expired`, `session-not-found`, `insufficient-funds`.
   */
  answerSession(request: AnswerRequest): Promise<Uint8Array>;
  /** Ends an unanswered session. False if there was no open session of this account. */
  cancelSession(sessionId: string, accountId: string, now: number): Promise<boolean>;
  /** Closes every open session past its expiry. Returns how many were closed. */
  expireSessions(now: number): Promise<number>;

  /** The stored result of a batch, if this depositor has deposited one with this id. */
  getDepositBatch(depositor: string, batchId: string): Promise<(DepositBatchRecord & { requestHash: Uint8Array }) | undefined>;
  /** Deposits a batch in one transaction (see DepositBatchRequest); idempotent by batch id. */
  depositBatch(request: DepositBatchRequest): Promise<DepositBatchRecord>;

  listDoubleSpends(query: { depositor?: string; after?: number; limit: number }): Promise<DoubleSpendRecord[]>;

  audit(): Promise<AuditFacts>;
  /** Bytes the database occupies now (tables and indexes), for the storage benchmark. */
  sizeBytes(): Promise<number>;
}
