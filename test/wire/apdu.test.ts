/**
 * The ISO/IEC 7816-4 APDU codec and the USB HID report framing that the card and the reader
 * bridge share.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../core/index.js';
import {
  type CommandApdu,
  encodeCommand,
  encodeResponse,
  frameMessage,
  HID_REPORT_SIZE,
  HidMessageAssembler,
  isMoreData,
  isWrongLe,
  parseCommand,
  parseResponse,
  pinTriesLeft,
  SW,
  swHex,
} from '../../wire/index.js';
import { expectCode } from '../core/expect-code.js';

const cmd = (data: number, le: number | undefined): CommandApdu => ({
  cla: 0x80,
  ins: 0x40,
  p1: 1,
  p2: 2,
  data: new Uint8Array(data).fill(0xab),
  le,
});

describe('command APDUs', () => {
  it('encodes the four short cases as ISO 7816-3 writes them', () => {
    expect(toHex(encodeCommand(cmd(0, undefined)))).toBe('80400102');
    expect(toHex(encodeCommand(cmd(0, 256)))).toBe('8040010200');
    expect(toHex(encodeCommand(cmd(0, 16)))).toBe('8040010210');
    expect(toHex(encodeCommand(cmd(2, undefined)))).toBe('8040010202abab');
    expect(toHex(encodeCommand(cmd(2, 256)))).toBe('8040010202abab00');
  });

  it('switches to extended lengths for data over 255 bytes or Le over 256, or when asked', () => {
    expect(toHex(encodeCommand(cmd(0, 257)))).toBe('80400102000101');
    expect(toHex(encodeCommand(cmd(0, 65536)))).toBe('80400102000000');
    expect(toHex(encodeCommand(cmd(1, 65536)))).toBe('80400102' + '000001' + 'ab' + '0000');
    expect(toHex(encodeCommand(cmd(1, undefined), { extended: true }))).toBe('804001020000' + '01ab');
    const big = encodeCommand(cmd(300, undefined));
    expect(toHex(big.subarray(0, 7))).toBe('8040010200012c');
    expect(big.length).toBe(7 + 300);
  });

  it('round-trips every case, short and extended', () => {
    const arb = fc.record({
      data: fc.integer({ min: 0, max: 700 }),
      le: fc.option(fc.integer({ min: 1, max: 65536 }), { nil: undefined }),
      extended: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, ({ data, le, extended }) => {
        const c = cmd(data, le);
        const parsed = parseCommand(encodeCommand(c, { extended }));
        // Case 1 (no data, no Le) is the bare header: it has no extended form.
        const hasBody = data > 0 || le !== undefined;
        expect(parsed.extended).toBe(hasBody && (extended || data > 255 || (le !== undefined && le > 256)));
        expect({ ...parsed, extended: undefined }).toEqual({ ...c, extended: undefined });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses any length that matches no case', () => {
    for (const hex of [
      '804001', // shorter than a header
      '8040010203abab', // Lc 3, two bytes
      '8040010202abababab', // Lc 2, four bytes
      '804001020000', // extended marker with one byte
      '8040010200000000', // extended Lc of zero
      '80400102000003abab', // extended Lc 3, two bytes
      '80400102000002abab00', // extended Lc 2 and a one-byte Le
    ]) {
      expectCode(() => parseCommand(fromHex(hex)), 'bad-apdu-length');
    }
  });

  it('refuses to encode fields out of range', () => {
    expectCode(() => encodeCommand({ ...cmd(0, undefined), cla: 256 }), 'bad-apdu');
    expectCode(() => encodeCommand({ ...cmd(0, undefined), p2: -1 }), 'bad-apdu');
    expectCode(() => encodeCommand(cmd(65536, undefined)), 'bad-apdu');
    expectCode(() => encodeCommand(cmd(0, 65537)), 'bad-apdu');
  });
});

describe('response APDUs and status words', () => {
  it('splits data from the status word', () => {
    const r = { data: fromHex('0102'), sw: SW.OK };
    expect(toHex(encodeResponse(r))).toBe('01029000');
    expect(parseResponse(encodeResponse(r))).toEqual(r);
    expect(parseResponse(fromHex('6a88'))).toEqual({ data: new Uint8Array(0), sw: SW.DATA_NOT_FOUND });
    expectCode(() => parseResponse(fromHex('90')), 'bad-response');
  });

  it('reads 61xx, 6Cxx and 63Cx', () => {
    expect(isMoreData(0x6110)).toBe(true);
    expect(isMoreData(0x9000)).toBe(false);
    expect(isWrongLe(0x6c20)).toBe(true);
    expect(pinTriesLeft(0x63c2)).toBe(2);
    expect(pinTriesLeft(0x6983)).toBeUndefined();
    expect(swHex(0x6a80)).toBe('6A80');
    expect(swHex(0x9000)).toBe('9000');
  });
});

describe('HID framing', () => {
  it('frames into 64-byte reports: channel, tag 0x05, sequence, then the length-prefixed message', () => {
    const reports = frameMessage(0x0101, fromHex('00a4040007f0454341534801'));
    expect(reports).toHaveLength(1);
    expect(toHex(reports[0]!.subarray(0, 7 + 12))).toBe('010105' + '0000' + '000c' + '00a4040007f0454341534801');
    expect(reports[0]!.subarray(19).every((b) => b === 0)).toBe(true);
    // 57 bytes fit the first report, 59 each later one.
    expect(frameMessage(1, new Uint8Array(57))).toHaveLength(1);
    expect(frameMessage(1, new Uint8Array(58))).toHaveLength(2);
    expect(frameMessage(1, new Uint8Array(57 + 59))).toHaveLength(2);
    expect(frameMessage(1, new Uint8Array(57 + 59 + 1))).toHaveLength(3);
  });

  it('reassembles any message up to the 65535-byte limit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: 0xffff }), (msg, channel) => {
        const asm = new HidMessageAssembler(channel);
        const reports = frameMessage(channel, msg);
        for (const r of reports) expect(r).toHaveLength(HID_REPORT_SIZE);
        const outs = reports.map((r) => asm.push(r));
        expect(outs.slice(0, -1).every((o) => o === undefined)).toBe(true);
        expect(toHex(outs[outs.length - 1]!)).toBe(toHex(msg));
      }),
      { numRuns: 100 },
    );
    const max = new Uint8Array(0xffff).fill(7);
    const asm = new HidMessageAssembler(5);
    let out: Uint8Array | undefined;
    for (const r of frameMessage(5, max)) out = asm.push(r);
    expect(out).toEqual(max);
    expectCode(() => frameMessage(5, new Uint8Array(0x10000)), 'hid-frame');
  });

  it('refuses reports on another channel, with another tag, out of sequence or of the wrong size, and starts over', () => {
    const msg = new Uint8Array(200).fill(1);
    const reports = frameMessage(7, msg);
    const asm = new HidMessageAssembler(7);
    const tagged = reports[0]!.slice();
    tagged[2] = 0x02;
    expectCode(() => asm.push(frameMessage(8, msg)[0]!), 'hid-frame');
    expectCode(() => asm.push(tagged), 'hid-frame');
    expectCode(() => asm.push(reports[1]!), 'hid-frame');
    expectCode(() => asm.push(reports[0]!.subarray(0, 63)), 'hid-frame');
    asm.push(reports[0]!);
    expectCode(() => asm.push(reports[2]!), 'hid-frame');
    // After an error the assembler waits for a new message from sequence 0.
    let out: Uint8Array | undefined;
    for (const r of reports) out = asm.push(r);
    expect(out).toEqual(msg);
  });
});
