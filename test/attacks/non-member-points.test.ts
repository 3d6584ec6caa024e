/**
 * Attack (by a rogue card, reader, terminal or API client): points that are not members of the
 * prime-order group, or the identity, in every position where an element is read: coin,
 * transcript, denomination key, double-spend proof, as JSON and as binary. A small-subgroup or
 * off-curve point could leak a secret exponent or make a check pass that should not.
 *
 * Defence: core's strict decoders (`Group.decode` via `coinFromJson`, `decodeCoin`, ... in
 * core/encoding.ts and core/json.ts) refuse each one with `bad-element`; the bank's HTTP edge and
 * the card use the same decoders (test/bank/bad-input.test.ts sends them over HTTP). Moved from
 * test/core/attacks.test.ts; it passed there, the decoders being the defence from the start.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  coinFromJson,
  coinToJson,
  decodeCoin,
  decodeKey,
  decodeProof,
  decodeTranscript,
  type DoubleSpendProof,
  encodeCoin,
  encodeKey,
  encodeProof,
  encodeTranscript,
  keyFromJson,
  keyToJson,
  makeDoubleSpendProof,
  proofFromJson,
  proofToJson,
  SUITE_IDS,
  type Transcript,
  toHex,
  transcriptFromJson,
  transcriptToJson,
} from '../../core/index.js';
import { badElements, oneOfEachKind } from '../core/bad-elements.js';
import { expectCode } from '../core/expect-code.js';
import { paymentContext, spend, withdraw } from '../core/fixtures.js';
import { equations } from './helpers.js';

describe.each(SUITE_IDS)('%s: non-member points', (suite) => {
  const { G, rng, bank, alice } = equations(suite);

  describe('non-member points in every position', () => {
    let t: Transcript;
    let proof: DoubleSpendProof;
    beforeAll(() => {
      const w = withdraw(G, bank, alice, rng);
      t = spend(G, alice, w, paymentContext(rng, 'shop-1'));
      proof = makeDoubleSpendProof(G, bank.key, t, spend(G, alice, w, paymentContext(rng, 'shop-2')));
    });

    /** Replaces the JSON string at `path` and expects the parser to refuse it as bad-element. */
    function refuseJson(parse: (v: unknown) => unknown, doc: unknown, paths: string[][], bads = badElements(G)): void {
      for (const path of paths) {
        for (const bad of bads) {
          const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
          let at: Record<string, unknown> = copy;
          for (const p of path.slice(0, -1)) at = at[p] as Record<string, unknown>;
          at[path[path.length - 1]!] = toHex(bad.bytes);
          expect(() => expectCode(() => parse(copy), 'bad-element'), `${path.join('.')}: ${bad.why}`).not.toThrow();
        }
      }
    }

    /** Overwrites each element slot (byte offsets) of a binary encoding with each bad element. */
    function refuseBinary(decode: (b: Uint8Array) => unknown, bytes: Uint8Array, offsets: number[], bads = badElements(G)): void {
      for (const off of offsets) {
        for (const bad of bads.filter((b) => b.bytes.length === G.elementLength)) {
          const copy = bytes.slice();
          copy.set(bad.bytes, off);
          expect(() => expectCode(() => decode(copy), 'bad-element'), `offset ${off}: ${bad.why}`).not.toThrow();
        }
      }
    }

    const coinSlots = ['A', 'B', 'z', 'a', 'b'];
    const n = () => G.elementLength;
    const coinOffsets = (start: number) => coinSlots.map((_, i) => start + 32 + i * n());

    it('coin and transcript, JSON and binary', () => {
      refuseJson(
        (v) => coinFromJson(G, t.coin.keyId, v),
        coinToJson(G, t.coin),
        coinSlots.map((k) => [k]),
      );
      refuseJson(
        (v) => transcriptFromJson(G, v),
        transcriptToJson(G, t),
        coinSlots.map((k) => ['coin', k]),
      );
      refuseBinary((b) => decodeCoin(G, b), encodeCoin(G, t.coin), coinOffsets(2));
      refuseBinary((b) => decodeTranscript(G, b), encodeTranscript(G, t), coinOffsets(2));
    });

    it('denomination key h, JSON and binary', () => {
      refuseJson((v) => keyFromJson(G, v), keyToJson(G, bank.key), [['h']]);
      refuseBinary((b) => decodeKey(G, b), encodeKey(G, bank.key), [2]);
    });

    it('double-spend proof: key, both transcripts and I, JSON and binary', () => {
      // Parsing a proof parses its key (and prepares h), so one bad element of each kind per position.
      const bads = oneOfEachKind(G);
      const json = proofToJson(G, proof);
      const paths = [['key', 'h'], ['I'], ...[0, 1].flatMap((i) => coinSlots.map((k) => ['transcripts', String(i), 'coin', k]))];
      refuseJson((v) => proofFromJson(G, v), json, paths, bads);
      const bin = encodeProof(G, proof);
      const keyLen = encodeKey(G, bank.key).length;
      const t1Len = encodeTranscript(G, proof.transcripts[0]).length;
      const keyAt = 2 + 2;
      const t1At = keyAt + keyLen + 2;
      const t2At = t1At + t1Len + 2;
      const offsets = [keyAt + 2, ...coinOffsets(t1At + 2), ...coinOffsets(t2At + 2), bin.length - n()];
      refuseBinary((b) => decodeProof(G, b), bin, offsets, bads);
    });
  });
});
