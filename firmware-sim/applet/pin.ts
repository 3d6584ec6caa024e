/**
 * PIN and PUK as a card keeps them: a salted SHA-256 (the image file never holds a PIN in clear)
 * and a try counter. The counter is decremented and committed BEFORE the comparison and reset
 * only after a match, so tearing the card during a wrong guess cannot save a try.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, concatBytes, utf8, type RandomSource } from '../../core/index.js';
import type { SecretCheck } from '../memory/wallet-store.js';

export const PIN_TRIES = 3;
export const PUK_TRIES = 10;
const SALT_LENGTH = 16;

export function makeSecretCheck(secret: string, tries: number, rng: RandomSource): SecretCheck {
  const salt = rng.bytes(SALT_LENGTH);
  return { salt, hash: sha256(concatBytes(salt, utf8(secret))), tries };
}

/** Constant-time comparison of a presented PIN or PUK with the stored check. */
export function secretMatches(check: SecretCheck, presented: string): boolean {
  return bytesEqual(sha256(concatBytes(check.salt, utf8(presented))), check.hash);
}
