/**
 * Fuzzing the card through its APDU boundary: sequences of commands in random order against one
 * card image — any bytes, well-framed APDUs with any CLA/INS/P1/P2/Lc/Le and data (random or a
 * valid command's data mutated), and the real commands a terminal sends (SELECT, VERIFY with the
 * right and a wrong PIN, PAY for random amounts and keys, the same PAY again, withdrawals, resets),
 * with power cut at a random memory write of a command (and sometimes again during the recovery
 * that follows). Properties:
 * - every command gets a status word: nothing throws past the APDU boundary but the tear itself,
 *   and the card never answers 6F00 (a failure no check of the card meant);
 * - the image reopens after every tear;
 * - afterwards the coins account: the balance the card reports is what it pays out coin by coin
 *   (each transcript verifying), no coin it paid before is still spendable, and no coin was ever
 *   paid in two different payments (that would make an honest holder a double spender).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isEcashError, seededRandom, toHex, verifyTranscript, type PaymentContext } from '../../core/index.js';
import {
  CLA_ECASH,
  CLA_ISO,
  decodePayResponse,
  ECASH_INS,
  encodeChangePin,
  encodeCommand,
  encodePay,
  encodeSetLimit,
  encodeUnblockPin,
  encodeVerify,
  ISO_INS,
  parseResponse,
  PIN_REFERENCE,
  paymentTranscripts,
  type PaidCoin,
} from '../../wire/index.js';
import { cardOnDevice, RamNvm, TearingNvm, type EcashCard } from '../../firmware-sim/index.js';
import { UNEXPECTED_FAILURE } from '../../firmware-sim/runtime.js';
import { balance, pay, paymentContext, PIN, PUK, select, send, verifyPin, type TestBank } from '../firmware-sim/helpers.js';
import { walletImage } from './card-fixture.js';
import { countAccepted, fuzz, mutatedBytes, TARGET_TIMEOUT_MS } from './harness.js';

const FILE = import.meta.url;
const VALUES = [100, 20, 5, 50] as const;

type Step =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'apdu'; cla: number; ins: number; p1: number; p2: number; data: Uint8Array; le: number | undefined; extended: boolean }
  | { kind: 'select' }
  | { kind: 'verify'; right: boolean }
  | { kind: 'pay'; amount: number; keys: number[]; currency: string }
  | { kind: 'pay-again' }
  | { kind: 'withdraw'; value: number; end: boolean }
  | { kind: 'abort-withdrawal' }
  | { kind: 'reset' }
  | { kind: 'power-cycle' }
  | { kind: 'torn'; atWrite: number; landed: 'none' | 'half' | 'all-but-one'; recoveryTearAt: number | undefined; command: Command };

/** A command step: anything but a tear. */
type Command = Exclude<Step, { kind: 'torn' }>;

const cmd = (cla: number, ins: number, data: Uint8Array, p2 = 0) => encodeCommand({ cla, ins, p1: 0, p2, data, le: 256 });
const validCommands = [
  cmd(CLA_ISO, ISO_INS.VERIFY, encodeVerify(PIN), PIN_REFERENCE),
  cmd(CLA_ISO, ISO_INS.CHANGE_REFERENCE_DATA, encodeChangePin({ oldPin: PIN, newPin: PIN }), PIN_REFERENCE),
  cmd(CLA_ISO, ISO_INS.RESET_RETRY_COUNTER, encodeUnblockPin({ puk: PUK, newPin: PIN }), PIN_REFERENCE),
  cmd(CLA_ECASH, ECASH_INS.SET_LIMIT, encodeSetLimit({ pin: PIN, limit: 300 })),
  cmd(
    CLA_ECASH,
    ECASH_INS.PAY,
    encodePay({ context: paymentContext('fuzz-shop'), amount: 25, currency: 'EUR', acceptedKeys: [new Uint8Array(32).fill(1)] }),
  ),
  cmd(CLA_ECASH, ECASH_INS.OPEN_ACCOUNT, Uint8Array.of(3, 0x61, 0x62, 0x63)),
  cmd(CLA_ECASH, ECASH_INS.GET_BALANCE, new Uint8Array(0)),
];

const anyIns = fc.oneof(fc.constantFrom(...Object.values(ISO_INS), ...Object.values(ECASH_INS)), fc.integer({ min: 0, max: 255 }));
const byte = fc.integer({ min: 0, max: 255 });

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 2, arbitrary: mutatedBytes(validCommands, 300).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('apdu' as const),
      cla: fc.oneof(fc.constantFrom(0x00, 0x80, 0x10, 0x90), byte),
      ins: anyIns,
      p1: fc.oneof(fc.constant(0), byte),
      p2: fc.oneof(fc.constant(0), fc.constant(PIN_REFERENCE), byte),
      data: fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        mutatedBytes(
          validCommands.map((c) => parseCommandData(c)),
          300,
        ),
      ),
      le: fc.option(fc.integer({ min: 1, max: 65536 }), { nil: undefined }),
      extended: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'select' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('verify' as const), right: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('pay' as const),
      amount: fc.oneof(fc.constantFrom(5, 20, 25, 100, 120, 125, 200, 250, 305), fc.integer({ min: 1, max: 400 })),
      keys: fc.uniqueArray(fc.integer({ min: 0, max: VALUES.length - 1 }), { minLength: 1, maxLength: VALUES.length }),
      currency: fc.constantFrom('EUR', 'EUR', 'EUR', 'USD'),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'pay-again' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), value: fc.constantFrom(...VALUES), end: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort-withdrawal' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'power-cycle' as const }) },
);

/** Power cut at one of the command's first memory writes (most commands write a handful), sometimes again during recovery. */
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: command },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('torn' as const),
      atWrite: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 40 })),
      landed: fc.constantFrom('none' as const, 'half' as const, 'all-but-one' as const),
      recoveryTearAt: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
      command: fc.oneof(
        command,
        fc.constantFrom<Command>(
          { kind: 'verify', right: true },
          { kind: 'verify', right: false },
          { kind: 'pay-again' },
          { kind: 'abort-withdrawal' },
        ),
        fc.record({
          kind: fc.constant('pay' as const),
          amount: fc.constantFrom(5, 20, 25, 100, 125),
          keys: fc.constant<number[]>([0, 1, 2]),
          currency: fc.constant('EUR'),
        }),
        fc.record({ kind: fc.constant('withdraw' as const), value: fc.constantFrom(...VALUES), end: fc.constant(true) }),
      ),
    }),
  },
);

function parseCommandData(command: Uint8Array): Uint8Array {
  // Short case 3/4 APDU as `cmd` builds it: CLA INS P1 P2 Lc data Le.
  return command.subarray(5, 5 + command[4]!);
}

/** One card image under test, with everything the properties need to know about its history. */
class CardUnderTest {
  readonly ram: RamNvm;
  private device: TearingNvm;
  card: EcashCard;
  /** Coin A (hex) → the nonce of the payment that paid it. */
  readonly paidIn = new Map<string, string>();
  private lastPay: { context: PaymentContext; request: Uint8Array } | undefined;
  private pending: Awaited<ReturnType<TestBank['begin']>> | undefined;
  readonly swSeen = new Set<number>();
  private refusal: string | undefined;
  tears = 0;

  constructor(
    image: Uint8Array,
    private readonly bank: TestBank,
  ) {
    this.ram = new RamNvm(image);
    this.device = new TearingNvm(this.ram);
    this.card = this.open();
  }

  private open(): EcashCard {
    const card = cardOnDevice(this.device, { rng: seededRandom('fuzz-card') });
    card.onExchange((x) => {
      this.refusal = x.refusal;
    });
    card.powerOn();
    return card;
  }

  /** Power is back after a tear: a new device over the same memory, recovery maybe torn too. */
  private recover(recoveryTearAt: number | undefined): void {
    this.tears++;
    if (recoveryTearAt !== undefined) {
      const torn = new TearingNvm(this.ram);
      torn.arm({ atWrite: recoveryTearAt, landedBytes: (n) => n >> 1 });
      try {
        cardOnDevice(torn);
      } catch (e) {
        if (!isEcashError(e, 'card-torn')) throw e;
      }
    }
    this.device = new TearingNvm(this.ram);
    this.card = this.open();
  }

  /** Runs one step; a torn one cuts power at its chosen write of its command. */
  async run(s: Step): Promise<void> {
    if (s.kind !== 'torn') return this.perform(s);
    const landed = s.landed;
    this.device.arm({ atWrite: s.atWrite, landedBytes: (n) => (landed === 'none' ? 0 : landed === 'half' ? n >> 1 : n - 1) });
    try {
      await this.perform(s.command);
    } catch (e) {
      if (!isEcashError(e, 'card-torn')) throw e;
      expect(this.card.powered).toBe(false);
      this.recover(s.recoveryTearAt);
      return;
    } finally {
      this.device.arm(undefined);
    }
  }

  /** Checks a status word: any but 6F00, which only a bug answers on a sound image. */
  private seen(sw: number): number {
    this.swSeen.add(sw);
    expect(sw, `the card answered 6F00: ${this.refusal ?? ''}`).not.toBe(0x6f00);
    expect(this.refusal ?? '').not.toContain(UNEXPECTED_FAILURE);
    if (sw === 0x9000) countAccepted();
    return sw;
  }

  private recordPaid(context: PaymentContext, paid: PaidCoin[]): void {
    const nonce = toHex(context.nonce);
    for (const p of paid) {
      const a = toHex(this.bank.group.encode(p.coin.A));
      const earlier = this.paidIn.get(a);
      expect(earlier === undefined || earlier === nonce, `coin ${a.slice(0, 16)}… was paid in two payments`).toBe(true);
      this.paidIn.set(a, nonce);
    }
  }

  private async perform(s: Command): Promise<void> {
    const card = this.card;
    switch (s.kind) {
      case 'bytes':
        this.seen(parseResponse(await card.transmit(s.bytes)).sw);
        return;
      case 'apdu': {
        let bytes: Uint8Array;
        try {
          bytes = encodeCommand({ cla: s.cla, ins: s.ins, p1: s.p1, p2: s.p2, data: s.data, le: s.le }, { extended: s.extended });
        } catch {
          bytes = Uint8Array.of(s.cla, s.ins, s.p1, s.p2, ...s.data.subarray(0, 255));
        }
        this.seen(parseResponse(await card.transmit(bytes)).sw);
        return;
      }
      case 'select':
        this.seen((await select(card)).sw);
        return;
      case 'verify':
        this.seen((await verifyPin(card, s.right ? PIN : '0000')).sw);
        return;
      case 'pay': {
        const context = paymentContext('fuzz-shop');
        const r = await pay(
          card,
          this.bank.group,
          context,
          s.amount,
          s.keys.map((i) => this.bank.key(VALUES[i]!).key.keyId),
          { currency: s.currency },
        );
        this.lastPay = { context, request: r.request };
        if (this.seen(r.sw) === 0x9000) this.recordPaid(context, r.paid);
        return;
      }
      case 'pay-again': {
        if (this.lastPay === undefined) return;
        const r = await send(card, CLA_ECASH, ECASH_INS.PAY, this.lastPay.request);
        if (this.seen(r.sw) === 0x9000) {
          this.recordPaid(this.lastPay.context, decodePayResponse(this.bank.group, r.data));
        }
        return;
      }
      case 'withdraw': {
        const begun = await this.bank.begin(card, s.value);
        this.seen(begun.sw);
        if (begun.sw === 0x9000) this.pending = begun;
        if (s.end && this.pending !== undefined) {
          const { session, c } = this.pending;
          this.pending = undefined;
          this.seen((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_END, this.bank.endCommand(session.answer(c)))).sw);
        }
        return;
      }
      case 'abort-withdrawal':
        this.pending = undefined;
        this.seen((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_ABORT)).sw);
        return;
      case 'reset':
        card.reset();
        return;
      case 'power-cycle':
        card.powerOff();
        card.powerOn();
        return;
    }
  }

  /**
   * The accounting at the end: the image reopens; with the PIN (unblocked with the PUK if a run
   * of wrong ones blocked it) the card pays out exactly the balance it reports, each coin's
   * transcript verifying, none of them a coin it had already paid.
   */
  async account(): Promise<void> {
    this.card.close();
    this.device = new TearingNvm(this.ram);
    this.card = this.open();
    const card = this.card;
    expect((await select(card)).sw).toBe(0x9000);
    const unlock = async () => {
      let sw = (await verifyPin(card)).sw;
      if (sw !== 0x9000)
        sw = (await send(card, CLA_ISO, ISO_INS.RESET_RETRY_COUNTER, encodeUnblockPin({ puk: PUK, newPin: PIN }), { p2: PIN_REFERENCE }))
          .sw;
      if (sw === 0x9000) sw = (await verifyPin(card)).sw;
      expect(sw, 'the PIN cannot be verified any more').toBe(0x9000);
    };
    await unlock();
    const entries = await balance(card);
    for (const entry of entries) {
      const key = [...this.bank.keys.values()].find((k) => toHex(k.key.keyId) === toHex(entry.keyId));
      expect(key, 'the card holds a coin of a key the bank never issued').toBeDefined();
      await unlock();
      const context = paymentContext('fuzz-drain');
      const r = await pay(card, this.bank.group, context, entry.value * entry.count, [entry.keyId]);
      expect(r.sw, `the card reports ${entry.count} × ${entry.value} but does not pay them`).toBe(0x9000);
      expect(r.paid.length).toBe(entry.count);
      for (const p of r.paid)
        expect(this.paidIn.has(toHex(this.bank.group.encode(p.coin.A))), 'a coin paid before is still spendable').toBe(false);
      this.recordPaid(context, r.paid);
      for (const t of paymentTranscripts(context, r.paid)) expect(verifyTranscript(this.bank.group, key!.key, t)).toBe(true);
    }
    await unlock();
    expect(await balance(card)).toEqual([]);
    this.card.close();
  }
}

describe('fuzzing the card through its APDUs', async () => {
  const wallet = await walletImage();

  it(
    'random command sequences with tears: a status word for each, and the coins still account',
    () =>
      fuzz(
        FILE,
        'card APDU sequences',
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
          const cut = new CardUnderTest(wallet.image, wallet.bank);
          // Most commands need the applet selected: start where a terminal does, then anything.
          for (const s of [{ kind: 'select' } as const, ...steps]) await cut.run(s);
          await cut.account();
        }),
        25,
      ),
    TARGET_TIMEOUT_MS,
  );
});
