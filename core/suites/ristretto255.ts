/**
 * Suite `ristretto255-sha512` (default): ristretto255 from @noble/curves, generators
 * hash_to_ristretto255 (RFC 9380: expand_message_xmd with SHA-512, the one-way map) of the ASCII
 * strings "g", "g1", "g2" with DST "ECASH-V1-GENERATORS".
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { utf8 } from '../bytes.js';
import type { Group } from '../group.js';
import { makeEcGroup } from './ec.js';
import { ristrettoMsm } from './ristretto255-msm.js';

export const GENERATOR_DST = 'ECASH-V1-GENERATORS';

type RistrettoPoint = InstanceType<typeof ristretto255.Point>;

export function ristrettoGenerator(name: string): RistrettoPoint {
  return ristretto255_hasher.hashToCurve(utf8(name), { DST: GENERATOR_DST }) as RistrettoPoint;
}

export function makeRistretto255Group(): Group {
  return makeEcGroup<RistrettoPoint>({
    suite: 'ristretto255-sha512',
    Point: ristretto255.Point,
    elementLength: 32,
    toBytes: (p) => p.toBytes(),
    fromBytes: (b) => ristretto255.Point.fromBytes(b),
    generators: { g: ristrettoGenerator('g'), g1: ristrettoGenerator('g1'), g2: ristrettoGenerator('g2') },
    largeMsm: ristrettoMsm,
  });
}
