/**
 * Record and replay of card sessions, for tests: a recorder is a trace sink that turns a traced
 * session into a cassette (JSON), and the replay transport plays a cassette back as a reader
 * holding a card that answers exactly what the recorded card answered. Commands are stored and
 * matched in their redacted form, so a cassette never holds a PIN.
 */
import { EcashError, type ErrorCode, fromHex, toHex } from '../core/index.js';
import { bridgeError, BRIDGE_ERROR, channelClosed, isBridgeSideCode, noReader } from './errors.js';
import { redactCommand, type TraceEntry, type TraceSink } from './trace.js';
import type { CardChannel, CardProtocol, ReaderEventListener, ReaderInfo, ReaderTransport, TransmitOptions } from './transport.js';

export interface RecordedExchange {
  /** The command as `redactCommand` prints it. */
  command: string;
  /** The response APDU (data and status word) as hex, or the error the exchange ended with. */
  response?: string;
  error?: { code: ErrorCode; message: string };
}

export interface Cassette {
  version: 1;
  reader: string;
  atr: string;
  protocol: CardProtocol;
  exchanges: RecordedExchange[];
}

export class SessionRecorder {
  private readonly exchanges: RecordedExchange[] = [];
  private pending: string | undefined;

  /** Pass to `tracedChannel`. */
  readonly sink: TraceSink = (entry: TraceEntry) => {
    if (entry.direction === 'command') {
      this.pending = entry.bytes;
      return;
    }
    if (this.pending === undefined) return;
    const exchange: RecordedExchange = { command: this.pending };
    if (entry.error) exchange.error = entry.error;
    else exchange.response = entry.bytes + (entry.sw ?? '').toLowerCase();
    this.exchanges.push(exchange);
    this.pending = undefined;
  };

  cassette(channel: Pick<CardChannel, 'reader' | 'atr' | 'protocol'>): Cassette {
    return { version: 1, reader: channel.reader.name, atr: toHex(channel.atr), protocol: channel.protocol, exchanges: [...this.exchanges] };
  }
}

const PROTOCOLS: readonly CardProtocol[] = ['T=0', 'T=1', 'direct'];

/** Validates a cassette read from a file. */
export function parseCassette(value: unknown): Cassette {
  const bad = (why: string): never => {
    throw new EcashError('bad-cassette', `not a replay cassette: ${why}`);
  };
  if (typeof value !== 'object' || value === null) return bad('expected a JSON object');
  const v = value as Record<string, unknown>;
  if (v.version !== 1) bad('version must be 1');
  if (typeof v.reader !== 'string' || v.reader === '') bad('reader must be a non-empty string');
  if (typeof v.atr !== 'string') bad('atr must be hex');
  fromHex(v.atr as string, 'atr');
  if (!PROTOCOLS.includes(v.protocol as CardProtocol)) bad(`protocol must be one of ${PROTOCOLS.join(', ')}`);
  if (!Array.isArray(v.exchanges)) return bad('exchanges must be an array');
  const exchanges = v.exchanges.map((x: unknown, i): RecordedExchange => {
    if (typeof x !== 'object' || x === null) return bad(`exchange ${i} is not an object`);
    const e = x as Record<string, unknown>;
    if (typeof e.command !== 'string') bad(`exchange ${i} has no command`);
    if (typeof e.response === 'string') {
      if (fromHex(e.response, `exchange ${i} response`).length < 2) bad(`exchange ${i} response lacks a status word`);
      return { command: e.command as string, response: e.response };
    }
    const err = e.error as Record<string, unknown> | undefined;
    if (typeof err?.code !== 'string' || typeof err.message !== 'string') return bad(`exchange ${i} has neither a response nor an error`);
    if (!isBridgeSideCode(err.code)) return bad(`exchange ${i} ends with "${err.code}", which is no bridge's error code`);
    return { command: e.command as string, error: { code: err.code, message: err.message } };
  });
  return { version: 1, reader: v.reader as string, atr: v.atr as string, protocol: v.protocol as CardProtocol, exchanges };
}

/** A transport with one reader whose card plays a cassette back, in order, once. */
export class ReplayTransport implements ReaderTransport {
  readonly kind = 'replay' as const;
  private next = 0;

  constructor(private readonly cassette: Cassette) {}

  /** Exchanges not yet played back (a test asserts 0 at the end). */
  get remaining(): number {
    return this.cassette.exchanges.length - this.next;
  }

  private get info(): ReaderInfo {
    return { name: this.cassette.reader, transport: 'replay', cardPresent: true };
  }

  async listReaders(): Promise<ReaderInfo[]> {
    return [this.info];
  }

  watch(_listener: ReaderEventListener): () => void {
    return () => undefined; // a cassette's card never moves
  }

  async connect(readerName: string): Promise<CardChannel> {
    if (readerName !== this.cassette.reader) throw noReader(readerName);
    let open = true;
    const atr = fromHex(this.cassette.atr, 'atr');
    return {
      reader: this.info,
      atr,
      protocol: this.cassette.protocol,
      transmit: async (command: Uint8Array, _options: TransmitOptions) => {
        if (!open) throw channelClosed(readerName);
        return this.play(command);
      },
      reconnect: async () => undefined,
      disconnect: async () => {
        open = false;
      },
    };
  }

  private play(command: Uint8Array): Uint8Array {
    const index = this.next;
    const expected = this.cassette.exchanges[index];
    const sent = redactCommand(command);
    if (expected === undefined) {
      throw bridgeError(BRIDGE_ERROR.REPLAY_MISMATCH, `replay: command ${index} (${sent}) is past the end of the recording`);
    }
    if (expected.command !== sent) {
      throw bridgeError(BRIDGE_ERROR.REPLAY_MISMATCH, `replay: command ${index} was ${sent}, the recording has ${expected.command}`);
    }
    this.next++;
    if (expected.error) throw new EcashError(expected.error.code, expected.error.message);
    return fromHex(expected.response!, 'recorded response');
  }

  async close(): Promise<void> {}
}
