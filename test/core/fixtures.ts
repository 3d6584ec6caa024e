/**
 * The protocol story in a few calls, for the core's tests, the test-vector script and the core
 * benchmark: a bank key, an account, a withdrawal with the bank's view kept, a payment.
 * Every random choice comes from the RandomSource passed in, so a seeded source gives the same
 * bytes every time.
 */
import {
  type AccountOpening,
  BankWithdrawalSession,
  blindWithdrawal,
  type CardWithdrawalContext,
  type Coin,
  type CoinSecrets,
  completeWithdrawal,
  type DenominationSecret,
  type DenominationTerms,
  generateAccountSecret,
  generateDenominationKey,
  type Group,
  type GroupElement,
  NONCE_LENGTH,
  type PaymentContext,
  type PendingWithdrawal,
  paymentChallenge,
  proveAccountOpening,
  type RandomSource,
  respondToPayment,
  type Transcript,
} from '../../core/index.js';

/** 2026-01-01, 2027-01-01 and 2028-01-01 (UTC) in ms: a key valid for a year, deposits a year more. */
export const WITHDRAW_FROM = 1_767_225_600_000;
export const WITHDRAW_UNTIL = 1_798_761_600_000;
export const DEPOSIT_UNTIL = 1_830_297_600_000;
/** A payment time inside the key's window. */
export const PAYMENT_TIME = 1_780_000_000_000;

export function terms(value: number, currency = 'EUR', scope = ''): DenominationTerms {
  return { value, currency, withdrawFrom: WITHDRAW_FROM, withdrawUntil: WITHDRAW_UNTIL, depositUntil: DEPOSIT_UNTIL, scope };
}

export function bankKey(group: Group, rng: RandomSource, value = 500, currency = 'EUR', scope = ''): DenominationSecret {
  return generateDenominationKey(group, terms(value, currency, scope), rng);
}

/** The card's side of an account: u1 (secret) and I = g1^u1, with the opening proof for `holder`. */
export interface Account {
  holder: string;
  u1: bigint;
  I: GroupElement;
  opening: AccountOpening;
}

export function openAccount(group: Group, holder: string, rng: RandomSource): Account {
  const { u1, I } = generateAccountSecret(group, rng);
  return { holder, u1, I, opening: { I, proof: proveAccountOpening(group, u1, I, holder, rng) } };
}

/** z_v = (I·g2)^x_v: what the bank hands the account holder for key v at account opening. */
export function accountZ(group: Group, secret: DenominationSecret, I: GroupElement): GroupElement {
  return group.exp(group.mul(I, group.g2), secret.x);
}

export function cardContext(group: Group, secret: DenominationSecret, account: Account): CardWithdrawalContext {
  return { key: secret.key, z: accountZ(group, secret, account.I), I: account.I };
}

/** Everything the bank saw during one withdrawal: its offer (a, b), the challenge c and its answer r. */
export interface BankView {
  w: bigint;
  a: GroupElement;
  b: GroupElement;
  c: bigint;
  r: bigint;
}

export interface Withdrawn {
  coin: Coin;
  secrets: CoinSecrets;
  pending: PendingWithdrawal;
  view: BankView;
}

/** One full withdrawal: bank offer, card blinding, bank answer, card unblinding. */
export function withdraw(group: Group, secret: DenominationSecret, account: Account, rng: RandomSource): Withdrawn {
  const session = BankWithdrawalSession.offer(group, secret, account.I, rng);
  const { w } = session.persistentState();
  const ctx = cardContext(group, secret, account);
  const pending = blindWithdrawal(group, ctx, session.offer, rng);
  const r = session.answer(pending.c);
  const { coin, secrets } = completeWithdrawal(group, ctx, pending, r);
  return { coin, secrets, pending, view: { w, a: session.offer.a, b: session.offer.b, c: pending.c, r } };
}

export function paymentContext(rng: RandomSource, merchantId = 'shop-1', terminalId = 'till-1', timestamp = PAYMENT_TIME): PaymentContext {
  return { merchantId, terminalId, timestamp, nonce: rng.bytes(NONCE_LENGTH) };
}

/** The card's payment answer for `ctx`, as the shop's transcript. */
export function spend(group: Group, account: Account, withdrawn: Pick<Withdrawn, 'coin' | 'secrets'>, ctx: PaymentContext): Transcript {
  const d = paymentChallenge(group, withdrawn.coin, ctx);
  return { coin: withdrawn.coin, ...ctx, ...respondToPayment(group, account.u1, withdrawn.secrets, d) };
}
