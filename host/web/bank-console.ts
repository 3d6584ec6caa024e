/**
 * The bank console: the operator's read-only view of the bank, served by `ecash bank serve` beside
 * its API at /console/. The page signs in with an operator credential (kept in its memory only)
 * and reads the API: the audit, keys, accounts, merchants and double spends.
 */
import type { FastifyInstance } from 'fastify';
import { registerScreen } from './assets.js';

/** `config`: the route config the bank asks of every route (its files are public: no secrets in them). */
export function registerBankConsole(app: FastifyInstance, config: object): void {
  registerScreen(app, '/console/', 'bank-console.html', ['bank-console.js', 'money.js', 'screens.css'], config);
}
