import type { ErrorCode } from '../../core/index.js';

/** Raised inside a payment run to end it with a reason the journal records. */
export class Decline extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
