/**
 * The one card-channel interface every host uses (modelled on Ledger's ledgerjs transports): a
 * transport per medium lists readers, reports reader and card events and opens channels; a
 * channel exchanges raw APDUs with one card. Everything above (APDU client, e-cash client,
 * tracing, the remote bridge) is written against these two interfaces only.
 */

export type TransportKind = 'pcsc' | 'hid' | 'virtual' | 'remote' | 'replay';

export interface ReaderInfo {
  name: string;
  transport: TransportKind;
  cardPresent: boolean;
}

export type ReaderEvent =
  | { type: 'reader-added'; reader: ReaderInfo }
  | { type: 'reader-removed'; reader: ReaderInfo }
  | { type: 'card-inserted'; reader: ReaderInfo; atr: Uint8Array }
  | { type: 'card-removed'; reader: ReaderInfo };

export type ReaderEventListener = (event: ReaderEvent) => void;

/** `exclusive` keeps every other application off the card for the channel's life (PC/SC). */
export type ShareMode = 'shared' | 'exclusive';

/** `direct`: APDUs without an ISO 7816-3 transmission protocol (HID, in-process, replay). */
export type CardProtocol = 'T=0' | 'T=1' | 'direct';

/** What happens to the card when a channel ends (PC/SC dispositions; others power it down). */
export type Disposition = 'leave' | 'reset' | 'unpower';

export interface ConnectOptions {
  /** Default `exclusive`: a payment must not interleave with another application's commands. */
  share?: ShareMode;
  /** Protocols the host accepts; default both T=0 and T=1. */
  protocols?: readonly ('T=0' | 'T=1')[];
}

export interface TransmitOptions {
  /** The whole exchange's budget, queueing behind an earlier command included. */
  timeoutMs: number;
}

export interface CardChannel {
  readonly reader: ReaderInfo;
  /** The card's answer to reset (changes when the card is reset). */
  readonly atr: Uint8Array;
  readonly protocol: CardProtocol;
  /**
   * Sends one command APDU and returns the response APDU (data and status word), as bytes.
   * Exchanges on one channel run one at a time, in call order.
   */
  transmit(command: Uint8Array, options: TransmitOptions): Promise<Uint8Array>;
  /**
   * Connects again to the same reader after a reset, a transport failure or a timeout. The
   * card's session state (selected applet, verified PIN) is gone afterwards.
   */
  reconnect(): Promise<void>;
  /**
   * Ends the channel. The default disposition, `reset`, clears the card's session so a PIN
   * verified here does not outlive the channel.
   */
  disconnect(disposition?: Disposition): Promise<void>;
}

export interface ReaderTransport {
  readonly kind: TransportKind;
  listReaders(): Promise<ReaderInfo[]>;
  /** Streams reader and card events until the returned function is called. */
  watch(listener: ReaderEventListener): () => void;
  connect(readerName: string, options?: ConnectOptions): Promise<CardChannel>;
  /** Ends every channel and background activity so the process can exit. */
  close(): Promise<void>;
}

/** Listener bookkeeping shared by the transports; a throwing listener never breaks the others. */
export class ReaderEventHub {
  private readonly listeners = new Set<ReaderEventListener>();

  get size(): number {
    return this.listeners.size;
  }

  add(listener: ReaderEventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: ReaderEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
