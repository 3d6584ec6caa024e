/**
 * Withdrawal of one coin under key v, as two explicit state machines.
 *
 * Bank: offer (w random; a = g^w, b = (I·g2)^w) → answer(c): r = c·x + w, once. The session is an
 * object whose w is erased when it answers; a second answer throws `session-answered`. Storage
 * keeps the same rule with a conditional update (see host/bank). A bank that stores its sessions
 * derives w instead (`WithdrawalNonces`), so that nothing from which x follows is ever stored.
 *
 * Card: blind(offer) picks s, u ∈ Z_q*, x1, x2, v' ∈ Z_q and computes
 *   A = (I·g2)^s, z' = z^s, B = g1^x1·g2^x2, a' = a^u·g^v', b' = b^(s·u)·A^v',
 *   c' = H(suite, keyId, A, B, z', a', b'), c = c'/u
 * then complete(r) accepts only if g^r = h^c·a and (I·g2)^r = z^c·b, and sets r' = r·u + v'.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToBigInt, u64be, utf8 } from './bytes.js';
import type { Coin, CoinSecrets } from './coin.js';
import { coinChallenge } from './coin.js';
import { EcashError } from './errors.js';
import type { Group, GroupElement } from './group.js';
import { encodeFields, TAG_NONCE, TAG_NONCE_KEY, tag } from './hash.js';
import type { DenominationKey, DenominationSecret } from './keys.js';
import { type RandomSource, randomNonZeroScalar, randomScalar } from './random.js';

export interface WithdrawalOffer {
  a: GroupElement;
  b: GroupElement;
}

/** The persistent form of an open bank session (w is secret: storage must protect and erase it). */
export interface OfferedSessionState {
  w: bigint;
  offer: WithdrawalOffer;
}

/**
 * Step 1's arithmetic alone: a = g^w and b = (I·g2)^w for a given w. It needs no key (only the
 * answer uses x), so a bank may compute offers away from its secrets, in another thread, and
 * restore the session from w to answer. `account` is I, or the base I·g2 prepared with
 * `group.precompute`.
 */
export function withdrawalOffer(group: Group, account: GroupElement | { base: GroupElement }, w: bigint): WithdrawalOffer {
  const base = 'base' in account ? account.base : group.mul(account, group.g2);
  return { a: group.exp(group.g, w), b: group.exp(base, w) };
}

/** The public facts of one bank withdrawal session that its w is derived from. */
export interface WithdrawalSessionFacts {
  sessionId: string;
  /** When the session was opened and when it expires, in ms since the Unix epoch. */
  createdAt: number;
  expiresAt: number;
}

/**
 * The bank's w of a session, derived from the denomination secret like RFC 6979's deterministic
 * nonces, so that no w is ever stored (with w, c and r of one session, x = (r − w)/c):
 *   K = SHA-512(f("ECASH-V1/W-KEY") f(suite) f(keyId) f(x))
 *   w = HMAC-SHA-512(K, f("ECASH-V1/W") f(suite) f(keyId) f(sessionId) f(u64 createdAt) f(u64 expiresAt))
 *       read as a big-endian integer, mod (q − 1), plus 1
 * so w ∈ [1, q − 1], its bias below 2^-250. The session's times are in it so that storage edited
 * to give a session a longer life or a later opening yields another w, useless against the offer
 * already sent. The same facts always give the same w: answering one session twice with two
 * challenges reveals x, and the bank must make sure it never does (docs/protocol.md).
 */
export class WithdrawalNonces {
  /** HMAC-SHA-512 keyed by K, its key already absorbed: each w clones it (half the hashing). */
  readonly #mac: ReturnType<typeof hmac.create>;
  readonly #keyId: Uint8Array;

  constructor(
    private readonly group: Group,
    secret: DenominationSecret,
  ) {
    this.#keyId = secret.key.keyId;
    const key = sha512(encodeFields([tag(TAG_NONCE_KEY), utf8(group.suite), this.#keyId, group.scalars.encode(secret.x)]));
    this.#mac = hmac.create(sha512, key);
    key.fill(0);
  }

  /** w of the session with these facts, under this key. */
  w(session: WithdrawalSessionFacts): bigint {
    const message = encodeFields([
      tag(TAG_NONCE),
      utf8(this.group.suite),
      this.#keyId,
      utf8(session.sessionId),
      u64be(session.createdAt),
      u64be(session.expiresAt),
    ]);
    return (bytesToBigInt(this.#mac.clone().update(message).digest()) % (this.group.q - 1n)) + 1n;
  }
}

export class BankWithdrawalSession {
  #w: bigint | undefined;
  readonly #offer: WithdrawalOffer | undefined;

  private constructor(
    private readonly group: Group,
    private readonly secret: DenominationSecret,
    state: { w: bigint; offer?: WithdrawalOffer },
  ) {
    this.#w = state.w;
    this.#offer = state.offer;
  }

  /** (a, b), for the card; a session restored only to answer does not hold them. */
  get offer(): WithdrawalOffer {
    if (this.#offer === undefined)
      throw new EcashError('offer-not-loaded', 'this session was restored to answer; its offer stays in storage');
    return this.#offer;
  }

  /** Step 1: a = g^w, b = (I·g2)^w for a fresh w (see withdrawalOffer). */
  static offer(group: Group, secret: DenominationSecret, I: GroupElement, rng: RandomSource): BankWithdrawalSession {
    const w = randomNonZeroScalar(group, rng);
    return new BankWithdrawalSession(group, secret, { w, offer: withdrawalOffer(group, I, w) });
  }

  /**
   * A session reloaded from storage, still unanswered. Answering needs only w (r = c·x + w), so
   * the offer may be left out; storage then keeps the answer-once rule with a conditional update.
   */
  static restore(group: Group, secret: DenominationSecret, state: { w: bigint; offer?: WithdrawalOffer }): BankWithdrawalSession {
    return new BankWithdrawalSession(group, secret, state);
  }

  get answered(): boolean {
    return this.#w === undefined;
  }

  /** The state to persist while the session is open. */
  persistentState(): OfferedSessionState {
    if (this.#w === undefined) throw new EcashError('session-answered', 'this withdrawal session has already answered');
    return { w: this.#w, offer: this.offer };
  }

  /** Step 3: r = c·x + w. Answers at most once; w is erased. */
  answer(c: bigint): bigint {
    const w = this.#w;
    if (w === undefined) {
      throw new EcashError('session-answered', 'this withdrawal session has already answered; start a new session for another coin');
    }
    if (c < 0n || c >= this.group.q) throw new EcashError('bad-scalar', 'challenge c is not reduced modulo the group order');
    this.#w = undefined;
    const s = this.group.scalars;
    return s.add(s.mul(c, this.secret.x), w);
  }
}

/** What the card needs to withdraw under one key. */
export interface CardWithdrawalContext {
  key: DenominationKey;
  /** z_v = (I·g2)^x_v as given by the bank for this account and key. */
  z: GroupElement;
  I: GroupElement;
}

/** The card's state between its challenge and the bank's answer (secret: the blinding). */
export interface PendingWithdrawal {
  keyId: Uint8Array;
  offer: WithdrawalOffer;
  z: GroupElement;
  /** The blinded challenge sent to the bank. */
  c: bigint;
  u: bigint;
  vPrime: bigint;
  secrets: CoinSecrets;
  draft: Omit<Coin, 'r'>;
}

export function blindWithdrawal(group: Group, ctx: CardWithdrawalContext, offer: WithdrawalOffer, rng: RandomSource): PendingWithdrawal {
  const s = randomNonZeroScalar(group, rng);
  const u = randomNonZeroScalar(group, rng);
  const x1 = randomScalar(group, rng);
  const x2 = randomScalar(group, rng);
  const vPrime = randomScalar(group, rng);
  const F = group.scalars;
  const Ig2 = group.mul(ctx.I, group.g2);
  const A = group.exp(Ig2, s);
  const draft = {
    keyId: ctx.key.keyId,
    A,
    B: group.multiExp([group.g1, group.g2], [x1, x2]),
    z: group.exp(ctx.z, s),
    a: group.mul(group.exp(offer.a, u), group.exp(group.g, vPrime)),
    b: group.mul(group.exp(offer.b, F.mul(s, u)), group.exp(A, vPrime)),
  };
  const cPrime = coinChallenge(group, draft);
  const c = F.mul(cPrime, F.inv(u));
  return { keyId: ctx.key.keyId, offer, z: ctx.z, c, u, vPrime, secrets: { s, x1, x2 }, draft };
}

/**
 * Step 4: check the bank's answer and unblind. Throws `bad-withdrawal-response` if the bank's r
 * does not satisfy g^r = h^c·a and (I·g2)^r = z^c·b (nothing is stored then).
 */
export function completeWithdrawal(
  group: Group,
  ctx: CardWithdrawalContext,
  pending: PendingWithdrawal,
  r: bigint,
): { coin: Coin; secrets: CoinSecrets } {
  if (r < 0n || r >= group.q) throw new EcashError('bad-scalar', 'the bank response r is not reduced modulo the group order');
  const nc = group.scalars.neg(pending.c);
  const ok1 = group.equals(group.multiExp([group.g, ctx.key.h], [r, nc]), pending.offer.a);
  const Ig2 = group.mul(ctx.I, group.g2);
  const ok2 = group.equals(group.multiExp([Ig2, pending.z], [r, nc]), pending.offer.b);
  if (!ok1 || !ok2) {
    throw new EcashError('bad-withdrawal-response', 'the bank response does not verify against the offer and key; the coin was not stored');
  }
  const F = group.scalars;
  return { coin: { ...pending.draft, r: F.add(F.mul(r, pending.u), pending.vPrime) }, secrets: pending.secrets };
}
