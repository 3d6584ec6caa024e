/**
 * The USB HID framing of APDUs used by hardware-wallet style devices (as in Ledger's transports),
 * shared by the card's device side and the reader bridge's host side. See docs/hid.md.
 *
 * Every HID report is 64 bytes: channel (u16) | tag 0x05 | sequence (u16, from 0) | payload.
 * The payload of sequence 0 starts with the message length (u16); the message is split over as
 * many reports as it needs, the last one zero-padded. A message is one command APDU (host to
 * device) or one response APDU (device to host).
 */
import { EcashError } from '../core/index.js';

export const HID_REPORT_SIZE = 64;
export const HID_TAG_APDU = 0x05;
const HEADER = 5;

/** Splits one message into 64-byte reports on `channel`. */
export function frameMessage(channel: number, message: Uint8Array): Uint8Array[] {
  if (message.length > 0xffff) throw new EcashError('hid-frame', 'HID message longer than 65535 bytes');
  const reports: Uint8Array[] = [];
  const withLength = new Uint8Array(message.length + 2);
  withLength[0] = message.length >> 8;
  withLength[1] = message.length & 0xff;
  withLength.set(message, 2);
  const per = HID_REPORT_SIZE - HEADER;
  for (let seq = 0, off = 0; off < withLength.length || seq === 0; seq++, off += per) {
    const r = new Uint8Array(HID_REPORT_SIZE);
    r[0] = channel >> 8;
    r[1] = channel & 0xff;
    r[2] = HID_TAG_APDU;
    r[3] = seq >> 8;
    r[4] = seq & 0xff;
    r.set(withLength.subarray(off, off + per), HEADER);
    reports.push(r);
  }
  return reports;
}

/**
 * Reassembles a message from reports as they arrive. `push` returns the message once complete,
 * undefined while more reports are needed; a report on another channel, with another tag or out
 * of sequence throws EcashError `hid-frame` (and resets the assembler).
 */
export class HidMessageAssembler {
  private expected = 0;
  private seq = 0;
  private parts: Uint8Array[] = [];
  private received = 0;

  constructor(private readonly channel: number) {}

  push(report: Uint8Array): Uint8Array | undefined {
    try {
      if (report.length !== HID_REPORT_SIZE)
        throw new EcashError('hid-frame', `HID report must be ${HID_REPORT_SIZE} bytes, got ${report.length}`);
      const channel = (report[0]! << 8) | report[1]!;
      const seq = (report[3]! << 8) | report[4]!;
      if (channel !== this.channel) throw new EcashError('hid-frame', `HID report on channel ${channel}, expected ${this.channel}`);
      if (report[2] !== HID_TAG_APDU) throw new EcashError('hid-frame', `unknown HID command tag ${report[2]}`);
      if (seq !== this.seq) throw new EcashError('hid-frame', `HID report out of sequence: got ${seq}, expected ${this.seq}`);
      let payload = report.subarray(HEADER);
      if (seq === 0) {
        this.expected = (payload[0]! << 8) | payload[1]!;
        payload = payload.subarray(2);
      }
      const take = Math.min(payload.length, this.expected - this.received);
      this.parts.push(payload.slice(0, take));
      this.received += take;
      this.seq++;
      if (this.received < this.expected) return undefined;
      const out = new Uint8Array(this.expected);
      let off = 0;
      for (const p of this.parts) {
        out.set(p, off);
        off += p.length;
      }
      this.reset();
      return out;
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  reset(): void {
    this.expected = 0;
    this.seq = 0;
    this.parts = [];
    this.received = 0;
  }
}
