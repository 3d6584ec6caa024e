/**
 * The codes of the bank's own process (docs/errors.md, "bank"): its key file and its database, met
 * by `ecash bank …` commands. What the HTTP API answers is host/bank-client's BANK_API_ERROR_CODES.
 */
export const BANK_ERROR_CODES = [
  'bad-database',
  'bad-database-url',
  'bad-keyfile',
  'database-too-new',
  'keyfile-exists',
  'keyfile-locked',
  'keyfile-missing',
  'no-database',
  'weak-passphrase',
] as const;

export type BankErrorCode = (typeof BANK_ERROR_CODES)[number];

declare module '../../core/index.js' {
  interface ErrorCodeRegistry extends Record<BankErrorCode, true> {}
}
