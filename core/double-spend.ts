/**
 * Deposit classification and double-spender identification. A coin is its key, A and B: a card
 * that withdraws twice with the same s gets two coins with one A (and two B), each paid for; a
 * card that withdraws twice with the same s, x1 and x2 gets two signatures on one (key, A, B),
 * which is one coin, since both pay with the same secrets. Against the coin's first transcript:
 * - unseen: new; seen with the same d: replay; seen with a different d: double spend, where
 *   u1 = (r1 − r1')/(r2 − r2') mod q and I = g1^u1 names the account.
 * The proof (key, both transcripts, u1, I) is checkable by anyone with public parameters only.
 */
import { bytesEqual, utf8 } from './bytes.js';
import { EcashError } from './errors.js';
import type { Group, GroupElement } from './group.js';
import { sha256Fields, TAG_COIN_ID, tag } from './hash.js';
import { computeKeyId, type DenominationKey } from './keys.js';
import { paymentChallenge, type Transcript, verifyTranscript } from './payment.js';
import type { SuiteId } from './suite-ids.js';

export type DepositClass = 'new' | 'replay' | 'double-spend';

/**
 * The bank's name for a coin, from its encoded key id, A and B (32 bytes):
 * SHA-256(f("ECASH-V1/COIN") f(suite) f(keyId) f(A) f(B)). The spent-coin table is keyed by it.
 */
export function coinIdOfEncoded(suite: SuiteId, keyId: Uint8Array, A: Uint8Array, B: Uint8Array): Uint8Array {
  return sha256Fields([tag(TAG_COIN_ID), utf8(suite), keyId, A, B]);
}

/**
 * One coin: the same key, A and B. The signature (z', a', b', r') is left out: two signatures on
 * one (A, B) answer payments with the same s, x1, x2, so two payments reveal u1 all the same.
 */
function sameCoin(group: Group, t1: Transcript, t2: Transcript): boolean {
  return bytesEqual(t1.coin.keyId, t2.coin.keyId) && group.equals(t1.coin.A, t2.coin.A) && group.equals(t1.coin.B, t2.coin.B);
}

/**
 * How a verified incoming transcript relates to the one already stored for the same coin (if any).
 * Both must be valid transcripts; `previous` must be of the same key, A and B.
 */
export function classifyDeposit(group: Group, incoming: Transcript, previous: Transcript | undefined): DepositClass {
  if (previous === undefined) return 'new';
  const d1 = paymentChallenge(group, previous.coin, previous);
  const d2 = paymentChallenge(group, incoming.coin, incoming);
  return d1 === d2 ? 'replay' : 'double-spend';
}

export interface DoubleSpender {
  u1: bigint;
  I: GroupElement;
}

/** u1 = (r1 − r1')/(r2 − r2') from two valid transcripts of one coin with different challenges. */
export function identifyDoubleSpender(group: Group, t1: Transcript, t2: Transcript): DoubleSpender {
  if (!sameCoin(group, t1, t2)) throw new EcashError('not-double-spend', 'the two transcripts are not of the same coin');
  const F = group.scalars;
  const dr2 = F.sub(t1.r2, t2.r2);
  if (dr2 === 0n)
    throw new EcashError('not-double-spend', 'the two transcripts answer the same challenge; this is a replay, not a double spend');
  const u1 = F.mul(F.sub(t1.r1, t2.r1), F.inv(dr2));
  return { u1, I: group.exp(group.g1, u1) };
}

export interface DoubleSpendProof {
  key: DenominationKey;
  transcripts: [Transcript, Transcript];
  u1: bigint;
  I: GroupElement;
}

export function makeDoubleSpendProof(group: Group, key: DenominationKey, t1: Transcript, t2: Transcript): DoubleSpendProof {
  const { u1, I } = identifyDoubleSpender(group, t1, t2);
  return { key, transcripts: [t1, t2], u1, I };
}

/**
 * Verifies a double-spend proof with public parameters only: the key id matches the key, both
 * transcripts are valid for the same coin under that key, their challenges differ, and
 * g1^u1 = I with u1 recomputed from the responses. Throws EcashError `bad-proof` with the reason.
 */
export function verifyDoubleSpendProof(group: Group, proof: DoubleSpendProof): void {
  // Declared with its type, so that a call ends the control flow for the compiler too.
  const fail: (why: string) => never = (why) => {
    throw new EcashError('bad-proof', `double-spend proof rejected: ${why}`);
  };
  const { key, transcripts } = proof;
  const [t1, t2] = transcripts;
  if (key.suite !== group.suite) fail('the key is of another suite');
  if (!bytesEqual(computeKeyId(group, key.h, key), key.keyId)) fail('the key id does not match the key');
  for (const [i, t] of [t1, t2].entries()) {
    if (!bytesEqual(t.coin.keyId, key.keyId)) fail(`transcript ${i + 1} is under another key`);
    if (!verifyTranscript(group, key, t)) fail(`transcript ${i + 1} does not verify`);
  }
  if (!sameCoin(group, t1, t2)) fail('the transcripts are of different coins');
  if (paymentChallenge(group, t1.coin, t1) === paymentChallenge(group, t2.coin, t2)) fail('both transcripts answer the same challenge');
  let derived: DoubleSpender;
  try {
    derived = identifyDoubleSpender(group, t1, t2);
  } catch (e) {
    fail(e instanceof Error ? e.message : 'identification failed');
  }
  if (derived.u1 !== proof.u1) fail('u1 does not follow from the responses');
  if (!group.equals(derived.I, proof.I)) fail('I is not g1^u1');
}
