/** The codes of the load terminal (docs/errors.md, "load terminal"), beside the bank's and the card's. */
export const LOAD_ERROR_CODES = ['no-denominations', 'rebalance-refused', 'unknown-pending-withdrawal'] as const;

export type LoadErrorCode = (typeof LOAD_ERROR_CODES)[number];

declare module '../../core/index.js' {
  interface ErrorCodeRegistry extends Record<LoadErrorCode, true> {}
}
