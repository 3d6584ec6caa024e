/**
 * The codes of the POS terminal (docs/errors.md, "POS terminal"): its declines, its API's
 * refusals and its settlement problems. Codes it shares with the card, the bridge or the bank are
 * theirs (CARD_ERROR, BRIDGE_ERROR, BANK_API_ERROR_CODES), not repeated here.
 */
export const POS_ERROR_CODES = [
  // The API's refusals of a request.
  'bad-reference',
  'wrong-currency',
  'payment-not-found',
  'terminal-busy',
  'payment-final',
  'payment-in-flight',
  'pin-not-expected',
  'weak-api-key',
  'bad-deposit-margin',
  'terminal-not-started',
  'transcript-not-found',
  'bad-idempotency-key',
  'idempotency-key-reused',
  'bad-cors-origin',
  // A payment's decline.
  'card-wait-expired',
  'card-still-present',
  'card-not-returned',
  'pin-timeout',
  'no-exact-change',
  'no-acceptable-keys',
  'coin-already-seen',
  'card-answer-mismatch',
  'coin-not-accepted',
  'invalid-coin',
  'recovery-refused',
  'request-format-old',
  'terminal-restarted',
  'offline-fallback',
  'deposit-rejected',
  // Settlement problems that leave coins pending (beside the bank client's and the bank's codes).
  'bank-credential-refused',
  'bank-rate-limited',
  'bank-failed',
  'bad-bank-answer',
  'wrong-bank',
  'bank-rejected',
  'batch-refused',
] as const;

export type PosErrorCode = (typeof POS_ERROR_CODES)[number];

declare module '../../core/index.js' {
  interface ErrorCodeRegistry extends Record<PosErrorCode, true> {}
}
