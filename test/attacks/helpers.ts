/**
 * Shared pieces of the attack suite: the parties of an equations-only test, the bank on an
 * adapter with shops and a card holder, a forger's coin base (A and B whose logarithms it knows,
 * so it can answer any payment challenge without a bank signature) and a forged payment on it.
 */
import { afterAll, beforeAll } from 'vitest';
import {
  type Coin,
  getGroup,
  type Group,
  type PaymentContext,
  paymentChallenge,
  type RandomSource,
  randomNonZeroScalar,
  randomScalar,
  type SuiteId,
  seededRandom,
  type Transcript,
  transcriptToJson,
  type TranscriptJson,
} from '../../core/index.js';
import type { BankClient, DepositResultJson } from '../../host/bank-client/index.js';
import { bankKey, openAccount } from '../core/fixtures.js';
import { type BankFixture, type Holder, newHolder, startBank } from '../bank/http-fixture.js';
import type { AdapterKind } from '../bank/helpers.js';

/** The parties of a test against the bare equations of `suite`: a bank key and Alice's account. */
export function equations(suite: SuiteId) {
  const G = getGroup(suite);
  const rng = seededRandom(`attacks-test/${suite}`);
  return { G, F: G.scalars, rng, bank: bankKey(G, rng), alice: openAccount(G, 'alice', rng) };
}

export interface AttackBank {
  bank: BankFixture;
  /** Merchant clients by merchant id. */
  shops: Record<string, BankClient>;
  /** A card holder with 100.00 EUR on her account. */
  alice: Holder;
}

/**
 * The real bank over HTTP on `kind` for the enclosing describe block, with the merchants
 * `shopIds` and Alice; filled in before its tests (nothing when the adapter is not available).
 */
export function useAttackBank(kind: AdapterKind, available: boolean, shopIds: readonly string[] = []): AttackBank {
  const world = { shops: {} } as AttackBank;
  beforeAll(async () => {
    if (!available) return;
    world.bank = await startBank(kind);
    for (const id of shopIds) world.shops[id] = await addShop(world.bank, id);
    world.alice = await newHolder(world.bank, 'alice', 10_000);
  });
  afterAll(async () => {
    await world.bank?.dispose();
  });
  return world;
}

/** A merchant of the fixture bank and its client. */
export async function addShop(bank: BankFixture, merchantId: string): Promise<BankClient> {
  return bank.anon.withToken((await bank.operator.addMerchant({ merchantId })).credential);
}

/** Deposits `transcripts` as one batch; the per-coin results. */
export async function deposit(
  bank: BankFixture,
  shop: BankClient,
  batchId: string,
  transcripts: readonly (Transcript | TranscriptJson)[],
): Promise<DepositResultJson[]> {
  const json = transcripts.map((t) =>
    typeof t.coin.r === 'bigint' ? transcriptToJson(bank.group, t as Transcript) : (t as TranscriptJson),
  );
  return (await shop.deposit({ suite: bank.group.suite, batchId, transcripts: json })).results;
}

/** A = g1^a1·g2^a2 and B = g1^b1·g2^b2 with the logarithms known to the forger. */
export interface ForgerBase {
  A: Coin['A'];
  B: Coin['B'];
  /** r1, r2 for challenge d: g1^r1·g2^r2 = A^d·B holds by construction. */
  answer(d: bigint): { r1: bigint; r2: bigint };
}

export function forgerBase(G: Group, rng: RandomSource): ForgerBase {
  const [a1, a2, b1, b2] = [randomNonZeroScalar(G, rng), randomNonZeroScalar(G, rng), randomScalar(G, rng), randomScalar(G, rng)];
  const F = G.scalars;
  return {
    A: G.multiExp([G.g1, G.g2], [a1, a2]),
    B: G.multiExp([G.g1, G.g2], [b1, b2]),
    answer: (d) => ({ r1: F.add(F.mul(d, a1), b1), r2: F.add(F.mul(d, a2), b2) }),
  };
}

/** A payment with `coin` whose answer the forger computes from its base: right, whatever the signature. */
export function forgedPayment(G: Group, coin: Coin, base: ForgerBase, ctx: PaymentContext): Transcript {
  return { coin, ...ctx, ...base.answer(paymentChallenge(G, coin, ctx)) };
}
