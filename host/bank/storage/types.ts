/**
 * The bank's one storage interface: it stores, and the service decides. Reads and single writes
 * are methods of BankStorage; the steps that move money (open a withdrawal session, answer it and
 * debit, deposit a batch and credit) are the service's, each run as one `transaction` over the
 * rows a BankTransaction reads and locks, so that every rule that protects money holds inside one
 * database transaction: one open session per account (a unique index), a session answers once,
 * a coin is credited once (its primary key). Two adapters implement it: SQLite (embedded default)
 * and PostgreSQL; the same test suite runs on both.
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

/** A withdrawal session as the answer finds it (locked), with its key's denomination. */
export interface SessionRecord {
  sessionId: string;
  accountId: string;
  keyNo: number;
  state: SessionState;
  /** The challenge answered and the answer, once answered. */
  c: Uint8Array | null;
  r: Uint8Array | null;
  createdAt: number;
  expiresAt: number;
  keyId: Uint8Array;
  value: number;
  currency: string;
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

export type DepositResult =
  | { outcome: 'credited' }
  | { outcome: 'replay' }
  | { outcome: 'double-spend'; doubleSpendId: number; accountId: string | null }
  | { outcome: 'rejected'; code: string; message: string };

/** A coin's first spending (credited, or recorded when refused), as a later transcript of it finds it. */
export interface SpentCoin {
  transcript: Uint8Array;
  credited: boolean;
}

/** A later, different transcript of a spent coin, recorded with what identifies its spender. */
export interface NewDoubleSpend {
  keyNo: number;
  coin: Uint8Array;
  transcript: Uint8Array;
  u1: Uint8Array;
  I: Uint8Array;
  /** The account I belongs to, if the bank has one. */
  accountId: string | null;
  depositor: string;
  batchId: string;
  createdAt: number;
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

/**
 * What several bank processes on one database share beyond its tables (PostgreSQL; a store only
 * one process may open, SQLite, has none): rate-limit counters, and news of revoked credentials.
 */
export interface SharedBankState {
  /**
   * Counts one request of `key` in its fixed window of `windowMs` (on the database's clock, so
   * every process counts in the same windows): the requests so far and the ms left of the window.
   */
  countRequest(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }>;
  /**
   * Tells `revoked` the id of every credential any process revokes from now on; `lost` when the
   * feed broke (revocations may be missed until `listening` is called again, after a reconnect).
   */
  watchRevocations(handlers: RevocationHandlers): Promise<{ close(): Promise<void> }>;
}

export interface RevocationHandlers {
  revoked(credentialId: string): void;
  lost(): void;
  listening(): void;
}

/**
 * The withdrawal's steps as one statement each, where a statement costs a round trip to the
 * database server (PostgreSQL): the same rules and locks as the service's transactions over
 * BankTransaction, which remain for the outcomes these do not settle (an open session to expire,
 * an answer refused: the transaction finds out why).
 */
export interface OneStatementSteps {
  /**
   * Opens the session if `funds.account` holds `funds.value` in `funds.currency` and the account
   * has no open session; nothing is written otherwise.
   */
  openSession(
    session: NewSession,
    funds: { account: string; currency: string; value: number },
  ): Promise<'opened' | 'insufficient-funds' | 'session-open'>;
  /** The session as it is now (unlocked), with the balance of `account` in the session's currency. */
  peekSession(sessionId: string, account: string): Promise<(SessionRecord & { balance: number }) | undefined>;
  /**
   * Answers the session with c and r and posts the withdrawal's entry, if the session is still open,
   * of `accountId` and unexpired at `now`, and `funds.account` (its balance locked after the
   * session, as the transaction does) holds `funds.value`; false, with nothing written, otherwise.
   */
  answerSession(answer: {
    sessionId: string;
    accountId: string;
    c: Uint8Array;
    r: Uint8Array;
    now: number;
    funds: { account: string; currency: string; value: number };
    reference: string;
    postings: readonly LedgerPosting[];
  }): Promise<boolean>;
}

export interface BankStorage {
  readonly kind: 'sqlite' | 'postgres';
  /** Present where several processes may serve one database (see SharedBankState). */
  readonly shared?: SharedBankState;
  /** Present where a statement costs a round trip (see OneStatementSteps). */
  readonly oneStatement?: OneStatementSteps;
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
  /** Accounts and merchants in id order after `after`, `limit` at most (the operator's console). */
  listAccounts(query: { after?: string; limit: number }): Promise<AccountRecord[]>;
  listMerchants(query: { after?: string; limit: number }): Promise<MerchantRecord[]>;

  addCredential(credential: CredentialRecord): Promise<void>;
  getCredential(credentialId: string): Promise<CredentialRecord | undefined>;
  /** Revokes a credential for good (a revoked one keeps its first revocation time); undefined if there is none. */
  revokeCredential(credentialId: string, now: number): Promise<CredentialRecord | undefined>;

  balances(account: string): Promise<Balance[]>;
  statement(query: StatementQuery): Promise<LedgerEntry[]>;

  /** Ends an unanswered session. False if there was no open session of this account. */
  cancelSession(sessionId: string, accountId: string, now: number): Promise<boolean>;
  /** Closes every open session past its expiry. Returns how many were closed. */
  expireSessions(now: number): Promise<number>;

  /** The stored result of a batch, if this depositor has deposited one with this id. */
  getDepositBatch(depositor: string, batchId: string): Promise<(DepositBatchRecord & { requestHash: Uint8Array }) | undefined>;

  /**
   * Runs `fn` as one read-write transaction: all of its writes or none (a throw rolls it back and
   * is thrown again). The service's steps that move money run here, over the rows BankTransaction
   * reads and locks; `fn` may run more than once (PostgreSQL retries a deadlock), so it keeps its
   * effects to the transaction.
   */
  transaction<T>(fn: (tx: BankTransaction) => Promise<T>): Promise<T>;

  listDoubleSpends(query: { depositor?: string; after?: number; limit: number }): Promise<DoubleSpendRecord[]>;
  /** Booked deposit batches, newest first (by their number), of one depositor or of all. */
  listDepositBatches(query: { depositor?: string; before?: number; limit: number }): Promise<(DepositBatchRecord & { batchNo: number })[]>;

  audit(): Promise<AuditFacts>;
  /** Bytes the database occupies now (tables and indexes), for the storage benchmark. */
  sizeBytes(): Promise<number>;
}

/**
 * What one transaction of the service may read and write. Locks are taken in the order the
 * service asks for them: sessions before balances, spent coins in the order of their coin ids,
 * balances in the order of their account names (ledger.ts sorts an entry's postings), so that
 * concurrent transactions on PostgreSQL never wait on each other in a cycle. On SQLite a writer
 * holds the whole database, and a lock is a no-op.
 */
export interface BankTransaction {
  accountExists(accountId: string): Promise<boolean>;
  /** The account whose card identity is I, if one is registered. */
  accountWithI(I: Uint8Array): Promise<string | undefined>;
  /** A ledger account's balance in a currency (0 without one); `lock`: held until commit. */
  balance(account: string, currency: string, lock?: boolean): Promise<number>;
  /** Books a balanced entry (ledger.ts); returns its id. */
  post(kind: LedgerEntry['kind'], reference: string, postings: readonly LedgerPosting[], now: number): Promise<number>;

  /** Inserts an open session; false if the account already has one open (nothing inserted). */
  insertOpenSession(session: NewSession): Promise<boolean>;
  /** Expires the account's open session if it is past its expiry at `now`; false if there was none such. */
  expireStaleSession(accountId: string, now: number): Promise<boolean>;
  /** The session with its key's denomination, locked until commit. */
  lockSession(sessionId: string): Promise<SessionRecord | undefined>;
  /** Marks an open session expired. */
  expireSession(sessionId: string): Promise<void>;
  /** Marks an open session answered with c and r; false if it was not open. */
  answerSession(sessionId: string, c: Uint8Array, r: Uint8Array, now: number): Promise<boolean>;

  /**
   * Claims a batch id for a depositor (its results are saved at the end): false if it exists, then
   * after waiting for a concurrent claim of the same id to commit or roll back.
   */
  claimBatch(depositor: string, batchId: string, requestHash: Uint8Array, now: number): Promise<boolean>;
  readBatch(depositor: string, batchId: string): Promise<(DepositBatchRecord & { requestHash: Uint8Array }) | undefined>;
  saveBatchResults(depositor: string, batchId: string, results: readonly DepositResult[], credited: readonly Balance[]): Promise<void>;
  /** Records coins not yet spent, in the order given (coin ids ascending); per row, whether it was new. */
  insertSpentCoins(rows: readonly { coin: Uint8Array; keyNo: number; credited: boolean; transcript: Uint8Array }[]): Promise<boolean[]>;
  /** A spent coin's first spending, locked until commit: it serialises the settling of the coin's conflicts. */
  lockSpentCoin(coin: Uint8Array): Promise<SpentCoin | undefined>;
  /** Marks a spent coin's recorded (refused) spending credited. */
  creditSpentCoin(coin: Uint8Array): Promise<void>;
  /** The double spends recorded for a coin, oldest first. */
  doubleSpendsOf(coin: Uint8Array): Promise<{ doubleSpendId: number; transcript: Uint8Array; accountId: string | null }[]>;
  recordDoubleSpend(record: NewDoubleSpend): Promise<number>;
}
