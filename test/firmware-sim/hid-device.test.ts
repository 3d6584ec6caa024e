/**
 * The card's USB HID device side: commands framed into 64-byte reports (with node-hid's leading
 * report id) come back as framed responses on the host's channel, long answers over many reports;
 * a malformed report drops the message without killing the device.
 */
import { describe, expect, it } from 'vitest';
import { getGroup, verifyTranscript } from '../../core/index.js';
import {
  decodeFci,
  decodePayResponse,
  encodeCommand,
  encodePay,
  frameMessage,
  HidMessageAssembler,
  parseResponse,
  paymentTranscripts,
  type ResponseApdu,
} from '../../wire/index.js';
import { createVolatileCard, openHidDevice, type HidCardDevice } from '../../firmware-sim/index.js';
import { paymentContext, PIN, PUK, TestBank, verifyPin, select, type CardLink } from './helpers.js';

/** A host side in a few lines: frame, write with report id 0, reassemble the answer. */
function hidLink(device: HidCardDevice, channel: number): CardLink {
  return {
    transmit: (command) =>
      new Promise<Uint8Array>((resolve) => {
        const assembler = new HidMessageAssembler(channel);
        const onData = (report: Buffer) => {
          const message = assembler.push(new Uint8Array(report));
          if (message !== undefined) {
            device.off('data', onData);
            resolve(message);
          }
        };
        device.on('data', onData);
        for (const report of frameMessage(channel, command)) void device.write([0x00, ...report]);
      }),
  };
}

describe('HID device side', () => {
  it('answers framed APDUs on the channel asked, including a 7 KB modp payment', async () => {
    const card = await createVolatileCard({ suite: 'modp2048-256', pin: PIN, puk: PUK, noPinLimit: 1000 });
    const device = openHidDevice(card);
    const link = hidLink(device, 0x0101);
    const fci = await select(link);
    expect(decodeFci(fci.data).suite).toBe('modp2048-256');
    await verifyPin(link);
    const bank = new TestBank('modp2048-256');
    await bank.open(link);
    for (let i = 0; i < 5; i++) await bank.withdraw(link, 10);
    const context = paymentContext('hid-shop');
    const other = hidLink(device, 0x0202);
    const raw: ResponseApdu = parseResponse(
      await other.transmit(
        encodeCommand({
          cla: 0x80,
          ins: 0x40,
          p1: 0,
          p2: 0,
          data: encodePay({ context, amount: 50, currency: 'EUR', acceptedKeys: [bank.key(10).key.keyId] }),
          le: 65536,
        }),
      ),
    );
    expect(raw.sw).toBe(0x9000);
    expect(raw.data.length).toBe(1 + 5 * 1408); // 124 reports
    const group = getGroup('modp2048-256');
    for (const t of paymentTranscripts(context, decodePayResponse(group, raw.data)))
      expect(verifyTranscript(group, bank.key(10).key, t)).toBe(true);
    await device.close();
    expect(card.powered).toBe(false);
  });

  it('drops a malformed report and goes on with the next message', async () => {
    const card = await createVolatileCard({ pin: PIN, puk: PUK });
    const device = openHidDevice(card);
    const bad = frameMessage(7, Uint8Array.of(0x80, 0x30, 0, 0, 0))[0]!;
    bad[2] = 0x06; // unknown tag
    await device.write([0x00, ...bad]);
    await device.write([0x01, ...bad]); // wrong report id
    expect(device.droppedReports).toBe(2);
    const link = hidLink(device, 7);
    expect((await select(link)).sw).toBe(0x9000);
    await device.close();
  });
});
