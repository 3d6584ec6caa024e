/**
 * The versioned JSON and binary encodings of coins, transcripts, keys and double-spend proofs:
 * exact round trips, the documented layouts, and strict parsing where every malformed input is
 * refused with an EcashError (never a TypeError or RangeError from deep inside).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bigIntToBytes,
  bytesEqual,
  bytesToBigInt,
  concatBytes,
  coinFromJson,
  coinToJson,
  decodeCoin,
  decodeKey,
  decodeProof,
  decodeTranscript,
  type DenominationSecret,
  type DoubleSpendProof,
  encodeCoin,
  encodeKey,
  encodeProof,
  encodeTranscript,
  fromHex,
  getGroup,
  isEcashError,
  keyFromJson,
  keyToJson,
  makeDoubleSpendProof,
  proofFromJson,
  proofToJson,
  SUITE_IDS,
  seededRandom,
  suiteCode,
  suiteOfJson,
  type Transcript,
  toHex,
  transcriptBytesFromJson,
  transcriptFromJson,
  transcriptJsonFromBytes,
  transcriptToJson,
  u64be,
  verifyDoubleSpendProof,
  verifyTranscript,
} from '../../core/index.js';
import { expectCode } from './expect-code.js';
import { bankKey, openAccount, paymentContext, spend, withdraw } from './fixtures.js';

/** A JSON value through text and back, as it would cross a wire. */
const wire = <T>(v: T): unknown => JSON.parse(JSON.stringify(v));

/** Runs `fn`; it may succeed, but if it throws, it must be an EcashError. */
function onlyEcashErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!isEcashError(e)) throw new Error(`expected an EcashError, got ${String(e)}`);
  }
}

const RUNS: Record<(typeof SUITE_IDS)[number], number> = { 'ristretto255-sha512': 60, 'p256-uprove': 40, 'modp2048-256': 8 };

describe.each(SUITE_IDS)('%s encodings', (suite) => {
  const G = getGroup(suite);
  const rng = seededRandom(`encoding-test/${suite}`);
  let bank: DenominationSecret;
  let t1: Transcript;
  let proof: DoubleSpendProof;

  beforeAll(() => {
    bank = bankKey(G, rng, 200, 'CHF', 'transit');
    const alice = openAccount(G, 'alice', rng);
    const w = withdraw(G, bank, alice, rng);
    t1 = spend(G, alice, w, paymentContext(rng, 'café-1', 'kasse 7'));
    const t2 = spend(G, alice, w, paymentContext(rng, 'shop-2'));
    proof = makeDoubleSpendProof(G, bank.key, t1, t2);
  });

  describe('round trips', () => {
    it("coin: JSON and binary (version 1, suite code, keyId, A, B, z', a', b', r')", () => {
      const coin = t1.coin;
      const json = wire(coinToJson(G, coin));
      expect(Object.keys(json as object)).toEqual(['A', 'B', 'z', 'a', 'b', 'r']);
      expect(toHex(encodeCoin(G, coinFromJson(G, coin.keyId, json)))).toBe(toHex(encodeCoin(G, coin)));
      const bin = encodeCoin(G, coin);
      expect(bin.length).toBe(2 + 32 + 5 * G.elementLength + 32);
      expect([bin[0], bin[1]]).toEqual([1, suiteCode(suite)]);
      expect(toHex(bin.subarray(2, 34))).toBe(toHex(coin.keyId));
      expect(toHex(bin.subarray(34, 34 + G.elementLength))).toBe(toHex(G.encode(coin.A)));
      expect(toHex(encodeCoin(G, decodeCoin(G, bin)))).toBe(toHex(bin));
    });

    it('transcript: JSON and binary, still verifying after the trip', () => {
      const json = wire(transcriptToJson(G, t1));
      const fromJson = transcriptFromJson(G, json);
      expect(verifyTranscript(G, bank.key, fromJson)).toBe(true);
      expect(wire(transcriptToJson(G, fromJson))).toEqual(json);
      const bin = encodeTranscript(G, t1);
      const mid = utf8Length(t1.merchantId);
      const tid = utf8Length(t1.terminalId);
      expect(bin.length).toBe(2 + 32 + 5 * G.elementLength + 32 + 2 + mid + 2 + tid + 8 + 16 + 32 + 32);
      const fromBin = decodeTranscript(G, bin);
      expect(fromBin.merchantId).toBe('café-1');
      expect(verifyTranscript(G, bank.key, fromBin)).toBe(true);
      expect(toHex(encodeTranscript(G, fromBin))).toBe(toHex(bin));
    });

    it('transcript: the JSON is the binary form field by field, both ways without decoding an element', () => {
      const bin = encodeTranscript(G, t1);
      const json = transcriptToJson(G, t1);
      expect(wire(transcriptJsonFromBytes(G, bin))).toEqual(wire(json));
      expect(toHex(transcriptBytesFromJson(G, wire(json)))).toBe(toHex(bin));
      expectCode(() => transcriptJsonFromBytes(G, bin.subarray(0, bin.length - 1)), 'truncated');
      expectCode(() => transcriptJsonFromBytes(G, concatBytes(bin, new Uint8Array(1))), 'trailing-bytes');
    });

    it('transcript: bytes that decode are the encoding of what they decode to (one-to-one), a leading U+FEFF included', () => {
      const bom = { ...t1, merchantId: '\uFEFFcafé-1', terminalId: '\uFEFF' };
      expect(decodeTranscript(G, encodeTranscript(G, bom))).toMatchObject({ merchantId: bom.merchantId, terminalId: '\uFEFF' });
      const orig = encodeTranscript(G, t1);
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), (edits) => {
          const bytes = orig.slice();
          for (const [pos, val] of edits) bytes[pos % bytes.length] = val;
          let t: Transcript;
          try {
            t = decodeTranscript(G, bytes);
          } catch (e) {
            if (isEcashError(e)) return;
            throw e;
          }
          expect(toHex(encodeTranscript(G, t))).toBe(toHex(bytes));
          expect(toHex(transcriptBytesFromJson(G, wire(transcriptJsonFromBytes(G, bytes))))).toBe(toHex(bytes));
        }),
        { numRuns: RUNS[suite] * 4 },
      );
    });

    it('key: JSON and binary, with the key id checked against the contents', () => {
      const json = wire(keyToJson(G, bank.key));
      expect(json).toMatchObject({ version: 1, suite, value: 200, currency: 'CHF', scope: 'transit' });
      const k = keyFromJson(G, json);
      expect(toHex(k.keyId)).toBe(toHex(bank.key.keyId));
      expect(G.equals(k.h, bank.key.h)).toBe(true);
      const bin = encodeKey(G, bank.key);
      expect(toHex(encodeKey(G, decodeKey(G, bin)))).toBe(toHex(bin));
      expect(toHex(bin.subarray(bin.length - 32))).toBe(toHex(bank.key.keyId));
    });

    it('double-spend proof: JSON and binary, still verifying after the trip', () => {
      const json = wire(proofToJson(G, proof));
      expect(json).toMatchObject({ version: 1, type: 'ecash-double-spend-proof', suite });
      expect(suiteOfJson(json)).toBe(suite);
      const fromJson = proofFromJson(G, json);
      expect(() => verifyDoubleSpendProof(G, fromJson)).not.toThrow();
      const bin = encodeProof(G, proof);
      const fromBin = decodeProof(G, bin);
      expect(() => verifyDoubleSpendProof(G, fromBin)).not.toThrow();
      expect(toHex(encodeProof(G, fromBin))).toBe(toHex(bin));
      expect(wire(proofToJson(G, fromBin))).toEqual(json);
    });

    it('any valid payment context survives both encodings exactly', () => {
      // 16 graphemes can exceed the 64-byte limit (one grapheme can be several 4-byte code points).
      const id = fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 16 })
        .filter((s) => !/[\u0000-\u001f\u007f]/.test(s) && Buffer.byteLength(s, 'utf8') <= 64);
      fc.assert(
        fc.property(
          id,
          id,
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          (m, t, ts, nonce) => {
            const tr = { ...t1, merchantId: m, terminalId: t, timestamp: ts, nonce };
            const back = decodeTranscript(G, encodeTranscript(G, tr));
            expect([back.merchantId, back.terminalId, back.timestamp, toHex(back.nonce)]).toEqual([m, t, ts, toHex(nonce)]);
            const fromJson = transcriptFromJson(G, wire(transcriptToJson(G, tr)));
            expect([fromJson.merchantId, fromJson.terminalId, fromJson.timestamp]).toEqual([m, t, ts]);
          },
        ),
        { numRuns: RUNS[suite] },
      );
    });
  });

  describe('strict JSON', () => {
    // The bank's way: the JSON rebuilt as bytes (hex only), then the strict binary decoder.
    const viaBytes = (v: unknown) => decodeTranscript(G, transcriptBytesFromJson(G, v));
    const parsers = [
      ['transcriptFromJson', (v: unknown) => transcriptFromJson(G, v)],
      ['transcriptBytesFromJson + decodeTranscript', viaBytes],
    ] as const;

    it.each(parsers)('%s refuses unknown, missing and mistyped fields', (_, parse) => {
      const json = transcriptToJson(G, t1);
      expectCode(() => parse({ ...json, extra: 1 }), 'bad-json');
      const { nonce: _omit, ...missing } = json;
      expectCode(() => parse(missing), 'bad-json');
      expectCode(() => parse({ ...json, timestamp: String(json.timestamp) }), 'bad-json');
      expectCode(() => parse({ ...json, timestamp: 1.5 }), 'bad-json');
      expectCode(() => parse({ ...json, timestamp: -1 }), 'bad-json');
      expectCode(() => parse({ ...json, coin: { ...json.coin, extra: '00' } }), 'bad-json');
      expectCode(() => parse([json]), 'bad-json');
      expectCode(() => parse(null), 'bad-json');
    });

    it('refuses hex that is uppercase, odd, or of the wrong length', () => {
      const json = transcriptToJson(G, t1);
      expectCode(() => transcriptFromJson(G, { ...json, r1: json.r1.toUpperCase() }), 'bad-hex');
      expectCode(() => transcriptFromJson(G, { ...json, r1: json.r1.slice(1) }), 'bad-hex');
      expectCode(() => transcriptFromJson(G, { ...json, r1: json.r1.slice(2) }), 'bad-scalar');
      expectCode(() => transcriptFromJson(G, { ...json, keyId: json.keyId.slice(2) }), 'bad-length');
      expectCode(() => transcriptFromJson(G, { ...json, nonce: json.nonce + '00' }), 'bad-length');
      expectCode(() => transcriptFromJson(G, { ...json, coin: { ...json.coin, A: json.coin.A.slice(2) } }), 'bad-element');
    });

    it('refuses hex that is uppercase, odd, or of the wrong length on the way to bytes', () => {
      const json = transcriptToJson(G, t1);
      expectCode(() => viaBytes({ ...json, r1: json.r1.toUpperCase() }), 'bad-hex');
      expectCode(() => viaBytes({ ...json, nonce: json.nonce.slice(1) }), 'bad-hex');
      expectCode(() => viaBytes({ ...json, r1: json.r1.slice(2) }), 'bad-length');
      expectCode(() => viaBytes({ ...json, keyId: json.keyId.slice(2) }), 'bad-length');
      expectCode(() => viaBytes({ ...json, coin: { ...json.coin, A: json.coin.A.slice(2) } }), 'bad-length');
      expectCode(() => viaBytes({ ...json, coin: { ...json.coin, r: json.coin.r + '00' } }), 'bad-length');
    });

    it.each(parsers)('%s refuses unreduced scalars and bad payment contexts', (_, parse) => {
      const json = transcriptToJson(G, t1);
      const q = G.q.toString(16).padStart(64, '0');
      expectCode(() => parse({ ...json, r2: q }), 'bad-scalar');
      expectCode(() => parse({ ...json, coin: { ...json.coin, r: 'ff'.repeat(32) } }), 'bad-scalar');
      expectCode(() => parse({ ...json, merchantId: '' }), 'bad-payment-context');
      expectCode(() => parse({ ...json, terminalId: 'x'.repeat(65) }), 'bad-payment-context');
      expectCode(() => parse({ ...json, merchantId: 'shop-\uD800' }), 'bad-payment-context');
    });

    it('refuses keys whose id, version or suite is wrong', () => {
      const json = keyToJson(G, bank.key);
      expectCode(() => keyFromJson(G, { ...json, value: 201 }), 'bad-key-id');
      expectCode(() => keyFromJson(G, { ...json, keyId: '00'.repeat(32) }), 'bad-key-id');
      expectCode(() => keyFromJson(G, { ...json, version: 2 }), 'bad-json');
      expectCode(() => keyFromJson(G, { ...json, suite: SUITE_IDS.find((s) => s !== suite) }), 'bad-json');
      expectCode(() => keyFromJson(G, { ...json, value: 0 }), 'bad-json');
      expectCode(() => keyFromJson(G, { ...json, currency: 'chf' }), 'bad-currency');
    });

    it('refuses proofs of another type, version or shape', () => {
      const json = proofToJson(G, proof);
      expectCode(() => proofFromJson(G, { ...json, type: 'other' }), 'bad-json');
      expectCode(() => proofFromJson(G, { ...json, version: 0 }), 'bad-json');
      expectCode(() => proofFromJson(G, { ...json, transcripts: [json.transcripts[0]] }), 'bad-json');
      expectCode(() => proofFromJson(G, { ...json, transcripts: [...json.transcripts, json.transcripts[0]] }), 'bad-json');
      expectCode(() => suiteOfJson({ ...json, suite: 'nope' }), 'unknown-suite');
      expectCode(() => suiteOfJson('text'), 'bad-json');
    });

    it('answers any JSON value, or any field replaced by one, with an EcashError or a transcript', () => {
      const json = transcriptToJson(G, t1) as unknown as Record<string, unknown>;
      const fields = Object.keys(json);
      fc.assert(
        fc.property(fc.jsonValue(), fc.constantFrom(...fields), (value, field) => {
          onlyEcashErrors(() => transcriptFromJson(G, value));
          onlyEcashErrors(() => transcriptFromJson(G, { ...json, [field]: value }));
          onlyEcashErrors(() => viaBytes(value));
          onlyEcashErrors(() => viaBytes({ ...json, [field]: value }));
          onlyEcashErrors(() => keyFromJson(G, value));
          onlyEcashErrors(() => proofFromJson(G, value));
        }),
        { numRuns: RUNS[suite] * 4 },
      );
    });
  });

  describe('strict binary', () => {
    it('refuses another version, another suite and trailing bytes', () => {
      for (const bin of [encodeCoin(G, t1.coin), encodeTranscript(G, t1), encodeKey(G, bank.key), encodeProof(G, proof)]) {
        const decode = decoderFor(bin);
        const v2 = bin.slice();
        v2[0] = 2;
        expectCode(() => decode(v2), 'bad-version');
        const other = bin.slice();
        other[1] = (suiteCode(suite) % 3) + 1;
        expectCode(() => decode(other), 'wrong-suite');
        const longer = new Uint8Array(bin.length + 1);
        longer.set(bin);
        expectCode(() => decode(longer), 'trailing-bytes');
      }
    });

    it('refuses every truncation', () => {
      const bin = encodeTranscript(G, t1);
      // Element slots are skipped on modp to keep the membership checks affordable.
      const step = G.elementLength > 64 ? 7 : 1;
      for (let n = 0; n < bin.length; n += step) onlyEcashErrorsAndThrows(() => decodeTranscript(G, bin.subarray(0, n)));
      for (let n = 0; n < encodeKey(G, bank.key).length; n++)
        onlyEcashErrorsAndThrows(() => decodeKey(G, encodeKey(G, bank.key).subarray(0, n)));
    });

    it('refuses invalid UTF-8 in an id with bad-utf8', () => {
      const bin = encodeTranscript(G, t1);
      const at = 2 + 32 + 5 * G.elementLength + 32 + 2;
      const bad = bin.slice();
      bad[at] = 0xff;
      expectCode(() => decodeTranscript(G, bad), 'bad-utf8');
      const keyBin = encodeKey(G, bank.key);
      const cur = keyBin.slice();
      cur[2 + G.elementLength + 8 + 2] = 0xc3; // a lead byte with no continuation
      expectCode(() => decodeKey(G, cur), 'bad-utf8');
    });

    it('refuses integers beyond 2^53 - 1 and a key id that does not match', () => {
      const bin = encodeTranscript(G, t1);
      const tsAt = bin.length - 32 - 32 - 16 - 8;
      const big = bin.slice();
      big.set(u64be(2n ** 53n), tsAt);
      expectCode(() => decodeTranscript(G, big), 'bad-payment-context');
      const keyBin = encodeKey(G, bank.key);
      const value = keyBin.slice();
      value.set(u64be(2n ** 60n), 2 + G.elementLength);
      expectCode(() => decodeKey(G, value), 'out-of-range');
      const id = keyBin.slice();
      id[id.length - 1]! ^= 1;
      expectCode(() => decodeKey(G, id), 'bad-key-id');
    });

    it('answers any byte-level corruption with an EcashError or a value', () => {
      const bins = [encodeTranscript(G, t1), encodeKey(G, bank.key), encodeProof(G, proof)];
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: bins.length - 1 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
          fc.integer({ min: -3, max: 3 }),
          (which, edits, resize) => {
            const orig = bins[which]!;
            const bytes = new Uint8Array(Math.max(0, orig.length + resize));
            bytes.set(orig.subarray(0, bytes.length));
            for (const [pos, val] of edits) if (bytes.length > 0) bytes[pos % bytes.length] = val;
            onlyEcashErrors(() => decoderFor(orig)(bytes));
          },
        ),
        { numRuns: RUNS[suite] },
      );
    });
  });

  function decoderFor(sample: Uint8Array): (b: Uint8Array) => unknown {
    const len = sample.length;
    if (len === encodeCoin(G, t1.coin).length) return (b) => decodeCoin(G, b);
    if (len === encodeTranscript(G, t1).length) return (b) => decodeTranscript(G, b);
    if (len === encodeKey(G, bank.key).length) return (b) => decodeKey(G, b);
    return (b) => decodeProof(G, b);
  }
});

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** `fn` must throw, and with an EcashError. */
function onlyEcashErrorsAndThrows(fn: () => unknown): void {
  let threw = false;
  try {
    fn();
  } catch (e) {
    threw = true;
    if (!isEcashError(e)) throw new Error(`expected an EcashError, got ${String(e)}`);
  }
  expect(threw).toBe(true);
}

describe('byte helpers', () => {
  it('convert strictly between hex, integers and fixed-width fields', () => {
    expect(toHex(u64be(2n ** 64n - 1n))).toBe('ff'.repeat(8));
    expectCode(() => u64be(2n ** 64n), 'out-of-range');
    expectCode(() => u64be(-1), 'out-of-range');
    expect(toHex(bigIntToBytes(258n, 3))).toBe('000102');
    expectCode(() => bigIntToBytes(2n ** 24n, 3), 'out-of-range');
    expectCode(() => bigIntToBytes(-1n, 3), 'out-of-range');
    expect(bytesToBigInt(new Uint8Array(0))).toBe(0n);
    expect(toHex(fromHex('00ff'))).toBe('00ff');
    expectCode(() => fromHex('0g'), 'bad-hex');
    expectCode(() => fromHex('abc'), 'bad-hex');
    expectCode(() => fromHex('AB'), 'bad-hex');
    expectCode(() => fromHex('abcd', 'field', 3), 'bad-length');
    expect(bytesEqual(fromHex('0102'), fromHex('0102'))).toBe(true);
    expect(bytesEqual(fromHex('0102'), fromHex('0103'))).toBe(false);
    expect(bytesEqual(fromHex('01'), fromHex('0100'))).toBe(false);
  });
});
