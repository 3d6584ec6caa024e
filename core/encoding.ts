/**
 * Versioned binary and JSON encodings of coins, transcripts, keys and double-spend proofs, with
 * strict parsing (exact lengths, canonical elements, reduced scalars, no unknown fields).
 *
 * JSON (lowercase hex byte strings, scalars as 32-byte big-endian hex):
 *   coin        {"A","B","z","a","b","r"}                      (z, a, b, r are z', a', b', r')
 *   transcript  {"keyId","coin","merchantId","terminalId","timestamp","nonce","r1","r2"}
 *   key         {"version":1,"suite","keyId","h","value","currency","withdrawFrom","withdrawUntil","depositUntil","scope"}
 *   proof       {"version":1,"type":"ecash-double-spend-proof","suite","key","transcripts":[t,t],"u1","I"}
 * Coins and transcripts are versioned by the document that carries them (key, proof, batch).
 *
 * Binary: every object starts with a version byte (1) and a suite code (1 ristretto255-sha512,
 * 2 p256-uprove, 3 modp2048-256); elements at the suite's fixed length, scalars 32 bytes,
 * strings as u16 length + UTF-8, integers as u64 big-endian.
 */
import { ByteReader, bytesEqual, concatBytes, fromHex, toHex, u16be, u64be, utf8 } from './bytes.js';
import type { Coin } from './coin.js';
import { coinIdOfEncoded, type DoubleSpendProof } from './double-spend.js';
import { EcashError } from './errors.js';
import type { Group } from './group.js';
import { expectArray, expectLiteral, expectObject, expectSafeInteger, expectString } from './json.js';
import { computeKeyId, type DenominationKey, makeDenominationKey } from './keys.js';
import { NONCE_LENGTH, type Transcript, validatePaymentContext } from './payment.js';
import { SUITE_IDS, type SuiteId } from './suite-ids.js';

export const ENCODING_VERSION = 1;
export const KEY_ID_LENGTH = 32;

export interface CoinJson {
  A: string;
  B: string;
  z: string;
  a: string;
  b: string;
  r: string;
}

export interface TranscriptJson {
  keyId: string;
  coin: CoinJson;
  merchantId: string;
  terminalId: string;
  timestamp: number;
  nonce: string;
  r1: string;
  r2: string;
}

export interface KeyJson {
  version: 1;
  suite: SuiteId;
  keyId: string;
  h: string;
  value: number;
  currency: string;
  withdrawFrom: number;
  withdrawUntil: number;
  depositUntil: number;
  scope: string;
}

export interface DoubleSpendProofJson {
  version: 1;
  type: 'ecash-double-spend-proof';
  suite: SuiteId;
  key: KeyJson;
  transcripts: [TranscriptJson, TranscriptJson];
  u1: string;
  I: string;
}

// ---------------------------------------------------------------------------------------- JSON

const COIN_FIELDS = ['A', 'B', 'z', 'a', 'b'] as const;

export function coinToJson(group: Group, coin: Coin): CoinJson {
  return {
    A: toHex(group.encode(coin.A)),
    B: toHex(group.encode(coin.B)),
    z: toHex(group.encode(coin.z)),
    a: toHex(group.encode(coin.a)),
    b: toHex(group.encode(coin.b)),
    r: toHex(group.scalars.encode(coin.r)),
  };
}

export function coinFromJson(group: Group, keyId: Uint8Array, v: unknown, what = 'coin'): Coin {
  const o = expectObject(v, what, [...COIN_FIELDS, 'r']);
  const el = (k: (typeof COIN_FIELDS)[number]) => group.decode(fromHex(expectString(o[k], `${what}.${k}`), `${what}.${k}`), `${what}.${k}`);
  return {
    keyId,
    A: el('A'),
    B: el('B'),
    z: el('z'),
    a: el('a'),
    b: el('b'),
    r: group.scalars.decode(fromHex(expectString(o.r, `${what}.r`), `${what}.r`), `${what}.r`),
  };
}

export function transcriptToJson(group: Group, t: Transcript): TranscriptJson {
  return {
    keyId: toHex(t.coin.keyId),
    coin: coinToJson(group, t.coin),
    merchantId: t.merchantId,
    terminalId: t.terminalId,
    timestamp: t.timestamp,
    nonce: toHex(t.nonce),
    r1: toHex(group.scalars.encode(t.r1)),
    r2: toHex(group.scalars.encode(t.r2)),
  };
}

export function transcriptFromJson(group: Group, v: unknown, what = 'transcript'): Transcript {
  const o = expectObject(v, what, ['keyId', 'coin', 'merchantId', 'terminalId', 'timestamp', 'nonce', 'r1', 'r2']);
  const keyId = fromHex(expectString(o.keyId, `${what}.keyId`), `${what}.keyId`, KEY_ID_LENGTH);
  const scalar = (k: 'r1' | 'r2') => group.scalars.decode(fromHex(expectString(o[k], `${what}.${k}`), `${what}.${k}`), `${what}.${k}`);
  const t: Transcript = {
    coin: coinFromJson(group, keyId, o.coin, `${what}.coin`),
    merchantId: expectString(o.merchantId, `${what}.merchantId`),
    terminalId: expectString(o.terminalId, `${what}.terminalId`),
    timestamp: expectSafeInteger(o.timestamp, `${what}.timestamp`),
    nonce: fromHex(expectString(o.nonce, `${what}.nonce`), `${what}.nonce`, NONCE_LENGTH),
    r1: scalar('r1'),
    r2: scalar('r2'),
  };
  validatePaymentContext(t);
  return t;
}

export function keyToJson(group: Group, key: DenominationKey): KeyJson {
  return {
    version: ENCODING_VERSION,
    suite: key.suite,
    keyId: toHex(key.keyId),
    h: toHex(group.encode(key.h)),
    value: key.value,
    currency: key.currency,
    withdrawFrom: key.withdrawFrom,
    withdrawUntil: key.withdrawUntil,
    depositUntil: key.depositUntil,
    scope: key.scope,
  };
}

/** Parses a key and checks that its key id matches its contents. */
export function keyFromJson(group: Group, v: unknown, what = 'key'): DenominationKey {
  const o = expectObject(v, what, [
    'version',
    'suite',
    'keyId',
    'h',
    'value',
    'currency',
    'withdrawFrom',
    'withdrawUntil',
    'depositUntil',
    'scope',
  ]);
  expectLiteral(o.version, `${what}.version`, ENCODING_VERSION);
  expectLiteral(o.suite, `${what}.suite`, group.suite);
  const key = makeDenominationKey(group, group.decode(fromHex(expectString(o.h, `${what}.h`), `${what}.h`), `${what}.h`), {
    value: expectSafeInteger(o.value, `${what}.value`, 1),
    currency: expectString(o.currency, `${what}.currency`),
    withdrawFrom: expectSafeInteger(o.withdrawFrom, `${what}.withdrawFrom`),
    withdrawUntil: expectSafeInteger(o.withdrawUntil, `${what}.withdrawUntil`),
    depositUntil: expectSafeInteger(o.depositUntil, `${what}.depositUntil`),
    scope: expectString(o.scope, `${what}.scope`),
  });
  const claimed = fromHex(expectString(o.keyId, `${what}.keyId`), `${what}.keyId`, KEY_ID_LENGTH);
  if (!bytesEqual(claimed, key.keyId)) throw new EcashError('bad-key-id', `${what}.keyId does not match the key's contents`);
  return key;
}

export function proofToJson(group: Group, p: DoubleSpendProof): DoubleSpendProofJson {
  return {
    version: ENCODING_VERSION,
    type: 'ecash-double-spend-proof',
    suite: group.suite,
    key: keyToJson(group, p.key),
    transcripts: [transcriptToJson(group, p.transcripts[0]), transcriptToJson(group, p.transcripts[1])],
    u1: toHex(group.scalars.encode(p.u1)),
    I: toHex(group.encode(p.I)),
  };
}

/** Parses a proof's structure and encodings; `verifyDoubleSpendProof` then checks its meaning. */
export function proofFromJson(group: Group, v: unknown, what = 'proof'): DoubleSpendProof {
  const o = expectObject(v, what, ['version', 'type', 'suite', 'key', 'transcripts', 'u1', 'I']);
  expectLiteral(o.version, `${what}.version`, ENCODING_VERSION);
  expectLiteral(o.type, `${what}.type`, 'ecash-double-spend-proof');
  expectLiteral(o.suite, `${what}.suite`, group.suite);
  const ts = expectArray(o.transcripts, `${what}.transcripts`, 2);
  return {
    key: keyFromJson(group, o.key, `${what}.key`),
    transcripts: [transcriptFromJson(group, ts[0], `${what}.transcripts[0]`), transcriptFromJson(group, ts[1], `${what}.transcripts[1]`)],
    u1: group.scalars.decode(fromHex(expectString(o.u1, `${what}.u1`), `${what}.u1`), `${what}.u1`),
    I: group.decode(fromHex(expectString(o.I, `${what}.I`), `${what}.I`), `${what}.I`),
  };
}

/** The suite a JSON document declares, so the caller can pick the group before parsing. */
export function suiteOfJson(v: unknown, what = 'document'): SuiteId {
  if (typeof v !== 'object' || v === null) throw new EcashError('bad-json', `${what} must be a JSON object`);
  const s = (v as Record<string, unknown>).suite;
  if (typeof s !== 'string' || !(SUITE_IDS as readonly string[]).includes(s)) {
    throw new EcashError('unknown-suite', `${what}.suite must be one of ${SUITE_IDS.join(', ')}`);
  }
  return s as SuiteId;
}

// -------------------------------------------------------------------------------------- binary

export function suiteCode(suite: SuiteId): number {
  return SUITE_IDS.indexOf(suite) + 1;
}

function readHeader(r: ByteReader, group: Group, what: string): void {
  const version = r.u8();
  if (version !== ENCODING_VERSION) throw new EcashError('bad-version', `${what}: unsupported encoding version ${version}`);
  const code = r.u8();
  if (code !== suiteCode(group.suite)) throw new EcashError('wrong-suite', `${what} is not of suite ${group.suite}`);
}

const header = (group: Group) => new Uint8Array([ENCODING_VERSION, suiteCode(group.suite)]);
const str16 = (s: string) => {
  const b = utf8(s);
  if (b.length > 0xffff) throw new EcashError('out-of-range', 'string too long to encode');
  return concatBytes(u16be(b.length), b);
};
const readStr16 = (r: ByteReader, what: string): string => {
  try {
    // ignoreBOM keeps a leading U+FEFF in the string: stripped, two encodings would decode to one
    // value, and bytes a bank checked would not be the encoding of what it verified.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(r.var16());
  } catch (cause) {
    if (cause instanceof EcashError) throw cause;
    throw new EcashError('bad-utf8', `${what} is not valid UTF-8`, { cause });
  }
};

/** A coin without version and suite header: key id, A, B, z', a', b', r' (also the card's PAY answer). */
export function coinBody(group: Group, c: Coin): Uint8Array {
  return concatBytes(
    c.keyId,
    group.encode(c.A),
    group.encode(c.B),
    group.encode(c.z),
    group.encode(c.a),
    group.encode(c.b),
    group.scalars.encode(c.r),
  );
}

export function readCoinBody(group: Group, r: ByteReader): Coin {
  const n = group.elementLength;
  const keyId = r.take(KEY_ID_LENGTH).slice();
  return {
    keyId,
    A: group.decode(r.take(n), 'coin.A'),
    B: group.decode(r.take(n), 'coin.B'),
    z: group.decode(r.take(n), 'coin.z'),
    a: group.decode(r.take(n), 'coin.a'),
    b: group.decode(r.take(n), 'coin.b'),
    r: group.scalars.decode(r.take(32), 'coin.r'),
  };
}

export function encodeCoin(group: Group, c: Coin): Uint8Array {
  return concatBytes(header(group), coinBody(group, c));
}

export function decodeCoin(group: Group, bytes: Uint8Array): Coin {
  const r = new ByteReader(bytes, 'coin');
  readHeader(r, group, 'coin');
  const c = readCoinBody(group, r);
  r.end();
  return c;
}

export function encodeTranscript(group: Group, t: Transcript): Uint8Array {
  return concatBytes(
    header(group),
    coinBody(group, t.coin),
    str16(t.merchantId),
    str16(t.terminalId),
    u64be(t.timestamp),
    t.nonce,
    group.scalars.encode(t.r1),
    group.scalars.encode(t.r2),
  );
}

/**
 * The coin id (`coinIdOfEncoded`) of a transcript in binary form, read from its key id, A and B as
 * they are encoded, without decoding anything: the bank computes it for every deposit and for
 * every stored transcript when its database is migrated.
 */
export function transcriptCoinId(group: Group, bytes: Uint8Array): Uint8Array {
  const r = new ByteReader(bytes, 'transcript');
  readHeader(r, group, 'transcript');
  const n = group.elementLength;
  return coinIdOfEncoded(group.suite, r.take(KEY_ID_LENGTH), r.take(n), r.take(n));
}

/**
 * A transcript's JSON as its binary encoding, field by field, without decoding a group element:
 * the JSON form is the binary form's fields in hex, so a bank rebuilds the bytes the terminal
 * stored, decodes them once (`decodeTranscript`, strict) and books exactly the bytes it verified.
 * Checks the JSON's shape and each field's length; what the bytes hold is the decoder's to check.
 */
export function transcriptBytesFromJson(group: Group, v: unknown, what = 'transcript'): Uint8Array {
  const o = expectObject(v, what, ['keyId', 'coin', 'merchantId', 'terminalId', 'timestamp', 'nonce', 'r1', 'r2']);
  const c = expectObject(o.coin, `${what}.coin`, [...COIN_FIELDS, 'r']);
  const hex = (x: unknown, field: string, length: number) => fromHex(expectString(x, `${what}.${field}`), `${what}.${field}`, length);
  const id = (x: unknown, field: string) => {
    const s = expectString(x, `${what}.${field}`);
    // A lone surrogate would be encoded as U+FFFD: the bytes would not say what the JSON says.
    if (/\p{Cs}/u.test(s)) throw new EcashError('bad-payment-context', `${what}.${field} is not well-formed UTF-16`);
    return str16(s);
  };
  return concatBytes(
    header(group),
    hex(o.keyId, 'keyId', KEY_ID_LENGTH),
    ...COIN_FIELDS.map((k) => hex(c[k], `coin.${k}`, group.elementLength)),
    hex(c.r, 'coin.r', group.scalarLength),
    id(o.merchantId, 'merchantId'),
    id(o.terminalId, 'terminalId'),
    u64be(expectSafeInteger(o.timestamp, `${what}.timestamp`)),
    hex(o.nonce, 'nonce', NONCE_LENGTH),
    hex(o.r1, 'r1', group.scalarLength),
    hex(o.r2, 'r2', group.scalarLength),
  );
}

/**
 * The JSON of a transcript in binary form, field by field, without decoding a group element: how
 * a terminal sends the bytes its journal holds (the bank rebuilds them with `transcriptBytesFromJson`).
 */
export function transcriptJsonFromBytes(group: Group, bytes: Uint8Array): TranscriptJson {
  const r = new ByteReader(bytes, 'transcript');
  readHeader(r, group, 'transcript');
  const n = group.elementLength;
  const hex = (length: number) => toHex(r.take(length));
  const keyId = hex(KEY_ID_LENGTH);
  const coin = { A: hex(n), B: hex(n), z: hex(n), a: hex(n), b: hex(n), r: hex(group.scalarLength) };
  const merchantId = readStr16(r, 'transcript.merchantId');
  const terminalId = readStr16(r, 'transcript.terminalId');
  const timestamp = r.u64();
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw new EcashError('bad-payment-context', 'transcript timestamp out of range');
  const json = {
    keyId,
    coin,
    merchantId,
    terminalId,
    timestamp: Number(timestamp),
    nonce: hex(NONCE_LENGTH),
    r1: hex(group.scalarLength),
    r2: hex(group.scalarLength),
  };
  r.end();
  return json;
}

export function decodeTranscript(group: Group, bytes: Uint8Array): Transcript {
  const r = new ByteReader(bytes, 'transcript');
  readHeader(r, group, 'transcript');
  const coin = readCoinBody(group, r);
  const merchantId = readStr16(r, 'transcript.merchantId');
  const terminalId = readStr16(r, 'transcript.terminalId');
  const ts = r.u64();
  if (ts > BigInt(Number.MAX_SAFE_INTEGER)) throw new EcashError('bad-payment-context', 'transcript timestamp out of range');
  const t: Transcript = {
    coin,
    merchantId,
    terminalId,
    timestamp: Number(ts),
    nonce: r.take(NONCE_LENGTH).slice(),
    r1: group.scalars.decode(r.take(32), 'transcript.r1'),
    r2: group.scalars.decode(r.take(32), 'transcript.r2'),
  };
  r.end();
  validatePaymentContext(t);
  return t;
}

export function encodeKey(group: Group, k: DenominationKey): Uint8Array {
  return concatBytes(
    header(group),
    group.encode(k.h),
    u64be(k.value),
    str16(k.currency),
    u64be(k.withdrawFrom),
    u64be(k.withdrawUntil),
    u64be(k.depositUntil),
    str16(k.scope),
    k.keyId,
  );
}

export function decodeKey(group: Group, bytes: Uint8Array): DenominationKey {
  const r = new ByteReader(bytes, 'key');
  readHeader(r, group, 'key');
  const h = group.decode(r.take(group.elementLength), 'key.h');
  const num = (what: string) => {
    const v = r.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new EcashError('out-of-range', `key.${what} out of range`);
    return Number(v);
  };
  const value = num('value');
  const currency = readStr16(r, 'key.currency');
  const withdrawFrom = num('withdrawFrom');
  const withdrawUntil = num('withdrawUntil');
  const depositUntil = num('depositUntil');
  const scope = readStr16(r, 'key.scope');
  const claimed = r.take(KEY_ID_LENGTH);
  r.end();
  const key = makeDenominationKey(group, h, { value, currency, withdrawFrom, withdrawUntil, depositUntil, scope });
  if (!bytesEqual(claimed, computeKeyId(group, h, key))) throw new EcashError('bad-key-id', 'key id does not match the key contents');
  return key;
}

export function encodeProof(group: Group, p: DoubleSpendProof): Uint8Array {
  const v16 = (b: Uint8Array) => concatBytes(u16be(b.length), b);
  return concatBytes(
    header(group),
    v16(encodeKey(group, p.key)),
    v16(encodeTranscript(group, p.transcripts[0])),
    v16(encodeTranscript(group, p.transcripts[1])),
    group.scalars.encode(p.u1),
    group.encode(p.I),
  );
}

export function decodeProof(group: Group, bytes: Uint8Array): DoubleSpendProof {
  const r = new ByteReader(bytes, 'proof');
  readHeader(r, group, 'proof');
  const key = decodeKey(group, r.var16());
  const t1 = decodeTranscript(group, r.var16());
  const t2 = decodeTranscript(group, r.var16());
  const u1 = group.scalars.decode(r.take(32), 'proof.u1');
  const I = group.decode(r.take(group.elementLength), 'proof.I');
  r.end();
  return { key, transcripts: [t1, t2], u1, I };
}
