/**
 * Every error a user can meet carries a stable, machine-readable `code` (kebab-case) beside a
 * message that says what happened and what to do. Codes are part of the public contract (CLI JSON,
 * HTTP bodies), messages are not. Messages never contain secrets.
 */
export class EcashError extends Error {
  readonly code: string;
  /** Extra, non-secret facts for machine consumers (e.g. the index of a bad field). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EcashError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isEcashError(e: unknown, code?: string): e is EcashError {
  return e instanceof EcashError && (code === undefined || e.code === code);
}
