/**
 * The typed client of the bank's HTTP API (docs/bank-api.md), for terminals, load stations, the
 * CLI and tests. Over undici's `request` on kept-alive connections, with a timeout per request
 * (global fetch cost the client about 3 times the CPU per request, seen once with 16 withdrawing
 * clients in one process: 3.3 against 1.0-1.5 ms per coin of two requests). A bank error arrives as
 * `BankError` with the bank's stable code and the HTTP status; a bank that cannot be reached is
 * `bank-unreachable`, and an answer that is not the API's JSON is `bank-protocol`.
 */
import { request as httpRequest } from 'undici';
import {
  type AccountOpening,
  CORE_ERROR_CODES,
  EcashError,
  type ErrorCode,
  type Group,
  toHex,
  transcriptJsonFromBytes,
} from '../../core/index.js';
import type {
  AccountJson,
  AccountOpenedJson,
  AccountOpeningJson,
  DepositBatchJson,
  DepositBatchListJson,
  DepositRequestJson,
  DepositResultJson,
  DoubleSpendListJson,
  HealthJson,
  MerchantJson,
  ParametersJson,
  StatementJson,
  WithdrawalAnswerJson,
  WithdrawalStartJson,
  AccountListJson,
  AuditJson,
  MerchantListJson,
} from './api-types.js';
import { BANK_API_ERROR_CODES } from './error-codes.js';

export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;

const BANK_ANSWER_CODES: ReadonlySet<string> = new Set([...CORE_ERROR_CODES, ...BANK_API_ERROR_CODES]);

/** Whether an error body's code is one the bank's API answers with (core's and the API's). */
function isBankAnswerCode(code: string): code is ErrorCode {
  return BANK_ANSWER_CODES.has(code);
}

export class BankError extends EcashError {
  /** The HTTP status; 0 when no HTTP answer arrived. */
  readonly status: number;

  constructor(code: ErrorCode, message: string, status: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'BankError';
    this.status = status;
  }
}

/** A card's account opening (I and its proof, bound to `holder`) as the bank's API takes it. */
export function accountOpeningJson(group: Group, holder: string, opening: AccountOpening): AccountOpeningJson {
  return {
    suite: group.suite,
    holder,
    I: toHex(group.encode(opening.I)),
    proof: { t: toHex(group.encode(opening.proof.t)), s: toHex(group.scalars.encode(opening.proof.s)) },
  };
}

export interface BankClientOptions {
  baseUrl: string;
  /** `ecash.<id>.<secret>`, sent as a bearer token; never logged or put in an error. */
  token?: string;
  timeoutMs?: number;
}

export interface PageOptions {
  limit?: number;
}

function query(params: Record<string, number | string | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, number | string] => e[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

const seg = (s: string): string => encodeURIComponent(s);

function isErrorBody(v: unknown): v is { error: { code: string; message: string } } {
  if (typeof v !== 'object' || v === null) return false;
  const e = (v as { error?: unknown }).error;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    typeof (e as { message?: unknown }).message === 'string'
  );
}

export class BankClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #token: string | undefined;

  constructor(opts: BankClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    this.#token = opts.token;
  }

  /** The same bank with another credential. */
  withToken(token: string): BankClient {
    return new BankClient({ baseUrl: this.baseUrl, token, timeoutMs: this.timeoutMs });
  }

  private async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    // A timer cleared with the answer: AbortSignal.timeout's timers outlive their requests (seen
    // once to double the client's CPU per request under the bank benchmark's load).
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DOMException('timed out', 'TimeoutError')), this.timeoutMs);
    try {
      const res = await httpRequest(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: abort.signal,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (cause) {
      const timedOut = cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
      throw new BankError(
        'bank-unreachable',
        timedOut
          ? `the bank at ${this.baseUrl} did not answer ${method} ${path} within ${this.timeoutMs} ms; check that it is running and reachable`
          : `cannot reach the bank at ${this.baseUrl}; check that it is running and the URL is right`,
        0,
        { cause },
      );
    } finally {
      clearTimeout(timer);
    }
    if (status === 204) return undefined as T;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new BankError(
        'bank-protocol',
        `the bank at ${this.baseUrl} answered ${method} ${path} with HTTP ${status} and no JSON; is this URL an ecash bank?`,
        status,
      );
    }
    if (status >= 200 && status < 300) {
      if (typeof parsed !== 'object' || parsed === null) {
        throw new BankError(
          'bank-protocol',
          `the bank at ${this.baseUrl} answered ${method} ${path} with JSON that is not an object`,
          status,
        );
      }
      return parsed as T;
    }
    if (!isErrorBody(parsed)) {
      throw new BankError(
        'bank-protocol',
        `the bank at ${this.baseUrl} answered ${method} ${path} with HTTP ${status} without an error code`,
        status,
      );
    }
    if (!isBankAnswerCode(parsed.error.code)) {
      throw new BankError(
        'bank-protocol',
        `the bank at ${this.baseUrl} answered ${method} ${path} with HTTP ${status} and code "${parsed.error.code}", which is not one of docs/errors.md`,
        status,
      );
    }
    throw new BankError(parsed.error.code, parsed.error.message, status);
  }

  health(): Promise<HealthJson> {
    return this.request('GET', '/v1/health');
  }

  parameters(): Promise<ParametersJson> {
    return this.request('GET', '/v1/parameters');
  }

  openAccount(body: AccountOpeningJson): Promise<AccountOpenedJson> {
    return this.request('POST', '/v1/accounts', body);
  }

  account(accountId: string): Promise<AccountJson> {
    return this.request('GET', `/v1/accounts/${seg(accountId)}`);
  }

  accountStatement(accountId: string, page: PageOptions & { before?: number } = {}): Promise<StatementJson> {
    return this.request('GET', `/v1/accounts/${seg(accountId)}/statement${query({ before: page.before, limit: page.limit })}`);
  }

  /** Operator: money in (cash or a transfer) for an account. */
  credit(accountId: string, body: { currency: string; amount: number; reference: string }): Promise<{ entryId: number }> {
    return this.request('POST', `/v1/accounts/${seg(accountId)}/credit`, body);
  }

  startWithdrawal(keyIdHex: string): Promise<WithdrawalStartJson> {
    return this.request('POST', '/v1/withdrawals', { keyId: keyIdHex });
  }

  answerWithdrawal(sessionId: string, cHex: string): Promise<WithdrawalAnswerJson> {
    return this.request('POST', `/v1/withdrawals/${seg(sessionId)}/answer`, { c: cHex });
  }

  cancelWithdrawal(sessionId: string): Promise<void> {
    return this.request('DELETE', `/v1/withdrawals/${seg(sessionId)}`);
  }

  deposit(req: DepositRequestJson): Promise<DepositBatchJson> {
    return this.request('POST', '/v1/deposits', req);
  }

  /**
   * Deposits transcripts in core's binary encoding as one batch (the terminals' way in), sent as
   * their JSON field by field, nothing decoded; one result per transcript.
   */
  async depositTranscripts(group: Group, batchId: string, transcripts: readonly Uint8Array[]): Promise<DepositResultJson[]> {
    const batch = await this.deposit({
      suite: group.suite,
      batchId,
      transcripts: transcripts.map((t) => transcriptJsonFromBytes(group, t)),
    });
    return batch.results;
  }

  depositBatch(batchId: string): Promise<DepositBatchJson> {
    return this.request('GET', `/v1/deposits/${seg(batchId)}`);
  }

  /** Booked deposit batches, newest first: all for an operator, the caller's own otherwise. */
  deposits(page: PageOptions & { before?: number } = {}): Promise<DepositBatchListJson> {
    return this.request('GET', `/v1/deposits${query({ before: page.before, limit: page.limit })}`);
  }

  doubleSpends(page: PageOptions & { after?: number } = {}): Promise<DoubleSpendListJson> {
    return this.request('GET', `/v1/double-spends${query({ after: page.after, limit: page.limit })}`);
  }

  /** Operator: a merchant and its credential (shown once). */
  addMerchant(body: {
    merchantId: string;
    name?: string;
    scopes?: string[];
    feePerCoin?: number;
  }): Promise<{ merchantId: string; credential: string }> {
    return this.request('POST', '/v1/merchants', body);
  }

  /** Operator: accounts with their balances, a page at a time in id order. */
  accounts(page: PageOptions & { after?: string } = {}): Promise<AccountListJson> {
    return this.request('GET', `/v1/accounts${query({ after: page.after, limit: page.limit })}`);
  }

  /** Operator: merchants with their balances, a page at a time in id order. */
  merchants(page: PageOptions & { after?: string } = {}): Promise<MerchantListJson> {
    return this.request('GET', `/v1/merchants${query({ after: page.after, limit: page.limit })}`);
  }

  /** Operator: the books' verdict. */
  audit(): Promise<AuditJson> {
    return this.request('GET', '/v1/audit');
  }

  merchant(merchantId: string): Promise<MerchantJson> {
    return this.request('GET', `/v1/merchants/${seg(merchantId)}`);
  }

  merchantStatement(merchantId: string, page: PageOptions & { before?: number } = {}): Promise<StatementJson> {
    return this.request('GET', `/v1/merchants/${seg(merchantId)}/statement${query({ before: page.before, limit: page.limit })}`);
  }
}
