/**
 * The bank component's public face: the domain service, its storage and key file, and its HTTP
 * API. The API's client and JSON bodies are host/bank-client's; other components import only this.
 */
export {
  BankService,
  type BankServiceOptions,
  type Party,
  type DepositingParty,
  DEFAULT_SESSION_TTL_MS,
  MAX_DEPOSIT_BATCH,
} from './service.js';
export type { AuditReport } from './audit.js';
export { KeyFile, memoryKeyStore, type BankKeyStore } from './keyfile.js';
export { openStorage, openSqliteStorage, openPostgresStorage, isPostgresUrl, type BankStorage } from './storage/index.js';
export {
  buildBankApp,
  startBankServer,
  DEFAULT_BODY_LIMIT,
  DEFAULT_RATE_LIMIT,
  type BankAppOptions,
  type BankServer,
  type BankServerOptions,
} from './http.js';
export * from './error-codes.js';
