/**
 * The JSON bodies of the bank's HTTP API (docs/bank-api.md, docs/openapi/bank.json): what the
 * server sends and what `BankClient` receives. Byte strings are lowercase hex, scalars 32-byte
 * big-endian hex, amounts integers in minor units, times milliseconds since the Unix epoch.
 */
import type { DoubleSpendProofJson, KeyJson, SuiteId } from '../../core/index.js';

export interface HealthJson {
  status: 'ok';
  suite: SuiteId;
  storage: 'sqlite' | 'postgres';
}

export interface ParametersJson {
  suite: SuiteId;
  generators: { g: string; g1: string; g2: string };
  /** Keys whose deposit deadline has not passed, withdrawable or not. */
  keys: KeyJson[];
  /** The account holder's deposit merchant id is this prefix and the account id. */
  accountDepositorPrefix: string;
  withdrawalSessionTtlMs: number;
  maxDepositBatch: number;
}

export interface AccountOpeningJson {
  suite: SuiteId;
  holder: string;
  I: string;
  proof: { t: string; s: string };
}

export interface KeyZJson {
  keyId: string;
  /** z = (I·g2)^x for this account and key. */
  z: string;
}

export interface AccountOpenedJson {
  accountId: string;
  holder: string;
  /** Bearer token for this account; shown once, the bank keeps only its hash. */
  credential: string;
  /** The merchant id this account deposits its own coins under (rebalancing). */
  depositorId: string;
  z: KeyZJson[];
}

export interface BalanceJson {
  currency: string;
  balance: number;
}

export interface AccountJson {
  accountId: string;
  holder: string;
  depositorId: string;
  createdAt: number;
  balances: BalanceJson[];
}

export interface MerchantJson {
  merchantId: string;
  name: string;
  scopes: string[];
  feePerCoin: number;
  createdAt: number;
  balances: BalanceJson[];
}

export interface StatementJson {
  entries: {
    entryId: number;
    kind: 'cash-in' | 'withdrawal' | 'deposit';
    reference: string;
    createdAt: number;
    postings: { account: string; currency: string; amount: number }[];
  }[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  next?: number;
}

export interface WithdrawalStartJson {
  sessionId: string;
  keyId: string;
  z: string;
  a: string;
  b: string;
  expiresAt: number;
}

export interface WithdrawalAnswerJson {
  r: string;
}

export type DepositOutcomeName = 'credited' | 'replay' | 'double-spend' | 'rejected';

export interface DepositResultJson {
  outcome: DepositOutcomeName;
  /** For `rejected`: the stable reason code; for `double-spend`: "double-spend". */
  code?: string;
  message?: string;
  doubleSpendId?: number;
}

export interface DepositRequestJson {
  suite: SuiteId;
  batchId: string;
  transcripts: unknown[];
}

export interface DepositBatchJson {
  batchId: string;
  depositor: string;
  createdAt: number;
  results: DepositResultJson[];
  credited: BalanceJson[];
}

/** A booked batch in the list of batches: its number orders the list (newest first). */
export interface DepositBatchListEntryJson extends DepositBatchJson {
  batchNo: number;
}

export interface DepositBatchListJson {
  deposits: DepositBatchListEntryJson[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  next?: number;
}

export interface DoubleSpendJson {
  doubleSpendId: number;
  /** The account the spender's I names (null if no account has that I). */
  accountId: string | null;
  holder: string | null;
  depositor: string;
  batchId: string;
  createdAt: number;
  proof: DoubleSpendProofJson;
}

export interface DoubleSpendListJson {
  doubleSpends: DoubleSpendJson[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: number;
}

export interface ErrorJson {
  error: { code: string; message: string };
}

/** GET /v1/accounts and /v1/merchants (operator): a page in id order; `next` is the `after` of the next page. */
export interface AccountListJson {
  accounts: AccountJson[];
  next?: string;
}

export interface MerchantListJson {
  merchants: MerchantJson[];
  next?: string;
}

/** GET /v1/audit (operator): the books' verdict, as `ecash bank audit` prints it. */
export interface AuditJson {
  ok: boolean;
  problems: string[];
  totals: BalanceJson[];
  keys: {
    keyId: string;
    value: number;
    currency: string;
    issued: number;
    deposited: number;
    refused: number;
    outstanding: number;
    outstandingBalance: number;
    ok: boolean;
  }[];
}
