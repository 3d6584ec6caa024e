/**
 * The conformance suite every transport passes (virtual, PC/SC through pcscd and vpcd, HID
 * through the device double, the remote bridge): the e-cash client's commands on a real
 * simulated card, long responses on modp2048-256 (extended and chained), card removal in the
 * middle of a command, a timeout, and a reader that disappears. A fixture says how to put a card
 * in its reader, pull it out and unplug the reader.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BankWithdrawalSession,
  generateDenominationKey,
  getGroup,
  isEcashError,
  systemRandom,
  verifyAccountOpening,
  verifyTranscript,
  type DenominationSecret,
  type SuiteId,
} from '../../core/index.js';
import { ECASH_INS, paymentTranscripts, type PayRequest } from '../../wire/index.js';
import {
  cardOnDevice,
  createVolatileCard,
  DEFAULT_CAPACITY,
  formatDevice,
  personaliseCard,
  RamNvm,
  type EcashCard,
} from '../../firmware-sim/index.js';
import {
  ApduClient,
  BRIDGE_ERROR,
  CARD_ERROR,
  EcashCardClient,
  VirtualTransport,
  tracedChannel,
  type CardChannel,
  type LengthMode,
  type ReaderEvent,
  type ReaderInfo,
  type ReaderTransport,
  type TraceEntry,
} from '../../reader-bridge/index.js';

export const PIN = '2468';
export const PUK = '13572468';

export interface ConformanceFixture {
  transport: ReaderTransport;
  reader: string;
  /** Puts `card` into the reader; resolves once the transport reports it present. */
  insert(card: EcashCard): Promise<void>;
  /** Pulls the card out at once, even in the middle of a command. */
  remove(): Promise<void>;
  /** Makes the reader itself disappear; resolves once the transport reports it gone. */
  unplugReader(): Promise<void>;
  /** What a transport reports when the card leaves (a HID device is reader and card in one). */
  removalEvent: ReaderEvent['type'];
  close(): Promise<void>;
}

/** Polls `probe` until it gives a value; after `ms`, fails saying what it waited for and what it saw last. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  ms = 10_000,
  seen: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + ms;
  let failure = '';
  for (;;) {
    const value = await probe().catch((e: unknown) => {
      failure = ` (the last look failed: ${e instanceof Error ? e.message : String(e)})`;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${seen()}${failure}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the transport lists the reader with (or without) a card. */
export function readerState(transport: ReaderTransport, reader: string, cardPresent: boolean): Promise<true> {
  let listed: ReaderInfo[] | undefined;
  return eventually(
    async () =>
      (listed = await transport.listReaders()).some((r) => r.name === reader && r.cardPresent === cardPresent) ? true : undefined,
    `${reader} ${cardPresent ? 'with' : 'without'} a card`,
    10_000,
    () =>
      listed === undefined
        ? ''
        : `; the transport lists ${listed.map((r) => `${r.name} ${r.cardPresent ? 'with' : 'without'} a card`).join(', ') || 'no readers'}`,
  );
}

/**
 * `card`, with `reached` resolving when a command of instruction `ins` reaches it: before the card
 * acts on it, and while it works (a chip profile's time) before answering.
 */
function announcing(card: EcashCard, ins: number): { card: EcashCard; reached: Promise<void> } {
  let announce!: () => void;
  const reached = new Promise<void>((resolve) => (announce = resolve));
  const watched: EcashCard = {
    atr: card.atr,
    get profile() {
      return card.profile;
    },
    get powered() {
      return card.powered;
    },
    powerOn: () => card.powerOn(),
    reset: () => card.reset(),
    powerOff: () => card.powerOff(),
    onExchange: (listener) => card.onExchange(listener),
    close: () => card.close(),
    transmit: (command) => {
      if (command[1] === ins) announce();
      return card.transmit(command);
    },
  };
  return { card: watched, reached };
}

const capacityFor = (suite: SuiteId) => (suite === 'modp2048-256' ? 64 * 1024 : DEFAULT_CAPACITY);

export function newCard(suite: SuiteId): Promise<EcashCard> {
  return createVolatileCard({ suite, pin: PIN, puk: PUK, noPinLimit: 0, capacity: capacityFor(suite) });
}

/**
 * A card holding `coins` coins of `bank`'s key that answers at the speed of chip `profile`:
 * loaded at full speed through an in-process reader, then reopened with the profile, as the
 * same memory in a slower chip.
 */
export async function slowLoadedCard(bank: TestBank, coins: number, profile: string): Promise<EcashCard> {
  const device = new RamNvm(capacityFor(bank.suite));
  formatDevice(device);
  await personaliseCard(cardOnDevice(device), { suite: bank.suite, pin: PIN, puk: PUK, noPinLimit: 0 });
  const loader = new VirtualTransport(['loader']);
  loader.insertCard('loader', cardOnDevice(device));
  const card = EcashCardClient.on(await loader.connect('loader'));
  await card.select();
  await card.verifyPin(PIN);
  await bank.load(card, coins);
  loader.removeCard('loader');
  await loader.close();
  return cardOnDevice(device, { profile });
}

/** The bank's part of withdrawals, played with core's roles. */
export class TestBank {
  readonly secret: DenominationSecret;

  constructor(readonly suite: SuiteId) {
    const now = Date.now();
    this.secret = generateDenominationKey(
      getGroup(suite),
      { value: 100, currency: 'EUR', withdrawFrom: now - 60_000, withdrawUntil: now + 3_600_000, depositUntil: now + 7_200_000, scope: '' },
      systemRandom,
    );
  }

  /** Opens the account on the card and withdraws `n` coins onto it (the PIN must be verified). */
  async load(card: EcashCardClient, n: number): Promise<void> {
    const group = card.group;
    const opening = await card.openAccount('holder-1');
    verifyAccountOpening(group, 'holder-1', opening);
    const z = group.exp(group.mul(opening.I, group.g2), this.secret.x);
    for (let i = 0; i < n; i++) {
      const session = BankWithdrawalSession.offer(group, this.secret, opening.I, systemRandom);
      const challenge = await card.withdrawBegin({ key: this.secret.key, z, offer: session.offer });
      expect(challenge.keyId).toEqual(this.secret.key.keyId);
      await card.withdrawEnd(session.answer(challenge.c));
    }
  }

  payment(coins: number): PayRequest {
    return {
      context: { merchantId: 'shop-42', terminalId: 'till-1', timestamp: Date.now(), nonce: new Uint8Array(randomBytes(16)) },
      amount: coins * this.secret.key.value,
      currency: this.secret.key.currency,
      acceptedKeys: [this.secret.key.keyId],
    };
  }

  /** Checks every transcript of a payment as the POS would, offline. */
  verify(card: EcashCardClient, request: PayRequest, paid: Awaited<ReturnType<EcashCardClient['pay']>>): void {
    for (const t of paymentTranscripts(request.context, paid)) expect(verifyTranscript(card.group, this.secret.key, t)).toBe(true);
  }
}

export function conformanceSuite(name: string, makeFixture: () => Promise<ConformanceFixture>): void {
  describe(`conformance: ${name}`, () => {
    let f: ConformanceFixture;
    const channels: CardChannel[] = [];
    const connect = async (trace?: TraceEntry[]) => {
      const channel = await f.transport.connect(f.reader);
      channels.push(channel);
      return trace ? tracedChannel(channel, (e) => trace.push(e)) : channel;
    };

    beforeEach(async () => {
      f = await makeFixture();
    });
    afterEach(async () => {
      for (const c of channels.splice(0)) await c.disconnect().catch(() => undefined);
      await f.close();
    });

    it('lists the reader with its card and reports the card leaving and coming back', async () => {
      await f.insert(await newCard('ristretto255-sha512'));
      expect((await f.transport.listReaders()).find((r) => r.name === f.reader)).toMatchObject({ cardPresent: true });
      const events: ReaderEvent[] = [];
      const stop = f.transport.watch((e) => e.reader.name === f.reader && events.push(e));
      await f.remove();
      await eventually(async () => (events.some((e) => e.type === f.removalEvent) ? true : undefined), f.removalEvent);
      await expect(f.transport.connect(f.reader)).rejects.toSatisfy((e) => isEcashError(e, 'no-card') || isEcashError(e, 'no-reader'));
      await f.insert(await newCard('ristretto255-sha512'));
      await eventually(
        async () => (events.some((e) => e.type === 'card-inserted' || e.type === 'reader-added') ? true : undefined),
        'the card back',
      );
      stop();
    });

    it("runs the e-cash client's commands", async () => {
      await f.insert(await newCard('ristretto255-sha512'));
      const channel = await connect();
      const card = EcashCardClient.on(channel);
      const fci = await card.select();
      expect(fci).toMatchObject({ version: 2, suite: 'ristretto255-sha512' });
      expect(await card.pinState()).toEqual({ verified: false, triesLeft: 3 });
      await expect(card.verifyPin('0000')).rejects.toSatisfy((e) => isEcashError(e, 'pin-wrong') && e.details?.triesLeft === 2);
      await expect(card.openAccount('holder-1')).rejects.toSatisfy((e) => isEcashError(e, 'pin-required'));
      await card.verifyPin(PIN);
      expect(await card.pinState()).toEqual({ verified: true });

      const bank = new TestBank('ristretto255-sha512');
      await bank.load(card, 3);
      expect(await card.withdrawStatus()).toBeUndefined();
      await expect(card.withdrawAbort()).rejects.toSatisfy((e) => isEcashError(e, CARD_ERROR.CARD_DATA_NOT_FOUND));
      expect(await card.balance()).toMatchObject([{ keyId: bank.secret.key.keyId, value: 100, currency: 'EUR', count: 3 }]);

      const request = bank.payment(2);
      const paid = await card.pay(request);
      expect(paid).toHaveLength(2);
      bank.verify(card, request, paid);
      // a lost answer is recovered by asking again: the same coins, the same responses
      expect(await card.pay(request)).toEqual(paid);
      // The payment used up the verification: one PIN entry, one payment (and no balance without it).
      await expect(card.pay(bank.payment(1))).rejects.toSatisfy((e) => isEcashError(e, 'pin-required'));
      await expect(card.balance()).rejects.toSatisfy((e) => isEcashError(e, 'pin-required'));
      await card.verifyPin(PIN);
      expect(await card.balance()).toMatchObject([{ count: 1 }]);
      await expect(card.pay(bank.payment(2))).rejects.toSatisfy((e) => isEcashError(e, 'card-insufficient-funds'));

      const log = await card.readLog();
      expect(log[0]).toMatchObject({ merchantId: 'shop-42', terminalId: 'till-1', amount: 200, currency: 'EUR', coins: 2 });
      await expect(card.setLimit('0000', 500)).rejects.toSatisfy((e) => isEcashError(e, 'pin-wrong'));
      await card.setLimit(PIN, 500);
      const cost = await card.cost();
      expect(cost.exp).toBe(0);
      await card.changePin(PIN, '97531');
      await card.select();
      await expect(card.verifyPin(PIN)).rejects.toSatisfy((e) => isEcashError(e, 'pin-wrong'));
      await card.verifyPin('97531');
    });

    for (const lengths of ['auto', 'short'] as LengthMode[]) {
      it(`carries the long APDUs of modp2048-256 (${lengths === 'auto' ? 'extended lengths' : 'chaining and GET RESPONSE'})`, async () => {
        await f.insert(await newCard('modp2048-256'));
        const trace: TraceEntry[] = [];
        const channel = await connect(trace);
        const card = new EcashCardClient(new ApduClient(channel, { lengths }));
        await card.select();
        await card.verifyPin(PIN);
        const bank = new TestBank('modp2048-256');
        await bank.load(card, 3);
        const request = bank.payment(3);
        const paid = await card.pay(request);
        bank.verify(card, request, paid);
        const commands = trace.filter((e) => e.direction === 'command').map((e) => e.bytes);
        if (lengths === 'short' || channel.protocol === 'T=0') {
          expect(commands.some((c) => c.startsWith('90200000'))).toBe(true); // WITHDRAW BEGIN chained
          expect(commands.some((c) => c.startsWith('00c00000'))).toBe(true); // PAY's answer fetched in parts
          expect(commands.every((c) => c.length <= 2 * (5 + 255 + 1))).toBe(true);
        } else {
          expect(commands.some((c) => c.startsWith('8020000000'))).toBe(true); // WITHDRAW BEGIN extended
          const payAnswer = trace[trace.findIndex((e) => e.direction === 'command' && e.bytes.startsWith('80400000')) + 1]!;
          expect(payAnswer.bytes.length / 2).toBeGreaterThan(256 * 3 * 5); // the whole answer in one piece
        }
      });
    }

    it('reports a card pulled in the middle of a command, and the payment is recovered after', async () => {
      // On jcop4 a PAY of two coins takes a few hundred ms: time to pull the card mid-command.
      const bank = new TestBank('ristretto255-sha512');
      const physical = await slowLoadedCard(bank, 2, 'jcop4');
      const { card: watched, reached } = announcing(physical, ECASH_INS.PAY);
      await f.insert(watched);
      const card = EcashCardClient.on(await connect());
      await card.select();
      await card.verifyPin(PIN);
      const request = bank.payment(2);
      const paying = card.pay(request).then(
        () => 'answered',
        (e: unknown) => e,
      );
      // Pulled as soon as the PAY reaches the card: the card has acted on it and is still working
      // (jcop4's time), so its answer never leaves the reader.
      await reached;
      await f.remove();
      expect(isEcashError(await paying, 'card-removed')).toBe(true);

      await f.insert(physical);
      const again = EcashCardClient.on(await connect());
      await again.select();
      await again.verifyPin(PIN);
      // The card had already acted (its memory holds the payment): the same request is answered
      // the same way, and it verifies.
      const paid = await again.pay(request);
      bank.verify(again, request, paid);
      expect(await again.balance()).toEqual([]);
    });

    it('times a slow command out, then carries on', async () => {
      const bank = new TestBank('ristretto255-sha512');
      await f.insert(await slowLoadedCard(bank, 2, 'jcop4'));
      const channel = await connect();
      const card = EcashCardClient.on(channel);
      await card.select();
      await card.verifyPin(PIN);
      const request = bank.payment(2);
      const hasty = new EcashCardClient(new ApduClient(channel, { timeouts: { payment: 20 } }));
      await hasty.select();
      await hasty.verifyPin(PIN);
      await expect(hasty.pay(request)).rejects.toSatisfy((e) => isEcashError(e, BRIDGE_ERROR.CARD_TIMEOUT));
      // the card finished anyway; asked again within a realistic budget it answers the same payment
      const paid = await card.pay(request);
      bank.verify(card, request, paid);
      await card.verifyPin(PIN);
      expect(await card.balance()).toEqual([]);
    });

    it('reports a reader that disappears', async () => {
      await f.insert(await newCard('ristretto255-sha512'));
      const channel = await connect();
      const events: ReaderEvent[] = [];
      const stop = f.transport.watch((e) => events.push(e));
      await f.unplugReader();
      await eventually(
        async () => (events.some((e) => e.type === 'reader-removed' && e.reader.name === f.reader) ? true : undefined),
        'reader-removed',
      );
      stop();
      await expect(channel.transmit(Uint8Array.of(0x80, 0x30, 0, 0, 0), { timeoutMs: 2_000 })).rejects.toSatisfy(
        (e) => isEcashError(e, 'no-reader') || isEcashError(e, 'card-removed') || isEcashError(e, 'transport-failure'),
      );
      expect((await f.transport.listReaders().catch(() => [])).some((r) => r.name === f.reader)).toBe(false);
    });
  });
}
