/** The codes of `ecash demo` (docs/errors.md, "demo"). */
export const DEMO_ERROR_CODES = ['demo-failed', 'demo-stopped'] as const;

export type DemoErrorCode = (typeof DEMO_ERROR_CODES)[number];

declare module '../../core/index.js' {
  interface ErrorCodeRegistry extends Record<DemoErrorCode, true> {}
}
