/**
 * The one abstraction the protocol is written against: a group G of prime order q, written
 * multiplicatively, with its scalar field Z_q. Each suite (suites/) implements it.
 *
 * Elements are opaque: only the suite that made one may look inside. Decoding is strict
 * (canonical encoding, group membership, never the identity), so any element a caller holds
 * is a valid, non-identity member of the prime-order group unless it came from arithmetic.
 */
import type { SuiteId } from './suite-ids.js';

declare const elementBrand: unique symbol;
/** An element of one suite's group. Opaque; compare with `Group.equals`. */
export interface GroupElement {
  readonly [elementBrand]: true;
}

export interface Group {
  readonly suite: SuiteId;
  /** Prime order of the group (and modulus of the scalar field). */
  readonly q: bigint;
  /** Length of an element's canonical encoding in bytes. */
  readonly elementLength: number;
  /** Length of a scalar's encoding in bytes (32 in every suite). */
  readonly scalarLength: number;

  readonly identity: GroupElement;
  /** The system generators of docs/protocol.md: g (bank keys), g1 (account), g2 (coin). */
  readonly g: GroupElement;
  readonly g1: GroupElement;
  readonly g2: GroupElement;

  mul(a: GroupElement, b: GroupElement): GroupElement;
  /** a^-1 */
  invert(a: GroupElement): GroupElement;
  /** a^k for 0 <= k < q. */
  exp(a: GroupElement, k: bigint): GroupElement;
  /**
   * Π bases[i]^exps[i] with exponents in (-q, q) (a negative exponent inverts its base).
   * Not constant-time: public inputs only.
   */
  multiExp(bases: readonly GroupElement[], exps: readonly bigint[]): GroupElement;
  equals(a: GroupElement, b: GroupElement): boolean;
  isIdentity(a: GroupElement): boolean;
  /**
   * Returns the same element prepared for repeated exponentiation (fixed-base tables, built at
   * its first use), for long-lived bases such as a denomination key h or an account's I·g2.
   * `size` 'small' asks for a smaller, cheaper table where the suite has a choice (a base used
   * for tens of exponentiations rather than thousands).
   */
  precompute(a: GroupElement, size?: 'large' | 'small'): GroupElement;

  /** Canonical encoding (cached per element, so re-encoding a decoded element is free). */
  encode(a: GroupElement): Uint8Array;
  /**
   * Strict decoding: exact length, canonical form, group membership, not the identity.
   * Throws EcashError `bad-element` naming `what`.
   */
  decode(bytes: Uint8Array, what?: string): GroupElement;

  /** Scalar field Z_q. Inputs must already be reduced. */
  readonly scalars: ScalarField;

  /**
   * The project's hash to Z_q: SHA-512 over length-prefixed fields, read big-endian, mod q
   * (see hash.ts). On the group so that a metered group can count hashes.
   */
  hashToScalar(fields: readonly Uint8Array[]): bigint;
}

export interface ScalarField {
  readonly q: bigint;
  add(a: bigint, b: bigint): bigint;
  sub(a: bigint, b: bigint): bigint;
  mul(a: bigint, b: bigint): bigint;
  neg(a: bigint): bigint;
  /** Inverse mod q; throws for 0. */
  inv(a: bigint): bigint;
  /** Reduce any integer into [0, q). */
  reduce(a: bigint): bigint;
  /** 32-byte big-endian encoding. */
  encode(a: bigint): Uint8Array;
  /** Strict: exactly 32 bytes and < q. Throws EcashError `bad-scalar`. */
  decode(bytes: Uint8Array, what?: string): bigint;
}
