/**
 * The bridge's error codes. Every failure a host can meet while talking to a card is an
 * EcashError with one of these codes, so a terminal can decide what to do without parsing text.
 */
import { CORE_ERROR_CODES, EcashError, type ErrorCode } from '../core/index.js';
import { WIRE_ERROR_CODES } from '../wire/index.js';

export const BRIDGE_ERROR = {
  /** The named reader does not exist (or disappeared). */
  NO_READER: 'no-reader',
  /** The reader exists but holds no card. */
  NO_CARD: 'no-card',
  /** The card left the reader during an exchange or while connected. */
  CARD_REMOVED: 'card-removed',
  /** The card was reset (by another application, or a power cycle): its session state is gone. */
  CARD_RESET: 'card-reset',
  /** Another application holds the reader exclusively. */
  READER_BUSY: 'reader-busy',
  /** The card did not answer within the command's budget. */
  CARD_TIMEOUT: 'card-timeout',
  /** The medium failed (pcscd gone, USB error, network): reconnect. */
  TRANSPORT_FAILURE: 'transport-failure',
  /** The channel was disconnected or its transport closed. */
  CHANNEL_CLOSED: 'channel-closed',
  /** The PC/SC stack is missing (native module or pcscd). */
  PCSC_UNAVAILABLE: 'pcsc-unavailable',
  /** The node-hid native module is missing. */
  HID_UNAVAILABLE: 'hid-unavailable',
  /** The card answered something that breaks ISO 7816-4 (endless 61xx, …). */
  BAD_RESPONSE: 'bad-response',
  /** A replayed session diverged from its recording. */
  REPLAY_MISMATCH: 'replay-mismatch',
  /** The remote bridge refused the token. */
  BRIDGE_UNAUTHORIZED: 'bridge-unauthorized',
  /** A remote bridge message did not follow docs/bridge.md. */
  BRIDGE_PROTOCOL: 'bridge-protocol',
} as const;

/** Codes of the card's refusals (beside the bridge's own codes). */
export const CARD_ERROR = {
  PIN_WRONG: 'pin-wrong',
  PIN_BLOCKED: 'pin-blocked',
  PIN_REQUIRED: 'pin-required',
  CARD_REFUSED: 'card-refused',
  CARD_INVALID_DATA: 'card-invalid-data',
  CARD_FULL: 'card-full',
  /** The card holds no such data (no pending withdrawal, no such coin or log entry). */
  CARD_DATA_NOT_FOUND: 'card-data-not-found',
  NOT_ECASH_CARD: 'not-ecash-card',
  CARD_FORMAT_MISMATCH: 'card-format-mismatch',
  CARD_INTERNAL_ERROR: 'card-internal-error',
  CARD_ERROR: 'card-error',
  CARD_NOT_SELECTED: 'card-not-selected',
  CARD_NOT_PERSONALISED: 'card-not-personalised',
  /** PAY: the card holds less than the amount in coins of the keys offered. */
  CARD_INSUFFICIENT_FUNDS: 'card-insufficient-funds',
  /** PAY: enough value, but no coins of the keys offered add up to the amount (in at most 32 coins). */
  CARD_NO_EXACT_CHANGE: 'card-no-exact-change',
} as const;

/** The bridge's own codes: BRIDGE_ERROR's but `bad-response` (wire's), and its setup codes. */
export const BRIDGE_ERROR_CODES = [
  ...Object.values(BRIDGE_ERROR).filter(
    (c): c is Exclude<(typeof BRIDGE_ERROR)[keyof typeof BRIDGE_ERROR], 'bad-response'> => c !== BRIDGE_ERROR.BAD_RESPONSE,
  ),
  'bad-timeout',
  'bad-cassette',
  'bad-hid-device',
  'reader-exists',
  'card-present',
] as const;

/** The card's refusals as the bridge's card client names them (CARD_ERROR). */
export const CARD_ERROR_CODES = Object.values(CARD_ERROR);

export type BridgeErrorCode = (typeof BRIDGE_ERROR_CODES)[number];
export type CardErrorCode = (typeof CARD_ERROR)[keyof typeof CARD_ERROR];

const SENT_BY_A_BRIDGE: ReadonlySet<string> = new Set([
  ...CORE_ERROR_CODES,
  ...WIRE_ERROR_CODES,
  ...BRIDGE_ERROR_CODES,
  ...CARD_ERROR_CODES,
]);

/** Whether a code read from a remote bridge or a cassette is one a bridge can end an exchange with. */
export function isBridgeSideCode(code: string): code is ErrorCode {
  return SENT_BY_A_BRIDGE.has(code);
}

declare module '../core/index.js' {
  interface ErrorCodeRegistry extends Record<BridgeErrorCode | CardErrorCode, true> {}
}

export function bridgeError(
  code: (typeof BRIDGE_ERROR)[keyof typeof BRIDGE_ERROR],
  message: string,
  options?: { cause?: unknown; details?: Record<string, unknown> },
): EcashError {
  return new EcashError(code, message, options);
}

/** `notes`: why some readers may be missing (a transport that is not available here). */
export function noReader(name: string, notes: readonly string[] = []): EcashError {
  const why = notes.length > 0 ? ` (${notes.join('; ')})` : '';
  return bridgeError(BRIDGE_ERROR.NO_READER, `no reader named "${name}"${why}: run \`ecash readers\` to see the readers this machine has`, {
    details: { reader: name },
  });
}

export function noCard(name: string): EcashError {
  return bridgeError(BRIDGE_ERROR.NO_CARD, `no card in reader "${name}": insert (or tap) the card and try again`, {
    details: { reader: name },
  });
}

export function cardRemoved(name: string): EcashError {
  return bridgeError(
    BRIDGE_ERROR.CARD_REMOVED,
    `the card left reader "${name}" during the exchange: put it back and repeat the command (a payment answers the same request again without spending twice)`,
    { details: { reader: name } },
  );
}

export function channelClosed(name: string): EcashError {
  return bridgeError(BRIDGE_ERROR.CHANNEL_CLOSED, `the connection to reader "${name}" is closed: connect again`, {
    details: { reader: name },
  });
}
