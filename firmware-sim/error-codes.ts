/**
 * The codes of the simulated card's errors (docs/errors.md, "firmware-sim"): its image file, its
 * memory and its connectors. What the card tells a reader is a status word, not one of these.
 */
export const FIRMWARE_ERROR_CODES = [
  'bad-capacity',
  'bad-card-options',
  'bad-vpcd-address',
  'card-closed',
  'card-image-corrupt',
  'card-image-exists',
  'card-image-foreign',
  'card-image-old-format',
  'card-image-unreadable',
  'card-in-use',
  'card-internal',
  'card-lock-failed',
  'card-personalisation-failed',
  'card-torn',
  'card-unpowered',
  'not-acknowledged',
  'unknown-chip-profile',
  'vpcd-closed',
] as const;

export type FirmwareErrorCode = (typeof FIRMWARE_ERROR_CODES)[number];

declare module '../core/index.js' {
  interface ErrorCodeRegistry extends Record<FirmwareErrorCode, true> {}
}
