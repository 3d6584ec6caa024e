/**
 * Account opening. The card generates u1 (it never leaves the card) and registers I = g1^u1 with a
 * Schnorr proof of knowledge of log_g1 I bound to the holder's identity:
 *   t = g1^k, c = H(f("ECASH-V1/OPEN") f(suite) f(holder) f(I) f(t)) mod q, s = k + c·u1 mod q
 * The bank checks g1^s = t·I^c. Without the proof a user could register I = g1^u1·g2^e and
 * escape identification after a double spend.
 */
import { utf8 } from './bytes.js';
import { EcashError } from './errors.js';
import type { Group, GroupElement } from './group.js';
import { TAG_OPEN, tag } from './hash.js';
import { type RandomSource, randomNonZeroScalar } from './random.js';

export interface OpeningProof {
  t: GroupElement;
  s: bigint;
}

export interface AccountOpening {
  I: GroupElement;
  proof: OpeningProof;
}

/** I = g1^u1 for a fresh u1; the caller (the card) keeps u1 secret. */
export function generateAccountSecret(group: Group, rng: RandomSource): { u1: bigint; I: GroupElement } {
  const u1 = randomNonZeroScalar(group, rng);
  return { u1, I: group.exp(group.g1, u1) };
}

function openingChallenge(group: Group, holder: string, I: GroupElement, t: GroupElement): bigint {
  return group.hashToScalar([tag(TAG_OPEN), utf8(group.suite), utf8(holder), group.encode(I), group.encode(t)]);
}

export function proveAccountOpening(group: Group, u1: bigint, I: GroupElement, holder: string, rng: RandomSource): OpeningProof {
  const k = randomNonZeroScalar(group, rng);
  const t = group.exp(group.g1, k);
  const c = openingChallenge(group, holder, I, t);
  return { t, s: group.scalars.add(k, group.scalars.mul(c, u1)) };
}

/**
 * The bank's checks on a registration (besides "I is new", which needs its database).
 * Throws EcashError `bad-account-opening` with the reason.
 */
export function verifyAccountOpening(group: Group, holder: string, opening: AccountOpening): void {
  const { I, proof } = opening;
  if (group.isIdentity(I)) throw new EcashError('bad-account-opening', 'I must not be the identity');
  if (group.isIdentity(group.mul(I, group.g2))) throw new EcashError('bad-account-opening', 'I·g2 must not be the identity');
  const c = openingChallenge(group, holder, I, proof.t);
  const lhs = group.exp(group.g1, proof.s);
  const rhs = group.mul(proof.t, group.multiExp([I], [c]));
  if (!group.equals(lhs, rhs)) {
    throw new EcashError('bad-account-opening', 'the proof of knowledge of u1 does not verify for this holder and I');
  }
}
