/**
 * The applet's persistent objects (account, pending withdrawal, key table, payment log, last
 * payment, coin slots) as typed records over the journaled memory. Reads are served from the
 * RAM mirror; every write goes through the open transaction and keeps the record's CRC right.
 */
import { crc32 } from 'node:zlib';
import {
  bigIntToBytes,
  ByteReader,
  bytesToBigInt,
  concatBytes,
  EcashError,
  SUITE_IDS,
  u32be,
  u64be,
  utf8,
  type DenominationTerms,
  type SuiteId,
} from '../../core/index.js';
import type { PersistentMemory } from './journal.js';
import {
  ACCOUNT,
  ACCOUNT_AFTER_I,
  ACCOUNT_PERSONALISED,
  computeLayout,
  CURRENCY,
  KEY_ID,
  PENDING_SECRETS_END,
  SCALAR,
  SLOT,
  SLOT_MUTABLE_END,
  STR_MAX,
  type Layout,
  type RecordSpec,
} from './layout.js';

const CRC = 4;

export interface SecretCheck {
  salt: Uint8Array;
  hash: Uint8Array;
  tries: number;
}

export interface AccountRecord {
  suite: SuiteId;
  u1: bigint;
  I: Uint8Array;
  pin: SecretCheck;
  puk: SecretCheck;
  noPinLimit: number;
  /** Counts the card's payments; the last payment's coins carry its value. */
  paymentSeq: number;
  /** Paid without the PIN since the last PIN verification (the cumulative no-PIN amount). */
  noPinSpent: number;
}

export interface PendingRecord {
  c: bigint;
  u: bigint;
  vPrime: bigint;
  s: bigint;
  x1: bigint;
  x2: bigint;
  keyId: Uint8Array;
  terms: DenominationTerms;
  /** Encoded elements: the key, z, the bank's offer and the coin's draft. */
  h: Uint8Array;
  z: Uint8Array;
  a: Uint8Array;
  b: Uint8Array;
  A: Uint8Array;
  B: Uint8Array;
  zPrime: Uint8Array;
  aPrime: Uint8Array;
  bPrime: Uint8Array;
}

export interface KeyRecord {
  keyId: Uint8Array;
  value: number;
  depositUntil: number;
  currency: string;
  scope: string;
}

export interface LogRecord {
  seq: number;
  timestamp: number;
  amount: number;
  currency: string;
  coins: number;
  merchantId: string;
  terminalId: string;
}

export interface LastPaymentRecord {
  seq: number;
  requestHash: Uint8Array;
  coins: number;
}

export interface SlotRecord {
  state: number;
  keyIndex: number;
  paySeq: number;
  payPos: number;
  /** Spendable: s, x1, x2. Spent: r1, r2, 0. */
  secrets: [bigint, bigint, bigint];
  /** A, B, z', a', b' encoded, each `elementLength` bytes. */
  elements: Uint8Array;
  r: bigint;
}

const scalarBytes = (v: bigint) => bigIntToBytes(v, SCALAR);

function safeNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new EcashError('card-image-corrupt', 'a stored number is out of range');
  return Number(v);
}

function strField(s: string): Uint8Array {
  const b = utf8(s);
  if (b.length > STR_MAX) throw new EcashError('card-internal', `a stored string is longer than ${STR_MAX} bytes`);
  const out = new Uint8Array(1 + STR_MAX);
  out[0] = b.length;
  out.set(b, 1);
  return out;
}

function readStrField(r: ByteReader): string {
  const field = r.take(1 + STR_MAX);
  const n = field[0]!;
  if (n > STR_MAX) throw new EcashError('card-image-corrupt', 'a stored string has a bad length');
  return new TextDecoder().decode(field.subarray(1, 1 + n));
}

function currencyField(c: string): Uint8Array {
  const b = utf8(c);
  if (b.length !== CURRENCY) throw new EcashError('card-internal', 'a currency code is 3 letters');
  return b;
}

export class WalletStore {
  private layoutCache: Layout | undefined;

  constructor(readonly memory: PersistentMemory) {}

  // ------------------------------------------------------------------------------ records

  private accountStart(): number {
    return this.memory.dataOffset;
  }

  get personalised(): boolean {
    return this.memory.view(this.accountStart() + ACCOUNT.state, 1)[0] === ACCOUNT_PERSONALISED;
  }

  /** The suite the card was personalised for, or undefined on a factory-fresh card. */
  get suite(): SuiteId | undefined {
    if (!this.personalised) return undefined;
    return SUITE_IDS[this.memory.view(this.accountStart() + ACCOUNT.suite, 1)[0]! - 1];
  }

  /** The memory map for `elementLength`, or the personalised card's own. */
  layoutFor(elementLength: number): Layout {
    if (this.layoutCache?.elementLength !== elementLength) {
      this.layoutCache = computeLayout(this.memory.size, this.memory.dataOffset, elementLength);
    }
    return this.layoutCache;
  }

  private body(spec: RecordSpec): Uint8Array {
    return this.memory.view(spec.offset, spec.length - CRC);
  }

  private static crcOf(body: Uint8Array): Uint8Array {
    return u32be(crc32(body));
  }

  /** Whole-record write (body without CRC; zero-padded to the record). */
  private writeRecord(spec: RecordSpec, body: Uint8Array): void {
    if (body.length > spec.length - CRC) throw new EcashError('card-internal', 'record body longer than its record');
    const full = new Uint8Array(spec.length - CRC);
    full.set(body);
    this.memory.write(spec.offset, concatBytes(full, WalletStore.crcOf(full)));
  }

  /** Writes one field of a record and its new CRC. */
  private writeField(spec: RecordSpec, fieldOffset: number, bytes: Uint8Array): void {
    this.memory.write(spec.offset + fieldOffset, bytes);
    this.memory.write(spec.offset + spec.length - CRC, WalletStore.crcOf(this.body(spec)));
  }

  /** A record of zeros: valid and empty. */
  private erase(spec: RecordSpec): void {
    this.memory.write(spec.offset, new Uint8Array(spec.length));
  }

  private static isZero(bytes: Uint8Array): boolean {
    return bytes.every((b) => b === 0);
  }

  /** Refuses an image whose records fail their CRC (a damaged or edited file). */
  checkIntegrity(layout: Layout): void {
    const view = (s: RecordSpec) => this.memory.view(s.offset, s.length);
    for (const spec of layout.all) {
      const rec = view(spec);
      if (WalletStore.isZero(rec)) continue;
      const body = rec.subarray(0, spec.length - CRC);
      const stored = new DataView(rec.buffer, rec.byteOffset + spec.length - CRC, CRC).getUint32(0, false);
      if (stored !== crc32(body)) {
        throw new EcashError('card-image-corrupt', `the card image is damaged (record at byte ${spec.offset} fails its checksum)`);
      }
    }
  }

  // ------------------------------------------------------------------------------ account

  readAccount(elementLength: number): AccountRecord {
    const spec = this.layoutFor(elementLength).account;
    const r = new ByteReader(this.body(spec), 'account record');
    r.take(1);
    const suite = SUITE_IDS[r.u8() - 1];
    if (suite === undefined) throw new EcashError('card-image-corrupt', 'the card image names an unknown suite');
    const u1 = bytesToBigInt(r.take(SCALAR));
    const I = r.take(elementLength).slice();
    const secret = (): SecretCheck => ({ salt: r.take(16).slice(), hash: r.take(32).slice(), tries: r.u8() });
    const pin = secret();
    const puk = secret();
    return { suite, u1, I, pin, puk, noPinLimit: safeNumber(r.u64()), paymentSeq: r.u32(), noPinSpent: safeNumber(r.u64()) };
  }

  writeAccount(elementLength: number, a: AccountRecord): void {
    const suiteCode = SUITE_IDS.indexOf(a.suite) + 1;
    const secret = (s: SecretCheck) => concatBytes(s.salt, s.hash, Uint8Array.of(s.tries));
    this.writeRecord(
      this.layoutFor(elementLength).account,
      concatBytes(
        Uint8Array.of(ACCOUNT_PERSONALISED, suiteCode),
        scalarBytes(a.u1),
        a.I,
        secret(a.pin),
        secret(a.puk),
        u64be(a.noPinLimit),
        u32be(a.paymentSeq),
        u64be(a.noPinSpent),
      ),
    );
  }

  /** Updates the PIN or PUK check (a field write: the try counter is the hot path). */
  writeSecretCheck(elementLength: number, which: 'pin' | 'puk', s: SecretCheck): void {
    const base = ACCOUNT.I + elementLength + (which === 'pin' ? ACCOUNT_AFTER_I.pinSalt : ACCOUNT_AFTER_I.pukSalt);
    this.writeField(this.layoutFor(elementLength).account, base, concatBytes(s.salt, s.hash, Uint8Array.of(s.tries)));
  }

  writeTries(elementLength: number, which: 'pin' | 'puk', tries: number): void {
    const off = ACCOUNT.I + elementLength + (which === 'pin' ? ACCOUNT_AFTER_I.pinTries : ACCOUNT_AFTER_I.pukTries);
    this.writeField(this.layoutFor(elementLength).account, off, Uint8Array.of(tries));
  }

  writeNoPinLimit(elementLength: number, limit: number): void {
    this.writeField(this.layoutFor(elementLength).account, ACCOUNT.I + elementLength + ACCOUNT_AFTER_I.noPinLimit, u64be(limit));
  }

  /** A payment's account update: its number and the cumulative no-PIN amount, side by side in one write. */
  writePaymentCounters(elementLength: number, seq: number, noPinSpent: number): void {
    this.writeField(
      this.layoutFor(elementLength).account,
      ACCOUNT.I + elementLength + ACCOUNT_AFTER_I.paymentSeq,
      concatBytes(u32be(seq), u64be(noPinSpent)),
    );
  }

  writeNoPinSpent(elementLength: number, amount: number): void {
    this.writeField(this.layoutFor(elementLength).account, ACCOUNT.I + elementLength + ACCOUNT_AFTER_I.noPinSpent, u64be(amount));
  }

  // ----------------------------------------------------------------------------- pending

  readPending(elementLength: number): PendingRecord | undefined {
    const body = this.body(this.layoutFor(elementLength).pending);
    if (body[0] !== 1) return undefined;
    const r = new ByteReader(body, 'pending withdrawal');
    r.take(1);
    const sc = () => bytesToBigInt(r.take(SCALAR));
    const [c, u, vPrime, s, x1, x2] = [sc(), sc(), sc(), sc(), sc(), sc()];
    const keyId = r.take(KEY_ID).slice();
    const value = safeNumber(r.u64());
    const withdrawFrom = safeNumber(r.u64());
    const withdrawUntil = safeNumber(r.u64());
    const depositUntil = safeNumber(r.u64());
    const currency = new TextDecoder().decode(r.take(CURRENCY));
    const scope = readStrField(r);
    const el = () => r.take(elementLength).slice();
    return {
      c,
      u,
      vPrime,
      s,
      x1,
      x2,
      keyId,
      terms: { value, currency, withdrawFrom, withdrawUntil, depositUntil, scope },
      h: el(),
      z: el(),
      a: el(),
      b: el(),
      A: el(),
      B: el(),
      zPrime: el(),
      aPrime: el(),
      bPrime: el(),
    };
  }

  writePending(elementLength: number, p: PendingRecord): void {
    const t = p.terms;
    this.writeRecord(
      this.layoutFor(elementLength).pending,
      concatBytes(
        Uint8Array.of(1),
        ...[p.c, p.u, p.vPrime, p.s, p.x1, p.x2].map(scalarBytes),
        p.keyId,
        u64be(t.value),
        u64be(t.withdrawFrom),
        u64be(t.withdrawUntil),
        u64be(t.depositUntil),
        currencyField(t.currency),
        strField(t.scope),
        p.h,
        p.z,
        p.a,
        p.b,
        p.A,
        p.B,
        p.zPrime,
        p.aPrime,
        p.bPrime,
      ),
    );
  }

  /** Clears the pending withdrawal: its state and every secret scalar (blinding and coin secrets). */
  clearPending(elementLength: number): void {
    this.writeField(this.layoutFor(elementLength).pending, 0, new Uint8Array(PENDING_SECRETS_END));
  }

  // ---------------------------------------------------------------------------- key table

  readKey(elementLength: number, index: number): KeyRecord | undefined {
    const spec = this.layoutFor(elementLength).keys[index];
    if (spec === undefined) return undefined;
    const body = this.body(spec);
    if (body[0] !== 1) return undefined;
    const r = new ByteReader(body, 'key record');
    r.take(1);
    const keyId = r.take(KEY_ID).slice();
    const value = safeNumber(r.u64());
    const depositUntil = safeNumber(r.u64());
    const currency = new TextDecoder().decode(r.take(CURRENCY));
    return { keyId, value, depositUntil, currency, scope: readStrField(r) };
  }

  writeKey(elementLength: number, index: number, k: KeyRecord): void {
    const spec = this.layoutFor(elementLength).keys[index]!;
    this.writeRecord(
      spec,
      concatBytes(Uint8Array.of(1), k.keyId, u64be(k.value), u64be(k.depositUntil), currencyField(k.currency), strField(k.scope)),
    );
  }

  // ---------------------------------------------------------------------------------- log

  readLog(elementLength: number, index: number): LogRecord | undefined {
    const body = this.body(this.layoutFor(elementLength).log[index]!);
    const r = new ByteReader(body, 'log record');
    const seq = r.u32();
    if (seq === 0) return undefined;
    const timestamp = safeNumber(r.u64());
    const amount = safeNumber(r.u64());
    const currency = new TextDecoder().decode(r.take(CURRENCY));
    const coins = r.u8();
    return { seq, timestamp, amount, currency, coins, merchantId: readStrField(r), terminalId: readStrField(r) };
  }

  writeLog(elementLength: number, index: number, e: LogRecord): void {
    this.writeRecord(
      this.layoutFor(elementLength).log[index]!,
      concatBytes(
        u32be(e.seq),
        u64be(e.timestamp),
        u64be(e.amount),
        currencyField(e.currency),
        Uint8Array.of(e.coins),
        strField(e.merchantId),
        strField(e.terminalId),
      ),
    );
  }

  // ------------------------------------------------------------------------ last payment

  readLastPayment(elementLength: number): LastPaymentRecord | undefined {
    const r = new ByteReader(this.body(this.layoutFor(elementLength).lastPayment), 'last payment');
    const seq = r.u32();
    if (seq === 0) return undefined;
    return { seq, requestHash: r.take(32).slice(), coins: r.u8() };
  }

  writeLastPayment(elementLength: number, p: LastPaymentRecord | undefined): void {
    const spec = this.layoutFor(elementLength).lastPayment;
    if (p === undefined) this.erase(spec);
    else this.writeRecord(spec, concatBytes(u32be(p.seq), p.requestHash, Uint8Array.of(p.coins)));
  }

  // ---------------------------------------------------------------------------- coin slots

  /** State byte of a slot without parsing the rest (the balance scan). */
  slotState(elementLength: number, index: number): { state: number; keyIndex: number; paySeq: number } {
    const spec = this.layoutFor(elementLength).slots[index]!;
    const v = this.memory.view(spec.offset, SLOT.payPos);
    return { state: v[0]!, keyIndex: v[1]!, paySeq: new DataView(v.buffer, v.byteOffset + SLOT.paySeq, 4).getUint32(0, false) };
  }

  readSlot(elementLength: number, index: number): SlotRecord {
    const spec = this.layoutFor(elementLength).slots[index]!;
    const r = new ByteReader(this.body(spec), 'coin slot');
    const state = r.u8();
    const keyIndex = r.u8();
    const paySeq = r.u32();
    const payPos = r.u8();
    const sc = () => bytesToBigInt(r.take(SCALAR));
    const secrets: [bigint, bigint, bigint] = [sc(), sc(), sc()];
    const elements = r.take(5 * elementLength).slice();
    return { state, keyIndex, paySeq, payPos, secrets, elements, r: sc() };
  }

  writeSlot(elementLength: number, index: number, s: SlotRecord): void {
    this.writeRecord(
      this.layoutFor(elementLength).slots[index]!,
      concatBytes(
        Uint8Array.of(s.state, s.keyIndex),
        u32be(s.paySeq),
        Uint8Array.of(s.payPos),
        ...s.secrets.map(scalarBytes),
        s.elements,
        scalarBytes(s.r),
      ),
    );
  }

  /** Rewrites a slot's state, payment fields and secrets area (the payment step's one write per coin). */
  writeSlotHead(elementLength: number, index: number, s: Pick<SlotRecord, 'state' | 'keyIndex' | 'paySeq' | 'payPos' | 'secrets'>): void {
    const head = concatBytes(Uint8Array.of(s.state, s.keyIndex), u32be(s.paySeq), Uint8Array.of(s.payPos), ...s.secrets.map(scalarBytes));
    if (head.length !== SLOT_MUTABLE_END) throw new EcashError('card-internal', 'slot head has the wrong length');
    this.writeField(this.layoutFor(elementLength).slots[index]!, 0, head);
  }
}
