/**
 * The vpcd client against a local server that speaks vpcd's wire protocol (the way pcscd's vpcd
 * driver does): control codes, only the ATR request answered, messages split across TCP chunks,
 * and a reconnection after the server goes away (pcscd restarting), with the card powered off.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../core/index.js';
import { CARD_ATR, decodeFci, parseResponse } from '../../wire/index.js';
import { createVolatileCard, parseVpcdAddress, serveOverVpcd, type VpcdConnection, type VpcdEvent } from '../../firmware-sim/index.js';
import { PIN, PUK } from './helpers.js';

/** A vpcd-like server: one card connection at a time, messages as u16 length + body. */
class FakeVpcd {
  private server: Server;
  private socket: Socket | undefined;
  private buffer = Buffer.alloc(0);
  private waiting: ((m: Buffer) => void)[] = [];
  private connectedWaiters: (() => void)[] = [];
  port = 0;

  constructor() {
    this.server = createServer((socket) => {
      this.socket = socket;
      socket.on('data', (d: Buffer) => {
        this.buffer = Buffer.concat([this.buffer, d]);
        while (this.buffer.length >= 2 && this.buffer.length >= 2 + this.buffer.readUInt16BE(0)) {
          const n = this.buffer.readUInt16BE(0);
          const m = this.buffer.subarray(2, 2 + n);
          this.buffer = this.buffer.subarray(2 + n);
          this.waiting.shift()?.(m);
        }
      });
      socket.on('error', () => undefined);
      for (const w of this.connectedWaiters.splice(0)) w();
    });
  }

  listen(port = 0): Promise<void> {
    return new Promise((resolve) =>
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as { port: number }).port;
        resolve();
      }),
    );
  }

  whenCardConnects(): Promise<void> {
    return this.socket !== undefined && !this.socket.destroyed ? Promise.resolve() : new Promise((r) => this.connectedWaiters.push(r));
  }

  /** Sends one message, split in two writes like vpcd (length, then body). */
  send(body: Uint8Array): void {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(body.length);
    this.socket!.write(len);
    this.socket!.write(body);
  }

  receive(): Promise<Buffer> {
    return new Promise((r) => this.waiting.push(r));
  }

  async exchange(body: Uint8Array): Promise<Buffer> {
    const answer = this.receive();
    this.send(body);
    return answer;
  }

  async stop(): Promise<void> {
    this.socket?.destroy();
    this.socket = undefined;
    await new Promise((r) => this.server.close(r));
  }
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('vpcd client', () => {
  it('answers only the ATR request among control codes, powers the card as told and answers APDUs', async () => {
    const vpcd = new FakeVpcd();
    await vpcd.listen();
    const card = await createVolatileCard({ pin: PIN, puk: PUK });
    const connection = await serveOverVpcd(card, { port: vpcd.port, retryMs: 50 });
    cleanup.push(
      () => connection.close(),
      () => vpcd.stop(),
    );
    await vpcd.whenCardConnects();
    expect(toHex(await vpcd.exchange(Uint8Array.of(4)))).toBe(toHex(CARD_ATR));
    vpcd.send(Uint8Array.of(1)); // power on: no answer
    const fci = parseResponse(await vpcd.exchange(Uint8Array.from(Buffer.from('00A4040007F045434153480100', 'hex'))));
    expect(fci.sw).toBe(0x9000);
    expect(decodeFci(fci.data).suite).toBe('ristretto255-sha512');
    vpcd.send(Uint8Array.of(2)); // reset: selection gone
    expect(parseResponse(await vpcd.exchange(Uint8Array.from([0x80, 0x30, 0, 0, 0]))).sw).toBe(0x6985);
    vpcd.send(Uint8Array.of(0)); // power off: the card is mute, the client says 6F00 to stay in step
    expect(parseResponse(await vpcd.exchange(Uint8Array.from([0x80, 0x30, 0, 0, 0]))).sw).toBe(0x6f00);
    expect(card.powered).toBe(false);
  });

  it('reconnects when vpcd goes away and comes back (pcscd restart), the card powered off meanwhile', async () => {
    const vpcd = new FakeVpcd();
    await vpcd.listen();
    const port = vpcd.port;
    const card = await createVolatileCard({ pin: PIN, puk: PUK });
    const events: VpcdEvent['type'][] = [];
    let disconnected!: () => void;
    const gone = new Promise<void>((resolve) => (disconnected = resolve));
    const connection: VpcdConnection = await serveOverVpcd(card, {
      port,
      retryMs: 50,
      onEvent: (e) => {
        events.push(e.type);
        if (e.type === 'disconnected') disconnected();
      },
    });
    cleanup.push(() => connection.close());
    await vpcd.whenCardConnects();
    vpcd.send(Uint8Array.of(1));
    expect(toHex(await vpcd.exchange(Uint8Array.of(4)))).toBe(toHex(CARD_ATR));
    expect(card.powered).toBe(true);
    await vpcd.stop();
    await gone; // the client has seen vpcd go (and tries again every 50 ms, refused until it is back)
    expect(connection.connected).toBe(false);
    expect(card.powered).toBe(false);
    const again = new FakeVpcd();
    await again.listen(port);
    cleanup.push(() => again.stop());
    await again.whenCardConnects();
    await connection.whenConnected();
    expect(toHex(await again.exchange(Uint8Array.of(4)))).toBe(toHex(CARD_ATR));
    expect(events.filter((t) => t === 'connected')).toHaveLength(2);
    expect(events).toContain('disconnected');
  });

  it('parses --vpcd addresses', () => {
    expect(parseVpcdAddress(undefined)).toEqual({ host: '127.0.0.1', port: 35963 });
    expect(parseVpcdAddress('127.0.0.1:35964')).toEqual({ host: '127.0.0.1', port: 35964 });
    expect(parseVpcdAddress(':35964')).toEqual({ host: '127.0.0.1', port: 35964 });
    expect(parseVpcdAddress('[::1]:1234')).toEqual({ host: '::1', port: 1234 });
    expect(() => parseVpcdAddress('host:99999')).toThrow(expect.objectContaining({ code: 'bad-vpcd-address' }));
  });
});
