/**
 * Every role of the scheme on every suite: denomination keys, account opening, the two withdrawal
 * state machines, coin verification, payment, deposit classification and double-spender
 * identification with its publicly verifiable proof.
 */
import { createHash, createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BankWithdrawalSession,
  blindWithdrawal,
  canDeposit,
  canWithdraw,
  classifyDeposit,
  coinChallenge,
  completeWithdrawal,
  computeKeyId,
  type DenominationSecret,
  encodeFields,
  encodeTranscript,
  generateDenominationKey,
  getGroup,
  groupExponentiations,
  identifyDoubleSpender,
  makeDenominationKey,
  makeDoubleSpendProof,
  meteredGroup,
  paymentChallenge,
  proveAccountOpening,
  respondToPayment,
  SUITE_IDS,
  seededRandom,
  type Transcript,
  toHex,
  transcriptCoinId,
  u64be,
  utf8,
  validatePaymentContext,
  validateTerms,
  keyTerms,
  verifyAccountOpening,
  verifyCoin,
  verifyDoubleSpendProof,
  verifyPaymentResponse,
  verifyTranscript,
  WithdrawalNonces,
  withdrawalOffer,
  zeroCounts,
} from '../../core/index.js';
import { expectCode } from './expect-code.js';
import {
  type Account,
  bankKey,
  cardContext,
  DEPOSIT_UNTIL,
  openAccount,
  paymentContext,
  spend,
  terms,
  WITHDRAW_FROM,
  WITHDRAW_UNTIL,
  type Withdrawn,
  withdraw,
} from './fixtures.js';

const sha = (alg: 'sha256' | 'sha512', data: Uint8Array) => new Uint8Array(createHash(alg).update(data).digest());

describe.each(SUITE_IDS)('%s roles', (suite) => {
  const G = getGroup(suite);
  const F = G.scalars;
  const rng = seededRandom(`roles-test/${suite}`);
  let bank: DenominationSecret;
  let alice: Account;
  let coin1: Withdrawn;

  beforeAll(() => {
    bank = bankKey(G, rng);
    alice = openAccount(G, 'alice@example.org', rng);
    coin1 = withdraw(G, bank, alice, rng);
  });

  describe('denomination keys', () => {
    it('publishes h = g^x and a key id over suite, h and every term', () => {
      expect(G.equals(bank.key.h, G.exp(G.g, bank.x))).toBe(true);
      const t = bank.key;
      const expected = sha(
        'sha256',
        encodeFields([
          utf8('ECASH-V1/KEYID'),
          utf8(suite),
          G.encode(t.h),
          u64be(t.value),
          utf8(t.currency),
          u64be(t.withdrawFrom),
          u64be(t.withdrawUntil),
          u64be(t.depositUntil),
          utf8(t.scope),
        ]),
      );
      expect(toHex(t.keyId)).toBe(toHex(expected));
    });

    it('changes the key id when any term or h changes', () => {
      const base = terms(500);
      const ids = new Set(
        [
          base,
          { ...base, value: 501 },
          { ...base, currency: 'USD' },
          { ...base, withdrawFrom: base.withdrawFrom + 1 },
          { ...base, withdrawUntil: base.withdrawUntil + 1 },
          { ...base, depositUntil: base.depositUntil + 1 },
          { ...base, scope: 'transit' },
        ].map((t) => toHex(computeKeyId(G, bank.key.h, t))),
      );
      ids.add(toHex(computeKeyId(G, G.g1, base)));
      expect(ids.size).toBe(8);
      expect(toHex(makeDenominationKey(G, bank.key.h, base).keyId)).toBe(toHex(bank.key.keyId));
    });

    it('makes terms from a start and windows in days', () => {
      const day = 86_400_000;
      expect(keyTerms(500, 'EUR', { from: 1_000, withdrawDays: 30, depositDays: 60 }, 'transit')).toEqual({
        value: 500,
        currency: 'EUR',
        withdrawFrom: 1_000,
        withdrawUntil: 1_000 + 30 * day,
        depositUntil: 1_000 + 90 * day,
        scope: 'transit',
      });
      expect(keyTerms(1, 'EUR', { from: 0, withdrawDays: 1, depositDays: 0 }).scope).toBe('');
    });

    it('refuses malformed terms', () => {
      const base = terms(500);
      expectCode(() => validateTerms({ ...base, value: 0 }), 'bad-value');
      expectCode(() => validateTerms({ ...base, value: 1.5 }), 'bad-value');
      expectCode(() => validateTerms({ ...base, value: 2 ** 53 }), 'bad-value');
      expectCode(() => validateTerms({ ...base, currency: 'eur' }), 'bad-currency');
      expectCode(() => validateTerms({ ...base, currency: 'EURO' }), 'bad-currency');
      expectCode(() => validateTerms({ ...base, withdrawFrom: -1 }), 'bad-window');
      expectCode(() => validateTerms({ ...base, withdrawUntil: base.withdrawFrom }), 'bad-window');
      expectCode(() => validateTerms({ ...base, depositUntil: base.withdrawUntil - 1 }), 'bad-window');
      expectCode(() => validateTerms({ ...base, scope: 'Transit' }), 'bad-scope');
      expectCode(() => validateTerms({ ...base, scope: 'a'.repeat(65) }), 'bad-scope');
      expectCode(() => generateDenominationKey(G, { ...base, value: -5 }, rng), 'bad-value');
      expect(() => validateTerms({ ...base, scope: 'transit.zone-1_a' })).not.toThrow();
    });

    it('says when coins may be withdrawn and deposited', () => {
      const k = bank.key;
      expect(canWithdraw(k, WITHDRAW_FROM - 1)).toBe(false);
      expect(canWithdraw(k, WITHDRAW_FROM)).toBe(true);
      expect(canWithdraw(k, WITHDRAW_UNTIL - 1)).toBe(true);
      expect(canWithdraw(k, WITHDRAW_UNTIL)).toBe(false);
      expect(canDeposit(k, WITHDRAW_FROM - 1)).toBe(false);
      expect(canDeposit(k, WITHDRAW_UNTIL)).toBe(true);
      expect(canDeposit(k, DEPOSIT_UNTIL)).toBe(true);
      expect(canDeposit(k, DEPOSIT_UNTIL + 1)).toBe(false);
    });
  });

  describe('account opening', () => {
    it('accepts a proof of knowledge of log_g1 I bound to the holder', () => {
      expect(G.equals(alice.I, G.exp(G.g1, alice.u1))).toBe(true);
      expect(() => verifyAccountOpening(G, alice.holder, alice.opening)).not.toThrow();
      const again = proveAccountOpening(G, alice.u1, alice.I, alice.holder, rng);
      expect(G.equals(again.t, alice.opening.proof.t)).toBe(false);
      expect(() => verifyAccountOpening(G, alice.holder, { I: alice.I, proof: again })).not.toThrow();
    });

    it('refuses the proof for another holder, another I, or with a changed response', () => {
      const { I, proof } = alice.opening;
      expectCode(() => verifyAccountOpening(G, 'mallory@example.org', alice.opening), 'bad-account-opening');
      expectCode(() => verifyAccountOpening(G, alice.holder, { I: G.mul(I, G.g1), proof }), 'bad-account-opening');
      expectCode(() => verifyAccountOpening(G, alice.holder, { I, proof: { ...proof, s: F.add(proof.s, 1n) } }), 'bad-account-opening');
      expectCode(() => verifyAccountOpening(G, alice.holder, { I, proof: { ...proof, t: G.mul(proof.t, G.g1) } }), 'bad-account-opening');
    });

    it('refuses I = 1 and I = g2^-1 (which would make I·g2 = 1)', () => {
      const proof = alice.opening.proof;
      expectCode(() => verifyAccountOpening(G, alice.holder, { I: G.identity, proof }), 'bad-account-opening');
      expectCode(() => verifyAccountOpening(G, alice.holder, { I: G.invert(G.g2), proof }), 'bad-account-opening');
    });
  });

  describe('withdrawal', () => {
    it('the bank offers a = g^w, b = (I·g2)^w and answers r = c·x + w exactly once', () => {
      const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
      const { w, offer } = session.persistentState();
      expect(G.equals(offer.a, G.exp(G.g, w))).toBe(true);
      expect(G.equals(offer.b, G.exp(G.mul(alice.I, G.g2), w))).toBe(true);
      expect(session.answered).toBe(false);
      const c = 12345n;
      expect(session.answer(c)).toBe(F.add(F.mul(c, bank.x), w));
      expect(session.answered).toBe(true);
      expectCode(() => session.answer(c), 'session-answered');
      expectCode(() => session.answer(c + 1n), 'session-answered');
      expectCode(() => session.persistentState(), 'session-answered');
    });

    it('an unreduced challenge is refused without spending the session', () => {
      const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
      expectCode(() => session.answer(G.q), 'bad-scalar');
      expectCode(() => session.answer(-1n), 'bad-scalar');
      expect(session.answered).toBe(false);
      expect(typeof session.answer(1n)).toBe('bigint');
    });

    it('a restored session answers like the original would', () => {
      const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
      const state = session.persistentState();
      const restored = BankWithdrawalSession.restore(G, bank, state);
      expect(G.equals(restored.offer.a, session.offer.a)).toBe(true);
      expect(restored.answer(777n)).toBe(session.answer(777n));
    });

    it("a bank that stores its sessions derives w: HMAC-SHA-512 under a key made of x, over the session's id and times", () => {
      const nonces = new WithdrawalNonces(G, bank);
      const session = { sessionId: '00112233445566778899aabbccddeeff', createdAt: 1_780_000_000_000, expiresAt: 1_780_000_120_000 };
      // Recomputed here with node:crypto, from docs/protocol.md.
      const field = (b: Uint8Array) => [...u64be(b.length).slice(4), ...b];
      const fields = (...fs: Uint8Array[]) => new Uint8Array(fs.flatMap(field));
      const K = sha('sha512', fields(utf8('ECASH-V1/W-KEY'), utf8(suite), bank.key.keyId, F.encode(bank.x)));
      const mac = createHmac('sha512', K)
        .update(
          fields(
            utf8('ECASH-V1/W'),
            utf8(suite),
            bank.key.keyId,
            utf8(session.sessionId),
            u64be(session.createdAt),
            u64be(session.expiresAt),
          ),
        )
        .digest();
      const w = (BigInt(`0x${mac.toString('hex')}`) % (G.q - 1n)) + 1n;
      expect(nonces.w(session)).toBe(w);
      // The same facts give the same w (a restarted bank answers the session it opened); any other
      // fact, or another key, gives another.
      expect(new WithdrawalNonces(G, bank).w({ ...session })).toBe(w);
      for (const other of [
        { ...session, sessionId: `${session.sessionId.slice(1)}0` },
        { ...session, createdAt: session.createdAt + 1 },
        { ...session, expiresAt: session.expiresAt + 1 },
      ]) {
        expect(nonces.w(other)).not.toBe(w);
      }
      expect(new WithdrawalNonces(G, bankKey(G, rng)).w(session)).not.toBe(w);
      // Its offer answers like any session's.
      const restored = BankWithdrawalSession.restore(G, bank, { w, offer: withdrawalOffer(G, alice.I, w) });
      const ctx = cardContext(G, bank, alice);
      const pending = blindWithdrawal(G, ctx, restored.offer, rng);
      expect(() => completeWithdrawal(G, ctx, pending, restored.answer(pending.c))).not.toThrow();
    });

    it("the card blinds: A = (I·g2)^s, z' = z^s, B = g1^x1·g2^x2, c = c'/u, and unblinds r' = r·u + v'", () => {
      const { coin, secrets, pending, view } = coin1;
      const ctx = cardContext(G, bank, alice);
      expect(G.equals(coin.A, G.exp(G.mul(alice.I, G.g2), secrets.s))).toBe(true);
      expect(G.equals(coin.z, G.exp(ctx.z, secrets.s))).toBe(true);
      expect(G.equals(coin.B, G.multiExp([G.g1, G.g2], [secrets.x1, secrets.x2]))).toBe(true);
      expect(G.equals(coin.a, G.mul(G.exp(view.a, pending.u), G.exp(G.g, pending.vPrime)))).toBe(true);
      expect(G.equals(coin.b, G.mul(G.exp(view.b, F.mul(secrets.s, pending.u)), G.exp(coin.A, pending.vPrime)))).toBe(true);
      expect(F.mul(view.c, pending.u)).toBe(coinChallenge(G, coin));
      expect(coin.r).toBe(F.add(F.mul(view.r, pending.u), pending.vPrime));
      expect(toHex(coin.keyId)).toBe(toHex(bank.key.keyId));
      expect(verifyCoin(G, bank.key, coin)).toBe(true);
    });

    it('the card refuses a bank answer that does not verify, and an unreduced one', () => {
      const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
      const ctx = cardContext(G, bank, alice);
      const pending = blindWithdrawal(G, ctx, session.offer, rng);
      const r = session.answer(pending.c);
      expectCode(() => completeWithdrawal(G, ctx, pending, F.add(r, 1n)), 'bad-withdrawal-response');
      expectCode(() => completeWithdrawal(G, ctx, pending, G.q), 'bad-scalar');
      const { coin } = completeWithdrawal(G, ctx, pending, r);
      expect(verifyCoin(G, bank.key, coin)).toBe(true);
    });

    it('the card refuses the answer when the bank gave it a z made with another secret (a tagged account)', () => {
      const other = bankKey(G, rng);
      const tagged = { ...cardContext(G, bank, alice), z: G.exp(G.mul(alice.I, G.g2), other.x) };
      const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
      const pending = blindWithdrawal(G, tagged, session.offer, rng);
      expectCode(() => completeWithdrawal(G, tagged, pending, session.answer(pending.c)), 'bad-withdrawal-response');
    });
  });

  describe('coin verification', () => {
    it('accepts a coin only under its own key', () => {
      expect(verifyCoin(G, bank.key, coin1.coin)).toBe(true);
      const other = bankKey(G, rng, 1000);
      expect(verifyCoin(G, other.key, coin1.coin)).toBe(false);
      expect(verifyCoin(G, other.key, { ...coin1.coin, keyId: other.key.keyId })).toBe(false);
      // Same key id but another h: a relabelled key does not verify the coin.
      expect(verifyCoin(G, { ...bank.key, h: other.key.h }, coin1.coin)).toBe(false);
      expect(verifyCoin(G, { ...bank.key, suite: SUITE_IDS.find((s) => s !== suite)! }, coin1.coin)).toBe(false);
    });
  });

  describe('payment', () => {
    it('d = H0(suite, keyId, A, B, merchant, terminal, timestamp, nonce) and the card answers with no group operation', () => {
      const ctx = paymentContext(rng);
      const d = paymentChallenge(G, coin1.coin, ctx);
      const fields = [
        utf8('ECASH-V1/H0'),
        utf8(suite),
        coin1.coin.keyId,
        G.encode(coin1.coin.A),
        G.encode(coin1.coin.B),
        utf8(ctx.merchantId),
        utf8(ctx.terminalId),
        u64be(ctx.timestamp),
        ctx.nonce,
      ];
      expect(d).toBe(BigInt('0x' + toHex(sha('sha512', encodeFields(fields)))) % G.q);
      const counts = zeroCounts();
      const { r1, r2 } = respondToPayment(meteredGroup(G, counts), alice.u1, coin1.secrets, d);
      expect(groupExponentiations(counts)).toBe(0);
      expect({ groupMul: counts.groupMul, scalarMul: counts.scalarMul, scalarAdd: counts.scalarAdd, hash: counts.hash }).toEqual({
        groupMul: 0,
        scalarMul: 2,
        scalarAdd: 2,
        hash: 0,
      });
      const { s, x1, x2 } = coin1.secrets;
      expect(r1).toBe(F.add(F.mul(F.mul(d, alice.u1), s), x1));
      expect(r2).toBe(F.add(F.mul(d, s), x2));
    });

    it('the shop accepts the answer and refuses it with any context field or response changed', () => {
      const t = spend(G, alice, coin1, paymentContext(rng));
      expect(verifyPaymentResponse(G, t)).toBe(true);
      expect(verifyTranscript(G, bank.key, t)).toBe(true);
      const nonce = t.nonce.slice();
      nonce[0]! ^= 1;
      const variants: Transcript[] = [
        { ...t, merchantId: 'shop-2' },
        { ...t, terminalId: 'till-2' },
        { ...t, timestamp: t.timestamp + 1 },
        { ...t, nonce },
        { ...t, r1: F.add(t.r1, 1n) },
        { ...t, r2: F.add(t.r2, 1n) },
      ];
      for (const v of variants) {
        expect(verifyPaymentResponse(G, v)).toBe(false);
        expect(verifyTranscript(G, bank.key, v)).toBe(false);
      }
      expect(verifyTranscript(G, bank.key, { ...t, coin: { ...t.coin, r: F.add(t.coin.r, 1n) } })).toBe(false);
    });

    it('validates the payment context', () => {
      const ok = paymentContext(rng);
      expect(() => validatePaymentContext(ok)).not.toThrow();
      expect(() => validatePaymentContext({ ...ok, merchantId: 'é'.repeat(32) })).not.toThrow();
      for (const bad of [
        { ...ok, merchantId: '' },
        { ...ok, merchantId: 'é'.repeat(33) },
        { ...ok, terminalId: 'till\n1' },
        { ...ok, terminalId: 'till\u007f' },
        { ...ok, merchantId: 'shop\ud800' },
        { ...ok, timestamp: -1 },
        { ...ok, timestamp: 1.5 },
        { ...ok, timestamp: 2 ** 53 },
        { ...ok, nonce: new Uint8Array(15) },
        { ...ok, nonce: new Uint8Array(17) },
      ]) {
        expectCode(() => validatePaymentContext(bad), 'bad-payment-context');
      }
    });
  });

  describe('deposit and double spending', () => {
    let t1: Transcript;
    let t2: Transcript;
    beforeAll(() => {
      t1 = spend(G, alice, coin1, paymentContext(rng, 'shop-1'));
      t2 = spend(G, alice, coin1, paymentContext(rng, 'shop-2'));
    });

    it('classifies a deposit as new, a replay (same d) or a double spend (other d)', () => {
      expect(classifyDeposit(G, t1, undefined)).toBe('new');
      expect(classifyDeposit(G, t1, t1)).toBe('replay');
      expect(classifyDeposit(G, { ...t1, coin: { ...t1.coin } }, t1)).toBe('replay');
      expect(classifyDeposit(G, t2, t1)).toBe('double-spend');
    });

    it("identifies the account: u1 = (r1 − r1')/(r2 − r2') and I = g1^u1", () => {
      const bob = openAccount(G, 'bob@example.org', rng);
      const { u1, I } = identifyDoubleSpender(G, t1, t2);
      expect(u1).toBe(alice.u1);
      expect(G.equals(I, alice.I)).toBe(true);
      expect(G.equals(I, bob.I)).toBe(false);
      expect(identifyDoubleSpender(G, t2, t1).u1).toBe(alice.u1);
    });

    it('refuses to identify from a replay or from two different coins', () => {
      expectCode(() => identifyDoubleSpender(G, t1, t1), 'not-double-spend');
      const coin2 = withdraw(G, bank, alice, rng);
      const other = spend(G, alice, coin2, paymentContext(rng, 'shop-2'));
      expectCode(() => identifyDoubleSpender(G, t1, other), 'not-double-spend');
    });

    it('takes a coin for its key, A and B: two signatures on one (A, B) are one coin, another B is another coin', () => {
      // A card of its holder's making withdraws again with coin1's s (and x1, x2, or fresh ones):
      // blindWithdrawal draws s, u, x1, x2, v' in this order, 64 bytes each, read mod q.
      const reusing = (secrets: (bigint | undefined)[]) => {
        let draw = 0;
        return {
          bytes(n: number): Uint8Array {
            const v = secrets[draw++];
            return v === undefined ? rng.bytes(n) : new Uint8Array([...new Uint8Array(32), ...F.encode(v)]);
          },
        };
      };
      const again = (secrets: (bigint | undefined)[]) => {
        const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
        const ctx = cardContext(G, bank, alice);
        const pending = blindWithdrawal(G, ctx, session.offer, reusing(secrets));
        return completeWithdrawal(G, ctx, pending, session.answer(pending.c));
      };
      const { s, x1, x2 } = coin1.secrets;
      const twin = again([s, undefined, x1, x2]);
      expect(G.equals(twin.coin.A, coin1.coin.A) && G.equals(twin.coin.B, coin1.coin.B) && twin.coin.r !== coin1.coin.r).toBe(true);
      const t3 = spend(G, alice, twin, paymentContext(rng, 'shop-3'));
      const coinIdOf = (t: Transcript) => toHex(transcriptCoinId(G, encodeTranscript(G, t)));
      expect(coinIdOf(t3)).toBe(coinIdOf(t1));
      expect(identifyDoubleSpender(G, t1, t3).u1).toBe(alice.u1);
      expect(() => verifyDoubleSpendProof(G, makeDoubleSpendProof(G, bank.key, t1, t3))).not.toThrow();
      // The same s with fresh x1, x2: the same A, another B, another coin.
      const sibling = spend(G, alice, again([s]), paymentContext(rng, 'shop-3'));
      expect(G.equals(sibling.coin.A, coin1.coin.A)).toBe(true);
      expect(coinIdOf(sibling)).not.toBe(coinIdOf(t1));
      expectCode(() => identifyDoubleSpender(G, t1, sibling), 'not-double-spend');
    });

    it('builds a proof anyone can check with public parameters only', () => {
      const proof = makeDoubleSpendProof(G, bank.key, t1, t2);
      expect(() => verifyDoubleSpendProof(G, proof)).not.toThrow();
      expect(proof.u1).toBe(alice.u1);
    });

    it('rejects a proof with anything wrong in it', () => {
      const proof = makeDoubleSpendProof(G, bank.key, t1, t2);
      const otherKey = bankKey(G, rng, 200);
      const bob = openAccount(G, 'bob@example.org', rng);
      const coin2 = withdraw(G, bank, alice, rng);
      const otherCoin = spend(G, alice, coin2, paymentContext(rng, 'shop-2'));
      const badProofs = [
        { ...proof, u1: F.add(proof.u1, 1n) },
        { ...proof, I: bob.I },
        { ...proof, u1: bob.u1, I: bob.I },
        { ...proof, key: otherKey.key },
        { ...proof, key: { ...bank.key, value: bank.key.value + 1 } },
        { ...proof, key: { ...bank.key, suite: SUITE_IDS.find((s) => s !== suite)! } },
        { ...proof, transcripts: [t1, t1] as [Transcript, Transcript] },
        { ...proof, transcripts: [t1, otherCoin] as [Transcript, Transcript] },
        { ...proof, transcripts: [t1, { ...t2, r1: F.add(t2.r1, 1n) }] as [Transcript, Transcript] },
      ];
      for (const bad of badProofs) expectCode(() => verifyDoubleSpendProof(G, bad), 'bad-proof');
    });
  });
});
