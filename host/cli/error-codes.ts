/** The codes of the `ecash` command's own errors (docs/errors.md, "ecash command"): its options and files. */

/** The card secrets a command reads, and the stem of their codes (`bad-pin`, `pin-unreadable`, `pin-missing`, `pin-mismatch`, …). */
export const CARD_SECRET_CODE = { PIN: 'pin', 'new PIN': 'new-pin', PUK: 'puk' } as const;

export type CardSecretName = keyof typeof CARD_SECRET_CODE;

export const CLI_ERROR_CODES = [
  // Options.
  'bad-card-wait',
  'bad-pin-wait',
  'bad-mode',
  'bad-port',
  'bad-schedule',
  'bad-share-mode',
  'no-floor-limit',
  'no-merchant',
  'secret-in-argument',
  // Secrets read from a file, the environment or the terminal.
  'api-key-missing',
  'api-key-unreadable',
  'bank-token-missing',
  'bank-token-unreadable',
  'bridge-token-missing',
  'sim-token-missing',
  'passphrase-missing',
  'bad-pin',
  'bad-new-pin',
  'bad-puk',
  'pin-unreadable',
  'new-pin-unreadable',
  'puk-unreadable',
  'pin-missing',
  'new-pin-missing',
  'puk-missing',
  'pin-mismatch',
  'new-pin-mismatch',
  'puk-mismatch',
  // Files and the bank's database.
  'file-exists',
  'file-unwritable',
  'bank-exists',
  'bank-not-initialised',
  'bad-opening',
  'no-proof',
  'bank-process-failed',
] as const;

export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

declare module '../../core/index.js' {
  interface ErrorCodeRegistry extends Record<CliErrorCode, true> {}
}
