/**
 * The card as a USB HID device (docs/hid.md): the device side of the hardware-wallet style APDU
 * framing. It has the shape of node-hid's HIDAsync as a host sees it — `write(report)` with the
 * leading report-id byte, `'data'` events of 64-byte input reports — so the bridge's HID
 * transport can be tested against it on machines without /dev/uhid. The card is powered while
 * the device is open, like a token on the bus.
 */
import { EventEmitter } from 'node:events';
import { frameMessage, HID_REPORT_SIZE, HidMessageAssembler } from '../../wire/index.js';
import type { SimulatedCard } from '../card.js';

const REPORT_ID = 0x00;

export interface HidCardDevice {
  /** One output report as node-hid writes it: report id 0x00, then the 64-byte report. */
  write(data: number[] | Buffer): Promise<number>;
  on(event: 'data', listener: (report: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  off(event: 'data', listener: (report: Buffer) => void): this;
  off(event: 'error', listener: (error: Error) => void): this;
  close(): Promise<void>;
  /** Reports dropped as malformed (wrong size, tag or sequence): the host's message is lost. */
  readonly droppedReports: number;
}

class CardHidDevice extends EventEmitter implements HidCardDevice {
  private assembler: HidMessageAssembler | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  droppedReports = 0;

  constructor(private readonly card: SimulatedCard) {
    super();
    card.powerOn();
  }

  async write(data: number[] | Buffer): Promise<number> {
    const bytes = Uint8Array.from(data);
    if (this.closed) throw new Error('the HID device is closed');
    if (bytes.length !== HID_REPORT_SIZE + 1 || bytes[0] !== REPORT_ID) {
      this.droppedReports++;
      return bytes.length;
    }
    const report = bytes.subarray(1);
    // A new message may come on any channel: the device answers on the channel it was asked on.
    const channel = (report[0]! << 8) | report[1]!;
    const isFirst = report[3] === 0 && report[4] === 0;
    if (this.assembler === undefined || isFirst) this.assembler = new HidMessageAssembler(channel);
    let command: Uint8Array | undefined;
    try {
      command = this.assembler.push(report);
    } catch {
      this.droppedReports++;
      this.assembler = undefined;
      return bytes.length;
    }
    if (command !== undefined) {
      this.assembler = undefined;
      const apdu = command;
      this.queue = this.queue.then(() => this.answer(channel, apdu));
    }
    return bytes.length;
  }

  private async answer(channel: number, command: Uint8Array): Promise<void> {
    let response: Uint8Array;
    try {
      response = await this.card.transmit(command);
    } catch (e) {
      this.emit('error', e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (this.closed) return;
    for (const report of frameMessage(channel, response)) this.emit('data', Buffer.from(report));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    this.card.powerOff();
    this.removeAllListeners();
  }
}

/** Opens `card` as a HID device (powering it up). */
export function openHidDevice(card: SimulatedCard): HidCardDevice {
  return new CardHidDevice(card);
}
