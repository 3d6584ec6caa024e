/**
 * The bank's withdrawal offers, made by the service in process or in a worker thread: a = g^w and
 * b = (I·g2)^w, encoded for storage and the wire, for the session's w, which the main thread
 * derives from the key's secret (core's WithdrawalNonces) and hands over. The offer needs no key
 * (only the answer uses x), so the threads that make offers never hold the bank's secrets.
 */
import { type Group, type GroupElement, toHex, withdrawalOffer } from '../../core/index.js';

/** An offer as stored and sent. */
export interface EncodedOffer {
  a: Uint8Array;
  b: Uint8Array;
}

/**
 * Accounts whose I·g2 keeps a fixed-base table (about 80 KB each on the elliptic curves, 240 KB on
 * modp2048), per thread: an offer's b = (I·g2)^w then costs a quarter of a plain exponentiation,
 * and a card loading tens of coins pays the table's build once.
 */
const BASE_CACHE_SIZE = 256;

export class OfferMaker {
  /** I·g2 with a small fixed-base table per recently withdrawing account, least recently used first. */
  private readonly bases = new Map<string, GroupElement>();

  constructor(private readonly group: Group) {}

  /**
   * The offer of w (encoded) for the account whose I is `I` (encoded, as stored; decoded strictly
   * on a cache miss).
   */
  make(I: Uint8Array, w: Uint8Array): EncodedOffer {
    const key = toHex(I);
    let base = this.bases.get(key);
    this.bases.delete(key);
    base ??= this.group.precompute(this.group.mul(this.group.decode(I, 'I'), this.group.g2), 'small');
    this.bases.set(key, base);
    if (this.bases.size > BASE_CACHE_SIZE) this.bases.delete(this.bases.keys().next().value!);
    const offer = withdrawalOffer(this.group, { base }, this.group.scalars.decode(w, 'w'));
    return { a: this.group.encode(offer.a), b: this.group.encode(offer.b) };
  }
}
