/** The options every host command uses to reach the bank, and the secrets it needs, read safely. */
import type { Command } from 'commander';
import { EcashError } from '../../core/index.js';
import { BankClient } from '../bank-client/index.js';
import { tokenFileOption } from './options.js';
import { readSecret } from './secrets.js';

export interface BankLinkOptions {
  bank?: string;
  tokenFile?: string;
}

const BANK_URL_ENV = 'ECASH_BANK_URL';
const BANK_TOKEN_ENV = 'ECASH_BANK_TOKEN';

/**
 * `--bank`, and `--token-file` for the bank credential the command presents; a command that
 * receives a new credential instead (`account open`) passes `withToken: false` and adds its own.
 */
export function addBankOptions(cmd: Command, withToken = true): Command {
  cmd.option('--bank <url>', `the bank's base URL, e.g. http://127.0.0.1:8080 (default: $${BANK_URL_ENV})`);
  if (withToken)
    tokenFileOption(cmd, `file holding the bank credential (default: $${BANK_TOKEN_ENV}); never pass a token on the command line`);
  return cmd;
}

export function bankClientFrom(opts: BankLinkOptions, needToken = true): BankClient {
  const baseUrl = opts.bank ?? process.env[BANK_URL_ENV];
  if (baseUrl === undefined || baseUrl === '')
    throw new EcashError('no-bank', `say where the bank is with --bank <url> or $${BANK_URL_ENV}`);
  if (!/^https?:\/\/[^\s/]+/.test(baseUrl))
    throw new EcashError('bad-bank-url', `--bank must be an http(s) URL such as http://127.0.0.1:8080, not "${baseUrl}"`);
  const token = readSecret(opts.tokenFile, BANK_TOKEN_ENV, 'bank credential', 'bank-token-unreadable');
  if (needToken && token === undefined) {
    throw new EcashError('bank-token-missing', `no bank credential: pass --token-file <file> or set $${BANK_TOKEN_ENV}`);
  }
  return new BankClient({ baseUrl, ...(token === undefined ? {} : { token }) });
}
