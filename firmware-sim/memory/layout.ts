/**
 * The applet's memory map: fixed-size records at fixed offsets, computed from the image
 * capacity and the suite's element length (docs/card.md, "Memory layout"). Every record ends in
 * a CRC-32 of its other bytes (the integrity check a chip's EEPROM gives in hardware); a record of
 * all zero bytes is valid and empty (never written).
 */
import { EcashError } from '../../core/index.js';

export const SCALAR = 32;
export const KEY_ID = 32;
/** Longest string field (merchant id, terminal id, scope) and the currency code. */
export const STR_MAX = 64;
export const STR_FIELD = 1 + STR_MAX;
export const CURRENCY = 3;
const CRC = 4;

/** Journal capacity: the largest transaction is a 32-coin payment (docs/card.md). */
export const JOURNAL_CAPACITY = 4096;
export const KEY_ENTRIES = 16;
export const LOG_ENTRIES = 10;
/** Images from 16 KiB (room for a coin in every suite) to 1 MiB. */
export const MIN_CAPACITY = 16 * 1024;
export const MAX_CAPACITY = 1024 * 1024;
export const DEFAULT_CAPACITY = 32 * 1024;
const MAX_SLOTS = 0xffff;

export interface RecordSpec {
  offset: number;
  /** Bytes including the trailing CRC. */
  length: number;
}

/** Field offsets inside the account record. */
export const ACCOUNT = {
  state: 0,
  suite: 1,
  u1: 2,
  I: 34,
} as const;
/** Offsets after I (which is `elementLength` long). */
export const ACCOUNT_AFTER_I = {
  pinSalt: 0,
  pinHash: 16,
  pinTries: 48,
  pukSalt: 49,
  pukHash: 65,
  pukTries: 97,
  noPinLimit: 98,
  paymentSeq: 106,
  /** Image format 2: the amount paid without the PIN since the last PIN verification (u64). */
  noPinSpent: 110,
  end: 118,
} as const;
export const ACCOUNT_PERSONALISED = 0xa5;

/** Pending withdrawal: state | c u v' s x1 x2 | keyId | terms | h z a b | A B z' a' b'. */
export const PENDING_SECRETS_END = 1 + 6 * SCALAR;
/** Coin slot (state 0 = free): state | key index | u32 payment seq | u8 position | 96 bytes secrets or answer | A B z' a' b' | r'. */
export const SLOT = { state: 0, keyIndex: 1, paySeq: 2, payPos: 6, secrets: 7, elements: 103 } as const;
export const SLOT_MUTABLE_END = SLOT.elements;
export const SLOT_SPENDABLE = 1;
export const SLOT_SPENT = 2;

export interface Layout {
  elementLength: number;
  account: RecordSpec;
  pending: RecordSpec;
  keys: RecordSpec[];
  log: RecordSpec[];
  lastPayment: RecordSpec;
  slots: RecordSpec[];
  /** Every record, for integrity checks. */
  all: RecordSpec[];
}

export const accountLength = (e: number): number => ACCOUNT.I + e + ACCOUNT_AFTER_I.end + CRC;
export const pendingLength = (e: number): number => PENDING_SECRETS_END + KEY_ID + 4 * 8 + CURRENCY + STR_FIELD + 9 * e + CRC;
export const KEY_RECORD_LENGTH = 1 + KEY_ID + 8 + 8 + CURRENCY + STR_FIELD + CRC;
export const LOG_RECORD_LENGTH = 4 + 8 + 8 + CURRENCY + 1 + 2 * STR_FIELD + CRC;
export const LAST_PAYMENT_LENGTH = 4 + 32 + 1 + CRC;
export const slotLength = (e: number): number => SLOT.elements + 5 * e + SCALAR + CRC;

function run(start: number, count: number, length: number): RecordSpec[] {
  return Array.from({ length: count }, (_, i) => ({ offset: start + i * length, length }));
}

/** The memory map of an image whose applet data starts at `dataOffset`. */
export function computeLayout(capacity: number, dataOffset: number, elementLength: number): Layout {
  const e = elementLength;
  let off = dataOffset;
  const take = (length: number): RecordSpec => {
    const r = { offset: off, length };
    off += length;
    return r;
  };
  const account = take(accountLength(e));
  const pending = take(pendingLength(e));
  const keys = run(off, KEY_ENTRIES, KEY_RECORD_LENGTH);
  off += KEY_ENTRIES * KEY_RECORD_LENGTH;
  const log = run(off, LOG_ENTRIES, LOG_RECORD_LENGTH);
  off += LOG_ENTRIES * LOG_RECORD_LENGTH;
  const lastPayment = take(LAST_PAYMENT_LENGTH);
  const slotCount = Math.min(MAX_SLOTS, Math.max(0, Math.floor((capacity - off) / slotLength(e))));
  const slots = run(off, slotCount, slotLength(e));
  return {
    elementLength: e,
    account,
    pending,
    keys,
    log,
    lastPayment,
    slots,
    all: [account, pending, ...keys, ...log, lastPayment, ...slots],
  };
}

export function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY) {
    throw new EcashError('bad-capacity', `card capacity must be a whole number of bytes from ${MIN_CAPACITY} to ${MAX_CAPACITY}`);
  }
}
