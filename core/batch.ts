/**
 * Batch verification of transcripts (coin and payment equations). Every equation of the batch is
 * raised to an independent random 128-bit weight and the products are combined into one
 * multi-exponentiation that must equal 1:
 *
 *   g^Σw1·r' · g1^Σw3·r1 · g2^Σw3·r2 · Π_keys h^-Σw1·c' · Π_coins A^(w2·r' − w3·d) · z'^-(w2·c') · a'^-w1 · b'^-w2 · B^-w3
 *
 * A batch with a bad transcript passes with probability at most 2^-128. On failure the batch is
 * bisected until each bad transcript is found and checked on its own.
 */
import { bytesEqual, toHex } from './bytes.js';
import { coinChallenge } from './coin.js';
import type { Group, GroupElement } from './group.js';
import type { DenominationKey } from './keys.js';
import { paymentChallenge, type Transcript, verifyTranscript } from './payment.js';
import { type RandomSource, randomWeight, systemRandom } from './random.js';

export interface BatchItem {
  key: DenominationKey;
  transcript: Transcript;
}

interface Prepared {
  index: number;
  item: BatchItem;
  c: bigint;
  d: bigint;
}

/** Below this size a failing sub-batch is checked coin by coin instead of bisected further. */
const LEAF_SIZE = 2;

function combinedCheck(group: Group, items: readonly Prepared[], rng: RandomSource): boolean {
  const F = group.scalars;
  let sumG = 0n;
  let sumG1 = 0n;
  let sumG2 = 0n;
  const hExp = new Map<string, { h: GroupElement; e: bigint }>();
  const bases: GroupElement[] = [group.g, group.g1, group.g2];
  const exps: bigint[] = [0n, 0n, 0n];
  for (const p of items) {
    const t = p.item.transcript;
    const coin = t.coin;
    const w1 = randomWeight(rng);
    const w2 = randomWeight(rng);
    const w3 = randomWeight(rng);
    sumG = F.add(sumG, F.mul(w1, coin.r));
    sumG1 = F.add(sumG1, F.mul(w3, t.r1));
    sumG2 = F.add(sumG2, F.mul(w3, t.r2));
    const kid = toHex(p.item.key.keyId);
    const hc = hExp.get(kid) ?? { h: p.item.key.h, e: 0n };
    hc.e = F.add(hc.e, F.mul(w1, p.c));
    hExp.set(kid, hc);
    // The 128-bit weights stay short as negative exponents: a'^-w1 · b'^-w2 · B^-w3.
    bases.push(coin.A, coin.z, coin.a, coin.b, coin.B);
    exps.push(F.sub(F.mul(w2, coin.r), F.mul(w3, p.d)), F.neg(F.mul(w2, p.c)), -w1, -w2, -w3);
  }
  exps[0] = sumG;
  exps[1] = sumG1;
  exps[2] = sumG2;
  for (const { h, e } of hExp.values()) {
    bases.push(h);
    exps.push(F.neg(e));
  }
  return group.isIdentity(group.multiExp(bases, exps));
}

function findBad(group: Group, items: readonly Prepared[], rng: RandomSource, bad: number[]): void {
  if (items.length === 0) return;
  if (items.length <= LEAF_SIZE) {
    for (const p of items) if (!verifyTranscript(group, p.item.key, p.item.transcript)) bad.push(p.index);
    return;
  }
  if (combinedCheck(group, items, rng)) return;
  const mid = items.length >> 1;
  findBad(group, items.slice(0, mid), rng, bad);
  findBad(group, items.slice(mid), rng, bad);
}

/**
 * Verifies every transcript against its key. Returns the indices of the transcripts that fail
 * (empty when all are valid), in ascending order.
 */
export function batchVerifyTranscripts(group: Group, items: readonly BatchItem[], rng: RandomSource = systemRandom): number[] {
  const bad: number[] = [];
  const prepared: Prepared[] = [];
  items.forEach((item, index) => {
    const t = item.transcript;
    // Structural checks the combined equation cannot express.
    if (item.key.suite !== group.suite || !bytesEqual(item.key.keyId, t.coin.keyId) || group.isIdentity(t.coin.A)) {
      bad.push(index);
      return;
    }
    prepared.push({ index, item, c: coinChallenge(group, t.coin), d: paymentChallenge(group, t.coin, t) });
  });
  findBad(group, prepared, rng, bad);
  return bad.sort((x, y) => x - y);
}
