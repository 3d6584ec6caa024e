/**
 * The bank component's public face: the domain service, its storage and key file, the HTTP API
 * and its typed client, and the JSON bodies they exchange. Other components import only this.
 */
export * from './api-types.js';
export { BankService, type BankServiceOptions, type Party, DEFAULT_SESSION_TTL_MS, MAX_DEPOSIT_BATCH } from './service.js';
export { decodeElementHex, decodeScalarHex } from './public-parameters.js';
export { type AuditReport } from './audit.js';
export { KeyFile, memoryKeyStore, type BankKeyStore } from './keyfile.js';
export { openStorage, openSqliteStorage, openPostgresStorage, isPostgresUrl, type BankStorage } from './storage/index.js';
export { buildBankApp, startBankServer, DEFAULT_BODY_LIMIT, DEFAULT_RATE_LIMIT, type BankAppOptions, type BankServer, type BankServerOptions } from './http.js';
export { BankClient, BankError, DEFAULT_CLIENT_TIMEOUT_MS, type BankClientOptions, type PageOptions } from './client.js';
