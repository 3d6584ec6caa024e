/** The codes of the web pages' server side (docs/errors.md, "web pages"). */
export const WEB_ERROR_CODES = ['assets-missing'] as const;

export type WebErrorCode = (typeof WEB_ERROR_CODES)[number];

declare module '../../core/index.js' {
  interface ErrorCodeRegistry extends Record<WebErrorCode, true> {}
}
