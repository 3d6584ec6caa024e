/**
 * The tear matrix: for every command that writes persistent memory, power is cut at each of its
 * physical writes in turn — with none of that write landed and with half of it landed — and the
 * card is powered up again on what memory holds. After recovery the applet's memory must be
 * exactly one of the states the untorn command passes through between transactions (before,
 * after, or between its transactions), and the wallet must be sound: every coin the card lists
 * pays and verifies (so it kept all its secrets), no erased coin can be paid, and a pending
 * withdrawal is whole. A second tear during recovery itself is covered for PAY. PAY runs with and
 * without the PIN: without it, the cumulative no-PIN amount is written in the transaction that
 * erases the coins; a right PIN resets it in the transaction that restores the try counter.
 */
import { describe, expect, it } from 'vitest';
import { BankWithdrawalSession, bytesEqual, getGroup, seededRandom, toHex, verifyTranscript, type SuiteId } from '../../core/index.js';
import {
  encodeWithdrawBegin,
  CLA_ECASH,
  CLA_ISO,
  decodeWithdrawChallenge,
  ECASH_INS,
  encodeChangePin,
  encodeSetLimit,
  encodeUnblockPin,
  encodePersonalise,
  ISO_INS,
  paymentTranscripts,
  PIN_REFERENCE,
} from '../../wire/index.js';
import {
  APPLET_DATA_OFFSET,
  cardOnDevice,
  formatDevice,
  JOURNAL_OFFSET,
  personaliseCard,
  RamNvm,
  TearingNvm,
  type EcashCard,
  type NvmDevice,
} from '../../firmware-sim/index.js';
import { balance, expectOk, pay, paymentContext, PIN, PUK, select, send, TestBank, verifyPin } from './helpers.js';

const SUITE: SuiteId = 'ristretto255-sha512';
const CAPACITY = 20 * 1024;
const JOURNAL_HEADER = 16;
const cardRng = () => seededRandom('tear-matrix-card');

/** Records the applet's memory each time no transaction is in flight (the journal header is clear). */
class QuiescentRecorder implements NvmDevice {
  readonly states: Uint8Array[] = [];
  writes = 0;
  constructor(private readonly inner: RamNvm) {}
  get size(): number {
    return this.inner.size;
  }
  readAll(): Uint8Array {
    return this.inner.readAll();
  }
  write(offset: number, bytes: Uint8Array): void {
    this.inner.write(offset, bytes);
    this.writes++;
    if (this.inner.bytes.subarray(JOURNAL_OFFSET, JOURNAL_OFFSET + JOURNAL_HEADER).every((b) => b === 0))
      this.states.push(dataRegion(this.inner.bytes));
  }
  close(): void {}
}

const dataRegion = (image: Uint8Array) => image.slice(APPLET_DATA_OFFSET);

interface Scenario {
  name: string;
  /** The image before the command, and what the command needs (a bank answer, a request). */
  image: Uint8Array;
  bank: TestBank;
  /** Session set-up that is not under test (SELECT, VERIFY). */
  prepare: (card: EcashCard) => Promise<unknown>;
  command: (card: EcashCard) => Promise<unknown>;
}

async function blankImage(): Promise<RamNvm> {
  const ram = new RamNvm(CAPACITY);
  formatDevice(ram);
  return ram;
}

/** A personalised card with an account, coins of two values, and (optionally) a pending withdrawal. */
async function walletImage(opts: { pending?: boolean } = {}): Promise<{ image: Uint8Array; bank: TestBank; pendingR?: bigint }> {
  const ram = await blankImage();
  const card = cardOnDevice(ram, { rng: seededRandom('tear-setup') });
  await personaliseCard(card, { suite: SUITE, pin: PIN, puk: PUK, noPinLimit: 10_000 });
  card.powerOn();
  await select(card);
  await verifyPin(card);
  const bank = new TestBank(SUITE, seededRandom('tear-bank'));
  await bank.open(card);
  for (const v of [100, 100, 20, 5]) await bank.withdraw(card, v);
  // Payments, so the last-payment record, spent slots and a cumulative no-PIN amount exist too:
  // one with the PIN (it uses up the verification), one without.
  await pay(card, bank.group, paymentContext('setup-shop'), 20, [bank.key(20).key.keyId]);
  await pay(card, bank.group, paymentContext('setup-shop'), 5, [bank.key(5).key.keyId]);
  let pendingR: bigint | undefined;
  if (opts.pending) {
    await verifyPin(card);
    const { session, c } = await bank.begin(card, 50);
    pendingR = session.answer(c);
  }
  card.powerOff();
  return { image: ram.readAll(), bank, ...(pendingR === undefined ? {} : { pendingR }) };
}

const withPin = async (card: EcashCard) => {
  await select(card);
  expect((await verifyPin(card)).sw).toBe(0x9000);
};

async function scenarios(): Promise<Scenario[]> {
  const wallet = await walletImage();
  const pending = await walletImage({ pending: true });
  const fresh = await blankImage();
  const ok = async (p: Promise<{ sw: number }>) => expect((await p).sw).toBe(0x9000);
  // Every run of a command must send the same bytes: fix the bank's offer and the shop's request.
  const bank = wallet.bank;
  const secret = bank.key(50);
  const offer = BankWithdrawalSession.offer(bank.group, secret, bank.I!, bank.rng).offer;
  const z = bank.group.exp(bank.group.mul(bank.I!, bank.group.g2), secret.x);
  const beginData = encodeWithdrawBegin(bank.group, { key: secret.key, z, offer });
  const payContext = paymentContext('tear-shop');
  return [
    {
      name: 'PERSONALISE',
      image: fresh.readAll(),
      bank: wallet.bank,
      prepare: select,
      command: (c) => ok(send(c, CLA_ECASH, ECASH_INS.PERSONALISE, encodePersonalise({ suite: SUITE, pin: PIN, puk: PUK, noPinLimit: 0 }))),
    },
    { name: 'VERIFY (right PIN)', image: wallet.image, bank: wallet.bank, prepare: select, command: (c) => ok(verifyPin(c)) },
    {
      name: 'VERIFY (wrong PIN)',
      image: wallet.image,
      bank: wallet.bank,
      prepare: select,
      command: async (c) => expect((await verifyPin(c, '0000')).sw).toBe(0x63c2),
    },
    {
      name: 'CHANGE REFERENCE DATA',
      image: wallet.image,
      bank: wallet.bank,
      prepare: select,
      command: (c) =>
        ok(send(c, CLA_ISO, ISO_INS.CHANGE_REFERENCE_DATA, encodeChangePin({ oldPin: PIN, newPin: PIN }), { p2: PIN_REFERENCE })),
    },
    {
      name: 'RESET RETRY COUNTER',
      image: wallet.image,
      bank: wallet.bank,
      prepare: select,
      command: (c) => ok(send(c, CLA_ISO, ISO_INS.RESET_RETRY_COUNTER, encodeUnblockPin({ puk: PUK, newPin: PIN }), { p2: PIN_REFERENCE })),
    },
    {
      name: 'SET LIMIT',
      image: wallet.image,
      bank: wallet.bank,
      prepare: select,
      command: (c) => ok(send(c, CLA_ECASH, ECASH_INS.SET_LIMIT, encodeSetLimit({ pin: PIN, limit: 5 }))),
    },
    {
      name: 'WITHDRAW BEGIN',
      image: wallet.image,
      bank: wallet.bank,
      prepare: withPin,
      command: (c) => ok(send(c, CLA_ECASH, ECASH_INS.WITHDRAW_BEGIN, beginData)),
    },
    {
      name: 'WITHDRAW END',
      image: pending.image,
      bank: pending.bank,
      prepare: withPin,
      command: (c) => ok(send(c, CLA_ECASH, ECASH_INS.WITHDRAW_END, pending.bank.endCommand(pending.pendingR!))),
    },
    {
      name: 'WITHDRAW ABORT',
      image: pending.image,
      bank: pending.bank,
      prepare: withPin,
      command: (c) => ok(send(c, CLA_ECASH, ECASH_INS.WITHDRAW_ABORT)),
    },
    {
      // Without the PIN: the cumulative no-PIN amount changes with the coins' erasure.
      name: 'PAY',
      image: wallet.image,
      bank: wallet.bank,
      prepare: select,
      command: async (c) => expect((await pay(c, wallet.bank.group, payContext, 200, [wallet.bank.key(100).key.keyId])).sw).toBe(0x9000),
    },
    {
      name: 'PAY (PIN)',
      image: wallet.image,
      bank: wallet.bank,
      prepare: withPin,
      command: async (c) => expect((await pay(c, wallet.bank.group, payContext, 200, [wallet.bank.key(100).key.keyId])).sw).toBe(0x9000),
    },
  ];
}

/**
 * Black-box soundness of a recovered wallet: every listed coin pays and its transcript verifies
 * (so s, x1, x2 are all there), afterwards nothing is left, and a pending withdrawal still
 * reports its challenge and can be discarded.
 */
async function checkSound(image: Uint8Array, bank: TestBank): Promise<void> {
  const card = cardOnDevice(new RamNvm(image), { rng: seededRandom('tear-check') });
  card.powerOn();
  await select(card);
  const fresh = (await send(card, CLA_ISO, ISO_INS.VERIFY, new Uint8Array(0), { p2: PIN_REFERENCE })).sw === 0x6985;
  if (fresh) return; // torn before PERSONALISE committed: still factory-fresh, nothing to check
  const group = getGroup(SUITE);
  // One verification per payment (the limit is not what is checked here), and for the balance.
  expect((await verifyPin(card)).sw).toBe(0x9000);
  for (const entry of await balance(card)) {
    const ctx = paymentContext('checker');
    const r = await pay(card, group, ctx, entry.value * entry.count, [entry.keyId]);
    expect(r.sw).toBe(0x9000);
    expect((await verifyPin(card)).sw).toBe(0x9000);
    const key = [...bank.keys.values()].find((k) => toHex(k.key.keyId) === toHex(entry.keyId))!.key;
    for (const t of paymentTranscripts(ctx, r.paid)) expect(verifyTranscript(group, key, t)).toBe(true);
  }
  expect(await balance(card)).toEqual([]);
  const status = await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_STATUS);
  if (status.sw === 0x9000) {
    expect(decodeWithdrawChallenge(group, status.data).keyId.length).toBe(32);
    expect((await send(card, CLA_ECASH, ECASH_INS.WITHDRAW_ABORT)).sw).toBe(0x9000);
  } else expect(status.sw).toBe(0x6a88);
}

/** Runs the command untorn: its write count and the memory states between its transactions. */
async function untorn(s: Scenario): Promise<{ writes: number; states: Uint8Array[] }> {
  const ram = new RamNvm(s.image);
  const recorder = new QuiescentRecorder(ram);
  const card = cardOnDevice(recorder, { rng: cardRng() });
  card.powerOn();
  await s.prepare(card);
  const start = recorder.writes;
  const states = [dataRegion(ram.bytes)];
  const from = recorder.states.length;
  await s.command(card);
  return { writes: recorder.writes - start, states: [...states, ...recorder.states.slice(from)] };
}

async function tornAt(s: Scenario, atWrite: number, landed: 'none' | 'half'): Promise<RamNvm> {
  const ram = new RamNvm(s.image);
  const tearing = new TearingNvm(ram);
  const card = cardOnDevice(tearing, { rng: cardRng() });
  card.powerOn();
  await s.prepare(card);
  tearing.arm({ atWrite, landedBytes: (n) => (landed === 'none' ? 0 : n >> 1) });
  await expect(s.command(card)).rejects.toMatchObject({ code: 'card-torn' });
  expect(card.powered).toBe(false);
  return ram;
}

function expectOneOf(image: Uint8Array, states: Uint8Array[], what: string): void {
  const region = dataRegion(image);
  const match = states.findIndex((st) => bytesEqual(st, region));
  expect(match, `${what}: memory after recovery is none of the command's consistent states`).toBeGreaterThanOrEqual(0);
}

describe('tear matrix', async () => {
  const all = await scenarios();
  it.each(all.map((s) => [s.name, s] as const))('%s: a tear at every write leaves a consistent card', async (_name, s) => {
    const { writes, states } = await untorn(s);
    expect(writes).toBeGreaterThan(0);
    for (let k = 0; k < writes; k++) {
      for (const landed of ['none', 'half'] as const) {
        const ram = await tornAt(s, k, landed);
        // Power up again: recovery finishes or discards the transaction.
        const recovered = cardOnDevice(ram, { rng: cardRng() });
        recovered.powerOn();
        recovered.powerOff();
        expectOneOf(ram.bytes, states, `${s.name}, write ${k}, ${landed}`);
        await checkSound(ram.readAll(), s.bank);
      }
    }
  });

  it('PAY: a second tear during recovery still ends in a consistent card', async () => {
    const s = all.find((x) => x.name === 'PAY')!;
    const { writes, states } = await untorn(s);
    let recoveriesTorn = 0;
    for (let k = 0; k < writes; k++) {
      const ram = await tornAt(s, k, 'half');
      const image = ram.readAll();
      // Count the recovery's own writes, then tear at each of them.
      const probe = new TearingNvm(new RamNvm(image));
      cardOnDevice(probe);
      for (let j = 0; j < probe.writes; j++) {
        const again = new RamNvm(image);
        const tearing = new TearingNvm(again);
        tearing.arm({ atWrite: j, landedBytes: (n) => n >> 1 });
        expect(() => cardOnDevice(tearing)).toThrow(expect.objectContaining({ code: 'card-torn' }));
        cardOnDevice(again);
        expectOneOf(again.bytes, states, `PAY write ${k}, recovery write ${j}`);
        recoveriesTorn++;
      }
    }
    expect(recoveriesTorn).toBeGreaterThan(0);
  });

  it('commands that only read write nothing', async () => {
    const { image, bank } = await walletImage({ pending: true });
    const recorder = new QuiescentRecorder(new RamNvm(image));
    const card = cardOnDevice(recorder);
    card.powerOn();
    await withPin(card);
    const before = recorder.writes;
    await expectOk(send(card, CLA_ECASH, ECASH_INS.GET_BALANCE));
    await expectOk(send(card, CLA_ECASH, ECASH_INS.READ_LOG));
    await expectOk(send(card, CLA_ECASH, ECASH_INS.WITHDRAW_STATUS));
    await expectOk(send(card, CLA_ECASH, ECASH_INS.OPEN_ACCOUNT, Uint8Array.of(1, 0x61)));
    await expectOk(send(card, CLA_ECASH, ECASH_INS.GET_COST));
    expect(recorder.writes).toBe(before);
    expect(bank.I).toBeDefined();
  });
});
