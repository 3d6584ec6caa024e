/**
 * The bridge's error codes. Every failure a host can meet while talking to a card is an
 * EcashError with one of these codes, so a terminal can decide what to do without parsing text.
 */
import { EcashError } from '../core/index.js';

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

export type BridgeErrorCode = (typeof BRIDGE_ERROR)[keyof typeof BRIDGE_ERROR];

export function bridgeError(
  code: BridgeErrorCode,
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
