/**
 * Suite `p256-uprove`: NIST P-256 from @noble/curves. g is the standard base point; g1 and g2 are
 * the U-Prove Recommended Parameters Profile V1.1 generators of index 1 and 2, derived here from
 * the published recipe (not pasted): for counter k = 0, 1, …
 *   x = SHA-256(UTF-8("U-Prove Recommended Parameters ProfileP-256" + decimal(i) + decimal(k) + "0")) mod p
 * the first x on the curve wins, with y the smaller of the two square roots.
 * Encoding: SEC1 uncompressed, 65 bytes; decoding accepts only points on the curve.
 */
import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToBigInt, utf8 } from '../bytes.js';
import type { Group } from '../group.js';
import { makeEcGroup } from './ec.js';
import { p256Msm } from './p256-msm.js';

type P256Point = InstanceType<typeof p256.Point>;

export const UPROVE_CONTEXT = 'U-Prove Recommended Parameters ProfileP-256';

export function uproveGenerator(index: number): P256Point {
  const Fp = p256.Point.Fp;
  const p = Fp.ORDER;
  const a = p256.Point.CURVE().a;
  const b = p256.Point.CURVE().b;
  for (let k = 0; k < 1000; k++) {
    const x = bytesToBigInt(sha256(utf8(`${UPROVE_CONTEXT}${index}${k}0`))) % p;
    const rhs = Fp.add(Fp.add(Fp.mul(Fp.sqr(x), x), Fp.mul(a, x)), b);
    let y: bigint;
    try {
      y = Fp.sqrt(rhs);
    } catch {
      continue; // not a square: x is not on the curve, try the next counter
    }
    const other = Fp.neg(y);
    const point = p256.Point.fromAffine({ x, y: y < other ? y : other });
    point.assertValidity();
    return point;
  }
  throw new Error(`no U-Prove generator found for index ${index}`);
}

export function makeP256Group(): Group {
  return makeEcGroup<P256Point>({
    suite: 'p256-uprove',
    Point: p256.Point,
    elementLength: 65,
    toBytes: (pt) => pt.toBytes(false),
    fromBytes: (bytes) => {
      if (bytes[0] !== 0x04) throw new Error('not an uncompressed SEC1 point');
      return p256.Point.fromBytes(bytes);
    },
    generators: { g: p256.Point.BASE, g1: uproveGenerator(1), g2: uproveGenerator(2) },
    largeMsm: p256Msm,
  });
}
