/**
 * The codes of core's errors (docs/errors.md, "core"), and the few that every HTTP API and command
 * shares: core declares them once so that the bank, the POS terminal and the card simulator say
 * the same thing the same way.
 */
export const CORE_ERROR_CODES = [
  // Decoding and validating the scheme's values.
  'bad-account-opening',
  'bad-amount',
  'bad-currency',
  'bad-element',
  'bad-hex',
  'bad-json',
  'bad-key-id',
  'bad-length',
  'bad-payment-context',
  'bad-proof',
  'bad-scalar',
  'bad-scope',
  'bad-utf8',
  'bad-value',
  'bad-version',
  'bad-window',
  'bad-withdrawal-response',
  'identity-element',
  'not-invertible',
  'out-of-range',
  'trailing-bytes',
  'truncated',
  'unknown-suite',
  'wrong-suite',
  // The scheme's steps.
  'not-double-spend',
  'offer-not-loaded',
  'session-answered',
  'journal-corrupt',
  // Shared by every component.
  'internal',
  'cancelled',
  // An option of a command or a constructor is wrong.
  'bad-option',
  // The payer holds less than asked: an account at the bank (withdrawing), a card at a terminal.
  'insufficient-funds',
  // Shared by the HTTP APIs (bank, POS terminal, card simulator).
  'bad-request',
  'unauthorized',
  'not-found',
  'body-too-large',
  'unsupported-media-type',
] as const;

export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

declare module './errors.js' {
  interface ErrorCodeRegistry extends Record<CoreErrorCode, true> {}
}
