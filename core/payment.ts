/**
 * Payment. The shop sends its merchant id, terminal id, timestamp and a fresh 16-byte nonce; the
 * card computes
 *   d = H0(f("ECASH-V1/H0") f(suite) f(keyId) f(A) f(B) f(merchantId) f(terminalId) f(u64 timestamp) f(nonce)) mod q
 * and answers r2 = d·s + x2, r1 = u1·(d·s) + x1: two multiplications and two additions mod q, no
 * group operation. The shop verifies the coin and g1^r1·g2^r2 = A^d·B.
 */
import { u64be, utf8 } from './bytes.js';
import type { Coin, CoinSecrets } from './coin.js';
import { verifyCoin } from './coin.js';
import { EcashError } from './errors.js';
import type { Group } from './group.js';
import { TAG_H0, tag } from './hash.js';
import type { DenominationKey } from './keys.js';

export const NONCE_LENGTH = 16;
const ID_MAX_BYTES = 64;

/** What the terminal sends to the card for one payment. */
export interface PaymentContext {
  merchantId: string;
  terminalId: string;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  nonce: Uint8Array;
}

export interface PaymentResponse {
  r1: bigint;
  r2: bigint;
}

/** A spent coin as the shop keeps and deposits it. */
export interface Transcript extends PaymentContext, PaymentResponse {
  coin: Coin;
}

function checkId(value: string, what: string): void {
  // A lone surrogate has no UTF-8 form: it would be hashed and encoded as U+FFFD, so two different
  // ids would share one d and a transcript would not survive its binary round trip.
  const ok = typeof value === 'string' && !/[\u0000-\u001f\u007f]|\p{Cs}/u.test(value);
  const n = ok ? utf8(value).length : 0;
  if (!ok || n === 0 || n > ID_MAX_BYTES) {
    throw new EcashError('bad-payment-context', `${what} must be 1-${ID_MAX_BYTES} bytes of well-formed UTF-8 without control characters`);
  }
}

/** Strict validation of a payment context (terminal side and card side both call it). */
export function validatePaymentContext(ctx: PaymentContext): void {
  checkId(ctx.merchantId, 'merchant id');
  checkId(ctx.terminalId, 'terminal id');
  if (!Number.isSafeInteger(ctx.timestamp) || ctx.timestamp < 0) {
    throw new EcashError('bad-payment-context', 'timestamp must be a non-negative integer of milliseconds');
  }
  if (!(ctx.nonce instanceof Uint8Array) || ctx.nonce.length !== NONCE_LENGTH) {
    throw new EcashError('bad-payment-context', `nonce must be ${NONCE_LENGTH} bytes`);
  }
}

export function paymentChallenge(group: Group, coin: Pick<Coin, 'keyId' | 'A' | 'B'>, ctx: PaymentContext): bigint {
  return group.hashToScalar([
    tag(TAG_H0),
    utf8(group.suite),
    coin.keyId,
    group.encode(coin.A),
    group.encode(coin.B),
    utf8(ctx.merchantId),
    utf8(ctx.terminalId),
    u64be(ctx.timestamp),
    ctx.nonce,
  ]);
}

/** The card's answer for challenge d: two multiplications and two additions mod q. */
export function respondToPayment(group: Group, u1: bigint, secrets: CoinSecrets, d: bigint): PaymentResponse {
  const F = group.scalars;
  const ds = F.mul(d, secrets.s);
  return { r1: F.add(F.mul(u1, ds), secrets.x1), r2: F.add(ds, secrets.x2) };
}

/** g1^r1·g2^r2 = A^d·B, with d recomputed from the transcript. */
export function verifyPaymentResponse(group: Group, t: Transcript): boolean {
  const d = paymentChallenge(group, t.coin, t);
  const F = group.scalars;
  const lhs = group.multiExp([group.g1, group.g2, t.coin.A], [t.r1, t.r2, F.neg(d)]);
  return group.equals(lhs, t.coin.B);
}

/** Offline verification of one spent coin: the coin itself and the payment response. */
export function verifyTranscript(group: Group, key: DenominationKey, t: Transcript): boolean {
  return verifyCoin(group, key, t.coin) && verifyPaymentResponse(group, t);
}
