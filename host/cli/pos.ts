/**
 * `ecash pos …`: the point-of-sale terminal. `serve` runs the cash-register API (docs/pos-api.md)
 * with settlement on a schedule; `pay` takes one payment with a live status line; `settle` deposits
 * what the journal holds; `journal` shows it.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { EcashError, formatAmount, isEcashError, parseAmount, parseCurrency } from '../../core/index.js';
import { type ReaderSet, VirtualTransport } from '../../reader-bridge/index.js';
import {
  buildPosApi,
  corsOrigins,
  DEFAULT_TERMINAL_CONFIG,
  httpAcquirer,
  Journal,
  type PaymentEvent,
  PaymentTerminal,
  type RiskMode,
  type SettlementReport,
  type TerminalConfig,
  journalReceipt,
} from '../pos/index.js';
import { registerTerminalDisplay } from '../web/index.js';
import { addBankOptions, type BankLinkOptions, bankClientFrom } from './bank-link.js';
import { addReaderOptions, type ReaderCliOptions, readersFrom, requireReader } from './bridge.js';
import { action, errorToJson, info, printResult } from './output.js';
import { listenForStop } from './signals.js';
import { portOption, wantsJson, wholeNumber } from './options.js';
import { addPinOption, holderPin, readSecret } from './secrets.js';

interface TerminalCliOptions extends BankLinkOptions, ReaderCliOptions {
  merchant?: string;
  merchantName?: string;
  terminal: string;
  journal: string;
  /** The sale options: absent for `settle`, which takes no payment. */
  currency?: string;
  mode?: string;
  floorLimit?: string;
  scope?: string[];
  cardWait?: string;
  pinWait?: string;
}

const API_KEY_ENV = 'ECASH_POS_API_KEY';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const JOURNAL_OPTION = ['--journal <file>', 'the terminal journal (SQLite)', 'ecash-pos.db'] as const;

/** Which terminal of which merchant, its journal and its bank: what every command but `journal` needs. */
function addTerminalIdentity(cmd: Command): Command {
  return addBankOptions(cmd)
    .option('--merchant <id>', 'the merchant id the bank knows this shop by (the card binds each payment to it)')
    .option('--terminal <id>', "this terminal's id (part of every payment and settlement batch id)", 'pos-1')
    .option(...JOURNAL_OPTION);
}

/** A terminal that takes payments: its identity, its reader and how it takes them. */
function addTerminalOptions(cmd: Command): Command {
  return addTerminalIdentity(addReaderOptions(cmd))
    .option('--merchant-name <name>', 'the name printed on receipts (default: the merchant id)')
    .option('--currency <code>', 'the currency the terminal takes', 'EUR')
    .option('--mode <mode>', 'offline (verify locally, settle later), online (deposit before approving) or floor-limit', 'offline')
    .option('--floor-limit <minor units>', 'in floor-limit mode, payments above this amount go online')
    .option('--scope <scope>', 'a coin scope this merchant accepts besides general money; repeatable', collect)
    .option('--card-wait <seconds>', 'how long to wait for a card', '120')
    .option('--pin-wait <seconds>', "how long to wait for the holder's PIN when the card asks for it", '60');
}

function parseMode(mode: string): RiskMode {
  if (mode === 'offline' || mode === 'online' || mode === 'floor-limit') return mode;
  throw new EcashError('bad-mode', `--mode must be offline, online or floor-limit, not "${mode}"`);
}

/** A wait given in seconds (fractions allowed), in milliseconds. */
function waitMs(value: string, option: string, code: 'bad-card-wait' | 'bad-pin-wait'): number {
  const s = Number(value);
  if (!Number.isFinite(s) || s <= 0) throw new EcashError(code, `${option} is a positive number of seconds, not "${value}"`);
  return s * 1000;
}

function terminalConfig(opts: TerminalCliOptions, needReader: boolean): TerminalConfig {
  if (opts.merchant === undefined) throw new EcashError('no-merchant', 'say which merchant this terminal belongs to with --merchant <id>');
  if (needReader && opts.reader === undefined)
    throw new EcashError('no-reader', 'say which reader takes the cards with --reader (see `ecash readers`)');
  const mode = parseMode(opts.mode ?? 'offline');
  if (mode === 'floor-limit' && opts.floorLimit === undefined)
    throw new EcashError('no-floor-limit', 'floor-limit mode needs --floor-limit <minor units>');
  return {
    ...DEFAULT_TERMINAL_CONFIG,
    merchantId: opts.merchant,
    merchantName: opts.merchantName ?? opts.merchant,
    terminalId: opts.terminal,
    currency: parseCurrency(opts.currency ?? 'EUR'),
    scopes: opts.scope ?? [],
    mode,
    floorLimit: opts.floorLimit === undefined ? 0 : parseAmount(opts.floorLimit, 'floor limit'),
    readerName: opts.reader ?? '',
    cardWaitMs: waitMs(opts.cardWait ?? '120', '--card-wait', 'bad-card-wait'),
    pinWaitMs: waitMs(opts.pinWait ?? '60', '--pin-wait', 'bad-pin-wait'),
  };
}

/**
 * The journal of a terminal that has taken payments: `settle` and `journal` only read what `pay`
 * or `serve` recorded, so a mistyped --journal is refused rather than made into an empty journal.
 */
function existingJournal(path: string): Journal {
  if (!existsSync(path)) {
    throw new EcashError(
      'no-database',
      `there is no terminal journal at ${path}: check --journal (a terminal's journal is made by its first \`ecash pos pay\` or \`ecash pos serve\`)`,
    );
  }
  return new Journal(path);
}

/**
 * Opens the journal and the terminal. Without a reader (settle) the terminal gets an empty reader
 * set and an existing journal: settling never touches a card and never starts a journal.
 */
async function openTerminal(opts: TerminalCliOptions, needReader: boolean) {
  const config = terminalConfig(opts, needReader);
  const readers: ReaderSet | VirtualTransport = needReader ? readersFrom(opts) : new VirtualTransport();
  if (needReader) {
    await requireReader(readers, config.readerName).catch(async (e: unknown) => {
      await readers.close();
      throw e;
    });
  }
  let journal: Journal;
  try {
    journal = needReader ? new Journal(opts.journal) : existingJournal(opts.journal);
  } catch (e) {
    await readers.close();
    throw e;
  }
  const terminal = new PaymentTerminal(journal, readers, httpAcquirer(bankClientFrom(opts)), config);
  try {
    await terminal.start();
  } catch (e) {
    await readers.close();
    journal.close();
    throw e;
  }
  return {
    terminal,
    async close() {
      await terminal.close();
      await readers.close();
      journal.close();
    },
  };
}

function describeEvent(ev: PaymentEvent): string {
  const d = ev.detail as { code?: string; message?: string } | null;
  return d?.message !== undefined ? `${ev.state}: ${d.message}${d.code !== undefined ? ` [${d.code}]` : ''}` : ev.state;
}

/**
 * Payments a killed or crashed run left after their request reached a card are finished first,
 * with the same request: the card answers it again without spending twice.
 */
async function finishInterrupted(terminal: PaymentTerminal): Promise<void> {
  // Listening before resuming: resuming records the payment's first state (waiting for the card,
  // or cancelled when no card was ever asked) before it returns.
  const log = (id: string, ev: PaymentEvent) => info(`payment ${id}: ${describeEvent(ev)}`);
  terminal.on('payment-event', log);
  try {
    for (;;) {
      const [id] = terminal.resumeUnfinished();
      if (id === undefined) return;
      info(`payment ${id} was interrupted after the card was asked to pay: tap the same card to finish it`);
      await terminal.idle();
    }
  } finally {
    terminal.off('payment-event', log);
  }
}

/**
 * Gives the card holder's PIN to every payment the card asks it for, from `pin` (a file, the
 * environment or the keyboard); a PIN that cannot be had declines the payment at once instead of
 * after the terminal's PIN wait, and so does a wrong one (given again, it would only use up the
 * card's tries). Returns how to stop.
 */
function answerPinRequests(terminal: PaymentTerminal, pin: () => Promise<string>): () => void {
  const onEvent = (id: string, ev: PaymentEvent) => {
    if (ev.state !== 'pin-required') return;
    if (ev.detail?.code === 'pin-wrong') {
      terminal.withholdPin(id, 'pin-wrong', String(ev.detail.message));
      return;
    }
    pin()
      .then(
        (p) => terminal.supplyPin(id, p),
        (e: unknown) => {
          const { code, message } = isEcashError(e) ? e : { code: 'internal' as const, message: errorToJson(e).message };
          terminal.withholdPin(id, code, message);
        },
      )
      .catch((e: unknown) => {
        // The payment ended (cancelled, timed out) while the PIN was being typed.
        if (!isEcashError(e, 'pin-not-expected')) throw e;
      });
  };
  terminal.on('payment-event', onEvent);
  return () => terminal.off('payment-event', onEvent);
}

/** `pos serve`'s options. */
type ServeOptions = TerminalCliOptions & { port: string; host: string; apiKeyFile?: string; settleEvery: string; corsOrigin?: string[] };

export function registerPosCommands(program: Command): void {
  const pos = program
    .command('pos')
    .description('the point-of-sale terminal: take payments, settle them with the bank, serve the cash-register API');

  addPinOption(
    addTerminalOptions(
      pos.command('pay <amount>').description('take one payment of <amount> minor units (1234 is 12.34 EUR) on the reader'),
    ),
  )
    .option('--reference <text>', "the cash register's reference for the payment")
    .action(
      action(async (amountText: string, opts: TerminalCliOptions & { reference?: string; pinFile?: string }, cmd: Command) => {
        const json = wantsJson(cmd);
        const amount = parseAmount(amountText);
        const { terminal, close } = await openTerminal(opts, true);
        try {
          // Asked only if the card wants it (above its no-PIN limit), after every check that needs no card.
          const stopAnswering = answerPinRequests(terminal, holderPin(opts.pinFile));
          await finishInterrupted(terminal);
          terminal.on('payment-event', (_id: string, ev: PaymentEvent) =>
            info(`${formatAmount(amount, terminal.config.currency)} ${describeEvent(ev)}`),
          );
          const interrupted = listenForStop();
          const record = terminal.startPayment({ amount, currency: terminal.config.currency, reference: opts.reference ?? null });
          const stop = interrupted.received.then(() => {
            try {
              terminal.cancel(record.id);
            } catch (e) {
              if (!isEcashError(e)) throw e;
              info(`not cancelled: ${e.message}`);
            }
          });
          void stop;
          const view = await terminal.outcome(record.id);
          printResult({ json }, view, () => view.receipt ?? describeEvent(view.events[view.events.length - 1]!));
          if (view.state !== 'approved') process.exitCode = 2;
          interrupted.dispose();
          stopAnswering();
        } finally {
          await close();
        }
      }),
    );

  addTerminalIdentity(
    pos
      .command('settle')
      .description('deposit every unsettled payment with the bank (idempotent; resends batches in flight under their ids)'),
  ).action(
    action(async (opts: TerminalCliOptions, cmd: Command) => {
      const json = wantsJson(cmd);
      const { terminal, close } = await openTerminal(opts, false);
      try {
        // Coins the bank did not take for a reason on this side stay pending: the report of what
        // was settled is printed all the same, then what to fix, and the exit code is 1.
        let report: SettlementReport;
        let incomplete: EcashError | undefined;
        try {
          report = await terminal.settle();
        } catch (e) {
          const partial = isEcashError(e) ? (e.details as { report?: SettlementReport } | undefined)?.report : undefined;
          if (partial === undefined) throw e;
          report = partial;
          incomplete = e as EcashError;
        }
        const error = incomplete === undefined ? {} : { error: { code: incomplete.code, message: incomplete.message } };
        printResult({ json }, { ...report, ...error }, () =>
          [
            `${report.transcripts} coins in ${report.batches} batches: ${
              Object.entries(report.outcomes)
                .map(([k, v]) => `${v} ${k}`)
                .join(', ') || 'nothing settled'
            }`,
            ...report.doubleSpends.map(
              (d) => `DOUBLE SPEND: payment ${d.paymentId} coin ${d.index}: the bank holds the spender's identity and the proof`,
            ),
          ].join('\n'),
        );
        if (incomplete !== undefined) {
          info(`ecash: settlement incomplete: ${incomplete.message} [${incomplete.code}]`);
          process.exitCode = 1;
        } else if (report.doubleSpends.length > 0) process.exitCode = 3;
      } finally {
        await close();
      }
    }),
  );

  pos
    .command('journal')
    .description("show the terminal journal: payments with their states, one payment's events and receipt, settlement status")
    .option(...JOURNAL_OPTION)
    .option('--payment <id>', 'show this payment in full')
    .option('--limit <n>', 'how many recent payments', '20')
    .action(
      action((opts: { journal: string; payment?: string; limit: string }, cmd: Command) => {
        const json = wantsJson(cmd);
        const limit = wholeNumber(opts.limit, '--limit');
        if (limit < 1) throw new EcashError('bad-option', `--limit takes a number of payments, at least 1, got "${opts.limit}"`);
        const journal = existingJournal(opts.journal);
        try {
          if (opts.payment !== undefined) {
            const p = journal.payment(opts.payment);
            const events = journal.events(opts.payment);
            // The journal keeps no display name: the receipt is printed under the merchant id.
            const receipt = journalReceipt(journal, p.id, p.merchantId);
            const value = { ...p, events, receipt, settlement: journal.settlementResults(opts.payment) };
            printResult({ json }, value, () =>
              [
                `payment ${p.id}: ${formatAmount(p.amount, p.currency)} ${p.mode}`,
                ...events.map((e) => `  ${new Date(e.at).toISOString()} ${describeEvent(e)}`),
                ...(receipt === null ? ['no receipt: the payment was not approved'] : ['', receipt]),
              ].join('\n'),
            );
            return;
          }
          const payments = journal.listPayments({ limit });
          const status = journal.settlementStatus();
          printResult({ json }, { payments, settlement: status }, () =>
            [
              ...payments.map(
                (p) =>
                  `${p.id}  ${new Date(p.createdAt).toISOString()}  ${formatAmount(p.amount, p.currency).padStart(12)}  ${p.mode.padEnd(8)} ${p.state}`,
              ),
              `settlement: ${JSON.stringify(status)}`,
            ].join('\n'),
          );
        } finally {
          journal.close();
        }
      }),
    );

  addTerminalOptions(pos.command('serve').description('serve the cash-register API (docs/pos-api.md) and settle on a schedule'))
    .option('--port <n>', 'API port', '8090')
    .option('--host <addr>', 'API address (loopback unless told otherwise)', '127.0.0.1')
    .option('--api-key-file <file>', `file holding the API key cash registers send (default: $${API_KEY_ENV}); at least 16 characters`)
    .option('--settle-every <seconds>', 'settle unsettled payments this often (0: only on POST /v1/settlement)', '300')
    .option(
      '--cors-origin <origin...>',
      'origins (https://till.example:8443) whose browser pages may call the API, with the key or a session cookie (default: none)',
    )
    .action(
      action(async (opts: ServeOptions, cmd: Command) => {
        const apiKey = readSecret(opts.apiKeyFile, API_KEY_ENV, 'API key', 'api-key-unreadable');
        if (apiKey === undefined || apiKey.length < 16) {
          throw new EcashError(
            'api-key-missing',
            `the API needs a key of at least 16 characters: --api-key-file <file> or $${API_KEY_ENV}`,
          );
        }
        const port = portOption(opts.port);
        const every = Number(opts.settleEvery);
        if (!Number.isFinite(every) || every < 0)
          throw new EcashError('bad-schedule', `--settle-every is a number of seconds, not "${opts.settleEvery}"`);
        if (every * 1000 >= DEFAULT_TERMINAL_CONFIG.depositMarginMs) {
          throw new EcashError(
            'bad-schedule',
            `--settle-every must be shorter than the deposit margin (${DEFAULT_TERMINAL_CONFIG.depositMarginMs / 1000} s): coins are taken until then before their key expires`,
          );
        }
        corsOrigins(opts.corsOrigin ?? []); // a bad origin is refused before the terminal opens
        const { terminal, close } = await openTerminal(opts, true);
        const resumed = terminal.resumeUnfinished();
        if (resumed.length > 0) info(`resuming ${resumed.length} payment(s) a restart interrupted: tap the card again`);
        const app = buildPosApi(terminal, { apiKey, corsOrigins: opts.corsOrigin });
        registerTerminalDisplay(app);
        const interrupted = listenForStop();
        let timer: NodeJS.Timeout | undefined;
        try {
          const url = await app.listen({ host: opts.host, port });
          // Like every server command, it says it is ready on stdout: the API's URL.
          const { terminalId, merchantId, readerName, mode } = terminal.config;
          printResult(
            { json: wantsJson(cmd) },
            { url: `${url}/v1`, display: `${url}/display/`, terminal: terminalId, merchant: merchantId, reader: readerName, mode },
            () =>
              `pos: terminal ${terminalId} of ${merchantId} on reader "${readerName}", ${mode}; API at ${url}/v1, customer display at ${url}/display/`,
          );
          if (every > 0) {
            // On failure the next attempt comes sooner, doubling from 5 s up to the schedule's period.
            let retryMs = 5_000;
            // The keys are refreshed first: a key the bank retired is no longer taken.
            const settle = () => {
              void terminal
                .refreshKeys()
                .catch((e: unknown) => info(`could not refresh the bank's keys: ${(e as Error).message}`))
                .then(() => terminal.settle())
                .then(
                  (r) => {
                    if (r.transcripts > 0) info(`settled ${r.transcripts} coins: ${JSON.stringify(r.outcomes)}`);
                    for (const d of r.doubleSpends)
                      info(`DOUBLE SPEND: payment ${d.paymentId} coin ${d.index}: the bank holds the spender's identity and the proof`);
                    retryMs = 5_000;
                    timer = setTimeout(settle, every * 1000);
                  },
                  (e: unknown) => {
                    info(`settlement failed, retrying in ${Math.round(retryMs / 1000)} s: ${(e as Error).message}`);
                    timer = setTimeout(settle, retryMs);
                    retryMs = Math.min(retryMs * 2, every * 1000);
                  },
                );
            };
            timer = setTimeout(settle, every * 1000);
          }
          info(`stopping on ${await interrupted.received}`);
        } finally {
          if (timer !== undefined) clearTimeout(timer);
          await app.close();
          await close();
        }
      }),
    );
}
