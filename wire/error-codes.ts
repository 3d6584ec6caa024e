/** The codes of wire's errors: byte layouts that do not parse (docs/errors.md, "wire"). */
export const WIRE_ERROR_CODES = ['bad-apdu', 'bad-apdu-length', 'bad-response', 'bad-card-message', 'hid-frame'] as const;

export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

declare module '../core/index.js' {
  interface ErrorCodeRegistry extends Record<WireErrorCode, true> {}
}
