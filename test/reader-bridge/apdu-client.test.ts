import { describe, expect, it } from 'vitest';
import { isEcashError, toHex } from '../../core/index.js';
import { encodeFci } from '../../wire/index.js';
import {
  ApduClient,
  EcashCardClient,
  ReplayTransport,
  type CardChannel,
  type Cassette,
  type CardProtocol,
  type RecordedExchange,
  type TransmitOptions,
} from '../../reader-bridge/index.js';

/** A card scripted as a cassette: the replay transport answers exactly these exchanges, in order. */
async function scripted(exchanges: RecordedExchange[], protocol: CardProtocol = 'T=1') {
  const cassette: Cassette = { version: 1, reader: 'Scripted', atr: '3b80800101', protocol, exchanges };
  const transport = new ReplayTransport(cassette);
  const channel = await transport.connect('Scripted');
  return { transport, channel };
}

const hexOf = (n: number, byte: number) => toHex(new Uint8Array(n).fill(byte));

describe('ApduClient', () => {
  it('follows 61xx with GET RESPONSE and joins the parts', async () => {
    const { transport, channel } = await scripted([
      { command: '8030000000', response: hexOf(256, 0xaa) + '6110' },
      { command: '00c0000010', response: hexOf(16, 0xbb) + '9000' },
    ]);
    const r = await new ApduClient(channel, { lengths: 'short' }).send({
      cla: 0x80,
      ins: 0x30,
      p1: 0,
      p2: 0,
      data: new Uint8Array(0),
      le: 65536,
    });
    expect(r.sw).toBe(0x9000);
    expect(toHex(r.data)).toBe(hexOf(256, 0xaa) + hexOf(16, 0xbb));
    expect(transport.remaining).toBe(0);
  });

  it('reads 6100 as 256 more bytes and keeps the logical channel on GET RESPONSE', async () => {
    const { transport, channel } = await scripted([
      { command: '8130000000', response: '6100' },
      { command: '01c0000000', response: hexOf(256, 1) + '6101' },
      { command: '01c0000001', response: '029000' },
    ]);
    const r = await new ApduClient(channel).send({ cla: 0x81, ins: 0x30, p1: 0, p2: 0, data: new Uint8Array(0), le: 256 });
    expect(r.data.length).toBe(257);
    expect(r.data[256]).toBe(2);
    expect(transport.remaining).toBe(0);
  });

  it('re-issues the command with the Le of a 6Cxx answer', async () => {
    const { transport, channel } = await scripted([
      { command: '00b0000000', response: '6c05' },
      { command: '00b0000005', response: '01020304059000' },
    ]);
    const r = await new ApduClient(channel).sendBytes(new Uint8Array([0x00, 0xb0, 0, 0, 0]));
    expect(toHex(r.data)).toBe('0102030405');
    expect(r.sw).toBe(0x9000);
    expect(transport.remaining).toBe(0);
  });

  it('chains long command data in short mode (CLA bit 0x10 on all parts but the last)', async () => {
    const data = new Uint8Array(600).map((_, i) => i & 0xff);
    const part = (from: number, to: number) => toHex(data.subarray(from, to));
    const { transport, channel } = await scripted([
      { command: '90200000ff' + part(0, 255), response: '9000' },
      { command: '90200000ff' + part(255, 510), response: '9000' },
      { command: '802000005a' + part(510, 600) + '00', response: '00'.repeat(64) + '9000' },
    ]);
    const r = await new ApduClient(channel, { lengths: 'short' }).send({ cla: 0x80, ins: 0x20, p1: 0, p2: 0, data, le: 256 });
    expect(r.sw).toBe(0x9000);
    expect(r.data.length).toBe(64);
    expect(transport.remaining).toBe(0);
  });

  it('stops a chain at the first part the card refuses', async () => {
    const { transport, channel } = await scripted([{ command: '90200000ff' + hexOf(255, 7), response: '6985' }]);
    const r = await new ApduClient(channel, { lengths: 'short' }).send({
      cla: 0x80,
      ins: 0x20,
      p1: 0,
      p2: 0,
      data: new Uint8Array(300).fill(7),
      le: undefined,
    });
    expect(r.sw).toBe(0x6985);
    expect(transport.remaining).toBe(0);
  });

  it('sends one extended APDU when the channel allows it, and falls back to short on T=0', async () => {
    const data = new Uint8Array(300).fill(9);
    const extended = await scripted([{ command: '80200000' + '00012c' + toHex(data) + '0000', response: hexOf(1000, 3) + '9000' }]);
    const r = await new ApduClient(extended.channel).send({ cla: 0x80, ins: 0x20, p1: 0, p2: 0, data, le: 65536 });
    expect(r.data.length).toBe(1000);
    expect(extended.transport.remaining).toBe(0);

    const t0 = await scripted(
      [
        { command: '90200000ff' + toHex(data.subarray(0, 255)), response: '9000' },
        { command: '802000002d' + toHex(data.subarray(255)) + '00', response: '6100' },
        { command: '00c0000000', response: hexOf(256, 3) + '9000' },
      ],
      'T=0',
    );
    const client = new ApduClient(t0.channel);
    expect(client.extendedLengths).toBe(false);
    const r0 = await client.send({ cla: 0x80, ins: 0x20, p1: 0, p2: 0, data, le: 65536 });
    expect(r0.data.length).toBe(256);
    expect(t0.transport.remaining).toBe(0);
  });

  it('refuses a card that announces more data forever', async () => {
    const endless: RecordedExchange[] = [{ command: '8030000000', response: '6100' }];
    for (let i = 0; i < 300; i++) endless.push({ command: '00c0000000', response: hexOf(256, 0) + '6100' });
    const { channel } = await scripted(endless);
    await expect(new ApduClient(channel).send({ cla: 0x80, ins: 0x30, p1: 0, p2: 0, data: new Uint8Array(0), le: 256 })).rejects.toSatisfy(
      (e) => isEcashError(e, 'bad-response'),
    );
  });

  it('gives each command its class budget and GET RESPONSE the control budget', async () => {
    const { channel } = await scripted([
      { command: '8040000000', response: '6102' },
      { command: '00c0000002', response: '01029000' },
      { command: '8040000000', response: '9000' },
    ]);
    const budgets: number[] = [];
    const observed: CardChannel = {
      ...channel,
      transmit: (c: Uint8Array, o: TransmitOptions) => (budgets.push(o.timeoutMs), channel.transmit(c, o)),
    };
    const client = new ApduClient(observed, { timeouts: { payment: 7_500 } });
    const pay = { cla: 0x80, ins: 0x40, p1: 0, p2: 0, data: new Uint8Array(0), le: 256 };
    await client.send(pay, { commandClass: 'payment' });
    await client.send(pay, { commandClass: 'payment', units: 3 }); // a budget per coin
    expect(budgets).toEqual([7_500, client.timeouts.control, 22_500]);
  });

  it('rejects malformed command bytes before they reach the card', async () => {
    const { channel, transport } = await scripted([]);
    await expect(new ApduClient(channel).sendBytes(new Uint8Array([0x00, 0xa4, 0x04, 0x00, 0x07, 1, 2]))).rejects.toSatisfy((e) =>
      isEcashError(e, 'bad-apdu-length'),
    );
    expect(transport.remaining).toBe(0);
  });
});

describe('EcashCardClient', () => {
  it('refuses a card whose applet speaks another version of the command set', async () => {
    const v1 = encodeFci({ version: 1, suite: 'ristretto255-sha512', capacity: 81 });
    const { channel } = await scripted([{ command: '00a4040007f045434153480100', response: toHex(v1) + '9000' }]);
    const client = EcashCardClient.on(channel);
    await expect(client.select()).rejects.toSatisfy(
      (e) => isEcashError(e, 'card-format-mismatch') && e.details?.version === 1 && /version 1/.test(e.message),
    );
    expect(client.card).toBeUndefined();
  });
});
