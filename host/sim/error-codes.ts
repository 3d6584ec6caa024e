/** The codes of the card simulator and its scenarios (docs/errors.md, "card simulator"). */
export const SIM_ERROR_CODES = [
  'bad-card-spec',
  'bad-scenario',
  'card-in-reader',
  'card-not-found',
  'load-failed',
  'reader-empty',
  'reader-not-found',
  'reader-occupied',
  'scenario-unreadable',
  'unreachable',
  'http-error',
  'weak-token',
] as const;

export type SimErrorCode = (typeof SIM_ERROR_CODES)[number];

declare module '../../core/index.js' {
  interface ErrorCodeRegistry extends Record<SimErrorCode, true> {}
}
