/**
 * pos: the point-of-sale terminal (docs/terminals.md). It takes payments offline on a reader,
 * keeps every step in its journal, settles with the bank through an acquirer, and offers the
 * cash-register API (docs/pos-api.md). It reaches cards through reader-bridge and the bank through
 * bank-client, never their internals.
 */
export {
  PaymentTerminal,
  DEFAULT_TERMINAL_CONFIG,
  type TerminalConfig,
  type NewPayment,
  type PaymentView,
  type SettlementReport,
} from './terminal.js';
export { Journal, type PaymentEvent, type PaymentRecord, type PaymentState, type RiskMode } from './journal.js';
export type { AcquirerBank, DepositOutcome } from './acquirer.js';
export { httpAcquirer } from './bank-acquirer.js';
export { buildPosApi, type PosApiOptions } from './api.js';
export { corsOrigins } from './cors-origins.js';
export { journalReceipt, renderReceipt, type ReceiptInput } from './receipt.js';
export * from './error-codes.js';
