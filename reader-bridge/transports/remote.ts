/**
 * Readers on another machine, served by `ecash bridge serve` (see remote-server.ts and
 * docs/bridge.md). The same interface as a local transport: when the bridge goes away its readers
 * disappear (events) and channels fail with `transport-failure` until reconnected.
 */
import WebSocket from 'ws';
import { EcashError, fromHex } from '../../core/index.js';
import { bridgeError, BRIDGE_ERROR } from '../errors.js';
import { QueuedChannel } from '../exchange-queue.js';
import {
  BRIDGE_MAX_FRAME,
  encodeRequest,
  fromWireEvent,
  parseChannelDescription,
  parseReaderInfo,
  parseReply,
  parseResponseHex,
  type BridgeReply,
  type BridgeRequest,
  type ChannelDescription,
} from '../remote-protocol.js';
import {
  ReaderEventHub,
  type CardChannel,
  type CardProtocol,
  type ConnectOptions,
  type Disposition,
  type ReaderEventListener,
  type ReaderInfo,
  type ReaderTransport,
  type TransmitOptions,
} from '../transport.js';

export interface RemoteTransportOptions {
  /** The bridge's address, `ws://host:port/v1`. */
  url: string;
  token: string;
  /** Allowed on top of a command's own budget for the network round trip (ms). */
  networkSlackMs?: number;
  /** Budget for requests that are not card commands: list, connect, reconnect (ms). */
  requestTimeoutMs?: number;
  /** How often to try the bridge again while watching after it went away (ms). */
  retryIntervalMs?: number;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type RequestBody = WithoutId<BridgeRequest>;

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(error: EcashError): void;
  timer: NodeJS.Timeout;
}

export class RemoteTransport implements ReaderTransport {
  readonly kind = 'remote' as const;
  private socket: Promise<WebSocket> | undefined;
  /** Bumped per WebSocket connection: the bridge's channel numbers belong to one connection. */
  generation = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly events = new ReaderEventHub();
  private readonly readers = new Map<string, ReaderInfo>();
  private watching = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly networkSlackMs: number;
  readonly requestTimeoutMs: number;

  constructor(private readonly options: RemoteTransportOptions) {
    this.networkSlackMs = options.networkSlackMs ?? 2_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  private connection(): Promise<WebSocket> {
    if (this.closed) return Promise.reject(bridgeError(BRIDGE_ERROR.CHANNEL_CLOSED, 'the remote transport is closed: create a new one'));
    this.socket ??= this.open().catch((e: unknown) => {
      this.socket = undefined;
      throw e;
    });
    return this.socket;
  }

  private open(): Promise<WebSocket> {
    const url = this.options.url;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { authorization: `Bearer ${this.options.token}` },
        maxPayload: BRIDGE_MAX_FRAME,
        handshakeTimeout: this.requestTimeoutMs,
      });
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate();
        reject(
          res.statusCode === 401
            ? bridgeError(
                BRIDGE_ERROR.BRIDGE_UNAUTHORIZED,
                `the reader bridge at ${url} refused the token: use the token the bridge was started with`,
              )
            : bridgeError(
                BRIDGE_ERROR.TRANSPORT_FAILURE,
                `the reader bridge at ${url} answered HTTP ${res.statusCode}: check the URL (it ends in /v1)`,
              ),
        );
      });
      ws.once('error', (e) =>
        reject(
          bridgeError(
            BRIDGE_ERROR.TRANSPORT_FAILURE,
            `cannot reach the reader bridge at ${url} (${e.message}): is \`ecash bridge serve\` running there?`,
            { cause: e },
          ),
        ),
      );
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.on('error', () => undefined); // 'close' follows and handles the loss
        this.generation++;
        ws.on('message', (data, isBinary) => this.onFrame(isBinary ? undefined : data.toString()));
        ws.on('close', () => this.lost());
        // Subscribe before anything else: the bridge serves frames in order, so no event that
        // follows any answer of this connection can be missed.
        this.send(ws, { op: 'watch' }, this.requestTimeoutMs).catch(() => undefined);
        resolve(ws);
      });
    });
  }

  private onFrame(frame: string | undefined): void {
    let reply: BridgeReply;
    try {
      if (frame === undefined) throw bridgeError(BRIDGE_ERROR.BRIDGE_PROTOCOL, 'the bridge sent a binary frame');
      reply = parseReply(frame);
    } catch {
      return; // a bridge that speaks another protocol: the request it should have answered times out
    }
    if ('event' in reply) {
      const event = fromWireEvent(reply.event, 'remote');
      if (event.type === 'reader-removed') this.readers.delete(event.reader.name);
      else this.readers.set(event.reader.name, event.reader);
      this.events.emit(event);
      return;
    }
    const pending = this.pending.get(reply.id);
    if (pending === undefined) return;
    this.pending.delete(reply.id);
    clearTimeout(pending.timer);
    if ('error' in reply) pending.reject(new EcashError(reply.error.code, reply.error.message));
    else pending.resolve(reply.result);
  }

  /** The bridge connection dropped: its readers are gone for us, and so are its channels. */
  private lost(): void {
    this.socket = undefined;
    this.generation++; // the bridge's channel numbers died with the connection
    const failure = bridgeError(
      BRIDGE_ERROR.TRANSPORT_FAILURE,
      `the connection to the reader bridge at ${this.options.url} was lost: reconnect once it is back`,
    );
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(failure);
      this.pending.delete(id);
    }
    for (const reader of this.readers.values()) this.events.emit({ type: 'reader-removed', reader: { ...reader, cardPresent: false } });
    this.readers.clear();
    if (this.watching) this.retryWatch();
  }

  private retryWatch(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.announce().catch(() => this.retryWatch());
    }, this.options.retryIntervalMs ?? 1_000);
  }

  /** After the bridge came back: its readers are new to the watchers. */
  private async announce(): Promise<void> {
    const known = new Set(this.readers.keys());
    for (const reader of await this.listReaders()) {
      if (!known.has(reader.name)) this.events.emit({ type: 'reader-added', reader });
    }
  }

  /** @internal Sends one request and waits for its answer (or `timeoutMs`). */
  async request(body: RequestBody, timeoutMs: number): Promise<Record<string, unknown>> {
    return this.send(await this.connection(), body, timeoutMs);
  }

  private send(ws: WebSocket, body: RequestBody, timeoutMs: number): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          body.op === 'transmit'
            ? bridgeError(
                BRIDGE_ERROR.CARD_TIMEOUT,
                `no answer from the card behind the reader bridge within ${timeoutMs} ms: it may have acted on the command; repeat it`,
              )
            : bridgeError(
                BRIDGE_ERROR.TRANSPORT_FAILURE,
                `the reader bridge at ${this.options.url} did not answer "${body.op}" within ${timeoutMs} ms`,
              ),
        );
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(encodeRequest({ ...body, id } as BridgeRequest));
    });
  }

  async listReaders(): Promise<ReaderInfo[]> {
    const result = await this.request({ op: 'list' }, this.requestTimeoutMs);
    if (!Array.isArray(result.readers))
      throw bridgeError(BRIDGE_ERROR.BRIDGE_PROTOCOL, 'malformed bridge message: readers must be an array');
    const readers = result.readers.map((r) => ({ ...parseReaderInfo(r), transport: 'remote' as const }));
    for (const r of readers) this.readers.set(r.name, r);
    return readers;
  }

  watch(listener: ReaderEventListener): () => void {
    const stop = this.events.add(listener);
    this.watching = true;
    this.connection().catch(() => this.retryWatch());
    return stop;
  }

  async connect(readerName: string, options: ConnectOptions = {}): Promise<CardChannel> {
    const channel = new RemoteChannel(this, readerName, options);
    await channel.open();
    return channel;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watching = false;
    clearTimeout(this.retryTimer);
    this.events.clear();
    const socket = this.socket;
    this.socket = undefined;
    const ws = await socket?.catch(() => undefined);
    if (ws === undefined) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
    });
  }
}

class RemoteChannel extends QueuedChannel implements CardChannel {
  private description: ChannelDescription | undefined;
  private generation = -1;

  constructor(
    private readonly transport: RemoteTransport,
    private readonly name: string,
    private readonly options: ConnectOptions,
  ) {
    super(name);
  }

  get reader(): ReaderInfo {
    return { name: this.name, transport: 'remote', cardPresent: this.description !== undefined };
  }

  get atr(): Uint8Array {
    return fromHex(this.description?.atr ?? '', 'atr');
  }

  get protocol(): CardProtocol {
    return this.description?.protocol ?? 'direct';
  }

  /** @internal Opens the channel on the bridge (again, after the bridge connection was lost). */
  async open(): Promise<void> {
    const request = {
      op: 'connect' as const,
      reader: this.name,
      share: this.options.share ?? 'exclusive',
      protocols: [...(this.options.protocols ?? ['T=0', 'T=1'])],
    };
    const result = await this.transport.request(request, this.transport.requestTimeoutMs);
    this.description = parseChannelDescription(result);
    this.generation = this.transport.generation;
  }

  protected override budget(timeoutMs: number): number {
    return timeoutMs + this.transport.networkSlackMs;
  }

  protected async exchange(command: Uint8Array, options: TransmitOptions): Promise<Uint8Array> {
    if (this.description === undefined || this.generation !== this.transport.generation) {
      throw bridgeError(
        BRIDGE_ERROR.TRANSPORT_FAILURE,
        `the reader bridge connection behind "${this.name}" was lost: reconnect the channel`,
      );
    }
    const request = { op: 'transmit' as const, channel: this.description.channel, apdu: command, timeoutMs: options.timeoutMs };
    return parseResponseHex(await this.transport.request(request, this.budget(options.timeoutMs)));
  }

  async reconnect(): Promise<void> {
    await this.readyToReconnect();
    if (this.description !== undefined && this.generation === this.transport.generation) {
      const result = await this.transport.request({ op: 'reconnect', channel: this.description.channel }, this.transport.requestTimeoutMs);
      this.description = parseChannelDescription(result);
    } else {
      await this.open();
    }
  }

  async disconnect(disposition: Disposition = 'reset'): Promise<void> {
    if (!(await this.closing())) return;
    const description = this.description;
    if (description === undefined || this.generation !== this.transport.generation) return;
    await this.transport
      .request({ op: 'disconnect', channel: description.channel, disposition }, this.transport.requestTimeoutMs)
      .catch(() => undefined);
  }
}
