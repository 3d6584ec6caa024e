/**
 * Byte strings of the right shape that are not (canonical encodings of) members of a suite's
 * prime-order group, or are the identity: every strict decoder must refuse each of them.
 */
import { p256 } from '@noble/curves/nist.js';
import { bigIntToBytes, concatBytes, fromHex, type Group, type SuiteId } from '../../core/index.js';
import { MODP_P } from '../../core/suites/modp2048.js';

export interface BadElement {
  why: string;
  /** The identity, a value outside the group, another encoding of a member, or a wrong length. */
  kind: 'identity' | 'outside' | 'non-canonical' | 'length';
  bytes: Uint8Array;
}

const P25519 = 2n ** 255n - 19n;
const P256_P = p256.Point.Fp.ORDER;

/** Little-endian 32 bytes (ristretto255 encodes field elements little-endian). */
function le32(n: bigint): Uint8Array {
  return bigIntToBytes(n, 32).reverse();
}

function ristrettoBad(group: Group): BadElement[] {
  const valid = group.encode(group.g1);
  const highBit = valid.slice();
  highBit[31]! |= 0x80;
  return [
    { why: 'the identity', kind: 'identity', bytes: new Uint8Array(32) },
    { why: 's = p (non-canonical field element)', kind: 'non-canonical', bytes: le32(P25519) },
    { why: 's >= 2^255 (top bit set)', kind: 'non-canonical', bytes: highBit },
    { why: 'all ones', kind: 'non-canonical', bytes: new Uint8Array(32).fill(0xff) },
    { why: 'a negative s (odd)', kind: 'non-canonical', bytes: le32(1n) },
    { why: 'the Ed25519 base point encoding (not a ristretto encoding)', kind: 'outside', bytes: fromHex('58' + '66'.repeat(31)) },
  ];
}

/** A curve point with a small x, so that x + p still fits in 32 bytes. */
function p256SmallX(): { x: bigint; y: bigint } {
  const Fp = p256.Point.Fp;
  const { a, b } = p256.Point.CURVE();
  for (let x = 1n; ; x++) {
    const rhs = Fp.add(Fp.add(Fp.mul(Fp.sqr(x), x), Fp.mul(a, x)), b);
    try {
      return { x, y: Fp.sqrt(rhs) };
    } catch {
      // not a square: no point with this x
    }
  }
}

function p256Bad(group: Group): BadElement[] {
  const valid = group.encode(group.g1);
  const small = p256SmallX();
  const x = valid.subarray(1, 33);
  const y = valid.subarray(33, 65);
  const yPlusOne = bigIntToBytes((BigInt('0x' + Buffer.from(y).toString('hex')) + 1n) % P256_P, 32);
  return [
    { why: 'all zeros (no point, not even the identity in SEC1)', kind: 'identity', bytes: new Uint8Array(65) },
    { why: 'a point off the curve', kind: 'outside', bytes: concatBytes(new Uint8Array([4]), x, yPlusOne) },
    {
      why: 'a curve point with x written as x + p',
      kind: 'non-canonical',
      bytes: concatBytes(new Uint8Array([4]), bigIntToBytes(small.x + P256_P, 32), bigIntToBytes(small.y, 32)),
    },
    {
      why: 'coordinates equal to p',
      kind: 'outside',
      bytes: concatBytes(new Uint8Array([4]), bigIntToBytes(P256_P, 32), bigIntToBytes(P256_P, 32)),
    },
    { why: 'a compressed point padded to 65 bytes', kind: 'non-canonical', bytes: concatBytes(new Uint8Array([2]), x, new Uint8Array(32)) },
    { why: 'a hybrid-prefix (0x06) encoding', kind: 'non-canonical', bytes: concatBytes(new Uint8Array([6]), x, y) },
  ];
}

function modpBad(): BadElement[] {
  const enc = (n: bigint) => bigIntToBytes(n, 256);
  return [
    { why: '0', kind: 'outside', bytes: enc(0n) },
    { why: '1 (the identity)', kind: 'identity', bytes: enc(1n) },
    { why: 'p - 1 (order 2, outside the subgroup)', kind: 'outside', bytes: enc(MODP_P - 1n) },
    { why: 'p (out of range)', kind: 'outside', bytes: enc(MODP_P) },
    { why: 'p + 1 (non-canonical 1)', kind: 'non-canonical', bytes: enc(MODP_P + 1n) },
    { why: '2 (generates a larger subgroup)', kind: 'outside', bytes: enc(2n) },
    { why: 'all ones', kind: 'outside', bytes: new Uint8Array(256).fill(0xff) },
  ];
}

/** Wrong-length strings are common to all suites. */
function wrongLengths(group: Group): BadElement[] {
  const valid = group.encode(group.g2);
  return [
    { why: 'one byte short', kind: 'length', bytes: valid.slice(0, -1) },
    { why: 'one byte long', kind: 'length', bytes: concatBytes(valid, new Uint8Array([0])) },
    { why: 'empty', kind: 'length', bytes: new Uint8Array(0) },
  ];
}

export function badElements(group: Group): BadElement[] {
  const bySuite: Record<SuiteId, () => BadElement[]> = {
    'ristretto255-sha512': () => ristrettoBad(group),
    'p256-uprove': () => p256Bad(group),
    'modp2048-256': modpBad,
  };
  return [...bySuite[group.suite](), ...wrongLengths(group)];
}

/** One bad element of each kind: for positions nested deep enough that each parse is dear. */
export function oneOfEachKind(group: Group): BadElement[] {
  const seen = new Set<string>();
  return badElements(group).filter((b) => !seen.has(b.kind) && seen.add(b.kind));
}
