/**
 * The attacks of SCHEME.md, carried out: each one is shown to work against the bare equations
 * and then shown to fail against the core's checks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BankWithdrawalSession,
  batchVerifyTranscripts,
  bigIntToBytes,
  type Coin,
  coinFromJson,
  coinToJson,
  decodeCoin,
  decodeKey,
  decodeProof,
  decodeTranscript,
  type DenominationSecret,
  type DoubleSpendProof,
  encodeCoin,
  encodeKey,
  encodeProof,
  encodeTranscript,
  getGroup,
  type Group,
  identifyDoubleSpender,
  keyFromJson,
  keyToJson,
  makeDoubleSpendProof,
  paymentChallenge,
  proofFromJson,
  proofToJson,
  proveAccountOpening,
  randomNonZeroScalar,
  randomScalar,
  respondToPayment,
  SUITE_IDS,
  seededRandom,
  type Transcript,
  toHex,
  TAG_H,
  transcriptFromJson,
  transcriptToJson,
  utf8,
  verifyAccountOpening,
  verifyCoin,
  verifyTranscript,
} from '../../core/index.js';
import { badElements, oneOfEachKind } from './bad-elements.js';
import { expectCode } from './expect-code.js';
import { type Account, accountZ, bankKey, openAccount, paymentContext, spend, withdraw } from './fixtures.js';

/** The identity's conventional encoding in each suite (which this protocol never accepts). */
function identityBytes(G: Group): Uint8Array {
  if (G.suite === 'modp2048-256') return bigIntToBytes(1n, 256);
  return new Uint8Array(G.elementLength);
}

describe.each(SUITE_IDS)('%s attacks', (suite) => {
  const G = getGroup(suite);
  const F = G.scalars;
  const rng = seededRandom(`attacks-test/${suite}`);
  let bank: DenominationSecret;
  let alice: Account;

  beforeAll(() => {
    bank = bankKey(G, rng);
    alice = openAccount(G, 'alice', rng);
  });

  it('a coin with A = 1 satisfies both signature equations but is refused everywhere', () => {
    // The attacker's card blinds with s = 0: A = z' = b' = 1. Its hash of the coin uses the
    // identity's usual encoding, since the protocol's encoder refuses to give one.
    const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
    const u = randomNonZeroScalar(G, rng);
    const vPrime = randomScalar(G, rng);
    const [x1, x2] = [randomScalar(G, rng), randomScalar(G, rng)];
    const one = G.identity;
    const B = G.multiExp([G.g1, G.g2], [x1, x2]);
    const aPrime = G.mul(G.exp(session.offer.a, u), G.exp(G.g, vPrime));
    const id = identityBytes(G);
    const cPrime = G.hashToScalar([utf8(TAG_H), utf8(suite), bank.key.keyId, id, G.encode(B), id, G.encode(aPrime), id]);
    const r = session.answer(F.mul(cPrime, F.inv(u)));
    const coin: Coin = { keyId: bank.key.keyId, A: one, B, z: one, a: aPrime, b: one, r: F.add(F.mul(r, u), vPrime) };
    // Both equations hold: g^r' = h^c'·a' and A^r' = z'^c'·b' (1 = 1).
    expect(G.equals(G.exp(G.g, coin.r), G.mul(G.exp(bank.key.h, cPrime), aPrime))).toBe(true);
    // Such a coin pays forever with r1 = x1, r2 = x2 and never identifies anyone.
    const pay = (i: number): Transcript => {
      const ctx = paymentContext(rng, `shop-${i}`);
      const d = G.hashToScalar([utf8('any'), utf8(String(i))]);
      return { coin, ...ctx, ...respondToPayment(G, alice.u1, { s: 0n, x1, x2 }, d) };
    };
    expectCode(() => identifyDoubleSpender(G, pay(1), pay(2)), 'not-double-spend');
    // The checks: verification, batch verification, the encoders and the decoders.
    expect(verifyCoin(G, bank.key, coin)).toBe(false);
    expect(batchVerifyTranscripts(G, [{ key: bank.key, transcript: pay(1) }])).toEqual([0]);
    expectCode(() => encodeCoin(G, coin), 'identity-element');
    expectCode(() => coinToJson(G, coin), 'identity-element');
    const honest = withdraw(G, bank, alice, rng).coin;
    const bytes = encodeCoin(G, honest);
    bytes.set(id, 2 + 32);
    expectCode(() => decodeCoin(G, bytes), 'bad-element');
    expectCode(() => coinFromJson(G, honest.keyId, { ...coinToJson(G, honest), A: toHex(id) }), 'bad-element');
  });

  it('registering I = g1^u1·g2^e without a valid proof fails, and shows what it would have bought', () => {
    const e = randomNonZeroScalar(G, rng);
    const cheat = { u1: alice.u1, I: G.mul(G.exp(G.g1, alice.u1), G.exp(G.g2, e)) };
    // The cheater knows u1 and e but not log_g1 I, so no proof it can make verifies.
    const withU1 = proveAccountOpening(G, cheat.u1, cheat.I, 'mallory', rng);
    expectCode(() => verifyAccountOpening(G, 'mallory', { I: cheat.I, proof: withU1 }), 'bad-account-opening');
    const borrowed = proveAccountOpening(G, alice.u1, alice.I, 'mallory', rng);
    expectCode(() => verifyAccountOpening(G, 'mallory', { I: cheat.I, proof: borrowed }), 'bad-account-opening');
    expectCode(() => verifyAccountOpening(G, 'alice', { I: alice.I, proof: borrowed }), 'bad-account-opening');
    // Had the bank skipped the proof: coins withdrawn on I' = g1^u1·g2^e pay correctly (the card
    // answers with u1/(1+e) and s·(1+e)), and a double spend names g1^(u1/(1+e)), nobody's account.
    const account: Account = { holder: 'mallory', u1: cheat.u1, I: cheat.I, opening: { I: cheat.I, proof: withU1 } };
    const w = withdraw(G, bank, account, rng);
    const k = F.add(e, 1n);
    const cardU1 = F.mul(cheat.u1, F.inv(k));
    const cardSecrets = { ...w.secrets, s: F.mul(w.secrets.s, k) };
    const pay = (shop: string): Transcript => {
      const ctx = paymentContext(rng, shop);
      return { coin: w.coin, ...ctx, ...respondToPayment(G, cardU1, cardSecrets, paymentChallenge(G, w.coin, ctx)) };
    };
    const [t1, t2] = [pay('shop-1'), pay('shop-2')];
    expect(verifyTranscript(G, bank.key, t1) && verifyTranscript(G, bank.key, t2)).toBe(true);
    const named = identifyDoubleSpender(G, t1, t2);
    expect(G.equals(named.I, cheat.I)).toBe(false);
    expect(G.equals(named.I, G.exp(G.g1, cardU1))).toBe(true);
  });

  it('a withdrawal session answers once; two answers on one w would reveal the bank\'s key', () => {
    const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
    const state = session.persistentState();
    const [c1, c2] = [randomScalar(G, rng), randomScalar(G, rng)];
    const r1 = session.answer(c1);
    expectCode(() => session.answer(c2), 'session-answered');
    // Why: storage that restored the same open session twice would answer twice, and then
    // x = (r1 − r2)/(c1 − c2). The bank's storage must mark the session answered atomically.
    const r2 = BankWithdrawalSession.restore(G, bank, state).answer(c2);
    expect(F.mul(F.sub(r1, r2), F.inv(F.sub(c1, c2)))).toBe(bank.x);
  });

  it('a shop cannot redeposit another shop\'s payment under its own id, nor relabel a coin\'s value', () => {
    const w = withdraw(G, bank, alice, rng);
    const t = spend(G, alice, w, paymentContext(rng, 'shop-1'));
    expect(verifyTranscript(G, bank.key, { ...t, merchantId: 'shop-2' })).toBe(false);
    const bigger = bankKey(G, rng, 5000);
    expect(verifyTranscript(G, bigger.key, { ...t, coin: { ...t.coin, keyId: bigger.key.keyId } })).toBe(false);
    // z' is tied to the account and key: a coin withdrawn under one key never verifies under another.
    expect(G.equals(w.coin.z, G.exp(accountZ(G, bigger, alice.I), w.secrets.s))).toBe(false);
  });

  describe('non-member points in every position', () => {
    let t: Transcript;
    let proof: DoubleSpendProof;
    beforeAll(() => {
      const w = withdraw(G, bank, alice, rng);
      t = spend(G, alice, w, paymentContext(rng, 'shop-1'));
      proof = makeDoubleSpendProof(G, bank.key, t, spend(G, alice, w, paymentContext(rng, 'shop-2')));
    });

    /** Replaces the JSON string at `path` and expects the parser to refuse it as bad-element. */
    function refuseJson(parse: (v: unknown) => unknown, doc: unknown, paths: string[][], bads = badElements(G)): void {
      for (const path of paths) {
        for (const bad of bads) {
          const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
          let at: Record<string, unknown> = copy;
          for (const p of path.slice(0, -1)) at = at[p] as Record<string, unknown>;
          at[path[path.length - 1]!] = toHex(bad.bytes);
          expect(() => expectCode(() => parse(copy), 'bad-element'), `${path.join('.')}: ${bad.why}`).not.toThrow();
        }
      }
    }

    /** Overwrites each element slot (byte offsets) of a binary encoding with each bad element. */
    function refuseBinary(decode: (b: Uint8Array) => unknown, bytes: Uint8Array, offsets: number[], bads = badElements(G)): void {
      for (const off of offsets) {
        for (const bad of bads.filter((b) => b.bytes.length === G.elementLength)) {
          const copy = bytes.slice();
          copy.set(bad.bytes, off);
          expect(() => expectCode(() => decode(copy), 'bad-element'), `offset ${off}: ${bad.why}`).not.toThrow();
        }
      }
    }

    const coinSlots = ['A', 'B', 'z', 'a', 'b'];
    const n = () => G.elementLength;
    const coinOffsets = (start: number) => coinSlots.map((_, i) => start + 32 + i * n());

    it('coin and transcript, JSON and binary', () => {
      refuseJson((v) => coinFromJson(G, t.coin.keyId, v), coinToJson(G, t.coin), coinSlots.map((k) => [k]));
      refuseJson((v) => transcriptFromJson(G, v), transcriptToJson(G, t), coinSlots.map((k) => ['coin', k]));
      refuseBinary((b) => decodeCoin(G, b), encodeCoin(G, t.coin), coinOffsets(2));
      refuseBinary((b) => decodeTranscript(G, b), encodeTranscript(G, t), coinOffsets(2));
    });

    it('denomination key h, JSON and binary', () => {
      refuseJson((v) => keyFromJson(G, v), keyToJson(G, bank.key), [['h']]);
      refuseBinary((b) => decodeKey(G, b), encodeKey(G, bank.key), [2]);
    });

    it('double-spend proof: key, both transcripts and I, JSON and binary', () => {
      // Parsing a proof parses its key (and prepares h), so one bad element of each kind per position.
      const bads = oneOfEachKind(G);
      const json = proofToJson(G, proof);
      const paths = [['key', 'h'], ['I'], ...[0, 1].flatMap((i) => coinSlots.map((k) => ['transcripts', String(i), 'coin', k]))];
      refuseJson((v) => proofFromJson(G, v), json, paths, bads);
      const bin = encodeProof(G, proof);
      const keyLen = encodeKey(G, bank.key).length;
      const t1Len = encodeTranscript(G, proof.transcripts[0]).length;
      const keyAt = 2 + 2;
      const t1At = keyAt + keyLen + 2;
      const t2At = t1At + t1Len + 2;
      const offsets = [keyAt + 2, ...coinOffsets(t1At + 2), ...coinOffsets(t2At + 2), bin.length - n()];
      refuseBinary((b) => decodeProof(G, b), bin, offsets, bads);
    });
  });
});
