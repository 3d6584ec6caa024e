/**
 * The e-cash applet's messages (docs/apdu.md): one pure module for both ends of the card channel.
 * The card uses the decode-request / encode-response halves, the reader bridge's typed client the
 * other halves; nobody writes a second copy. Decoding is strict: exact lengths (EcashError
 * `truncated` / `trailing-bytes`, which the card answers with 6700), canonical elements and
 * reduced scalars (`bad-element` / `bad-scalar`) and field rules (`bad-card-message`), which the
 * card answers with 6A80.
 *
 * Wire notation: integers big-endian; `str8` is a u8 length and UTF-8 bytes; elements at the
 * suite's fixed length; scalars 32 bytes.
 */
import {
  type AccountOpening,
  ByteReader,
  type Coin,
  coinBody,
  computeKeyId,
  concatBytes,
  type DenominationKey,
  type DenominationTerms,
  EcashError,
  type Group,
  type GroupElement,
  isCurrencyCode,
  KEY_ID_LENGTH,
  NONCE_LENGTH,
  type OpCounts,
  type PaymentContext,
  type PaymentResponse,
  readCoinBody,
  SUITE_IDS,
  type SuiteId,
  suiteCode,
  type Transcript,
  u16be,
  u32be,
  u64be,
  utf8,
  validatePaymentContext,
  validateTerms,
  type WithdrawalOffer,
} from '../core/index.js';

// ------------------------------------------------------------------------------- identifiers

/** The e-cash applet's AID. */
export const ECASH_AID: Uint8Array = Uint8Array.from([0xf0, 0x45, 0x43, 0x41, 0x53, 0x48, 0x01]);
/** T=1, no historical bytes: the ATR names no card. */
export const CARD_ATR: Uint8Array = Uint8Array.from([0x3b, 0x80, 0x80, 0x01, 0x01]);
/** 2: PAY names an amount and the keys the terminal accepts (the card chooses the coins); GET BALANCE needs the PIN. */
export const APPLET_VERSION = 2;

export const CLA_ISO = 0x00;
export const CLA_ECASH = 0x80;
/** Command chaining: set on every part of a chained command but the last. */
export const CLA_CHAINING = 0x10;

/** ISO 7816-4 instructions (CLA 00). */
export const ISO_INS = {
  SELECT: 0xa4,
  GET_RESPONSE: 0xc0,
  VERIFY: 0x20,
  CHANGE_REFERENCE_DATA: 0x24,
  RESET_RETRY_COUNTER: 0x2c,
} as const;

/** The applet's own instructions (CLA 80). */
export const ECASH_INS = {
  PERSONALISE: 0x10,
  OPEN_ACCOUNT: 0x12,
  WITHDRAW_BEGIN: 0x20,
  WITHDRAW_END: 0x22,
  WITHDRAW_STATUS: 0x24,
  WITHDRAW_ABORT: 0x26,
  GET_BALANCE: 0x30,
  PAY: 0x40,
  READ_LOG: 0x46,
  SET_LIMIT: 0x48,
  GET_COST: 0x50,
} as const;

/** P1-P2 of SELECT by AID, and the PIN's reference (P2 of VERIFY, CHANGE and RESET RETRY COUNTER). */
export const SELECT_BY_AID_P1 = 0x04;
export const PIN_REFERENCE = 0x80;

/** Most coins one PAY may spend: the answer must fit one extended response in every suite. */
export const MAX_COINS_PER_PAYMENT = 32;
/** Most key ids one PAY may offer (a u8 count). */
export const MAX_ACCEPTED_KEYS = 255;
export const PIN_MIN_DIGITS = 4;
export const PIN_MAX_DIGITS = 12;
export const PUK_MIN_DIGITS = 8;
export const PUK_MAX_DIGITS = 16;
const HOLDER_MAX_BYTES = 64;
const STR8_MAX = 255;

export function suiteFromCode(code: number): SuiteId {
  const suite = SUITE_IDS[code - 1];
  if (suite === undefined) throw new EcashError('bad-card-message', `unknown suite code ${code}: known codes are 1 to ${SUITE_IDS.length}`);
  return suite;
}

// ------------------------------------------------------------------------------------ helpers

function invalid(message: string): never {
  throw new EcashError('bad-card-message', message);
}

function str8(s: string, what: string): Uint8Array {
  const b = utf8(s);
  if (b.length > STR8_MAX) invalid(`${what} is longer than ${STR8_MAX} bytes`);
  return concatBytes(Uint8Array.of(b.length), b);
}

function readStr8(r: ByteReader, what: string): string {
  const bytes = r.take(r.u8());
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes); // a leading U+FEFF is part of the id
  } catch (cause) {
    throw new EcashError('bad-card-message', `${what} is not valid UTF-8`, { cause });
  }
}

function readSafeU64(r: ByteReader, what: string): number {
  const v = r.u64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) invalid(`${what} is larger than 2^53 - 1`);
  return Number(v);
}

function digitsRule(value: string, what: string, min: number, max: number): void {
  if (typeof value !== 'string' || !new RegExp(`^[0-9]{${min},${max}}$`).test(value)) {
    invalid(`${what} must be ${min} to ${max} decimal digits`);
  }
}

/** PIN rule of docs/apdu.md (4 to 12 ASCII digits); throws `bad-card-message`. */
export function validatePin(pin: string): void {
  digitsRule(pin, 'the PIN', PIN_MIN_DIGITS, PIN_MAX_DIGITS);
}

/** PUK rule of docs/apdu.md (8 to 16 ASCII digits); throws `bad-card-message`. */
export function validatePuk(puk: string): void {
  digitsRule(puk, 'the PUK', PUK_MIN_DIGITS, PUK_MAX_DIGITS);
}

function validateAmount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) invalid(`${what} must be a non-negative integer of minor units`);
}

function validateHolder(holder: string): void {
  const ok = typeof holder === 'string' && !/[\u0000-\u001f\u007f]|\p{Cs}/u.test(holder);
  const n = ok ? utf8(holder).length : 0;
  if (!ok || n === 0 || n > HOLDER_MAX_BYTES)
    invalid(`the holder id must be 1-${HOLDER_MAX_BYTES} bytes of UTF-8 without control characters`);
}

// ----------------------------------------------------------------------------------- SELECT

/** What SELECT's FCI tells: nothing that identifies the card. */
export interface CardFci {
  version: number;
  /** Undefined on a factory-fresh card (suite code 0): PERSONALISE chooses it. */
  suite: SuiteId | undefined;
  /** Coin slots of the card's memory (0 before personalisation: the layout depends on the suite). */
  capacity: number;
}

export function encodeFci(fci: CardFci): Uint8Array {
  const proprietary = concatBytes(
    Uint8Array.of(0xc0, 1, fci.version),
    Uint8Array.of(0xc1, 1, fci.suite === undefined ? 0 : suiteCode(fci.suite)),
    Uint8Array.of(0xc2, 2),
    u16be(fci.capacity),
  );
  const body = concatBytes(Uint8Array.of(0x84, ECASH_AID.length), ECASH_AID, Uint8Array.of(0xa5, proprietary.length), proprietary);
  return concatBytes(Uint8Array.of(0x6f, body.length), body);
}

export function decodeFci(bytes: Uint8Array): CardFci {
  const r = new ByteReader(bytes, 'FCI');
  const expectTag = (tag: number, len?: number): number => {
    const t = r.u8();
    const l = r.u8();
    if (t !== tag || (len !== undefined && l !== len))
      invalid(
        `FCI: expected tag ${tag.toString(16)}${len === undefined ? '' : ` of ${len} bytes`}, got tag ${t.toString(16)} of ${l} bytes`,
      );
    return l;
  };
  const total = expectTag(0x6f);
  if (total !== r.remaining) invalid('FCI: template length does not match its contents');
  expectTag(0x84, ECASH_AID.length);
  const aid = r.take(ECASH_AID.length);
  if (!aid.every((b, i) => b === ECASH_AID[i])) invalid('FCI: not the e-cash applet');
  expectTag(0xa5, 10);
  expectTag(0xc0, 1);
  const version = r.u8();
  expectTag(0xc1, 1);
  const code = r.u8();
  const suite = code === 0 ? undefined : suiteFromCode(code);
  expectTag(0xc2, 2);
  const capacity = r.u16();
  r.end();
  return { version, suite, capacity };
}

// ----------------------------------------------------------------------------- PIN and PUK

/** VERIFY's data: the PIN's digits as ASCII. */
export function encodeVerify(pin: string): Uint8Array {
  validatePin(pin);
  return utf8(pin);
}

export function decodeVerify(data: Uint8Array): string {
  const pin = String.fromCharCode(...data);
  validatePin(pin);
  return pin;
}

/** CHANGE REFERENCE DATA and RESET RETRY COUNTER both carry two secrets as `str8 | str8`. */
interface SecretPair {
  names: [string, string];
  rules: [(v: string) => void, (v: string) => void];
}

const CHANGE_PIN: SecretPair = { names: ['old PIN', 'new PIN'], rules: [validatePin, validatePin] };
const UNBLOCK_PIN: SecretPair = { names: ['PUK', 'new PIN'], rules: [validatePuk, validatePin] };

function encodeSecretPair(pair: SecretPair, first: string, second: string): Uint8Array {
  pair.rules[0](first);
  pair.rules[1](second);
  return concatBytes(str8(first, pair.names[0]), str8(second, pair.names[1]));
}

function decodeSecretPair(pair: SecretPair, data: Uint8Array, what: string): [string, string] {
  const r = new ByteReader(data, what);
  const first = readStr8(r, pair.names[0]);
  const second = readStr8(r, pair.names[1]);
  r.end();
  pair.rules[0](first);
  pair.rules[1](second);
  return [first, second];
}

export interface ChangePinRequest {
  oldPin: string;
  newPin: string;
}

export function encodeChangePin(req: ChangePinRequest): Uint8Array {
  return encodeSecretPair(CHANGE_PIN, req.oldPin, req.newPin);
}

export function decodeChangePin(data: Uint8Array): ChangePinRequest {
  const [oldPin, newPin] = decodeSecretPair(CHANGE_PIN, data, 'CHANGE REFERENCE DATA');
  return { oldPin, newPin };
}

export interface UnblockPinRequest {
  puk: string;
  newPin: string;
}

export function encodeUnblockPin(req: UnblockPinRequest): Uint8Array {
  return encodeSecretPair(UNBLOCK_PIN, req.puk, req.newPin);
}

export function decodeUnblockPin(data: Uint8Array): UnblockPinRequest {
  const [puk, newPin] = decodeSecretPair(UNBLOCK_PIN, data, 'RESET RETRY COUNTER');
  return { puk, newPin };
}

// ------------------------------------------------------------------------------ PERSONALISE

export interface PersonaliseRequest {
  suite: SuiteId;
  pin: string;
  puk: string;
  /** Payments up to this total (minor units) need no PIN; 0: every payment needs it. */
  noPinLimit: number;
}

export function encodePersonalise(req: PersonaliseRequest): Uint8Array {
  validatePin(req.pin);
  validatePuk(req.puk);
  validateAmount(req.noPinLimit, 'the no-PIN limit');
  return concatBytes(Uint8Array.of(suiteCode(req.suite)), str8(req.pin, 'PIN'), str8(req.puk, 'PUK'), u64be(req.noPinLimit));
}

export function decodePersonalise(data: Uint8Array): PersonaliseRequest {
  const r = new ByteReader(data, 'PERSONALISE');
  const suite = suiteFromCode(r.u8());
  const pin = readStr8(r, 'PIN');
  const puk = readStr8(r, 'PUK');
  const noPinLimit = readSafeU64(r, 'the no-PIN limit');
  r.end();
  validatePin(pin);
  validatePuk(puk);
  return { suite, pin, puk, noPinLimit };
}

// ----------------------------------------------------------------------------- OPEN ACCOUNT

export function encodeOpenAccount(holder: string): Uint8Array {
  validateHolder(holder);
  return str8(holder, 'holder id');
}

export function decodeOpenAccount(data: Uint8Array): string {
  const r = new ByteReader(data, 'OPEN ACCOUNT');
  const holder = readStr8(r, 'holder id');
  r.end();
  validateHolder(holder);
  return holder;
}

/** `I | t | s`. */
export function encodeOpenAccountResponse(group: Group, opening: AccountOpening): Uint8Array {
  return concatBytes(group.encode(opening.I), group.encode(opening.proof.t), group.scalars.encode(opening.proof.s));
}

export function decodeOpenAccountResponse(group: Group, data: Uint8Array): AccountOpening {
  const r = new ByteReader(data, 'OPEN ACCOUNT response');
  const I = group.decode(r.take(group.elementLength), 'I');
  const t = group.decode(r.take(group.elementLength), 'proof.t');
  const s = group.scalars.decode(r.take(group.scalarLength), 'proof.s');
  r.end();
  return { I, proof: { t, s } };
}

// ------------------------------------------------------------------------------- WITHDRAWAL

/** WITHDRAW BEGIN: the key as terms (the card computes its id), z = (I·g2)^x and the bank's offer. */
export interface WithdrawBeginRequest {
  key: DenominationKey;
  z: GroupElement;
  offer: WithdrawalOffer;
}

export function encodeWithdrawBegin(group: Group, req: WithdrawBeginRequest): Uint8Array {
  const k = req.key;
  return concatBytes(
    group.encode(k.h),
    u64be(k.value),
    str8(k.currency, 'currency'),
    u64be(k.withdrawFrom),
    u64be(k.withdrawUntil),
    u64be(k.depositUntil),
    str8(k.scope, 'scope'),
    group.encode(req.z),
    group.encode(req.offer.a),
    group.encode(req.offer.b),
  );
}

export function decodeWithdrawBegin(group: Group, data: Uint8Array): WithdrawBeginRequest {
  const r = new ByteReader(data, 'WITHDRAW BEGIN');
  const h = group.decode(r.take(group.elementLength), 'h');
  const terms: DenominationTerms = {
    value: readSafeU64(r, 'value'),
    currency: readStr8(r, 'currency'),
    withdrawFrom: readSafeU64(r, 'withdrawFrom'),
    withdrawUntil: readSafeU64(r, 'withdrawUntil'),
    depositUntil: readSafeU64(r, 'depositUntil'),
    scope: readStr8(r, 'scope'),
  };
  const z = group.decode(r.take(group.elementLength), 'z');
  const a = group.decode(r.take(group.elementLength), 'a');
  const b = group.decode(r.take(group.elementLength), 'b');
  r.end();
  try {
    validateTerms(terms);
  } catch (cause) {
    throw new EcashError(
      'bad-card-message',
      `WITHDRAW BEGIN: the key terms are invalid: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  // Not makeDenominationKey: a card uses h once, so fixed-base tables for it would be wasted work.
  const key: DenominationKey = { ...terms, suite: group.suite, h, keyId: computeKeyId(group, h, terms) };
  return { key, z, offer: { a, b } };
}

/** WITHDRAW BEGIN's and WITHDRAW STATUS's answer: the key id the card computed and the blinded challenge. */
export interface WithdrawChallenge {
  keyId: Uint8Array;
  c: bigint;
}

export function encodeWithdrawChallenge(group: Group, ch: WithdrawChallenge): Uint8Array {
  return concatBytes(ch.keyId, group.scalars.encode(ch.c));
}

export function decodeWithdrawChallenge(group: Group, data: Uint8Array): WithdrawChallenge {
  const r = new ByteReader(data, 'withdrawal challenge');
  const keyId = r.take(KEY_ID_LENGTH).slice();
  const c = group.scalars.decode(r.take(group.scalarLength), 'c');
  r.end();
  return { keyId, c };
}

export function encodeWithdrawEnd(group: Group, r: bigint): Uint8Array {
  return group.scalars.encode(r);
}

export function decodeWithdrawEnd(group: Group, data: Uint8Array): bigint {
  const r = new ByteReader(data, 'WITHDRAW END');
  const value = group.scalars.decode(r.take(group.scalarLength), 'r');
  r.end();
  return value;
}

export interface WithdrawEndResponse {
  keyId: Uint8Array;
  /** Coin slots still free after storing this coin. */
  freeSlots: number;
}

export function encodeWithdrawEndResponse(res: WithdrawEndResponse): Uint8Array {
  return concatBytes(res.keyId, u16be(res.freeSlots));
}

export function decodeWithdrawEndResponse(data: Uint8Array): WithdrawEndResponse {
  const r = new ByteReader(data, 'WITHDRAW END response');
  const keyId = r.take(KEY_ID_LENGTH).slice();
  const freeSlots = r.u16();
  r.end();
  return { keyId, freeSlots };
}

// --------------------------------------------------------------------------------- BALANCE

/** Spendable coins of one denomination. */
export interface BalanceEntry {
  keyId: Uint8Array;
  value: number;
  currency: string;
  scope: string;
  depositUntil: number;
  count: number;
}

export function encodeBalance(entries: readonly BalanceEntry[]): Uint8Array {
  if (entries.length > 0xff) invalid('more than 255 denominations in one balance');
  return concatBytes(
    Uint8Array.of(entries.length),
    ...entries.map((e) =>
      concatBytes(e.keyId, u64be(e.value), str8(e.currency, 'currency'), str8(e.scope, 'scope'), u64be(e.depositUntil), u16be(e.count)),
    ),
  );
}

export function decodeBalance(data: Uint8Array): BalanceEntry[] {
  const r = new ByteReader(data, 'GET BALANCE response');
  const n = r.u8();
  const out: BalanceEntry[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      keyId: r.take(KEY_ID_LENGTH).slice(),
      value: readSafeU64(r, 'value'),
      currency: readStr8(r, 'currency'),
      scope: readStr8(r, 'scope'),
      depositUntil: readSafeU64(r, 'depositUntil'),
      count: r.u16(),
    });
  }
  r.end();
  return out;
}

// -------------------------------------------------------------------------------------- PAY

/**
 * PAY: the terminal names the amount, its currency and the keys whose coins it accepts (from its
 * own copy of the bank's key list: the right currency and scope, deposit deadline far enough,
 * withdrawal window started); the card chooses its coins among those keys.
 */
export interface PayRequest {
  context: PaymentContext;
  /** Minor units of `currency`, positive. */
  amount: number;
  currency: string;
  /** Distinct key ids, 1 to MAX_ACCEPTED_KEYS. */
  acceptedKeys: Uint8Array[];
}

function validatePayTerms(req: Pick<PayRequest, 'amount' | 'currency' | 'acceptedKeys'>): void {
  if (!Number.isSafeInteger(req.amount) || req.amount <= 0) invalid('PAY: the amount must be a positive integer of minor units');
  if (!isCurrencyCode(req.currency)) invalid('PAY: the currency must be an ISO 4217 code such as EUR');
  const keys = req.acceptedKeys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_ACCEPTED_KEYS)
    invalid(`PAY: a payment offers 1 to ${MAX_ACCEPTED_KEYS} keys`);
  const seen = new Set<string>();
  for (const k of keys) {
    if (!(k instanceof Uint8Array) || k.length !== KEY_ID_LENGTH) invalid(`PAY: a key id is ${KEY_ID_LENGTH} bytes`);
    const hex = Buffer.from(k).toString('hex');
    if (seen.has(hex)) invalid('PAY: a payment offers each key once');
    seen.add(hex);
  }
}

function badContext(cause: unknown): never {
  throw new EcashError('bad-card-message', `PAY: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

/** `str8 merchantId | str8 terminalId | u64 timestamp | nonce | u64 amount | str8 currency | u8 n | n × keyId`. */
export function encodePay(req: PayRequest): Uint8Array {
  const ctx = req.context;
  try {
    validatePaymentContext(ctx);
  } catch (cause) {
    badContext(cause);
  }
  validatePayTerms(req);
  return concatBytes(
    str8(ctx.merchantId, 'merchant id'),
    str8(ctx.terminalId, 'terminal id'),
    u64be(ctx.timestamp),
    ctx.nonce,
    u64be(req.amount),
    str8(req.currency, 'currency'),
    Uint8Array.of(req.acceptedKeys.length),
    ...req.acceptedKeys,
  );
}

export function decodePay(data: Uint8Array): PayRequest {
  const r = new ByteReader(data, 'PAY');
  const merchantId = readStr8(r, 'merchant id');
  const terminalId = readStr8(r, 'terminal id');
  const timestamp = readSafeU64(r, 'timestamp');
  const nonce = r.take(NONCE_LENGTH).slice();
  const amount = readSafeU64(r, 'amount');
  const currency = readStr8(r, 'currency');
  const n = r.u8();
  const acceptedKeys: Uint8Array[] = [];
  for (let i = 0; i < n; i++) acceptedKeys.push(r.take(KEY_ID_LENGTH).slice());
  r.end();
  const context = { merchantId, terminalId, timestamp, nonce };
  try {
    validatePaymentContext(context);
  } catch (cause) {
    badContext(cause);
  }
  const req = { context, amount, currency, acceptedKeys };
  validatePayTerms(req);
  return req;
}

/** One spent coin as the card answers it. */
export interface PaidCoin extends PaymentResponse {
  coin: Coin;
}

function paidCoinBytes(group: Group, p: PaidCoin): Uint8Array {
  return concatBytes(coinBody(group, p.coin), group.scalars.encode(p.r1), group.scalars.encode(p.r2));
}

export function encodePayResponse(group: Group, coins: readonly PaidCoin[]): Uint8Array {
  if (coins.length > MAX_COINS_PER_PAYMENT) invalid(`a payment spends at most ${MAX_COINS_PER_PAYMENT} coins`);
  return concatBytes(Uint8Array.of(coins.length), ...coins.map((p) => paidCoinBytes(group, p)));
}

export function decodePayResponse(group: Group, data: Uint8Array): PaidCoin[] {
  const r = new ByteReader(data, 'PAY response');
  const n = r.u8();
  const out: PaidCoin[] = [];
  for (let i = 0; i < n; i++) {
    const coin = readCoinBody(group, r);
    out.push({
      coin,
      r1: group.scalars.decode(r.take(group.scalarLength), 'r1'),
      r2: group.scalars.decode(r.take(group.scalarLength), 'r2'),
    });
  }
  r.end();
  return out;
}

/** The transcripts a terminal keeps, from its own request and the card's answer. */
export function paymentTranscripts(context: PaymentContext, paid: readonly PaidCoin[]): Transcript[] {
  return paid.map((p) => ({ ...context, coin: p.coin, r1: p.r1, r2: p.r2 }));
}

// -------------------------------------------------------------------------------- READ LOG

export interface PaymentLogEntry {
  timestamp: number;
  merchantId: string;
  terminalId: string;
  amount: number;
  currency: string;
  coins: number;
}

export function encodeLog(entries: readonly PaymentLogEntry[]): Uint8Array {
  if (entries.length > 0xff) invalid('more than 255 log entries');
  return concatBytes(
    Uint8Array.of(entries.length),
    ...entries.map((e) =>
      concatBytes(
        u64be(e.timestamp),
        str8(e.merchantId, 'merchant id'),
        str8(e.terminalId, 'terminal id'),
        u64be(e.amount),
        str8(e.currency, 'currency'),
        Uint8Array.of(e.coins),
      ),
    ),
  );
}

export function decodeLog(data: Uint8Array): PaymentLogEntry[] {
  const r = new ByteReader(data, 'READ LOG response');
  const n = r.u8();
  const out: PaymentLogEntry[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      timestamp: readSafeU64(r, 'timestamp'),
      merchantId: readStr8(r, 'merchant id'),
      terminalId: readStr8(r, 'terminal id'),
      amount: readSafeU64(r, 'amount'),
      currency: readStr8(r, 'currency'),
      coins: r.u8(),
    });
  }
  r.end();
  return out;
}

// ------------------------------------------------------------------------------- SET LIMIT

/**
 * SET LIMIT carries the PIN itself (`str8 PIN | u64 limit`): a new limit decides what can be paid
 * without the PIN, so it is authorised on its own, never by a verification of the session.
 */
export interface SetLimitRequest {
  pin: string;
  limit: number;
}

export function encodeSetLimit(req: SetLimitRequest): Uint8Array {
  validatePin(req.pin);
  validateAmount(req.limit, 'the no-PIN limit');
  return concatBytes(str8(req.pin, 'PIN'), u64be(req.limit));
}

export function decodeSetLimit(data: Uint8Array): SetLimitRequest {
  const r = new ByteReader(data, 'SET LIMIT');
  const pin = readStr8(r, 'PIN');
  const limit = readSafeU64(r, 'the no-PIN limit');
  r.end();
  validatePin(pin);
  return { pin, limit };
}

// -------------------------------------------------------------------------------- GET COST

/** The work one command did: group and scalar operations (core's OpCounts) and memory writes. */
export interface CommandCost extends OpCounts {
  /** Bytes written to persistent memory (journal included) and how many writes. */
  nvmBytesWritten: number;
  nvmWrites: number;
}

/** Wire order of GET COST's u32 fields. */
export const COST_FIELDS = [
  'exp',
  'multiExp',
  'multiExpBases',
  'groupMul',
  'scalarMul',
  'scalarAdd',
  'scalarInv',
  'hash',
  'decode',
  'nvmBytesWritten',
  'nvmWrites',
] as const satisfies readonly (keyof CommandCost)[];

export function encodeCost(cost: CommandCost): Uint8Array {
  return concatBytes(...COST_FIELDS.map((f) => u32be(Math.min(cost[f], 0xffffffff))));
}

export function decodeCost(data: Uint8Array): CommandCost {
  const r = new ByteReader(data, 'GET COST response');
  const cost = {} as Record<(typeof COST_FIELDS)[number], number>;
  for (const f of COST_FIELDS) cost[f] = r.u32();
  r.end();
  return cost;
}
