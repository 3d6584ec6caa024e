/**
 * Work counting for the cost model: a metered group counts the operations a role performed
 * (group exponentiations, multi-exponentiations, group multiplications, multiplications and
 * additions mod q, hashes), so a card can report them and a chip profile can price them.
 */
import type { Group, GroupElement, ScalarField } from './group.js';

export interface OpCounts {
  /** Single exponentiations g^k. */
  exp: number;
  /** Multi-exponentiations, and the total number of bases they covered. */
  multiExp: number;
  multiExpBases: number;
  /** Group multiplications (point additions). */
  groupMul: number;
  /** Multiplications mod q (inversions are counted separately). */
  scalarMul: number;
  scalarAdd: number;
  scalarInv: number;
  /** Hashes to Z_q. */
  hash: number;
  /** Elements decoded (each is a membership check). */
  decode: number;
}

export function zeroCounts(): OpCounts {
  return { exp: 0, multiExp: 0, multiExpBases: 0, groupMul: 0, scalarMul: 0, scalarAdd: 0, scalarInv: 0, hash: 0, decode: 0 };
}

/** Group exponentiations of any kind, the figure the card's payment step must keep at zero. */
export function groupExponentiations(c: OpCounts): number {
  return c.exp + c.multiExp;
}

/** A view of `group` that adds every operation to `counts`. */
export function meteredGroup(group: Group, counts: OpCounts): Group {
  const s = group.scalars;
  const scalars: ScalarField = {
    q: s.q,
    add: (a, b) => (counts.scalarAdd++, s.add(a, b)),
    sub: (a, b) => (counts.scalarAdd++, s.sub(a, b)),
    mul: (a, b) => (counts.scalarMul++, s.mul(a, b)),
    neg: (a) => s.neg(a),
    inv: (a) => (counts.scalarInv++, s.inv(a)),
    reduce: (a) => s.reduce(a),
    encode: (a) => s.encode(a),
    decode: (b, what) => s.decode(b, what),
  };
  return {
    suite: group.suite,
    q: group.q,
    elementLength: group.elementLength,
    scalarLength: group.scalarLength,
    identity: group.identity,
    g: group.g,
    g1: group.g1,
    g2: group.g2,
    scalars,
    mul: (a, b) => (counts.groupMul++, group.mul(a, b)),
    invert: (a) => group.invert(a),
    exp: (a, k) => (counts.exp++, group.exp(a, k)),
    multiExp: (bases: readonly GroupElement[], exps: readonly bigint[]) => {
      counts.multiExp++;
      counts.multiExpBases += bases.length;
      return group.multiExp(bases, exps);
    },
    equals: (a, b) => group.equals(a, b),
    isIdentity: (a) => group.isIdentity(a),
    precompute: (a, size) => group.precompute(a, size),
    encode: (a) => group.encode(a),
    decode: (b, what) => (counts.decode++, group.decode(b, what)),
    hashToScalar: (fields) => (counts.hash++, group.hashToScalar(fields)),
  };
}
