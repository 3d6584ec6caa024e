/**
 * The remote reader bridge's wire format (docs/bridge.md): JSON text frames over a WebSocket.
 * Requests carry an id and an op; the answer to a request carries the same id and either a
 * result or an error; reader events arrive unasked once the client watches. Byte strings are
 * lowercase hex. Both ends validate every frame here, once, into typed values.
 */
import { EcashError, type ErrorCode, fromHex, toHex } from '../core/index.js';
import { bridgeError, BRIDGE_ERROR, isBridgeSideCode } from './errors.js';
import type { CardProtocol, Disposition, ReaderEvent, ReaderInfo, ShareMode, TransportKind } from './transport.js';

export const BRIDGE_PROTOCOL_VERSION = 1;
export const BRIDGE_PATH = `/v${BRIDGE_PROTOCOL_VERSION}`;
/** An extended APDU in hex is about 131 KiB; nothing legitimate is larger. */
export const BRIDGE_MAX_FRAME = 256 * 1024;

export type BridgeRequest =
  | { id: number; op: 'list' }
  | { id: number; op: 'watch' }
  | { id: number; op: 'connect'; reader: string; share: ShareMode; protocols: ('T=0' | 'T=1')[] }
  | { id: number; op: 'transmit'; channel: number; apdu: Uint8Array; timeoutMs: number }
  | { id: number; op: 'reconnect'; channel: number }
  | { id: number; op: 'disconnect'; channel: number; disposition: Disposition };

export interface ChannelDescription {
  channel: number;
  atr: string;
  protocol: CardProtocol;
}

export type BridgeReply =
  | { id: number; result: Record<string, unknown> }
  | { id: number; error: { code: ErrorCode; message: string } }
  | { event: WireReaderEvent };

export interface WireReaderEvent {
  type: ReaderEvent['type'];
  reader: ReaderInfo;
  atr?: string;
}

const bad = (why: string): never => {
  throw bridgeError(BRIDGE_ERROR.BRIDGE_PROTOCOL, `malformed bridge message: ${why}`);
};

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function parseJson(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad('not JSON');
  }
  return object(value, 'a message');
}

function uint(value: unknown, what: string, max = 0xffffffff): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) return bad(`${what} must be an integer 0…${max}`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) return bad(`${what} must be a string of 1 to 256 characters`);
  return value;
}

function hex(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string') return bad(`${what} must be hex`);
  try {
    return fromHex(value, what);
  } catch (e) {
    return bad((e as Error).message);
  }
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], what: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) return bad(`${what} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** Server side: one client frame into a typed request. */
export function parseRequest(frame: string): BridgeRequest {
  const m = parseJson(frame);
  const id = uint(m.id, 'id');
  switch (m.op) {
    case 'list':
    case 'watch':
      return { id, op: m.op };
    case 'connect': {
      const protocols = m.protocols === undefined ? ['T=0' as const, 'T=1' as const] : m.protocols;
      if (!Array.isArray(protocols) || protocols.length === 0) return bad('protocols must be a non-empty array');
      return {
        id,
        op: 'connect',
        reader: text(m.reader, 'reader'),
        share: oneOf(m.share, ['shared', 'exclusive'] as const, 'share', 'exclusive'),
        protocols: protocols.map((p: unknown) => oneOf(p, ['T=0', 'T=1'] as const, 'a protocol', 'T=1')),
      };
    }
    case 'transmit':
      return {
        id,
        op: 'transmit',
        channel: uint(m.channel, 'channel'),
        apdu: hex(m.apdu, 'apdu'),
        timeoutMs: Math.max(1, uint(m.timeoutMs, 'timeoutMs', 600_000)),
      };
    case 'reconnect':
      return { id, op: 'reconnect', channel: uint(m.channel, 'channel') };
    case 'disconnect':
      return {
        id,
        op: 'disconnect',
        channel: uint(m.channel, 'channel'),
        disposition: oneOf(m.disposition, ['leave', 'reset', 'unpower'] as const, 'disposition', 'reset'),
      };
    default:
      return bad('op must be one of list, watch, connect, transmit, reconnect, disconnect');
  }
}

/** Client side: a request into its frame. */
export function encodeRequest(request: BridgeRequest): string {
  return JSON.stringify(request.op === 'transmit' ? { ...request, apdu: toHex(request.apdu) } : request);
}

const TRANSPORTS: readonly TransportKind[] = ['pcsc', 'hid', 'virtual', 'remote', 'replay'];
const EVENT_TYPES: readonly ReaderEvent['type'][] = ['reader-added', 'reader-removed', 'card-inserted', 'card-removed'];

export function parseReaderInfo(value: unknown): ReaderInfo {
  const r = object(value, 'a reader');
  if (typeof r.cardPresent !== 'boolean') bad('cardPresent must be a boolean');
  return {
    name: text(r.name, 'a reader name'),
    transport: oneOf(r.transport, TRANSPORTS, 'transport', 'pcsc'),
    cardPresent: r.cardPresent as boolean,
  };
}

/** Client side: one server frame into a typed reply. */
export function parseReply(frame: string): BridgeReply {
  const m = parseJson(frame);
  if (m.event !== undefined) {
    const e = object(m.event, 'event');
    const type = oneOf(e.type, EVENT_TYPES, 'event type', 'reader-added');
    const event: WireReaderEvent = { type, reader: parseReaderInfo(e.reader) };
    if (type === 'card-inserted') event.atr = toHex(hex(e.atr, 'atr'));
    return { event };
  }
  const id = uint(m.id, 'id');
  if (m.error !== undefined) {
    const err = object(m.error, 'error');
    if (typeof err.code !== 'string' || !isBridgeSideCode(err.code) || typeof err.message !== 'string')
      return bad('error must have a code of docs/errors.md and a message');
    return { id, error: { code: err.code, message: err.message } };
  }
  return { id, result: object(m.result, 'result') };
}

export function parseChannelDescription(result: Record<string, unknown>): ChannelDescription {
  const protocol = oneOf(result.protocol, ['T=0', 'T=1', 'direct'] as const, 'protocol', 'direct');
  return { channel: uint(result.channel, 'channel'), atr: toHex(hex(result.atr, 'atr')), protocol };
}

export function parseResponseHex(result: Record<string, unknown>): Uint8Array {
  const response = hex(result.response, 'response');
  if (response.length < 2) bad('a response must hold at least its status word');
  return response;
}

export function toWireEvent(event: ReaderEvent): WireReaderEvent {
  return event.type === 'card-inserted'
    ? { type: event.type, reader: event.reader, atr: toHex(event.atr) }
    : { type: event.type, reader: event.reader };
}

export function fromWireEvent(event: WireReaderEvent, transport: TransportKind): ReaderEvent {
  const reader = { ...event.reader, transport };
  if (event.type === 'card-inserted') return { type: event.type, reader, atr: fromHex(event.atr ?? '', 'atr') };
  return { type: event.type, reader };
}

export function errorReply(id: number, e: unknown): BridgeReply {
  if (e instanceof EcashError) return { id, error: { code: e.code, message: e.message } };
  return { id, error: { code: BRIDGE_ERROR.TRANSPORT_FAILURE, message: 'the bridge failed to serve the request' } };
}
