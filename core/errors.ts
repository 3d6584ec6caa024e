/**
 * Every error a user can meet carries a stable, machine-readable `code` (kebab-case) beside a
 * message that says what happened and what to do. Codes are part of the public contract (CLI JSON,
 * HTTP bodies), messages are not. Messages never contain secrets.
 */

/**
 * The codes every component declares (docs/errors.md). Each component lists its codes once, as a
 * `const` list and a union, and adds the union here by declaration merging
 * (`interface ErrorCodeRegistry extends Record<ItsCode, true> {}` inside `declare module`), so
 * core names no other component yet `EcashError` takes no code that no component declares.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by each component's declaration merging
export interface ErrorCodeRegistry {}

/** Every declared error code: the union of the components' unions. */
export type ErrorCode = keyof ErrorCodeRegistry & string;

export class EcashError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  /** Extra, non-secret facts for machine consumers (e.g. the index of a bad field). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: C, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EcashError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isEcashError<C extends ErrorCode = ErrorCode>(e: unknown, code?: C): e is EcashError<C> {
  return e instanceof EcashError && (code === undefined || e.code === code);
}
