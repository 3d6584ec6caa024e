/**
 * PC/SC readers through pcscd (`pcsclite`): any reader pcscd shows — USB CCID, contactless,
 * vpcd. Shared or exclusive access, T=0 or T=1, reconnection after a card reset, recovery when
 * pcscd restarts (readers vanish and come back as events; channels reconnect on request), and a
 * close that ends every native thread so the process can exit.
 */
import { EcashError } from '../../core/index.js';
import { bridgeError, BRIDGE_ERROR, cardRemoved, channelClosed, noCard, noReader } from '../errors.js';
import { QueuedChannel } from '../exchange-queue.js';
import {
  ReaderEventHub,
  type CardChannel,
  type CardProtocol,
  type ConnectOptions,
  type Disposition,
  type ReaderEventListener,
  type ReaderInfo,
  type ReaderTransport,
} from '../transport.js';
import {
  loadPcsclite,
  openPcscContext,
  pcscResult,
  unavailable,
  PCSC,
  type PcscCardReader,
  type PcscContext,
  type PcscFactory,
  type PcscReaderStatus,
} from './pcsclite-binding.js';

export interface PcscTransportOptions {
  /** How often to try pcscd again after it went away, while someone watches or holds a channel. */
  recoveryIntervalMs?: number;
  /** How long `reconnect()` waits for the reader and its card to be back. */
  reconnectTimeoutMs?: number;
  /** The npm module to load (only to exercise the missing-module error). */
  moduleName?: string;
}

/** Big enough for any response: an extended one is 65536 data bytes and the status word. */
const RESPONSE_BUFFER = 65538;

interface ReaderEntry {
  reader: PcscCardReader;
  present: boolean;
  atr: Uint8Array;
  /** pcsc-lite's count of card events (the reader state's upper 16 bits). */
  cardEvents: number;
  /** Resolves at the reader's first status, when `present` becomes meaningful. */
  known: Promise<void>;
}

/**
 * The card events between two looks at a reader: whether a card was there before and is now,
 * and how many insertions and removals pcsc-lite counted in between.
 */
export function cardTransitions(was: boolean, present: boolean, changes: number): ('card-removed' | 'card-inserted')[] {
  if (was && present) return changes >= 2 ? ['card-removed', 'card-inserted'] : [];
  if (was) return ['card-removed'];
  if (present) return ['card-inserted'];
  return changes >= 2 ? ['card-inserted', 'card-removed'] : [];
}

export class PcscTransport implements ReaderTransport {
  readonly kind = 'pcsc' as const;
  private factory: PcscFactory | undefined;
  private context: PcscContext | undefined;
  private ready: Promise<void> | undefined;
  private readonly readers = new Map<string, ReaderEntry>();
  private readonly events = new ReaderEventHub();
  private readonly channels = new Set<PcscChannel>();
  private readonly changeWaiters = new Set<() => void>();
  private recoveryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly recoveryIntervalMs: number;
  readonly reconnectTimeoutMs: number;

  constructor(private readonly options: PcscTransportOptions = {}) {
    this.recoveryIntervalMs = options.recoveryIntervalMs ?? 500;
    this.reconnectTimeoutMs = options.reconnectTimeoutMs ?? 10_000;
  }

  private info(name: string, entry: ReaderEntry | undefined): ReaderInfo {
    return { name, transport: 'pcsc', cardPresent: entry?.present ?? false };
  }

  /** Starts (or restarts) the PC/SC context; resolves once every reader's state is known. */
  private started(): Promise<void> {
    if (this.closed) return Promise.reject(bridgeError(BRIDGE_ERROR.CHANNEL_CLOSED, 'the PC/SC transport is closed: create a new one'));
    this.ready ??= this.start().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async start(): Promise<void> {
    this.factory ??= await loadPcsclite(this.options.moduleName);
    const factory = this.factory;
    await new Promise<void>((resolve, reject) => {
      let firstScan = true;
      const context = openPcscContext(factory, (error) => {
        if (!firstScan) return;
        firstScan = false;
        if (error) reject(unavailable(error));
        else void Promise.all([...this.readers.values()].map((r) => r.known)).then(() => resolve());
      });
      this.context = context;
      // Always listened to: close() makes pcsclite emit "Command cancelled", and pcscd going away
      // surfaces here too.
      context.on('error', (error) => this.contextFailed(context, error));
      context.on('reader', (reader) => this.readerAppeared(context, reader));
    });
  }

  private readerAppeared(context: PcscContext, reader: PcscCardReader): void {
    if (context !== this.context) {
      reader.close();
      return;
    }
    let markKnown!: () => void;
    const entry: ReaderEntry = {
      reader,
      present: false,
      atr: new Uint8Array(0),
      cardEvents: 0,
      known: new Promise((r) => (markKnown = r)),
    };
    let first = true;
    this.readers.set(reader.name, entry);
    reader.on('error', () => undefined); // the status thread ended; 'end' follows and says so
    reader.on('status', (status: PcscReaderStatus) => {
      const present = (status.state & reader.SCARD_STATE_PRESENT) !== 0;
      const atr = new Uint8Array(status.atr ?? []);
      // pcsclite hands over only the latest state when several arrive while JavaScript is busy;
      // pcsc-lite counts card insertions and removals in the state's upper 16 bits, so a card
      // pulled and put back (or put in and pulled) between two looks still shows.
      const count = status.state >>> 16;
      const changes = (count - entry.cardEvents + 0x10000) & 0xffff;
      entry.cardEvents = count;
      const was = entry.present;
      entry.present = present;
      if (present) entry.atr = atr;
      if (first) {
        first = false;
        markKnown();
        this.events.emit({ type: 'reader-added', reader: this.info(reader.name, entry) });
      } else {
        for (const type of cardTransitions(was, present, changes)) {
          const info = { ...this.info(reader.name, entry), cardPresent: type === 'card-inserted' };
          this.events.emit(type === 'card-inserted' ? { type, reader: info, atr } : { type, reader: info });
        }
      }
      this.changed();
    });
    reader.on('end', () => {
      if (this.readers.get(reader.name)?.reader !== reader) return;
      this.readers.delete(reader.name);
      markKnown();
      if (!this.closed) this.events.emit({ type: 'reader-removed', reader: this.info(reader.name, undefined) });
      this.changed();
    });
  }

  /** pcscd went away (or the context broke): every reader is gone until it is back. */
  private contextFailed(context: PcscContext, _error: Error): void {
    if (this.closed || context !== this.context) return;
    this.context = undefined;
    this.ready = undefined;
    const lost = [...this.readers.entries()];
    this.readers.clear();
    for (const [name] of lost) this.events.emit({ type: 'reader-removed', reader: this.info(name, undefined) });
    this.changed();
    // Not from inside pcsclite's own callback: close() joins the thread that is calling us.
    setImmediate(() => {
      for (const [, entry] of lost) entry.reader.close();
      context.close();
    });
    this.scheduleRecovery();
  }

  /** Tries pcscd again while somebody needs it (a watcher or a channel). */
  private scheduleRecovery(): void {
    if (this.closed || this.recoveryTimer !== undefined || (this.events.size === 0 && this.channels.size === 0)) return;
    this.recoveryTimer = setTimeout(() => {
      this.recoveryTimer = undefined;
      this.started().catch(() => this.scheduleRecovery());
    }, this.recoveryIntervalMs);
  }

  private changed(): void {
    for (const wake of [...this.changeWaiters]) wake();
  }

  private nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.changeWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      this.changeWaiters.add(wake);
    });
  }

  async listReaders(): Promise<ReaderInfo[]> {
    await this.started();
    return [...this.readers.entries()].map(([name, entry]) => this.info(name, entry));
  }

  watch(listener: ReaderEventListener): () => void {
    const stop = this.events.add(listener);
    this.started().catch(() => this.scheduleRecovery());
    return stop;
  }

  async connect(readerName: string, options: ConnectOptions = {}): Promise<CardChannel> {
    await this.started();
    const entry = this.readers.get(readerName);
    if (entry === undefined) throw noReader(readerName);
    if (!entry.present) throw noCard(readerName);
    const channel = new PcscChannel(this, readerName, options);
    await channel.open(entry);
    this.channels.add(channel);
    return channel;
  }

  /**
   * @internal The reader's entry once it holds a card, waiting (through a pcscd restart, a
   * re-inserted card) until `deadline`.
   */
  async cardIn(readerName: string, deadline: number): Promise<ReaderEntry> {
    for (;;) {
      let failure: EcashError;
      try {
        await this.started();
        const entry = this.readers.get(readerName);
        if (entry?.present) return entry;
        failure = entry ? noCard(readerName) : noReader(readerName);
      } catch (e) {
        if (!(e instanceof EcashError)) throw e;
        failure = e;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) throw failure;
      await this.nextChange(Math.min(left, this.recoveryIntervalMs));
    }
  }

  /** @internal */
  forget(channel: PcscChannel): void {
    this.channels.delete(channel);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const channel of [...this.channels]) await channel.disconnect();
    this.closed = true;
    clearTimeout(this.recoveryTimer);
    this.recoveryTimer = undefined;
    for (const entry of this.readers.values()) entry.reader.close();
    this.readers.clear();
    this.context?.close();
    this.context = undefined;
    this.ready = undefined;
    this.events.clear();
    this.changed();
  }
}

function pcscCall<T>(invoke: (callback: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => invoke((err, value) => (err ? reject(err) : resolve(value))));
}

class PcscChannel extends QueuedChannel implements CardChannel {
  private pcscReader: PcscCardReader | undefined;
  private protocolNumber = 0;
  private cardAtr: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly transport: PcscTransport,
    private readonly name: string,
    private readonly options: ConnectOptions,
  ) {
    super(name);
  }

  get reader(): ReaderInfo {
    return { name: this.name, transport: 'pcsc', cardPresent: !this.broken };
  }

  get atr(): Uint8Array {
    return this.cardAtr;
  }

  get protocol(): CardProtocol {
    return this.protocolNumber === this.pcscReader?.SCARD_PROTOCOL_T0 ? 'T=0' : 'T=1';
  }

  /**
   * @internal Connects to the card in `entry`'s reader; a connection still open on the same
   * reader object is ended first with `previous` (a reset power-cycles a card whose state pcscd
   * may have wrong, e.g. one swapped faster than pcscd polls).
   */
  async open(entry: ReaderEntry, previous: 'leave' | 'reset' = 'reset'): Promise<void> {
    const reader = entry.reader;
    const share = (this.options.share ?? 'exclusive') === 'shared' ? reader.SCARD_SHARE_SHARED : reader.SCARD_SHARE_EXCLUSIVE;
    const wanted = this.options.protocols ?? ['T=0', 'T=1'];
    const protocols = (wanted.includes('T=0') ? reader.SCARD_PROTOCOL_T0 : 0) | (wanted.includes('T=1') ? reader.SCARD_PROTOCOL_T1 : 0);
    if (reader.connected) {
      const how = previous === 'reset' ? reader.SCARD_RESET_CARD : reader.SCARD_LEAVE_CARD;
      await pcscCall<void>((cb) => reader.disconnect(how, (err) => cb(err, undefined))).catch(() => undefined);
    }
    try {
      this.protocolNumber = await pcscCall<number>((cb) => reader.connect({ share_mode: share, protocol: protocols }, cb));
    } catch (e) {
      throw this.failure(e, 'connect');
    }
    this.pcscReader = reader;
    this.cardAtr = entry.atr;
    this.broken = undefined;
  }

  protected async exchange(command: Uint8Array): Promise<Uint8Array> {
    const reader = this.pcscReader!;
    try {
      const response = await pcscCall<Buffer>((cb) => reader.transmit(Buffer.from(command), RESPONSE_BUFFER, this.protocolNumber, cb));
      // A card always ends with a status word; vpcd answers nothing when the card side vanishes.
      if (response.length < 2) throw cardRemoved(this.name);
      return new Uint8Array(response);
    } catch (e) {
      const error = this.failure(e, 'transmit');
      if (error.code === BRIDGE_ERROR.CARD_RESET) {
        // The card's session is gone but the card is there: reconnect now, and tell the caller.
        await this.open({ reader, present: true, atr: this.cardAtr, cardEvents: 0, known: Promise.resolve() }, 'leave').catch(
          (reopen: unknown) => {
            this.broken = reopen instanceof EcashError ? reopen : error;
          },
        );
      } else {
        this.broken = error;
      }
      throw error;
    }
  }

  /** Maps a pcsclite error to the bridge's error codes. */
  private failure(e: unknown, what: 'connect' | 'transmit'): EcashError {
    if (e instanceof EcashError) return e;
    const error = e instanceof Error ? e : new Error(String(e));
    const code = pcscResult(error);
    const details = { reader: this.name, pcsc: code === undefined ? undefined : `0x${code.toString(16)}` };
    switch (code) {
      case PCSC.SHARING_VIOLATION:
        return bridgeError(
          BRIDGE_ERROR.READER_BUSY,
          `reader "${this.name}" is in exclusive use by another application: close it, or connect in shared mode`,
          { details },
        );
      case PCSC.NO_SMARTCARD:
        return what === 'connect' ? noCard(this.name) : cardRemoved(this.name);
      case PCSC.REMOVED_CARD:
      case PCSC.UNPOWERED_CARD:
        return cardRemoved(this.name);
      case PCSC.RESET_CARD:
        return bridgeError(
          BRIDGE_ERROR.CARD_RESET,
          `the card in "${this.name}" was reset by another application: select the applet (and verify the PIN) again`,
          { details },
        );
      case PCSC.UNKNOWN_READER:
      case PCSC.READER_UNAVAILABLE:
        return noReader(this.name);
      case PCSC.TIMEOUT:
        return bridgeError(BRIDGE_ERROR.CARD_TIMEOUT, `the reader "${this.name}" gave up waiting for the card: try again`, { details });
      case PCSC.NOT_TRANSACTED:
        return bridgeError(
          BRIDGE_ERROR.TRANSPORT_FAILURE,
          `the reader "${this.name}" could not complete the exchange (${error.message}): reconnect the channel (it power-cycles the card) and select the applet again`,
          { details, cause: error },
        );
      case PCSC.NO_SERVICE:
      case PCSC.SERVICE_STOPPED:
      case PCSC.INVALID_HANDLE:
        return bridgeError(
          BRIDGE_ERROR.TRANSPORT_FAILURE,
          `pcscd stopped serving reader "${this.name}" (${error.message}): once it is back, reconnect the channel and select the applet again`,
          { details, cause: error },
        );
      default:
        if (/not connected/i.test(error.message)) return channelClosed(this.name);
        return bridgeError(BRIDGE_ERROR.TRANSPORT_FAILURE, `PC/SC ${what} on "${this.name}" failed: ${error.message}`, {
          details,
          cause: error,
        });
    }
  }

  async reconnect(): Promise<void> {
    const deadline = Date.now() + this.transport.reconnectTimeoutMs;
    await this.readyToReconnect();
    const entry = await this.transport.cardIn(this.name, deadline);
    const old = this.pcscReader;
    if (old !== undefined && old !== entry.reader && old.connected) {
      await pcscCall<void>((cb) => old.disconnect(old.SCARD_LEAVE_CARD, (err) => cb(err, undefined))).catch(() => undefined);
    }
    await this.open(entry);
  }

  async disconnect(disposition: Disposition = 'reset'): Promise<void> {
    if (!(await this.closing())) return;
    this.transport.forget(this);
    const reader = this.pcscReader;
    if (reader === undefined || !reader.connected) return;
    const how = { leave: reader.SCARD_LEAVE_CARD, reset: reader.SCARD_RESET_CARD, unpower: reader.SCARD_UNPOWER_CARD }[disposition];
    // Best effort: a card already gone or a pcscd already restarted has nothing left to end.
    await pcscCall<void>((cb) => reader.disconnect(how, (err) => cb(err, undefined))).catch(() => undefined);
  }
}
