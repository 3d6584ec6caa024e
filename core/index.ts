/**
 * core: Brands' off-line e-cash over three group suites, as pure functions and explicit state
 * machines. No I/O. Every other component depends on this public face only.
 */
export * from './errors.js';
export * from './error-codes.js';
export { MAX_AMOUNT, AMOUNT_SCHEMA, minorDigits, formatAmount, parseAmount, parseCurrency } from './amount.js';
export * from './bytes.js';
export type { Group, GroupElement, ScalarField } from './group.js';
export { SUITE_IDS, DEFAULT_SUITE, isSuiteId, type SuiteId } from './suite-ids.js';
export { getGroup, installGroup, referenceGroup } from './suites/index.js';
export { meteredGroup, zeroCounts, groupExponentiations, type OpCounts } from './meter.js';
export { encodeFields, TAG_H, TAG_H0, TAG_OPEN, TAG_KEY_ID, TAG_COIN_ID, TAG_NONCE_KEY, TAG_NONCE } from './hash.js';
export { systemRandom, seededRandom, randomScalar, randomNonZeroScalar, randomWeight, type RandomSource } from './random.js';
export {
  type DenominationTerms,
  type DenominationKey,
  type DenominationSecret,
  validateTerms,
  keyTerms,
  isCurrencyCode,
  computeKeyId,
  makeDenominationKey,
  generateDenominationKey,
  canWithdraw,
  canDeposit,
} from './keys.js';
export {
  type OpeningProof,
  type AccountOpening,
  generateAccountSecret,
  proveAccountOpening,
  verifyAccountOpening,
} from './account.js';
export { type Coin, type CoinSecrets, coinChallenge, verifyCoin } from './coin.js';
export {
  type WithdrawalOffer,
  type OfferedSessionState,
  BankWithdrawalSession,
  withdrawalOffer,
  type WithdrawalSessionFacts,
  WithdrawalNonces,
  type CardWithdrawalContext,
  type PendingWithdrawal,
  blindWithdrawal,
  completeWithdrawal,
} from './withdraw.js';
export {
  NONCE_LENGTH,
  type PaymentContext,
  type PaymentResponse,
  type Transcript,
  validatePaymentContext,
  paymentChallenge,
  respondToPayment,
  verifyPaymentResponse,
  verifyTranscript,
} from './payment.js';
export {
  type DepositClass,
  type DoubleSpender,
  type DoubleSpendProof,
  classifyDeposit,
  coinIdOfEncoded,
  identifyDoubleSpender,
  makeDoubleSpendProof,
  verifyDoubleSpendProof,
} from './double-spend.js';
export { type BatchItem, batchVerifyTranscripts } from './batch.js';
export * from './encoding.js';
export * from './json.js';
export * from './stored-row.js';
export { type MsmOps, straus, pippenger } from './msm.js';
export { chooseExactCoins, MAX_SEARCH_STEPS, type ExactChoice, type HeldCoins } from './coin-selection.js';
