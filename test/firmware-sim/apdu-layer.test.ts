/**
 * The card's ISO 7816-4 layer: the four cases in short and extended form, 61xx + GET RESPONSE,
 * command chaining, and the status words for everything malformed or out of place.
 */
import { describe, expect, it } from 'vitest';
import {
  CLA_ECASH,
  CLA_ISO,
  COST_FIELDS,
  decodeFci,
  ECASH_INS,
  encodeCommand,
  encodePay,
  ISO_INS,
  parseResponse,
  PIN_REFERENCE,
  type ResponseApdu,
} from '../../wire/index.js';
import { createVolatileCard, type EcashCard } from '../../firmware-sim/index.js';
import { balance, paymentContext, PIN, PUK, select, TestBank, verifyPin } from './helpers.js';

const raw = async (card: EcashCard, hex: string): Promise<ResponseApdu> =>
  parseResponse(await card.transmit(Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'))));
const sw = async (card: EcashCard, hex: string) => (await raw(card, hex)).sw;

async function cardWithCoins(n: number): Promise<{ card: EcashCard; bank: TestBank }> {
  const card = await createVolatileCard({ suite: 'modp2048-256', pin: PIN, puk: PUK, noPinLimit: 100_000 });
  card.powerOn();
  await select(card);
  await verifyPin(card);
  const bank = new TestBank('modp2048-256');
  await bank.open(card);
  for (let i = 0; i < n; i++) await bank.withdraw(card, 5);
  return { card, bank };
}

describe('APDU layer', () => {
  it('answers the status words of docs/apdu.md for malformed and misplaced commands', async () => {
    const card = await createVolatileCard({ pin: PIN, puk: PUK });
    card.powerOn();
    expect(await sw(card, '80 30 00 00 00')).toBe(0x6985); // nothing selected
    expect(await sw(card, '00 A4 04 00 07 F0 45 43 41 53 48 02 00')).toBe(0x6a82); // unknown AID
    expect(await sw(card, '00 A4 00 00 02 3F 00 00')).toBe(0x6a86); // not SELECT by AID
    expect(await sw(card, '00 A4 04 00 07 F0 45 43 41 53 48 01 00')).toBe(0x9000);
    expect(await sw(card, '84 30 00 00 00')).toBe(0x6e00); // secure messaging bits
    expect(await sw(card, '81 30 00 00 00')).toBe(0x6e00); // logical channel 1
    expect(await sw(card, '80 99 00 00 00')).toBe(0x6d00);
    expect(await sw(card, '00 B0 00 00 00')).toBe(0x6d00);
    expect(await sw(card, '80 30 01 00 00')).toBe(0x6a86);
    expect(await sw(card, '00 20 00 81 04 31 32 33 34')).toBe(0x6a86);
    expect(await sw(card, '80 30 00')).toBe(0x6700); // shorter than a header
    expect(await sw(card, '80 30 00 00 05 01 02')).toBe(0x6700); // Lc does not match
    expect(await sw(card, '80 30 00 00 02 01 02 00')).toBe(0x6982); // GET BALANCE: the PIN before anything else
    expect(await sw(card, '80 50 00 00 02 01 02 00')).toBe(0x6700); // GET COST takes no data
    expect(await sw(card, '80 46 00 00 01 01')).toBe(0x6982); // PIN before length
    expect(await sw(card, '00 C0 00 00 10')).toBe(0x6985); // nothing to get
    expect(await sw(card, '00 C0 01 00 10')).toBe(0x6a86);
    expect(await sw(card, '80 10 00 00 01 01')).toBe(0x6985); // personalised already
  });

  it('handles the four cases, short and extended, and Le shorter than the answer', async () => {
    const { card } = await cardWithCoins(1);
    const fciHex = '00 A4 04 00 07 F0 45 43 41 53 48 01';
    expect((await raw(card, fciHex + ' 00')).data.length).toBe(23); // case 4 short
    expect((await raw(card, '00 A4 04 0C 07 F0 45 43 41 53 48 01')).sw).toBe(0x9000); // case 3, no FCI
    const noLe = await raw(card, fciHex); // case 3 with data to give: 61xx
    expect(noLe).toEqual({ data: new Uint8Array(0), sw: 0x6117 });
    const rest = await raw(card, '00 C0 00 00 17');
    expect(decodeFci(rest.data).suite).toBe('modp2048-256');
    const partial = await raw(card, fciHex + ' 05'); // Le = 5 < 23
    expect(partial.data.length).toBe(5);
    expect(partial.sw).toBe(0x6112);
    expect((await raw(card, '00 C0 00 00 12')).sw).toBe(0x9000);
    const extended = await raw(card, '80 50 00 00 00 00 00'); // case 2 extended (GET COST)
    expect(extended).toMatchObject({ sw: 0x9000 });
    expect(extended.data.length).toBe(4 * COST_FIELDS.length);
    const ext3 = await raw(card, '80 48 00 00 00 00 0D 04 31 32 33 34 00 00 00 00 00 00 00 64'); // case 3 extended (SET LIMIT with its PIN)
    expect(ext3.sw).toBe(0x9000);
    await verifyPin(card);
    expect(await sw(card, '80 26 00 00')).toBe(0x6a88); // case 1
  });

  it('returns a long answer in 256-byte parts with 61xx, or whole with an extended Le', async () => {
    const { card, bank } = await cardWithCoins(3);
    const data = encodePay({ context: paymentContext(), amount: 15, currency: 'EUR', acceptedKeys: [bank.key(5).key.keyId] });
    const first = parseResponse(await card.transmit(encodeCommand({ cla: CLA_ECASH, ins: ECASH_INS.PAY, p1: 0, p2: 0, data, le: 256 })));
    expect(first.data.length).toBe(256);
    expect(first.sw).toBe(0x6100);
    let total = first.data.length;
    let r = first;
    let parts = 1;
    while (r.sw >> 8 === 0x61) {
      r = parseResponse(
        await card.transmit(encodeCommand({ cla: 0, ins: 0xc0, p1: 0, p2: 0, data: new Uint8Array(0), le: r.sw & 0xff || 256 })),
      );
      total += r.data.length;
      parts++;
    }
    expect(r.sw).toBe(0x9000);
    expect(total).toBe(1 + 3 * 1408);
    expect(parts).toBe(Math.ceil(total / 256));
    const whole = parseResponse(await card.transmit(encodeCommand({ cla: CLA_ECASH, ins: ECASH_INS.PAY, p1: 0, p2: 0, data, le: 65536 })));
    expect(whole.sw).toBe(0x9000);
    expect(whole.data.length).toBe(total); // the same request: the same answer, in one piece
  });

  it('joins chained commands, and drops a chain another command interrupts', async () => {
    const { card, bank } = await cardWithCoins(2);
    const data = encodePay({ context: paymentContext(), amount: 5, currency: 'EUR', acceptedKeys: [bank.key(5).key.keyId] });
    const part = (cla: number, d: Uint8Array) =>
      card.transmit(encodeCommand({ cla, ins: ECASH_INS.PAY, p1: 0, p2: 0, data: d, le: 65536 }));
    expect(parseResponse(await part(CLA_ECASH | 0x10, data.subarray(0, 20))).sw).toBe(0x9000);
    expect(parseResponse(await part(CLA_ECASH | 0x10, data.subarray(20, 40))).sw).toBe(0x9000);
    const done = parseResponse(await part(CLA_ECASH, data.subarray(40)));
    expect(done.sw).toBe(0x9000);
    expect(done.data[0]).toBe(1);
    // Interrupted: the PAY chain is dropped and the interloper answers 6883.
    const next = encodePay({ context: paymentContext(), amount: 5, currency: 'EUR', acceptedKeys: [bank.key(5).key.keyId] });
    expect(parseResponse(await part(CLA_ECASH | 0x10, next.subarray(0, 20))).sw).toBe(0x9000);
    expect(await sw(card, '80 30 00 00 00')).toBe(0x6883);
    expect(parseResponse(await part(CLA_ECASH, next.subarray(20))).sw).toBe(0x6a80); // only the tail: garbage
    await verifyPin(card);
    expect((await balance(card))[0]!.count).toBe(1);
  });

  it('forgets the selection, PIN and pending answer on reset and power loss, not the coins', async () => {
    const { card } = await cardWithCoins(1);
    expect((await raw(card, '00 A4 04 00 07 F0 45 43 41 53 48 01 05')).sw).toBe(0x6112);
    card.reset();
    expect(await sw(card, '00 C0 00 00 10')).toBe(0x6985);
    expect(await sw(card, '80 30 00 00 00')).toBe(0x6985);
    await select(card);
    expect(await sw(card, '80 24 00 00 00')).toBe(0x6982);
    card.powerOff();
    await expect(card.transmit(Uint8Array.of(0x80, 0x30, 0, 0, 0))).rejects.toMatchObject({ code: 'card-unpowered' });
    card.powerOn();
    await select(card);
    expect(
      parseResponse(
        await card.transmit(
          encodeCommand({ cla: CLA_ISO, ins: ISO_INS.VERIFY, p1: 0, p2: PIN_REFERENCE, data: new Uint8Array(0), le: undefined }),
        ),
      ).sw,
    ).toBe(0x63c3);
    await verifyPin(card);
    expect((await balance(card))[0]!.count).toBe(1);
  });
});
