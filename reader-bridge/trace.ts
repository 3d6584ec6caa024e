/**
 * APDU tracing: every command and response on a channel as an entry (time, direction, bytes,
 * status word, duration), with the data of the commands that carry PINs and PUKs replaced by a
 * marker (docs/apdu.md, "Secrets on the wire"). Used by `--trace` on the CLI, by tests, and by
 * the session recorder.
 */
import { type ErrorCode, isEcashError, toHex } from '../core/index.js';
import { CLA_CHAINING, CLA_ECASH, ECASH_INS, ISO_INS, swHex } from '../wire/index.js';
import type { CardChannel, Disposition, TransmitOptions } from './transport.js';

export interface TraceEntry {
  /** Milliseconds since the Unix epoch. */
  time: number;
  reader: string;
  direction: 'command' | 'response';
  /** Lowercase hex; a redacted command keeps its 4-byte header and ends in ` [redacted]`. */
  bytes: string;
  /** Responses: the status word as 4 hex digits. */
  sw?: string;
  /** Responses: the exchange's duration. */
  durationMs?: number;
  /** Responses: the exchange failed instead (error code and message, never a secret). */
  error?: { code: ErrorCode; message: string };
}

export type TraceSink = (entry: TraceEntry) => void;

export const REDACTED_MARKER = ' [redacted]';

/**
 * Whether a command's body carries a PIN or PUK, judged on its header alone (so malformed ones
 * too). The e-cash class has its own secret-bearing instructions; a command of any other class
 * (interindustry, a GSM-style A0, a logical channel, secure messaging) is judged against both
 * lists, so a PIN a terminal sends under a class the card does not expect is not traced either.
 */
export function carriesSecret(command: Uint8Array): boolean {
  if (command.length < 2) return false;
  const cla = command[0]! & ~CLA_CHAINING;
  const ins = command[1]!;
  const ecashSecret = ins === ECASH_INS.PERSONALISE || ins === ECASH_INS.SET_LIMIT;
  if (cla === CLA_ECASH) return ecashSecret;
  return ecashSecret || ins === ISO_INS.VERIFY || ins === ISO_INS.CHANGE_REFERENCE_DATA || ins === ISO_INS.RESET_RETRY_COUNTER;
}

/** The command as hex, with the body (Lc, data, Le) of a secret-bearing command replaced. */
export function redactCommand(command: Uint8Array): string {
  if (command.length > 4 && carriesSecret(command)) return toHex(command.subarray(0, 4)) + REDACTED_MARKER;
  return toHex(command);
}

function errorOf(e: unknown): { code: ErrorCode; message: string } {
  if (isEcashError(e)) return { code: e.code, message: e.message };
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/** Wraps a channel so every exchange is reported to `sink`; the channel itself is unchanged. */
export function tracedChannel(channel: CardChannel, sink: TraceSink): CardChannel {
  const reader = channel.reader.name;
  return {
    get reader() {
      return channel.reader;
    },
    get atr() {
      return channel.atr;
    },
    get protocol() {
      return channel.protocol;
    },
    async transmit(command: Uint8Array, options: TransmitOptions): Promise<Uint8Array> {
      const start = performance.now();
      sink({ time: Date.now(), reader, direction: 'command', bytes: redactCommand(command) });
      const durationMs = () => Math.round((performance.now() - start) * 1000) / 1000;
      try {
        const response = await channel.transmit(command, options);
        const n = response.length;
        sink({
          time: Date.now(),
          reader,
          direction: 'response',
          bytes: toHex(response.subarray(0, Math.max(0, n - 2))),
          sw: n >= 2 ? swHex((response[n - 2]! << 8) | response[n - 1]!) : '',
          durationMs: durationMs(),
        });
        return response;
      } catch (e) {
        sink({ time: Date.now(), reader, direction: 'response', bytes: '', durationMs: durationMs(), error: errorOf(e) });
        throw e;
      }
    },
    reconnect: () => channel.reconnect(),
    disconnect: (disposition?: Disposition) => channel.disconnect(disposition),
  };
}

/** One human-readable line per entry, as `--trace` prints them on stderr. */
export function formatTraceEntry(e: TraceEntry): string {
  const time = new Date(e.time).toISOString().slice(11, 23);
  if (e.direction === 'command') return `${time} ${e.reader} >> ${e.bytes}`;
  const took = e.durationMs === undefined ? '' : ` (${e.durationMs.toFixed(2)} ms)`;
  if (e.error) return `${time} ${e.reader} !! ${e.error.code}: ${e.error.message}${took}`;
  return `${time} ${e.reader} << ${e.bytes}${e.bytes ? ' ' : ''}${e.sw}${took}`;
}
