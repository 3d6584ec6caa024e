/**
 * The card in a real pcscd: the vpcd client side. pcscd's vpcd driver listens on TCP (35963 for
 * reader `Virtual PCD 00 00`, 35964 for `… 00 01`); the card connects to it. Wire: each message is
 * a u16 big-endian length and a body; a one-byte body is a control code (0 power off, 1 power on,
 * 2 reset, 4 "send the ATR", the only one answered), any other body a command APDU, answered with
 * the response APDU. The connection stays up across pcscd restarts by reconnecting; losing it
 * powers the card off, as pulling a card from a reader does.
 */
import { connect, type Socket } from 'node:net';
import { EcashError } from '../../core/index.js';
import { encodeResponse, SW } from '../../wire/index.js';
import type { SimulatedCard } from '../card.js';
import { loadQuickAck, type QuickAck } from './quickack.js';

export const VPCD_DEFAULT_HOST = '127.0.0.1';
export const VPCD_DEFAULT_PORT = 35963;

const CONTROL_POWER_OFF = 0;
const CONTROL_POWER_ON = 1;
const CONTROL_RESET = 2;
const CONTROL_ATR = 4;

export type VpcdEvent =
  | { type: 'connected'; host: string; port: number; quickAck: boolean }
  | { type: 'disconnected'; reason: string }
  | { type: 'power'; state: 'on' | 'off' | 'reset' }
  | { type: 'error'; message: string };

export interface VpcdOptions {
  host?: string;
  port?: number;
  /**
   * `auto` (default): TCP_QUICKACK through koffi when available (docs/card.md explains the 40 ms
   * delayed-ACK stall it removes); `off`: plain sockets (for measuring, or with the loopback route
   * option `quickack 1` set by an operator).
   */
  quickAck?: 'auto' | 'off';
  /** Delay between connection attempts while vpcd is not listening (ms, default 500). */
  retryMs?: number;
  onEvent?: (event: VpcdEvent) => void;
}

export interface VpcdConnection {
  readonly connected: boolean;
  /** Whether TCP_QUICKACK is in use, and why not when it is not. */
  readonly quickAck: { active: boolean; reason: string | undefined };
  /** Resolves at the next successful connection (at once if connected). */
  whenConnected(): Promise<void>;
  /** Disconnects for good and powers the card off. */
  close(): Promise<void>;
}

/** Splits a TCP stream into vpcd messages (one `data` event is not one message). */
class MessageReader {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: Buffer[] = [];
    while (this.buffer.length >= 2) {
      const n = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + n) break;
      out.push(this.buffer.subarray(2, 2 + n));
      this.buffer = this.buffer.subarray(2 + n);
    }
    return out;
  }
}

function frame(body: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  out.set(body, 2);
  return out;
}

class VpcdClient implements VpcdConnection {
  private socket: Socket | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private arm: QuickAck | undefined;
  private quickAckReason: string | undefined;
  private waiters: (() => void)[] = [];
  /** Messages are handled one at a time, in order (a command may wait on a chip profile). */
  private queue: Promise<void> = Promise.resolve();
  private readonly host: string;
  private readonly port: number;

  constructor(
    private readonly card: SimulatedCard,
    private readonly options: VpcdOptions,
  ) {
    this.host = options.host ?? VPCD_DEFAULT_HOST;
    this.port = options.port ?? VPCD_DEFAULT_PORT;
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  get quickAck(): { active: boolean; reason: string | undefined } {
    return { active: this.arm !== undefined, reason: this.quickAckReason };
  }

  async start(): Promise<void> {
    if ((this.options.quickAck ?? 'auto') === 'auto') {
      const q = await loadQuickAck();
      this.arm = q.arm;
      this.quickAckReason = q.reason;
    } else {
      this.quickAckReason = 'turned off';
    }
    this.attempt();
  }

  whenConnected(): Promise<void> {
    if (this.socket !== undefined) return Promise.resolve();
    if (this.closed) return Promise.reject(new EcashError('vpcd-closed', 'the vpcd connection is closed'));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private emit(event: VpcdEvent): void {
    this.options.onEvent?.(event);
  }

  private attempt(): void {
    if (this.closed) return;
    const socket = connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    let up = false;
    socket.on('connect', () => {
      if (this.closed) {
        socket.destroy();
        return;
      }
      up = true;
      this.socket = socket;
      this.arm?.(socket);
      this.emit({ type: 'connected', host: this.host, port: this.port, quickAck: this.arm !== undefined });
      for (const w of this.waiters.splice(0)) w();
    });
    const reader = new MessageReader();
    socket.on('data', (chunk: Buffer) => {
      this.arm?.(socket);
      for (const message of reader.push(chunk)) this.queue = this.queue.then(() => this.handle(socket, message));
    });
    socket.on('error', (e) => {
      if (up) this.emit({ type: 'error', message: e.message });
    });
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = undefined;
        this.card.powerOff();
        this.emit({ type: 'disconnected', reason: 'vpcd closed the connection (pcscd stopped or restarted)' });
      }
      if (!this.closed) this.retryTimer = setTimeout(() => this.attempt(), this.options.retryMs ?? 500);
    });
  }

  private async handle(socket: Socket, message: Buffer): Promise<void> {
    if (message.length === 1) {
      const code = message[0];
      try {
        if (code === CONTROL_ATR) this.send(socket, this.card.atr);
        else if (code === CONTROL_POWER_ON) {
          this.card.powerOn();
          this.emit({ type: 'power', state: 'on' });
        } else if (code === CONTROL_RESET) {
          this.card.reset();
          this.emit({ type: 'power', state: 'reset' });
        } else if (code === CONTROL_POWER_OFF) {
          this.card.powerOff();
          this.emit({ type: 'power', state: 'off' });
        }
      } catch (e) {
        this.emit({ type: 'error', message: `the card failed to power up: ${e instanceof Error ? e.message : String(e)}` });
      }
      return;
    }
    let response: Uint8Array;
    try {
      response = await this.card.transmit(message);
    } catch (e) {
      // A card that cannot answer (unpowered, torn) is mute on a real reader; vpcd needs an
      // answer to stay in step, so it gets "no precise diagnosis".
      this.emit({ type: 'error', message: `the card did not answer: ${e instanceof Error ? e.message : String(e)}` });
      response = encodeResponse({ data: new Uint8Array(0), sw: SW.UNKNOWN });
    }
    this.send(socket, response);
  }

  private send(socket: Socket, body: Uint8Array): void {
    if (socket.destroyed) return;
    socket.write(frame(body));
    this.arm?.(socket);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        socket.destroySoon();
      });
    }
    await this.queue;
    this.card.powerOff();
  }
}

/**
 * Serves `card` to pcscd through vpcd at host:port (default 127.0.0.1:35963, reader
 * `Virtual PCD 00 00`). Returns at once; the connection is made, and remade after pcscd
 * restarts, in the background.
 */
export async function serveOverVpcd(card: SimulatedCard, options: VpcdOptions = {}): Promise<VpcdConnection> {
  const client = new VpcdClient(card, options);
  await client.start();
  return client;
}

/** Parses `host:port`, `host` or `:port` for `--vpcd`. */
export function parseVpcdAddress(value: string | undefined): { host: string; port: number } {
  if (value === undefined || value === '') return { host: VPCD_DEFAULT_HOST, port: VPCD_DEFAULT_PORT };
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d{1,5}))?$/.exec(value);
  const port = m?.[3] === undefined ? VPCD_DEFAULT_PORT : Number(m[3]);
  if (m === null || port < 1 || port > 65535)
    throw new EcashError('bad-vpcd-address', `--vpcd takes host:port (e.g. 127.0.0.1:35963), got "${value}"`);
  return { host: m[1] ?? (m[2] || VPCD_DEFAULT_HOST), port };
}
