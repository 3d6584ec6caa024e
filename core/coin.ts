/**
 * A coin: (A, B, z', a', b', r') under a denomination key, and its verification by anyone:
 *   A ≠ 1, c' = H(suite, keyId, A, B, z', a', b'), g^r' = h^c'·a' and A^r' = z'^c'·b'.
 */
import { bytesEqual, utf8 } from './bytes.js';
import type { Group, GroupElement } from './group.js';
import { TAG_H, tag } from './hash.js';
import type { DenominationKey } from './keys.js';

export interface Coin {
  keyId: Uint8Array;
  A: GroupElement;
  B: GroupElement;
  /** z' */
  z: GroupElement;
  /** a' */
  a: GroupElement;
  /** b' */
  b: GroupElement;
  /** r' */
  r: bigint;
}

/** The secrets the card keeps per coin until it spends it. */
export interface CoinSecrets {
  s: bigint;
  x1: bigint;
  x2: bigint;
}

/** c' = H(f("ECASH-V1/H") f(suite) f(keyId) f(A) f(B) f(z') f(a') f(b')) mod q */
export function coinChallenge(group: Group, coin: Omit<Coin, 'r'>): bigint {
  return group.hashToScalar([
    tag(TAG_H),
    utf8(group.suite),
    coin.keyId,
    group.encode(coin.A),
    group.encode(coin.B),
    group.encode(coin.z),
    group.encode(coin.a),
    group.encode(coin.b),
  ]);
}

export function verifyCoin(group: Group, key: DenominationKey, coin: Coin): boolean {
  if (key.suite !== group.suite || !bytesEqual(key.keyId, coin.keyId)) return false;
  // A = 1 would make the coin spendable forever without identification.
  if (group.isIdentity(coin.A)) return false;
  const c = coinChallenge(group, coin);
  const nc = group.scalars.neg(c);
  // g^r'·h^-c' = a'  and  A^r'·z'^-c' = b'
  const left1 = group.multiExp([group.g, key.h], [coin.r, nc]);
  if (!group.equals(left1, coin.a)) return false;
  const left2 = group.multiExp([coin.A, coin.z], [coin.r, nc]);
  return group.equals(left2, coin.b);
}
