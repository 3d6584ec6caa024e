/**
 * load: the load terminal (docs/terminals.md). It withdraws coins onto a card one journalled
 * session at a time, recovers interrupted loads, and rebalances a card's coins. It reaches cards
 * through reader-bridge and the bank through bank-client.
 */
export {
  loadCard,
  rebalanceCard,
  recoverInterruptedLoads,
  type IssuerBank,
  type LoadOptions,
  type LoadProgress,
  type LoadReport,
  type RebalanceReport,
  type WithdrawalStart,
} from './load-terminal.js';
export { LoadJournal, type LoadSession } from './journal.js';
export { httpIssuer } from './bank-issuer.js';
export * from './error-codes.js';
