/**
 * The e-cash applet: the wallet of docs/protocol.md on a card. It keeps u1 and each coin's secrets in
 * persistent memory, computes the withdrawal blinding and the payment responses with core's
 * protocol functions through a metered group (so each command's counts are real), and does every
 * persistent change of a command in one transaction. Commands and status words: docs/apdu.md.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import {
  blindWithdrawal,
  bytesEqual,
  completeWithdrawal,
  concatBytes,
  generateAccountSecret,
  getGroup,
  chooseExactCoins,
  isEcashError,
  toHex,
  meteredGroup,
  paymentChallenge,
  proveAccountOpening,
  respondToPayment,
  type Coin,
  type DenominationKey,
  type Group,
  type GroupElement,
  type PaymentContext,
  type PendingWithdrawal,
  type RandomSource,
} from '../../core/index.js';
import {
  APPLET_VERSION,
  CLA_ECASH,
  CLA_ISO,
  decodeChangePin,
  decodeOpenAccount,
  decodePay,
  decodePersonalise,
  decodeSetLimit,
  decodeUnblockPin,
  decodeVerify,
  decodeWithdrawBegin,
  decodeWithdrawEnd,
  ECASH_INS,
  encodeBalance,
  encodeFci,
  encodeLog,
  encodeOpenAccountResponse,
  encodePayResponse,
  encodeWithdrawChallenge,
  encodeWithdrawEndResponse,
  MAX_COINS_PER_PAYMENT,
  ISO_INS,
  PIN_REFERENCE,
  SW,
  type BalanceEntry,
  type CommandCost,
  type PaidCoin,
  type PayRequest,
} from '../../wire/index.js';
import { KEY_ENTRIES, LOG_ENTRIES, SLOT_SPENDABLE, SLOT_SPENT } from '../memory/layout.js';
import type { AccountRecord, KeyRecord, LogRecord, SlotRecord, WalletStore } from '../memory/wallet-store.js';
import type { Applet, AppletCommand } from '../runtime.js';
import { parseData, refuse } from '../status.js';
import { makeSecretCheck, PIN_TRIES, PUK_TRIES, secretMatches } from './pin.js';

/** Where a withdrawn coin will go: a slot and a key-table entry. */
interface StoragePlan {
  slot: number;
  keyIndex: number;
  newKey: boolean;
  /** The plan reuses a slot or key entry of the last payment, so that payment can no longer be replayed. */
  dropsReplay: boolean;
}

/** Decoded coins by slot, with the stored bytes they were decoded from. */
export type DecodedCoins = Map<number, { elements: Uint8Array; coin: Coin }>;

/** The spendable coins of one key-table entry (slots in slot order). */
export interface HeldDenomination {
  key: KeyRecord;
  slots: number[];
}

/** One coin a payment spends. */
export interface CoinChoice {
  slot: number;
  key: KeyRecord;
}

/** A coin the payment step has chosen, with what the card answers for it. */
export interface CoinToSpend {
  slot: number;
  record: SlotRecord;
  paid: PaidCoin;
}

export class EcashApplet implements Applet {
  /**
   * The PIN state (RAM: a reset or power loss clears it). A successful VERIFY opens it for the
   * loading and administration commands of the session, and it authorises ONE payment: the PAY
   * that spends ends it. (SET LIMIT carries the PIN itself.) docs/card.md, "PIN policy".
   */
  private pinVerified = false;
  private identity: GroupElement | undefined;

  /**
   * `decodedCoins` holds the coins as the emulator's group objects, by slot. A real card computes
   * on its stored bytes directly; the emulator must decode them (for modp a membership check is
   * an exponentiation), so it keeps them decoded across power cycles, checked against memory on
   * every use. It is the emulator's cache, not card state: the cost model does not see it.
   */
  constructor(
    protected readonly store: WalletStore,
    private readonly rng: RandomSource,
    private readonly decodedCoins: DecodedCoins = new Map(),
  ) {}

  // ----------------------------------------------------------------------------- runtime face

  select(): Uint8Array {
    this.pinVerified = false;
    const suite = this.store.suite;
    const capacity = suite === undefined ? 0 : this.store.layoutFor(getGroup(suite).elementLength).slots.length;
    return encodeFci({ version: APPLET_VERSION, suite, capacity });
  }

  deselect(): void {
    this.pinVerified = false;
  }

  abortTransaction(): void {
    if (this.store.memory.inTransaction) this.store.memory.abort();
  }

  process(cmd: AppletCommand, cost: CommandCost): Uint8Array {
    this.store.memory.meter = cost;
    if (cmd.cla === CLA_ISO) {
      const pinCommand = this.pinCommands[cmd.ins];
      if (pinCommand === undefined) refuse(SW.INS_NOT_SUPPORTED, `INS ${cmd.ins.toString(16)} is not supported`);
      if (cmd.p1 !== 0 || cmd.p2 !== PIN_REFERENCE) refuse(SW.WRONG_P1P2, 'PIN commands take P1 00 and P2 80');
      return pinCommand(cmd.data);
    }
    if (cmd.cla !== CLA_ECASH) refuse(SW.CLA_NOT_SUPPORTED, `CLA ${cmd.cla.toString(16)} is not supported`);
    const handler = this.commands[cmd.ins];
    if (handler === undefined) refuse(SW.INS_NOT_SUPPORTED, `INS ${cmd.ins.toString(16)} is not supported`);
    if (cmd.p1 !== 0 || cmd.p2 !== 0) refuse(SW.WRONG_P1P2, 'e-cash commands take P1-P2 00 00');
    return handler(cmd.data, cost);
  }

  private readonly pinCommands: Record<number, (data: Uint8Array) => Uint8Array> = {
    [ISO_INS.VERIFY]: (d) => this.verify(d),
    [ISO_INS.CHANGE_REFERENCE_DATA]: (d) => this.changePin(d),
    [ISO_INS.RESET_RETRY_COUNTER]: (d) => this.unblockPin(d),
  };

  private readonly commands: Record<number, (data: Uint8Array, cost: CommandCost) => Uint8Array> = {
    [ECASH_INS.PERSONALISE]: (d, c) => this.personalise(d, c),
    [ECASH_INS.OPEN_ACCOUNT]: (d, c) => this.openAccount(d, c),
    [ECASH_INS.WITHDRAW_BEGIN]: (d, c) => this.withdrawBegin(d, c),
    [ECASH_INS.WITHDRAW_END]: (d, c) => this.withdrawEnd(d, c),
    [ECASH_INS.WITHDRAW_STATUS]: (d) => this.withdrawStatus(d),
    [ECASH_INS.WITHDRAW_ABORT]: (d) => this.withdrawAbort(d),
    [ECASH_INS.GET_BALANCE]: (d) => this.balance(d),
    [ECASH_INS.PAY]: (d, c) => this.pay(d, c),
    [ECASH_INS.READ_LOG]: (d) => this.readLog(d),
    [ECASH_INS.SET_LIMIT]: (d) => this.setLimit(d),
  };

  // ------------------------------------------------------------------------------- helpers

  private group(): Group {
    const suite = this.store.suite;
    if (suite === undefined) refuse(SW.CONDITIONS_NOT_SATISFIED, 'the card is not personalised');
    return getGroup(suite);
  }

  private get E(): number {
    return this.group().elementLength;
  }

  private account(): AccountRecord {
    return this.store.readAccount(this.E);
  }

  private accountIdentity(group: Group): GroupElement {
    this.identity ??= group.decode(this.account().I, 'I');
    return this.identity;
  }

  /** Runs `fn` as one transaction: all its writes land, or (torn or refused) none. */
  protected atomically<T>(fn: () => T): T {
    const memory = this.store.memory;
    memory.begin();
    try {
      const result = fn();
      memory.commit();
      return result;
    } catch (e) {
      if (memory.inTransaction) memory.abort();
      throw e;
    }
  }

  private noData(data: Uint8Array): void {
    if (data.length !== 0) refuse(SW.WRONG_LENGTH, 'this command takes no data');
  }

  private requirePin(): void {
    this.group();
    if (!this.pinVerified) refuse(SW.SECURITY_STATUS_NOT_SATISFIED, 'this command needs the PIN: VERIFY it first');
  }

  /** The coin stored in a slot, decoded once per power-up (its own memory needs no re-validation). */
  private coinAt(group: Group, slot: number, record: SlotRecord, keyId: Uint8Array): Coin {
    const cached = this.decodedCoins.get(slot);
    if (
      cached !== undefined &&
      bytesEqual(cached.elements, record.elements) &&
      cached.coin.r === record.r &&
      bytesEqual(cached.coin.keyId, keyId)
    ) {
      return cached.coin;
    }
    const e = group.elementLength;
    const el = (i: number, what: string) => group.decode(record.elements.subarray(i * e, (i + 1) * e), what);
    const coin: Coin = { keyId, A: el(0, 'A'), B: el(1, 'B'), z: el(2, "z'"), a: el(3, "a'"), b: el(4, "b'"), r: record.r };
    this.decodedCoins.set(slot, { elements: record.elements, coin });
    return coin;
  }

  private findKey(keyId: Uint8Array): { index: number; key: KeyRecord } | undefined {
    for (let i = 0; i < KEY_ENTRIES; i++) {
      const key = this.store.readKey(this.E, i);
      if (key !== undefined && bytesEqual(key.keyId, keyId)) return { index: i, key };
    }
    return undefined;
  }

  private slotCount(): number {
    return this.store.layoutFor(this.E).slots.length;
  }

  /** Spendable slots, in slot order, grouped by key-table index. */
  private spendableByKey(): Map<number, number[]> {
    const out = new Map<number, number[]>();
    for (let i = 0; i < this.slotCount(); i++) {
      const s = this.store.slotState(this.E, i);
      if (s.state === SLOT_SPENDABLE) out.set(s.keyIndex, [...(out.get(s.keyIndex) ?? []), i]);
    }
    return out;
  }

  /**
   * Where a new coin of `keyId` would go. Free slots and unused key entries first; the last
   * payment's spent coins (kept so a lost answer can be sent again) only when nothing else is left.
   */
  private planStorage(keyId: Uint8Array): StoragePlan | undefined {
    const E = this.E;
    const lastSeq = this.store.readLastPayment(E)?.seq;
    const free: number[] = [];
    const lastPaymentSlots: number[] = [];
    const keysInUse = new Set<number>();
    const keysOfLastPayment = new Set<number>();
    for (let i = 0; i < this.slotCount(); i++) {
      const s = this.store.slotState(E, i);
      if (s.state === SLOT_SPENDABLE) keysInUse.add(s.keyIndex);
      else if (s.state === SLOT_SPENT && s.paySeq === lastSeq) {
        lastPaymentSlots.push(i);
        keysOfLastPayment.add(s.keyIndex);
      } else free.push(i);
    }
    const slot = free[0] ?? lastPaymentSlots[0];
    if (slot === undefined) return undefined;
    const slotDropsReplay = free.length === 0;
    const existing = this.findKey(keyId);
    if (existing !== undefined) return { slot, keyIndex: existing.index, newKey: false, dropsReplay: slotDropsReplay };
    const keys = Array.from({ length: KEY_ENTRIES }, (_, i) => i).filter((i) => !keysInUse.has(i));
    const unused = keys.find((i) => !keysOfLastPayment.has(i));
    if (unused !== undefined) return { slot, keyIndex: unused, newKey: true, dropsReplay: slotDropsReplay };
    if (keys[0] === undefined) return undefined;
    return { slot, keyIndex: keys[0], newKey: true, dropsReplay: true };
  }

  // --------------------------------------------------------------------------- PIN and PUK

  /**
   * Decrement, commit, compare: a tear during a wrong guess still costs the try. A right PIN also
   * resets the amount paid without it, in the transaction that restores the tries.
   */
  private checkSecret(which: 'pin' | 'puk', presented: string): boolean {
    const E = this.E;
    const account = this.account();
    const check = account[which];
    if (check.tries === 0) refuse(SW.AUTH_METHOD_BLOCKED, `the ${which.toUpperCase()} is blocked`);
    this.atomically(() => this.store.writeTries(E, which, check.tries - 1));
    if (!secretMatches(check, presented)) return false;
    this.atomically(() => {
      this.store.writeTries(E, which, which === 'pin' ? PIN_TRIES : PUK_TRIES);
      if (which === 'pin' && account.noPinSpent !== 0) this.store.writeNoPinSpent(E, 0);
    });
    return true;
  }

  private wrongPin(): never {
    this.pinVerified = false;
    const left = this.account().pin.tries;
    refuse(0x63c0 | left, `wrong PIN, ${left} tries left`);
  }

  private verify(data: Uint8Array): Uint8Array {
    this.group();
    if (data.length === 0) {
      if (this.pinVerified) return new Uint8Array(0);
      const left = this.account().pin.tries;
      if (left === 0) refuse(SW.AUTH_METHOD_BLOCKED, 'the PIN is blocked');
      refuse(0x63c0 | left, `PIN not verified, ${left} tries left`);
    }
    const pin = parseData(() => decodeVerify(data));
    if (!this.checkSecret('pin', pin)) this.wrongPin();
    this.pinVerified = true;
    return new Uint8Array(0);
  }

  private changePin(data: Uint8Array): Uint8Array {
    this.group();
    const req = parseData(() => decodeChangePin(data));
    if (!this.checkSecret('pin', req.oldPin)) this.wrongPin();
    this.atomically(() => this.store.writeSecretCheck(this.E, 'pin', makeSecretCheck(req.newPin, PIN_TRIES, this.rng)));
    this.pinVerified = true;
    return new Uint8Array(0);
  }

  private unblockPin(data: Uint8Array): Uint8Array {
    this.group();
    const req = parseData(() => decodeUnblockPin(data));
    if (!this.checkSecret('puk', req.puk)) {
      const left = this.account().puk.tries;
      refuse(left === 0 ? SW.AUTH_METHOD_BLOCKED : 0x63c0 | left, `wrong PUK, ${left} tries left`);
    }
    this.atomically(() => this.store.writeSecretCheck(this.E, 'pin', makeSecretCheck(req.newPin, PIN_TRIES, this.rng)));
    this.pinVerified = false;
    return new Uint8Array(0);
  }

  // --------------------------------------------------------------------- personalisation

  private personalise(data: Uint8Array, cost: CommandCost): Uint8Array {
    if (this.store.personalised) refuse(SW.CONDITIONS_NOT_SATISFIED, 'the card is already personalised');
    const req = parseData(() => decodePersonalise(data));
    const group = getGroup(req.suite);
    const E = group.elementLength;
    if (this.store.layoutFor(E).slots.length === 0) refuse(SW.NOT_ENOUGH_MEMORY, `the card's memory holds no coin of suite ${req.suite}`);
    const { u1, I } = generateAccountSecret(meteredGroup(group, cost), this.rng);
    this.atomically(() =>
      this.store.writeAccount(E, {
        suite: req.suite,
        u1,
        I: group.encode(I),
        pin: makeSecretCheck(req.pin, PIN_TRIES, this.rng),
        puk: makeSecretCheck(req.puk, PUK_TRIES, this.rng),
        noPinLimit: req.noPinLimit,
        paymentSeq: 0,
        noPinSpent: 0,
      }),
    );
    this.identity = I;
    return new Uint8Array(0);
  }

  private openAccount(data: Uint8Array, cost: CommandCost): Uint8Array {
    this.requirePin();
    const holder = parseData(() => decodeOpenAccount(data));
    const group = this.group();
    const I = this.accountIdentity(group);
    const proof = proveAccountOpening(meteredGroup(group, cost), this.account().u1, I, holder, this.rng);
    return encodeOpenAccountResponse(group, { I, proof });
  }

  // ---------------------------------------------------------------------------- withdrawal

  private withdrawBegin(data: Uint8Array, cost: CommandCost): Uint8Array {
    this.requirePin();
    const group = this.group();
    const E = group.elementLength;
    if (this.store.readPending(E) !== undefined) {
      refuse(SW.CONDITIONS_NOT_SATISFIED, 'a withdrawal is pending: finish it with WITHDRAW END or discard it with WITHDRAW ABORT');
    }
    const metered = meteredGroup(group, cost);
    const req = parseData(() => decodeWithdrawBegin(metered, data));
    if (this.planStorage(req.key.keyId) === undefined) refuse(SW.NOT_ENOUGH_MEMORY, 'the card is full: spend coins before loading more');
    const I = this.accountIdentity(group);
    const p = blindWithdrawal(metered, { key: req.key, z: req.z, I }, req.offer, this.rng);
    const k = req.key;
    this.atomically(() =>
      this.store.writePending(E, {
        c: p.c,
        u: p.u,
        vPrime: p.vPrime,
        s: p.secrets.s,
        x1: p.secrets.x1,
        x2: p.secrets.x2,
        keyId: k.keyId,
        terms: {
          value: k.value,
          currency: k.currency,
          withdrawFrom: k.withdrawFrom,
          withdrawUntil: k.withdrawUntil,
          depositUntil: k.depositUntil,
          scope: k.scope,
        },
        h: group.encode(k.h),
        z: group.encode(req.z),
        a: group.encode(req.offer.a),
        b: group.encode(req.offer.b),
        A: group.encode(p.draft.A),
        B: group.encode(p.draft.B),
        zPrime: group.encode(p.draft.z),
        aPrime: group.encode(p.draft.a),
        bPrime: group.encode(p.draft.b),
      }),
    );
    return encodeWithdrawChallenge(group, { keyId: p.keyId, c: p.c });
  }

  private withdrawEnd(data: Uint8Array, cost: CommandCost): Uint8Array {
    this.requirePin();
    const group = this.group();
    const E = group.elementLength;
    const r = parseData(() => decodeWithdrawEnd(group, data));
    const rec = this.store.readPending(E);
    if (rec === undefined) refuse(SW.DATA_NOT_FOUND, 'no withdrawal is pending');
    const el = (b: Uint8Array, what: string) => group.decode(b, what);
    const key: DenominationKey = { ...rec.terms, suite: group.suite, h: el(rec.h, 'h'), keyId: rec.keyId };
    const ctx = { key, z: el(rec.z, 'z'), I: this.accountIdentity(group) };
    const pending: PendingWithdrawal = {
      keyId: rec.keyId,
      offer: { a: el(rec.a, 'a'), b: el(rec.b, 'b') },
      z: ctx.z,
      c: rec.c,
      u: rec.u,
      vPrime: rec.vPrime,
      secrets: { s: rec.s, x1: rec.x1, x2: rec.x2 },
      draft: {
        keyId: rec.keyId,
        A: el(rec.A, 'A'),
        B: el(rec.B, 'B'),
        z: el(rec.zPrime, "z'"),
        a: el(rec.aPrime, "a'"),
        b: el(rec.bPrime, "b'"),
      },
    };
    let coin: Coin;
    try {
      coin = completeWithdrawal(meteredGroup(group, cost), ctx, pending, r).coin;
    } catch (e) {
      if (isEcashError(e, 'bad-withdrawal-response')) refuse(SW.INVALID_DATA, e.message);
      throw e;
    }
    const plan = this.planStorage(rec.keyId);
    if (plan === undefined) refuse(SW.NOT_ENOUGH_MEMORY, 'the card is full');
    const elements = concatBytes(rec.A, rec.B, rec.zPrime, rec.aPrime, rec.bPrime);
    this.atomically(() => {
      this.store.writeSlot(E, plan.slot, {
        state: SLOT_SPENDABLE,
        keyIndex: plan.keyIndex,
        paySeq: 0,
        payPos: 0,
        secrets: [rec.s, rec.x1, rec.x2],
        elements,
        r: coin.r,
      });
      if (plan.newKey) {
        this.store.writeKey(E, plan.keyIndex, {
          keyId: rec.keyId,
          value: rec.terms.value,
          depositUntil: rec.terms.depositUntil,
          currency: rec.terms.currency,
          scope: rec.terms.scope,
        });
      }
      this.store.clearPending(E);
      if (plan.dropsReplay) this.store.writeLastPayment(E, undefined);
    });
    this.decodedCoins.set(plan.slot, { elements, coin });
    let freeSlots = 0;
    for (let i = 0; i < this.slotCount(); i++) if (this.store.slotState(E, i).state !== SLOT_SPENDABLE) freeSlots++;
    return encodeWithdrawEndResponse({ keyId: rec.keyId, freeSlots });
  }

  private withdrawStatus(data: Uint8Array): Uint8Array {
    this.requirePin();
    this.noData(data);
    const rec = this.store.readPending(this.E);
    if (rec === undefined) refuse(SW.DATA_NOT_FOUND, 'no withdrawal is pending');
    return encodeWithdrawChallenge(this.group(), { keyId: rec.keyId, c: rec.c });
  }

  private withdrawAbort(data: Uint8Array): Uint8Array {
    this.requirePin();
    this.noData(data);
    const E = this.E;
    if (this.store.readPending(E) === undefined) refuse(SW.DATA_NOT_FOUND, 'no withdrawal is pending');
    this.atomically(() => this.store.clearPending(E));
    return new Uint8Array(0);
  }

  // ------------------------------------------------------------------------------ balance

  /** The holder's own view of the card (a shop never needs it: PAY takes an amount), so it needs the PIN. */
  private balance(data: Uint8Array): Uint8Array {
    this.requirePin();
    this.noData(data);
    const entries: BalanceEntry[] = [];
    for (const [keyIndex, slots] of [...this.spendableByKey()].sort((a, b) => a[0] - b[0])) {
      const key = this.store.readKey(this.E, keyIndex);
      if (key === undefined) refuse(SW.UNKNOWN, 'a coin refers to a missing key entry');
      entries.push({
        keyId: key.keyId,
        value: key.value,
        currency: key.currency,
        scope: key.scope,
        depositUntil: key.depositUntil,
        count: slots.length,
      });
    }
    return encodeBalance(entries);
  }

  // ------------------------------------------------------------------------------ payment

  private pay(data: Uint8Array, cost: CommandCost): Uint8Array {
    const group = this.group();
    const E = group.elementLength;
    const req = parseData(() => decodePay(data));
    // The request's digest identifies a retry of the last payment (a lost answer).
    const requestHash = sha256(data);
    cost.hash++;
    const last = this.store.readLastPayment(E);
    if (last !== undefined && bytesEqual(last.requestHash, requestHash))
      return encodePayResponse(group, this.replay(group, last.seq, last.coins));
    // A payment already in the log is never paid twice. The last payment's request is known whole,
    // so one with its terms but other bytes is not a retry; an earlier payment, resumed after the
    // holder paid elsewhere, gets its answer again while its coins are kept.
    const logged = this.loggedPayment(E, req);
    if (logged !== undefined) {
      if (logged.seq === last?.seq)
        refuse(SW.CONDITIONS_NOT_SATISFIED, 'this payment was already made with another request: start a new payment');
      return encodePayResponse(group, this.replay(group, logged.seq, logged.coins));
    }

    // The PIN first: without it, above the limit, a terminal learns nothing of what the card holds.
    const { amount, currency } = req;
    const account = this.account();
    // A payment with the PIN uses up the verification; one without adds to the cumulative amount.
    const withPin = this.pinVerified;
    const noPinSpent = withPin ? account.noPinSpent : account.noPinSpent + amount;
    if (!withPin && !(Number.isSafeInteger(noPinSpent) && noPinSpent <= account.noPinLimit)) {
      refuse(
        SW.SECURITY_STATUS_NOT_SATISFIED,
        `this payment with the ${account.noPinSpent} paid without the PIN since it was last verified exceeds the no-PIN limit of ${account.noPinLimit}: VERIFY the PIN first`,
      );
    }
    const chosen = this.chooseCoins(this.heldDenominations(), req);

    // The payment step proper: per coin one hash (d) and two multiplications mod q, no group operation.
    const metered = meteredGroup(group, cost);
    const spends: CoinToSpend[] = chosen.map(({ slot, key }) => {
      const record = this.store.readSlot(E, slot);
      const coin = this.coinAt(group, slot, record, key.keyId);
      const d = paymentChallenge(metered, coin, req.context);
      const [s, x1, x2] = record.secrets;
      return { slot, record, paid: { coin, ...respondToPayment(metered, account.u1, { s, x1, x2 }, d) } };
    });
    const seq = account.paymentSeq + 1;
    this.atomically(() => {
      this.store.writePaymentCounters(E, seq, noPinSpent);
      spends.forEach((spend, position) => this.spendCoin(spend, seq, position));
      this.writeLogEntry({ seq, context: req.context, amount, currency, coins: spends.length });
      this.store.writeLastPayment(E, { seq, requestHash, coins: spends.length });
    });
    this.pinVerified = false;
    return encodePayResponse(
      group,
      spends.map((s) => s.paid),
    );
  }

  /** The spendable coins by key-table entry, as the payment step chooses among them. */
  private heldDenominations(): HeldDenomination[] {
    const out: HeldDenomination[] = [];
    for (const [keyIndex, slots] of this.spendableByKey()) {
      const key = this.store.readKey(this.E, keyIndex);
      if (key === undefined) refuse(SW.UNKNOWN, 'a coin refers to a missing key entry');
      out.push({ key, slots });
    }
    return out;
  }

  /**
   * The coins that pay the request: only coins of the keys the terminal offered, in its currency,
   * exactly the amount with the fewest coins. (The test-only tampered card overrides this.)
   */
  protected chooseCoins(held: readonly HeldDenomination[], req: PayRequest): CoinChoice[] {
    const offered = new Set(req.acceptedKeys.map(toHex));
    return this.coinsForAmount(
      held.filter((h) => h.key.currency === req.currency && offered.has(toHex(h.key.keyId))),
      req.amount,
    );
  }

  /**
   * Exactly `amount` from `held` (core's search; larger values first, and among equal values the
   * coins whose deposit deadline comes first), or the refusal that says only whether the card
   * holds too little (`6A88`) or cannot make the exact sum in one payment (`6A83`).
   */
  protected coinsForAmount(held: readonly HeldDenomination[], amount: number): CoinChoice[] {
    const order = [...held].sort((a, b) => b.key.value - a.key.value || a.key.depositUntil - b.key.depositUntil);
    const choice = chooseExactCoins(
      order.map((h) => ({ value: h.key.value, count: h.slots.length })),
      amount,
      MAX_COINS_PER_PAYMENT,
    );
    if (!choice.ok) {
      if (choice.reason === 'insufficient')
        refuse(SW.DATA_NOT_FOUND, 'the card holds less than the amount in the keys and currency offered');
      refuse(SW.RECORD_NOT_FOUND, `no coins of the keys offered add up to exactly the amount in at most ${MAX_COINS_PER_PAYMENT} coins`);
    }
    return order.flatMap((h, i) => h.slots.slice(0, choice.counts[i]).map((slot) => ({ slot, key: h.key })));
  }

  /**
   * Erases a coin's secrets in the payment's transaction, keeping r1, r2 in their place so the
   * same request can be answered again. (The test-only malicious card overrides this.)
   */
  protected spendCoin(spend: CoinToSpend, seq: number, position: number): void {
    this.store.writeSlotHead(this.E, spend.slot, {
      state: SLOT_SPENT,
      keyIndex: spend.record.keyIndex,
      paySeq: seq,
      payPos: position,
      secrets: [spend.paid.r1, spend.paid.r2, 0n],
    });
  }

  /** The log's entry for this request's payment (same merchant, terminal, time, amount, currency). */
  private loggedPayment(E: number, req: PayRequest): LogRecord | undefined {
    const { merchantId, terminalId, timestamp } = req.context;
    for (let i = 0; i < LOG_ENTRIES; i++) {
      const e = this.store.readLog(E, i);
      if (
        e?.merchantId === merchantId &&
        e.terminalId === terminalId &&
        e.timestamp === timestamp &&
        e.amount === req.amount &&
        e.currency === req.currency
      )
        return e;
    }
    return undefined;
  }

  /** A payment's answer again, from what its transaction kept (refused once its coins' slots were reused). */
  private replay(group: Group, seq: number, coins: number): PaidCoin[] {
    const E = group.elementLength;
    const spent: { slot: number; record: SlotRecord }[] = [];
    for (let i = 0; i < this.slotCount(); i++) {
      const s = this.store.slotState(E, i);
      if (s.state === SLOT_SPENT && s.paySeq === seq) spent.push({ slot: i, record: this.store.readSlot(E, i) });
    }
    if (spent.length !== coins)
      refuse(SW.CONDITIONS_NOT_SATISFIED, 'the answer to this payment is no longer kept: new coins were loaded since');
    spent.sort((a, b) => a.record.payPos - b.record.payPos);
    return spent.map(({ slot, record }) => {
      const key = this.store.readKey(E, record.keyIndex);
      if (key === undefined) refuse(SW.CONDITIONS_NOT_SATISFIED, 'the answer to this payment is no longer kept');
      return { coin: this.coinAt(group, slot, record, key.keyId), r1: record.secrets[0], r2: record.secrets[1] };
    });
  }

  private writeLogEntry(e: { seq: number; context: PaymentContext; amount: number; currency: string; coins: number }): void {
    const E = this.E;
    let index = 0;
    let oldest = Infinity;
    for (let i = 0; i < LOG_ENTRIES; i++) {
      const seq = this.store.readLog(E, i)?.seq ?? 0;
      if (seq < oldest) {
        oldest = seq;
        index = i;
      }
    }
    const { merchantId, terminalId, timestamp } = e.context;
    this.store.writeLog(E, index, {
      seq: e.seq,
      timestamp,
      amount: e.amount,
      currency: e.currency,
      coins: e.coins,
      merchantId,
      terminalId,
    });
  }

  private readLog(data: Uint8Array): Uint8Array {
    this.requirePin();
    this.noData(data);
    const entries = Array.from({ length: LOG_ENTRIES }, (_, i) => this.store.readLog(this.E, i))
      .filter((e) => e !== undefined)
      .sort((a, b) => b.seq - a.seq);
    return encodeLog(
      entries.map(({ timestamp, merchantId, terminalId, amount, currency, coins }) => ({
        timestamp,
        merchantId,
        terminalId,
        amount,
        currency,
        coins,
      })),
    );
  }

  /**
   * A new limit decides what can be paid without the PIN, so SET LIMIT carries the PIN itself
   * (checked like VERIFY: a wrong one costs a try) rather than riding on the session's
   * verification, which a reader could use for it before the payment the holder meant.
   */
  private setLimit(data: Uint8Array): Uint8Array {
    this.group();
    const req = parseData(() => decodeSetLimit(data));
    if (!this.checkSecret('pin', req.pin)) this.wrongPin();
    this.atomically(() => this.store.writeNoPinLimit(this.E, req.limit));
    return new Uint8Array(0);
  }
}
