/**
 * The bank's operator commands: `ecash bank init|serve|audit`, `ecash bank account …`,
 * `ecash bank merchant …`, `ecash bank keys …`, and `ecash verify-proof <file>` for anyone.
 *
 * Secrets never come from argv (other users of the machine see it in `ps`): the key file's
 * passphrase is read from `--passphrase-file` or $ECASH_BANK_PASSPHRASE, and a credential the bank
 * issues is printed once (or written to a mode-600 file). Commands that need only public data
 * (audit, account show/credit, merchant add/show, keys list) do not ask for the passphrase.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import {
  canDeposit,
  canWithdraw,
  DEFAULT_SUITE,
  type DenominationTerms,
  type DoubleSpendProof,
  EcashError,
  expectObject,
  expectString,
  formatAmount,
  getGroup,
  isEcashError,
  isSuiteId,
  keyTerms,
  parseAmount,
  parseCurrency,
  proofFromJson,
  type SuiteId,
  SUITE_IDS,
  suiteOfJson,
  toHex,
  validateTerms,
  verifyDoubleSpendProof,
} from '../../core/index.js';
import type { AccountOpenedJson, AccountOpeningJson } from '../bank-client/index.js';
import { BankService, isPostgresUrl, KeyFile, memoryKeyStore, openStorage, startBankServer, type BankStorage } from '../bank/index.js';
import { action, info, printResult, writeNewJsonFile } from './output.js';
import { listenForStop } from './signals.js';
import { isClusterWorker, serveCluster, workerStopped } from './bank-cluster.js';
import { portOption, tokenFileOption, wantsJson, wholeNumber } from './options.js';
import { openSecretFile, readSecret } from './secrets.js';

const PASSPHRASE_ENV = 'ECASH_BANK_PASSPHRASE';
const DEFAULT_DENOMINATIONS = 'EUR:1,2,5,10,20,50,100,200,500,1000,2000,5000';
const DEFAULT_WITHDRAW_DAYS = 365;
const DEFAULT_DEPOSIT_DAYS = 365;

interface DbOptions {
  db: string;
}

interface KeyOptions extends DbOptions {
  keys: string;
  passphraseFile?: string;
}

/** The key file's passphrase: from a file or the environment, never from argv. */
function passphrase(opts: { passphraseFile?: string }): string {
  const value = readSecret(opts.passphraseFile, PASSPHRASE_ENV, 'passphrase', 'passphrase-missing');
  if (value === undefined) {
    throw new EcashError('passphrase-missing', `the key file passphrase is needed: pass --passphrase-file <file> or set ${PASSPHRASE_ENV}`);
  }
  return value;
}

/** "EUR:1,2,5;USD:1,5" into the values per currency (minor units). */
function parseDenominations(spec: string): { currency: string; value: number }[] {
  const out: { currency: string; value: number }[] = [];
  for (const group of spec.split(/[;\s]+/).filter((g) => g !== '')) {
    const m = /^([A-Z]{3}):(\d+(?:,\d+)*)$/.exec(group);
    if (m === null)
      throw new EcashError('bad-option', `--denominations takes CURRENCY:value,value,… (e.g. ${DEFAULT_DENOMINATIONS}), got "${group}"`);
    for (const v of m[2]!.split(',')) out.push({ currency: m[1]!, value: wholeNumber(v, '--denominations') });
  }
  if (out.length === 0) throw new EcashError('bad-option', '--denominations names no denomination');
  return out;
}

/**
 * Terms for new keys: withdrawable for `withdrawDays` from `from`, and depositable for
 * `depositDays` more after the withdrawal window closes (coins on cards stay good that long).
 */
function termsFor(
  denoms: { currency: string; value: number }[],
  from: number,
  withdrawDays: number,
  depositDays: number,
  scope: string,
): DenominationTerms[] {
  if (withdrawDays < 1) throw new EcashError('bad-option', '--withdraw-days must be at least 1');
  return denoms.map((d) => {
    const t = keyTerms(d.value, d.currency, { from, withdrawDays, depositDays }, scope);
    validateTerms(t);
    return t;
  });
}

/** A time option: an ISO date/time or milliseconds since the epoch. */
function parseTime(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (/^\d+$/.test(value)) return wholeNumber(value, option);
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new EcashError('bad-option', `${option} takes an ISO date (2027-01-01T00:00:00Z) or milliseconds since 1970, got "${value}"`);
  return t;
}

/** A party's balances, one indented line each, for the human output of show commands. */
function balanceLines(balances: readonly { currency: string; balance: number }[]): string[] {
  return balances.length === 0 ? ['  no balance'] : balances.map((b) => `  ${formatAmount(b.balance, b.currency)}`);
}

function dateOf(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Storage and a service over it. Without the key file only public operations work. The database
 * must hold a bank already (except for `init`): a mistyped --db must not become a new bank.
 */
async function withBank<T>(
  opts: { db?: string },
  keyFile: KeyFile | undefined,
  fn: (svc: BankService, storage: BankStorage) => Promise<T>,
  /** `threads`: the service's worker threads; one-off commands need none, a server the default. */
  options: { creating?: boolean; threads?: number | 'default' } = {},
): Promise<T> {
  const db = requiredOption(opts.db, '--db');
  const storage = await openStorage(db, { mustExist: options.creating !== true });
  try {
    const suite = await storage.getSuite();
    if (suite === undefined && options.creating !== true)
      throw new EcashError('bank-not-initialised', `the database ${describeDb(db)} holds no bank; run ecash bank init first`);
    const keys = keyFile ?? memoryKeyStore(suite!, []);
    const threads = options.threads ?? 0;
    const svc = await BankService.create({ storage, keys, ...(threads === 'default' ? {} : { workerThreads: threads }) });
    try {
      return await fn(svc, storage);
    } finally {
      await svc.close();
    }
  } finally {
    await storage.close();
  }
}

/** The key file of --keys, unlocked (scrypt: about 0.1 s, so once per command). */
function openKeyFile(opts: { keys?: string; passphraseFile?: string }): KeyFile {
  return KeyFile.open(requiredOption(opts.keys, '--keys'), passphrase(opts));
}

function requiredOption(value: string | undefined, option: string): string {
  if (value === undefined || value === '') throw new EcashError('bad-option', `${option} is required`);
  return value;
}

/** A database argument for messages: a URL without its password. */
function describeDb(db: string): string {
  try {
    const u = new URL(db);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return db;
  }
}

/** A key's window now, by core's rules for withdrawing and depositing. */
function keyState(k: DenominationTerms, now: number): string {
  if (now < k.withdrawFrom) return 'future';
  if (canWithdraw(k, now)) return 'withdrawable';
  if (canDeposit(k, now)) return 'deposit-only';
  return 'expired';
}

interface KeyListJson {
  keyId: string;
  value: number;
  currency: string;
  scope: string;
  withdrawFrom: number;
  withdrawUntil: number;
  depositUntil: number;
  state: string;
}

/** A key as `keys list` shows it, from the database or the key file alike. */
function keyRow(keyId: string, k: DenominationTerms, now: number): KeyListJson {
  const { value, currency, scope, withdrawFrom, withdrawUntil, depositUntil } = k;
  return { keyId, value, currency, scope, withdrawFrom, withdrawUntil, depositUntil, state: keyState(k, now) };
}

function describeKeys(keys: KeyListJson[]): string {
  if (keys.length === 0) return 'no denomination keys';
  return keys
    .map(
      (k) =>
        `${k.keyId.slice(0, 16)}…  ${formatAmount(k.value, k.currency).padStart(14)}${k.scope ? ` (${k.scope})` : ''}  ${k.state.padEnd(12)}  withdraw ${dateOf(k.withdrawFrom)} – ${dateOf(k.withdrawUntil)}, deposit until ${dateOf(k.depositUntil)}`,
    )
    .join('\n');
}

/** A card's exported account opening (AccountOpeningJson), checked at this edge. */
function readOpening(file: string): AccountOpeningJson {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new EcashError(
      'bad-opening',
      `${file} is not a readable JSON account opening (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const o = expectObject(v, 'opening', ['suite', 'holder', 'I', 'proof']);
  const proof = expectObject(o.proof, 'opening.proof', ['t', 's']);
  const suite = expectString(o.suite, 'opening.suite');
  if (!isSuiteId(suite)) throw new EcashError('bad-opening', `opening.suite must be one of ${SUITE_IDS.join(', ')}`);
  return {
    suite,
    holder: expectString(o.holder, 'opening.holder'),
    I: expectString(o.I, 'opening.I'),
    proof: { t: expectString(proof.t, 'opening.proof.t'), s: expectString(proof.s, 'opening.proof.s') },
  };
}

function dbOption(cmd: Command): Command {
  return cmd.requiredOption('--db <path|url>', 'the bank database: an SQLite file or a postgres:// URL (add ?schema=NAME for a schema)');
}

function keyOptions(cmd: Command): Command {
  return dbOption(cmd)
    .requiredOption('--keys <file>', 'the encrypted key file')
    .option('--passphrase-file <file>', `file holding the key file passphrase (default: $${PASSPHRASE_ENV}); never a command-line value`);
}

export function registerBankCommands(program: Command): void {
  const bank = program.command('bank').description('the bank: keys and database, the HTTP server, accounts, merchants, the books');

  const init = keyOptions(bank.command('init'))
    .description('create the key file and the database, register the keys and issue an operator credential')
    .option('--suite <id>', `group suite (${SUITE_IDS.join(', ')})`, DEFAULT_SUITE)
    .option('--denominations <spec>', 'CURRENCY:value,… in minor units; several currencies separated by ";"', DEFAULT_DENOMINATIONS)
    .option('--withdraw-days <n>', 'days the keys can be withdrawn from now', String(DEFAULT_WITHDRAW_DAYS))
    .option('--deposit-days <n>', 'days coins can still be deposited after the withdrawal window', String(DEFAULT_DEPOSIT_DAYS))
    .option('--operator <name>', 'name of the operator credential', 'operator');
  tokenFileOption(init, 'also write the operator credential to this new file (mode 600)', ['--operator-token-file']).action(
    action(
      async (
        opts: KeyOptions & {
          suite: string;
          denominations: string;
          withdrawDays: string;
          depositDays: string;
          operator: string;
          tokenFile?: string;
        },
        cmd: Command,
      ) => {
        if (!isSuiteId(opts.suite)) throw new EcashError('bad-option', `--suite must be one of ${SUITE_IDS.join(', ')}`);
        const suite: SuiteId = opts.suite;
        const now = Date.now();
        const terms = termsFor(
          parseDenominations(opts.denominations),
          now,
          wholeNumber(opts.withdrawDays, '--withdraw-days'),
          wholeNumber(opts.depositDays, '--deposit-days'),
          '',
        );
        const pass = passphrase(opts);
        const tokenFile = opts.tokenFile === undefined ? undefined : openSecretFile(opts.tokenFile);
        let result: { suite: string; db: string; keys: string; keyIds: string[]; operatorCredential: string };
        // A refused init leaves nothing behind: an SQLite file it made and a key file it wrote go again.
        const made = isPostgresUrl(opts.db) || existsSync(opts.db) ? [] : [opts.db, `${opts.db}-wal`, `${opts.db}-shm`];
        try {
          // Refuse an initialised database before the key file exists.
          const storage = await openStorage(opts.db);
          try {
            const existing = await storage.getSuite();
            if (existing !== undefined) {
              throw new EcashError(
                'bank-exists',
                `the database ${describeDb(opts.db)} already belongs to a bank (suite ${existing}); use a new database, or ecash bank keys rotate to add keys`,
              );
            }
          } finally {
            await storage.close();
          }
          const keyFile = KeyFile.create(opts.keys, pass, suite, terms);
          made.push(keyFile.path);
          result = await withBank(
            opts,
            keyFile,
            async (svc) => {
              const { credential } = await svc.addOperator(opts.operator);
              tokenFile?.write(credential);
              return {
                suite,
                db: describeDb(opts.db),
                keys: keyFile.path,
                keyIds: keyFile.publicKeys().map((k) => k.keyId),
                operatorCredential: credential,
              };
            },
            { creating: true },
          );
          made.length = 0;
        } finally {
          tokenFile?.close();
          for (const file of made) rmSync(file, { force: true });
        }
        printResult({ json: wantsJson(cmd) }, result, () =>
          [
            `bank initialised: suite ${suite}, ${result.keyIds.length} denomination keys in ${result.keys}, database ${result.db}`,
            `operator credential (shown once${opts.tokenFile ? `; also in ${opts.tokenFile}` : ''}):`,
            `  ${result.operatorCredential}`,
          ].join('\n'),
        );
      },
    ),
  );

  keyOptions(bank.command('serve'))
    .description("run the bank's HTTP API until SIGINT or SIGTERM")
    .option('--port <n>', 'TCP port (0: any free port)', '8080')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--worker-threads <n>', 'worker threads checking deposits and making withdrawal offers (default: cores, at most 4)')
    .option('--processes <n>', 'bank processes behind the one address (Node cluster; more than 1 needs a PostgreSQL --db)', '1')
    .option('--log', 'request log (method, URL, status, time) as JSON lines on stdout; not with --json')
    .option(
      '--trust-proxy <address>',
      'behind a reverse proxy: its address or CIDR, whose X-Forwarded-For is trusted for per-client rate limits',
    )
    .action(
      action(
        async (
          opts: KeyOptions & { port: string; host: string; workerThreads?: string; processes: string; log?: boolean; trustProxy?: string },
          cmd: Command,
        ) => {
          const port = portOption(opts.port);
          // With --json, stdout carries exactly one document; the request log would interleave.
          if (opts.log === true && wantsJson(cmd))
            throw new EcashError('bad-option', '--log writes JSON lines to stdout and cannot be combined with --json');
          const processes = wholeNumber(opts.processes, '--processes');
          if (processes < 1) throw new EcashError('bad-option', '--processes must be at least 1');
          // SQLite is one process's database; the processes share their state through PostgreSQL.
          if (processes > 1 && !isPostgresUrl(requiredOption(opts.db, '--db')))
            throw new EcashError('bad-option', '--processes above 1 needs a PostgreSQL database (--db postgres://…)');
          const keyFile = openKeyFile(opts);
          if (processes > 1 && !isClusterWorker()) {
            // The database is checked (and migrated) once here, so that its errors are told once.
            await withBank(opts, keyFile, async () => undefined);
            await serveCluster(processes, async (url) => {
              printResult(
                { json: wantsJson(cmd) },
                { url, suite: keyFile.suite, storage: 'postgres', processes },
                () => `bank listening on ${url} (suite ${keyFile.suite}, postgres, ${processes} processes)`,
              );
            });
            return;
          }
          // The cores are shared by the processes (default: each its share, at least one thread).
          const threads =
            opts.workerThreads === undefined
              ? processes > 1
                ? Math.max(1, Math.floor(Math.min(4, availableParallelism()) / processes))
                : 'default'
              : wholeNumber(opts.workerThreads, '--worker-threads');
          await withBank(
            opts,
            keyFile,
            async (svc, storage) => {
              const worker = isClusterWorker();
              const stop = worker ? undefined : listenForStop();
              const server = await startBankServer({
                service: svc,
                host: opts.host,
                port,
                ...(opts.log === true ? { logger: true } : {}),
                ...(opts.trustProxy === undefined ? {} : { trustProxy: opts.trustProxy }),
              });
              if (stop === undefined) {
                // The primary prints the address once every process listens.
                await workerStopped();
                await server.close();
                return;
              }
              printResult(
                { json: wantsJson(cmd) },
                { url: server.url, suite: svc.suite, storage: storage.kind },
                () => `bank listening on ${server.url} (suite ${svc.suite}, ${storage.kind})`,
              );
              info(`${await stop.received}: closing the bank server`);
              // In-flight requests finish (fastify waits for them) before the service and the database close.
              await server.close();
            },
            { threads },
          );
        },
      ),
    );

  dbOption(bank.command('audit'))
    .description('prove from the database that the books balance and issued = outstanding + deposited for every key (exit 1 on a problem)')
    .action(
      action(async (opts: DbOptions, cmd: Command) => {
        const report = await withBank(opts, undefined, (svc) => svc.audit());
        printResult({ json: wantsJson(cmd) }, report, () => {
          const lines = [report.ok ? 'audit ok: the books balance' : `audit FAILED: ${report.problems.length} problem(s)`];
          for (const p of report.problems) lines.push(`  - ${p}`);
          for (const t of report.totals) lines.push(`  ${t.currency}: all balances sum to ${formatAmount(t.balance, t.currency)}`);
          for (const k of report.keys) {
            const refused = k.refused === 0 ? '' : `, ${k.refused} of them spent by payments the bank refused`;
            lines.push(
              `  key ${k.keyId.slice(0, 16)}… ${formatAmount(k.value, k.currency)}: issued ${k.issued}, deposited ${k.deposited}, outstanding ${k.outstanding} (${formatAmount(k.outstandingBalance, k.currency)})${refused}${k.ok ? '' : '  <- mismatch'}`,
            );
          }
          return lines.join('\n');
        });
        if (!report.ok) process.exitCode = 1;
      }),
    );

  const account = bank.command('account').description("account holders' accounts");
  const openAccount = keyOptions(account.command('open'))
    .description("open an account from a card's exported account opening (JSON); prints the account's credential once")
    .requiredOption('--opening <file>', 'the account opening the card exported (`ecash account export-opening`: suite, holder, I, proof)');
  tokenFileOption(openAccount, "also write the account's credential to this new file (mode 600)", ['--credential-file']).action(
    action(async (opts: KeyOptions & { opening: string; tokenFile?: string }, cmd: Command) => {
      const opening = readOpening(opts.opening);
      const credentialFile = opts.tokenFile === undefined ? undefined : openSecretFile(opts.tokenFile);
      let opened: AccountOpenedJson;
      try {
        opened = await withBank(opts, openKeyFile(opts), (svc) => svc.openAccountJson(opening, 'opening.'));
        credentialFile?.write(opened.credential);
      } finally {
        credentialFile?.close();
      }
      printResult({ json: wantsJson(cmd) }, opened, () =>
        [
          `account ${opened.accountId} opened for ${opened.holder} (deposits as ${opened.depositorId})`,
          'credential (shown once):',
          `  ${opened.credential}`,
        ].join('\n'),
      );
    }),
  );

  dbOption(account.command('show'))
    .description("an account's holder and balances")
    .argument('<accountId>')
    .action(
      action(async (accountId: string, opts: DbOptions, cmd: Command) => {
        const view = await withBank(opts, undefined, (svc) => svc.accountView(accountId));
        printResult({ json: wantsJson(cmd) }, view, () =>
          [`account ${view.accountId}: ${view.holder}, opened ${dateOf(view.createdAt)}`, ...balanceLines(view.balances)].join('\n'),
        );
      }),
    );

  dbOption(account.command('credit'))
    .description('book money taken in (cash or a transfer) to an account')
    .argument('<accountId>')
    .requiredOption('--amount <n>', 'amount in minor units')
    .requiredOption('--currency <code>', 'ISO 4217 code, e.g. EUR')
    .option('--reference <text>', 'reference for the statement', 'cash-in')
    .action(
      action(async (accountId: string, opts: DbOptions & { amount: string; currency: string; reference: string }, cmd: Command) => {
        const amount = parseAmount(opts.amount, '--amount');
        const currency = parseCurrency(opts.currency);
        const out = await withBank(opts, undefined, async (svc) => {
          const { entryId } = await svc.cashIn(accountId, currency, amount, opts.reference);
          return { entryId, ...(await svc.accountView(accountId)) };
        });
        printResult(
          { json: wantsJson(cmd) },
          out,
          () =>
            `credited ${formatAmount(amount, currency)} to ${accountId} (entry ${out.entryId}); balances: ${out.balances.map((b) => formatAmount(b.balance, b.currency)).join(', ')}`,
        );
      }),
    );

  const merchant = bank.command('merchant').description('merchants that deposit payments');
  const addMerchant = dbOption(merchant.command('add'))
    .description('add a merchant; prints its credential once')
    .argument('<merchantId>')
    .option('--name <name>', 'display name (default: the id)')
    .option(
      '--scope <scope>',
      'a scope of coins it accepts besides general money (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--fee <n>', 'fee per deposited coin in minor units', '0');
  tokenFileOption(addMerchant, "also write the merchant's credential to this new file (mode 600)").action(
    action(
      async (merchantId: string, opts: DbOptions & { name?: string; scope: string[]; fee: string; tokenFile?: string }, cmd: Command) => {
        const fee = wholeNumber(opts.fee, '--fee');
        const tokenFile = opts.tokenFile === undefined ? undefined : openSecretFile(opts.tokenFile);
        let added: { merchantId: string; credential: string };
        try {
          added = await withBank(opts, undefined, (svc) =>
            svc.addMerchant({ merchantId, ...(opts.name ? { name: opts.name } : {}), scopes: opts.scope, feePerCoin: fee }),
          );
          tokenFile?.write(added.credential);
        } finally {
          tokenFile?.close();
        }
        printResult({ json: wantsJson(cmd) }, added, () =>
          [`merchant ${merchantId} added`, 'credential (shown once):', `  ${added.credential}`].join('\n'),
        );
      },
    ),
  );

  dbOption(merchant.command('show'))
    .description("a merchant's terms and balances")
    .argument('<merchantId>')
    .action(
      action(async (merchantId: string, opts: DbOptions, cmd: Command) => {
        const view = await withBank(opts, undefined, (svc) => svc.merchantView(merchantId));
        printResult({ json: wantsJson(cmd) }, view, () =>
          [
            `merchant ${view.merchantId} (${view.name}): fee ${view.feePerCoin} minor units per coin, scopes ${view.scopes.length === 0 ? 'none' : view.scopes.join(', ')}`,
            ...balanceLines(view.balances),
          ].join('\n'),
        );
      }),
    );

  const credential = bank.command('credential').description('credentials of account holders, merchants and operators');
  dbOption(credential.command('revoke'))
    .description('revoke a credential for good (running servers on PostgreSQL refuse it at once, on SQLite within 10 s)')
    .argument('<credentialId>', 'the 16 hex digits after "ecash." in its token; never the whole token')
    .action(
      action(async (credentialId: string, opts: DbOptions, cmd: Command) => {
        const revoked = await withBank(opts, undefined, (svc) => svc.revokeCredential(credentialId));
        printResult(
          { json: wantsJson(cmd) },
          revoked,
          () => `credential ${revoked.credentialId} of ${revoked.kind} ${revoked.partyId} revoked at ${dateOf(revoked.revokedAt)}`,
        );
      }),
    );

  const keys = bank.command('keys').description('denomination keys');
  keys
    .command('list')
    .description('the denomination keys and their windows (public data: from the database, or the key file without its passphrase)')
    .option('--db <path|url>', 'the bank database')
    .option('--keys <file>', 'the key file (its public part)')
    .action(
      action(async (opts: { db?: string; keys?: string }, cmd: Command) => {
        const now = Date.now();
        let list: KeyListJson[];
        if (opts.db !== undefined) {
          list = await withBank(opts, undefined, async (_svc, storage) =>
            (await storage.listKeys()).map((k) => keyRow(toHex(k.keyId), k, now)),
          );
        } else if (opts.keys !== undefined) {
          list = KeyFile.publicKeysOf(opts.keys).map((k) => keyRow(k.keyId, k, now));
        } else {
          throw new EcashError('bad-option', 'give --db (the keys the bank registered) or --keys (the key file)');
        }
        printResult({ json: wantsJson(cmd) }, { keys: list }, () => describeKeys(list));
      }),
    );

  keyOptions(keys.command('rotate'))
    .description('add new denomination keys to the key file and register them (old keys keep their deposit windows)')
    .requiredOption('--value <n,…>', 'face values in minor units, comma-separated')
    .requiredOption('--currency <code>', 'ISO 4217 code, e.g. EUR')
    .option('--from <time>', 'start of the withdrawal window (ISO date or ms; default now), e.g. when the old keys stop', undefined)
    .option('--withdraw-days <n>', 'days the new keys can be withdrawn', String(DEFAULT_WITHDRAW_DAYS))
    .option('--deposit-days <n>', 'days coins can still be deposited after the withdrawal window', String(DEFAULT_DEPOSIT_DAYS))
    .option('--scope <scope>', 'scope of the new coins (default: general money)', '')
    .action(
      action(
        async (
          opts: KeyOptions & { value: string; currency: string; from?: string; withdrawDays: string; depositDays: string; scope: string },
          cmd: Command,
        ) => {
          const from = parseTime(opts.from, '--from', Date.now());
          const terms = termsFor(
            parseDenominations(`${opts.currency}:${opts.value}`),
            from,
            wholeNumber(opts.withdrawDays, '--withdraw-days'),
            wholeNumber(opts.depositDays, '--deposit-days'),
            opts.scope,
          );
          const keyFile = openKeyFile(opts);
          // The database must be this key file's bank before the key file changes.
          await withBank(opts, undefined, async (svc) => {
            if (svc.suite !== keyFile.suite)
              throw new EcashError(
                'wrong-suite',
                `the database belongs to a bank of suite ${svc.suite}, the key file is of ${keyFile.suite}`,
              );
          });
          const added = terms.map((t) => keyFile.addKey(t));
          // Opening the service over the rewritten key file registers the new public keys.
          const listed = await withBank(opts, keyFile, async (_svc, storage) => (await storage.listKeys()).map((k) => toHex(k.keyId)));
          const now = Date.now();
          const out = added.map((s) => ({
            keyId: toHex(s.key.keyId),
            value: s.key.value,
            currency: s.key.currency,
            scope: s.key.scope,
            withdrawFrom: s.key.withdrawFrom,
            withdrawUntil: s.key.withdrawUntil,
            depositUntil: s.key.depositUntil,
            state: keyState(s.key, now),
          }));
          for (const k of out)
            if (!listed.includes(k.keyId)) throw new EcashError('internal', `key ${k.keyId} was not registered in the database`);
          printResult(
            { json: wantsJson(cmd) },
            { added: out },
            () => `added ${out.length} key(s); restart ecash bank serve to use them\n${describeKeys(out)}`,
          );
        },
      ),
    );

  dbOption(bank.command('double-spends'))
    .description('list the double spends the bank caught, each with its proof (as GET /v1/double-spends answers an operator)')
    .option('--after <id>', 'only those after this double-spend id (the "next" of the previous page)')
    .option('--limit <n>', 'how many at most', '100')
    .option('--out <file>', 'also write the list as JSON to this new file, for `ecash verify-proof <file>`')
    .action(
      action(async (opts: DbOptions & { after?: string; limit: string; out?: string }, cmd: Command) => {
        const limit = wholeNumber(opts.limit, '--limit');
        if (limit < 1 || limit > 1000)
          throw new EcashError('bad-option', `--limit takes a number of double spends from 1 to 1000, got "${opts.limit}"`);
        const after = opts.after === undefined ? undefined : wholeNumber(opts.after, '--after');
        const list = await withBank(opts, undefined, (svc) =>
          svc.listDoubleSpends({ kind: 'operator', credentialId: 'cli' }, after, limit),
        );
        if (opts.out !== undefined) writeNewJsonFile(opts.out, list, 'double spends');
        printResult({ json: wantsJson(cmd) }, list, () =>
          [
            list.doubleSpends.length === 0 ? 'no double spends' : `${list.doubleSpends.length} double spend(s):`,
            ...list.doubleSpends.map(
              (d) =>
                `  #${d.doubleSpendId} ${dateOf(d.createdAt)}: account ${d.accountId ?? '(no account has this I)'}${d.holder === null ? '' : ` (${d.holder})`}, coin of key ${d.proof.key.keyId.slice(0, 16)}…, caught in ${d.depositor}'s batch ${d.batchId}`,
            ),
            ...(list.next === undefined ? [] : [`more: --after ${list.next}`]),
            ...(opts.out === undefined ? [] : [`written to ${opts.out}; check the proofs with: ecash verify-proof ${opts.out}`]),
          ].join('\n'),
        );
      }),
    );

  program
    .command('verify-proof')
    .description('check double-spend proofs with public parameters only (exit 1 if one does not verify)')
    .argument(
      '<file>',
      'a proof, a double-spend record with a "proof" field, or a list of them as GET /v1/double-spends and `ecash bank double-spends --out` give',
    )
    .action(
      action(async (file: string, _opts: unknown, cmd: Command) => {
        let doc: unknown;
        try {
          doc = JSON.parse(readFileSync(file, 'utf8'));
        } catch (e) {
          throw new EcashError(
            'bad-proof',
            `${file} is not a readable JSON document (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
          );
        }
        const proofs = proofsIn(doc, file);
        const checked = proofs.map((raw) => checkProof(raw));
        const json = checked.length === 1 && !isList(doc) ? checked[0]! : { valid: true, proofs: checked };
        printResult({ json: wantsJson(cmd) }, json, () =>
          checked
            .map((out) =>
              [
                `double-spend proof verifies (suite ${out.suite})`,
                `  spender I: ${out.I}`,
                `  coin of ${formatAmount(out.key.value, out.key.currency)}, key ${out.key.keyId}`,
                `  paid to: ${out.merchants.join(', ')}`,
              ].join('\n'),
            )
            .join('\n'),
        );
      }),
    );
}

const isList = (doc: unknown): doc is { doubleSpends: unknown } => typeof doc === 'object' && doc !== null && 'doubleSpends' in doc;

/**
 * The proofs in a verify-proof document: a proof itself, a double-spend record (its "proof"), or a
 * list of records; anything else is refused saying what is wanted, before any suite is read.
 */
function proofsIn(doc: unknown, file: string): unknown[] {
  const wanted = `a double-spend proof ({"type": "ecash-double-spend-proof", …}), a record with a "proof" field, or a list {"doubleSpends": [record, …]} as GET /v1/double-spends and \`ecash bank double-spends --out\` give`;
  if (typeof doc !== 'object' || doc === null) throw new EcashError('bad-proof', `${file} holds no double-spend proof: give ${wanted}`);
  if (isList(doc)) {
    const list = doc.doubleSpends;
    if (!Array.isArray(list)) throw new EcashError('bad-proof', `${file}: "doubleSpends" is not a list; give ${wanted}`);
    if (list.length === 0) throw new EcashError('no-proof', `${file} lists no double spends: there is nothing to verify`);
    return list.map((r, i) => {
      if (typeof r !== 'object' || r === null || !('proof' in r))
        throw new EcashError('bad-proof', `${file}: doubleSpends[${i}] has no "proof" field`);
      return (r as { proof: unknown }).proof;
    });
  }
  if ('proof' in doc) return [(doc as { proof: unknown }).proof];
  if ((doc as { type?: unknown }).type === 'ecash-double-spend-proof') return [doc];
  throw new EcashError('bad-proof', `${file} holds no double-spend proof: give ${wanted}`);
}

/** Verifies one proof with public parameters; u1, the cheater's account secret, is not repeated. */
function checkProof(raw: unknown) {
  const suite = suiteOfJson(raw, 'proof');
  const group = getGroup(suite);
  let proof: DoubleSpendProof;
  try {
    proof = proofFromJson(group, raw);
  } catch (e) {
    if (isEcashError(e)) throw new EcashError('bad-proof', `double-spend proof rejected: ${e.message} [${e.code}]`);
    throw e;
  }
  verifyDoubleSpendProof(group, proof);
  // u1 is the spender's account secret: the proof carries it, this output does not repeat it.
  return {
    valid: true,
    suite,
    I: toHex(group.encode(proof.I)),
    key: { keyId: toHex(proof.key.keyId), value: proof.key.value, currency: proof.key.currency, scope: proof.key.scope },
    merchants: proof.transcripts.map((t) => t.merchantId),
  };
}
