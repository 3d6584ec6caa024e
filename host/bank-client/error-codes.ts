/**
 * The codes of the bank's HTTP API (docs/errors.md, "bank API"): what an error body's `code` and a
 * rejected deposit's `code` can be beside core's codes, and the client's own two. Declared here,
 * beside the API's JSON types, so that terminals match on them without importing the bank.
 */
export const BANK_API_ERROR_CODES = [
  // Requests the bank refuses (4xx).
  'bad-batch',
  'bad-credential-id',
  'bad-name',
  'forbidden',
  'rate-limited',
  'account-not-found',
  'merchant-not-found',
  'credential-not-found',
  'session-not-found',
  'batch-not-found',
  'account-exists',
  'merchant-exists',
  'session-open',
  'session-cancelled',
  'session-expired',
  'batch-id-reused',
  'key-not-withdrawable',
  // The bank's own state (5xx).
  'database-unavailable',
  'service-stopped',
  // A deposited coin the bank rejects (a deposit result's `code`).
  'bad-transcript',
  'invalid-transcript',
  'unknown-key',
  'key-expired',
  'key-not-yet-valid',
  'wrong-merchant',
  'scope-not-accepted',
  'conflict-unresolved',
  'double-spend',
  // The client's own: no bank named, a malformed bank URL, no answer, or not the API's JSON.
  'no-bank',
  'bad-bank-url',
  'bank-unreachable',
  'bank-protocol',
] as const;

export type BankApiErrorCode = (typeof BANK_API_ERROR_CODES)[number];

declare module '../../core/index.js' {
  interface ErrorCodeRegistry extends Record<BankApiErrorCode, true> {}
}
