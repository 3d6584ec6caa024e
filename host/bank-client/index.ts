/**
 * bank-client: what a terminal, the CLI or a console needs to talk to the bank, and nothing of the
 * bank itself. The typed client of the HTTP API (docs/bank-api.md), the JSON bodies it exchanges
 * (shared with the bank's HTTP edge), and the strict decoders of the bank's public parameters. It
 * depends on core and undici only, so loading it never loads fastify, pg or better-sqlite3.
 */
export * from './api-types.js';
export {
  accountOpeningJson,
  BankClient,
  BankError,
  DEFAULT_CLIENT_TIMEOUT_MS,
  type BankClientOptions,
  type PageOptions,
} from './client.js';
export { decodeElementHex, decodeScalarHex, KeyCache, ParsedParameters } from './public-parameters.js';
export * from './error-codes.js';
