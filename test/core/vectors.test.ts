/**
 * The committed test vectors: the code must reproduce them byte for byte from their seeds, and
 * every value in them must check out against the protocol's equations on its own, the way a
 * third party would read the file.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  batchVerifyTranscripts,
  coinChallenge,
  coinFromJson,
  decodeCoin,
  decodeKey,
  decodeProof,
  decodeTranscript,
  encodeCoin,
  fromHex,
  keyFromJson,
  paymentChallenge,
  proofFromJson,
  toHex,
  transcriptFromJson,
  verifyAccountOpening,
  verifyCoin,
  verifyDoubleSpendProof,
  verifyTranscript,
} from '../../core/index.js';
import { renderVectors, vectorFile } from '../../scripts/make-vectors.js';
import { allGroups } from './group-backends.js';

interface VectorFile {
  suite: string;
  generators: Record<'g' | 'g1' | 'g2', string>;
  denomination: { x: string; key: unknown; binary: string };
  account: { holder: string; u1: string; I: string; proof: { t: string; c: string; s: string }; z: string };
  withdrawal: {
    bank: Record<'w' | 'a' | 'b', string>;
    card: Record<'s' | 'u' | 'x1' | 'x2' | 'vPrime' | 'A' | 'B' | 'zPrime' | 'aPrime' | 'bPrime' | 'cPrime' | 'c', string>;
    r: string;
    coin: Record<'A' | 'B' | 'z' | 'a' | 'b' | 'r', string>;
    binary: string;
  };
  payment: { d: string; r1: string; r2: string; transcript: unknown; binary: string };
  deposit: { transcripts: unknown[]; bad: number[] };
  doubleSpend: { transcripts: unknown[]; d: string[]; u1: string; I: string; proof: unknown; binary: string };
}

describe.each(allGroups.map((b) => [b.suite, b.backend, b.group] as const))('%s test vectors on the %s backend', (suite, _backend, G) => {
  const text = readFileSync(vectorFile(suite), 'utf8');
  const v = JSON.parse(text) as VectorFile;
  const F = G.scalars;
  const el = (hex: string) => G.decode(fromHex(hex));
  const sc = (hex: string) => F.decode(fromHex(hex));
  const eq = (a: ReturnType<typeof el>, b: ReturnType<typeof el>) => expect(toHex(G.encode(a))).toBe(toHex(G.encode(b)));

  it('are reproduced byte for byte from their seeds', () => {
    expect(renderVectors(suite, G)).toBe(text);
  });

  it('generators and the denomination key check out', () => {
    expect(v.suite).toBe(suite);
    eq(el(v.generators.g), G.g);
    eq(el(v.generators.g1), G.g1);
    eq(el(v.generators.g2), G.g2);
    const key = keyFromJson(G, v.denomination.key);
    eq(key.h, G.exp(G.g, sc(v.denomination.x)));
    expect(toHex(decodeKey(G, fromHex(v.denomination.binary)).keyId)).toBe(toHex(key.keyId));
  });

  it('the account and its opening proof check out', () => {
    const { account: a } = v;
    const I = el(a.I);
    eq(I, G.exp(G.g1, sc(a.u1)));
    const t = el(a.proof.t);
    const s = sc(a.proof.s);
    expect(() => verifyAccountOpening(G, a.holder, { I, proof: { t, s } })).not.toThrow();
    eq(G.exp(G.g1, s), G.mul(t, G.exp(I, sc(a.proof.c))));
    eq(el(a.z), G.exp(G.mul(I, G.g2), sc(v.denomination.x)));
  });

  it('every step of the withdrawal checks out', () => {
    const key = keyFromJson(G, v.denomination.key);
    const { bank, card, r } = v.withdrawal;
    const I = el(v.account.I);
    const Ig2 = G.mul(I, G.g2);
    const x = sc(v.denomination.x);
    const w = sc(bank.w);
    eq(el(bank.a), G.exp(G.g, w));
    eq(el(bank.b), G.exp(Ig2, w));
    const [s, u, vPrime] = [sc(card.s), sc(card.u), sc(card.vPrime)];
    eq(el(card.A), G.exp(Ig2, s));
    eq(el(card.zPrime), G.exp(el(v.account.z), s));
    eq(el(card.B), G.multiExp([G.g1, G.g2], [sc(card.x1), sc(card.x2)]));
    eq(el(card.aPrime), G.mul(G.exp(el(bank.a), u), G.exp(G.g, vPrime)));
    eq(el(card.bPrime), G.mul(G.exp(el(bank.b), F.mul(s, u)), G.exp(el(card.A), vPrime)));
    expect(sc(card.c)).toBe(F.mul(sc(card.cPrime), F.inv(u)));
    expect(sc(r)).toBe(F.add(F.mul(sc(card.c), x), w));
    const coin = coinFromJson(G, key.keyId, v.withdrawal.coin);
    expect(coinChallenge(G, coin)).toBe(sc(card.cPrime));
    expect(coin.r).toBe(F.add(F.mul(sc(r), u), vPrime));
    expect(verifyCoin(G, key, coin)).toBe(true);
    expect(toHex(encodeCoin(G, decodeCoin(G, fromHex(v.withdrawal.binary))))).toBe(v.withdrawal.binary);
    expect(toHex(encodeCoin(G, coin))).toBe(v.withdrawal.binary);
  });

  it('the payment, the deposit batch and the double spend check out', () => {
    const key = keyFromJson(G, v.denomination.key);
    const t = transcriptFromJson(G, v.payment.transcript);
    expect(paymentChallenge(G, t.coin, t)).toBe(sc(v.payment.d));
    expect([t.r1, t.r2]).toEqual([sc(v.payment.r1), sc(v.payment.r2)]);
    expect(verifyTranscript(G, key, t)).toBe(true);
    expect(verifyTranscript(G, key, decodeTranscript(G, fromHex(v.payment.binary)))).toBe(true);

    const batch = v.deposit.transcripts.map((j) => ({ key, transcript: transcriptFromJson(G, j) }));
    expect(batchVerifyTranscripts(G, batch)).toEqual(v.deposit.bad);
    expect(v.deposit.bad).toEqual([2]);

    const ds = v.doubleSpend;
    const [t1, t2] = ds.transcripts.map((j) => transcriptFromJson(G, j));
    expect([paymentChallenge(G, t1!.coin, t1!), paymentChallenge(G, t2!.coin, t2!)]).toEqual(ds.d.map(sc));
    const u1 = F.mul(F.sub(t1!.r1, t2!.r1), F.inv(F.sub(t1!.r2, t2!.r2)));
    expect(u1).toBe(sc(ds.u1));
    expect(u1).toBe(sc(v.account.u1));
    eq(el(ds.I), el(v.account.I));
    const fromJson = proofFromJson(G, ds.proof);
    const fromBinary = decodeProof(G, fromHex(ds.binary));
    expect(() => verifyDoubleSpendProof(G, fromJson)).not.toThrow();
    expect(() => verifyDoubleSpendProof(G, fromBinary)).not.toThrow();
  });
});
