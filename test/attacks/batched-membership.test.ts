/**
 * Attack (by a card, terminal or API client depositing or paying): elements with a small-order
 * component slipped into a large batch, hoping that a batched check lets them through.
 *
 * - modp2048-256: p − 1 = q · 2 · 7 · 13 · 2549 · 142031 · (a 1757-bit rest), so Z_p* has elements
 *   of order 2, 7, 13, … beside the order-q subgroup. A batched membership check
 *   (Π y_i^w_i)^q = 1 with random weights is NOT sound here: −y (order 2q) passes it whenever its
 *   weight is even, half the time. Defence: every element is checked on its own (y^q = 1) when it
 *   is decoded (docs/protocol.md, Element validity), on the reference and on OpenSSL alike, in
 *   any position of any transcript of a batch.
 * - ristretto255 on libsodium: a large multi-exponentiation (batch verification) recovers its
 *   short-exponent bases' coordinates from their encodings without re-checking them, trusting the
 *   check libsodium made when they were decoded. Defence: only decode makes elements from bytes,
 *   so every bad encoding is refused there, and a forged transcript in a batch large enough for
 *   that path is still found.
 * No fix came with this file: it passed when written (the per-element checks were the defence
 * from the start); it keeps them from being traded for a batched check, and guards the new path.
 */
import { describe, expect, it } from 'vitest';
import {
  batchVerifyTranscripts,
  bigIntToBytes,
  bytesToBigInt,
  decodeTranscript,
  encodeTranscript,
  type Group,
  seededRandom,
  type Transcript,
} from '../../core/index.js';
import { MODP_P, MODP_Q } from '../../core/suites/modp2048.js';
import { badElements } from '../core/bad-elements.js';
import { expectCode } from '../core/expect-code.js';
import { bankKey, openAccount, paymentContext, spend, withdraw } from '../core/fixtures.js';
import { allGroups } from '../core/group-backends.js';

/** Byte offsets of A, B, z', a', b' in a binary transcript (after the 2-byte header and the key id). */
const elementOffsets = (G: Group) => [0, 1, 2, 3, 4].map((i) => 2 + 32 + i * G.elementLength);

function batchOf(G: Group, n: number, seed: string): { key: ReturnType<typeof bankKey>; transcripts: Transcript[] } {
  const rng = seededRandom(seed);
  const key = bankKey(G, rng);
  const alice = openAccount(G, 'alice', rng);
  const transcripts = Array.from({ length: n }, (_, i) =>
    spend(G, alice, withdraw(G, key, alice, rng), paymentContext(rng, `shop-${i % 3}`)),
  );
  return { key, transcripts };
}

/** An element of order `order` (dividing p − 1) in Z_p*: h^((p−1)/order) for the first h that gives one other than 1. */
function elementOfOrder(order: bigint): bigint {
  for (let h = 2n; ; h++) {
    const e = modPow(h, (MODP_P - 1n) / order);
    if (e !== 1n) return e;
  }
}

function modPow(b: bigint, e: bigint): bigint {
  let r = 1n;
  for (b %= MODP_P; e > 0n; e >>= 1n, b = (b * b) % MODP_P) if (e & 1n) r = (r * b) % MODP_P;
  return r;
}

describe.each(allGroups.filter((b) => b.suite === 'modp2048-256').map((b) => [b.backend, b.group] as const))(
  'modp2048-256 on %s: elements with a small-order component',
  (_backend, G) => {
    const { transcripts } = batchOf(G, 4, 'attacks/batched-membership/modp');
    const binary = transcripts.map((t) => encodeTranscript(G, t));
    const y = bytesToBigInt(G.encode(transcripts[0]!.coin.A));
    // y·t for t of order 2, 7 and 13: each has order q·|t|, never in the order-q subgroup.
    const tainted = [2n, 7n, 13n].map((order) => ({ order, value: (y * elementOfOrder(order)) % MODP_P }));

    it('a random-linear-combination membership check would pass −y whenever its weight is even', () => {
      const minusY = MODP_P - y;
      const members = transcripts.slice(1).map((t) => bytesToBigInt(G.encode(t.coin.B)));
      const rng = seededRandom('attacks/batched-membership/weights');
      const weight = () => bytesToBigInt(rng.bytes(16));
      const combined = (w: bigint) => members.reduce((acc, m) => (acc * modPow(m, weight())) % MODP_P, modPow(minusY, w));
      expect(modPow(combined(2n * weight()), MODP_Q)).toBe(1n); // accepted: the batched check is unsound here
      expect(modPow(combined(2n * weight() + 1n), MODP_Q)).not.toBe(1n);
    });

    it('each one is refused on its own in every element position of every transcript of a batch', () => {
      for (const { order, value } of [...tainted, { order: 2n, value: MODP_P - y }]) {
        for (const [ti, bytes] of binary.entries()) {
          for (const off of elementOffsets(G)) {
            const copy = bytes.slice();
            copy.set(bigIntToBytes(value, 256), off);
            expect(
              () => expectCode(() => decodeTranscript(G, copy), 'bad-element'),
              `order ${order}·q, transcript ${ti}, offset ${off}`,
            ).not.toThrow();
          }
        }
      }
    });
  },
);

describe.each(allGroups.filter((b) => b.suite === 'ristretto255-sha512').map((b) => [b.backend, b.group] as const))(
  'ristretto255-sha512 on %s: a batch large enough for the bucket method',
  (_backend, G) => {
    // 120 coins: 360 bases with 128-bit weights, past the libsodium backend's bucket threshold.
    const { key, transcripts } = batchOf(G, 120, 'attacks/batched-membership/ristretto');

    it('refuses every bad encoding in every position of a transcript, before any batch', () => {
      const bytes = encodeTranscript(G, transcripts[5]!);
      for (const bad of badElements(G).filter((b) => b.bytes.length === G.elementLength)) {
        for (const off of elementOffsets(G)) {
          const copy = bytes.slice();
          copy.set(bad.bytes, off);
          expect(() => expectCode(() => decodeTranscript(G, copy), 'bad-element'), `${bad.why} at ${off}`).not.toThrow();
        }
      }
    });

    it('finds the forged transcripts of the batch and only those', () => {
      const items = transcripts.map((t) => ({ key: key.key, transcript: t }));
      // b' of coin 7 replaced by another valid element (a', say); r1 of coin 20 off by one.
      const t7 = transcripts[7]!;
      items[7] = { key: key.key, transcript: { ...t7, coin: { ...t7.coin, b: t7.coin.a } } };
      const t20 = transcripts[20]!;
      items[20] = { key: key.key, transcript: { ...t20, r1: G.scalars.add(t20.r1, 1n) } };
      expect(batchVerifyTranscripts(G, items, seededRandom('attacks/batched-membership/batch'))).toEqual([7, 20]);
      expect(
        batchVerifyTranscripts(
          G,
          items.filter((_, i) => i !== 7 && i !== 20),
        ),
      ).toEqual([]);
    });
  },
);
