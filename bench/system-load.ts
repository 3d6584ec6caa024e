/**
 * `npm run load`: the whole system under load on loopback, ending with the books. Many cards open
 * accounts and withdraw while many POS terminals take payments and settle, against one bank over
 * HTTP on SQLite or PostgreSQL. A share of the cards are cloned before a payment (each clone spends
 * the same coin at another shop: one double spend each), and a share of the terminals lose the
 * bank's answer to their first deposit (the batch was booked; the terminal resends it).
 *
 * It prints throughput and p50/p95/p99 latency per operation, then checks the count: every
 * merchant credited exactly once per coin the terminals were told was credited, every clone's
 * double spend recorded once, no coin left pending, and the bank's audit (issued = outstanding +
 * deposited for every key, every entry balanced) — also through `ecash bank audit` itself.
 *
 * Bounded in count (`--cards`, `--payments`) and in time (`--seconds`: no new payment starts after
 * it). The bank runs in this process (its crypto on worker threads); cards are image files in the
 * virtual reader, terminals are the real `PaymentTerminal` with SQLite journals.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command, Option } from 'commander';
import { DEFAULT_SUITE, EcashError, getGroup, keyTerms, SUITE_IDS, type SuiteId, toHex, transcriptJsonFromBytes } from '../core/index.js';
import { createCardImage, type EcashCard, openCard } from '../firmware-sim/index.js';
import { EcashCardClient, VirtualTransport } from '../reader-bridge/index.js';
import { BankService, KeyFile, openStorage, startBankServer } from '../host/bank/index.js';
import { accountOpeningJson, BankClient } from '../host/bank-client/index.js';
import { httpIssuer, LoadJournal, loadCard } from '../host/load/index.js';
import { type AcquirerBank, DEFAULT_TERMINAL_CONFIG, httpAcquirer, Journal, PaymentTerminal, type PaymentView } from '../host/pos/index.js';

export interface SystemLoadOptions {
  /** SQLite file path or PostgreSQL URL; a fresh SQLite file in the work folder when absent. */
  db?: string;
  suite?: SuiteId;
  cards: number;
  terminals: number;
  /** Payments each card makes at most (one coin each). */
  payments: number;
  /** Share of cards cloned before their first payment (0..1). */
  doubleSpendShare: number;
  /** Share of terminals whose first deposit answer is lost (0..1). */
  interruptedShare: number;
  /** No new payment starts after this many seconds. */
  seconds: number;
  /** Progress lines for a human. */
  say?: (line: string) => void;
}

export interface LatencyFigures {
  count: number;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface SystemLoadReport {
  db: 'sqlite' | 'postgres';
  suite: SuiteId;
  operations: Record<'account' | 'withdrawal' | 'payment' | 'deposit_batch' | 'settlement', LatencyFigures>;
  coinsWithdrawn: number;
  coinsPaid: number;
  /** Minor units credited to the merchants, as their terminals were told. */
  valueCredited: number;
  doubleSpendsExpected: number;
  doubleSpendsRecorded: number;
  interruptedSettlements: number;
  /** Empty when every count matches and the audit balances. */
  problems: string[];
  auditOk: boolean;
}

const CURRENCY = 'EUR';
const VALUES = [1, 2, 5, 10, 20, 50, 100, 200, 500];
const LOAD_AMOUNT = 1_000;
const DAY = 24 * 3600 * 1000;
const PIN = '1357';
const PUK = '24681357';

/** One thing at a time per terminal: a terminal takes one card at a time and settles between payments. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

class Timings {
  private readonly samples = new Map<string, number[]>();
  private readonly spans = new Map<string, { start: number; end: number }>();
  async time<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    const out = await fn();
    const end = performance.now();
    this.samples.set(op, [...(this.samples.get(op) ?? []), end - start]);
    const span = this.spans.get(op);
    this.spans.set(op, { start: Math.min(span?.start ?? start, start), end: Math.max(span?.end ?? end, end) });
    return out;
  }
  figures(op: string): LatencyFigures {
    const s = [...(this.samples.get(op) ?? [])].sort((a, b) => a - b);
    const span = this.spans.get(op);
    const at = (q: number) => (s.length === 0 ? 0 : round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!));
    const seconds = span === undefined ? 0 : (span.end - span.start) / 1000;
    return { count: s.length, perSecond: seconds > 0 ? round(s.length / seconds) : 0, p50Ms: at(0.5), p95Ms: at(0.95), p99Ms: at(0.99) };
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

/** A deterministic pick (xorshift32): the same options give the same run. */
function picker(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

function shuffled<T>(items: readonly T[], pick: (n: number) => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = pick(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface LoadedCard {
  path: string;
  card: EcashCard;
  coins: number[];
}

export async function runSystemLoad(opts: SystemLoadOptions): Promise<SystemLoadReport> {
  const suite = opts.suite ?? DEFAULT_SUITE;
  const say = opts.say ?? (() => undefined);
  const group = getGroup(suite);
  const pick = picker(opts.cards * 7919 + opts.terminals);
  const dir = mkdtempSync(join(tmpdir(), 'ecash-load-'));
  const db = opts.db ?? join(dir, 'bank.db');
  const timings = new Timings();
  const problems: string[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    // ------------------------------------------------------------------------------ the bank
    const now = Date.now();
    const keyFile = KeyFile.create(
      join(dir, 'bank-keys.json'),
      randomBytes(24).toString('base64url'),
      suite,
      VALUES.map((value) => keyTerms(value, CURRENCY, { from: now - DAY, withdrawDays: 31, depositDays: 60 })),
    );
    const storage = await openStorage(db);
    const service = await BankService.create({ storage, keys: keyFile, workerThreads: 1 });
    let serviceOpen = true;
    const closeService = async () => {
      if (!serviceOpen) return;
      serviceOpen = false;
      await service.close();
      await storage.close();
    };
    cleanups.push(closeService);
    // Every card and terminal here shares one loopback address: the bank's per-client limits would
    // throttle the load generator, not measure the bank.
    const server = await startBankServer({ service, port: 0, rateLimit: false });
    cleanups.push(() => server.close());
    const operator = new BankClient({ baseUrl: server.url, token: (await service.addOperator('load')).credential });
    say(`bank: ${suite} on ${opts.db === undefined ? 'SQLite' : storageKind(db)}, serving ${server.url}`);

    // ---------------------------------------------------------------------------- terminals
    const readers = new VirtualTransport(Array.from({ length: opts.terminals }, (_, i) => `Till ${i}`));
    const credited = new Map<string, number>();
    let interruptedSettlements = 0;
    const terminals: { merchantId: string; terminal: PaymentTerminal; reader: string; lane: Lane; journal: Journal }[] = [];
    for (let i = 0; i < opts.terminals; i++) {
      const merchantId = `shop-${i}`;
      const added = await operator.addMerchant({ merchantId, name: `Shop ${i}` });
      // The count wraps what reaches the terminal: an answer lost on the way is not counted.
      let bank = httpAcquirer(operator.withToken(added.credential));
      if (i < Math.round(opts.terminals * opts.interruptedShare)) bank = losingFirstAnswer(bank, () => interruptedSettlements++);
      const acquirer = countingAcquirer(bank, merchantId, credited, timings);
      const journal = new Journal(join(dir, `pos-${i}.db`));
      const reader = `Till ${i}`;
      const terminal = new PaymentTerminal(journal, readers, acquirer, {
        ...DEFAULT_TERMINAL_CONFIG,
        merchantId,
        merchantName: `Shop ${i}`,
        terminalId: `till-${i}`,
        currency: CURRENCY,
        readerName: reader,
        mode: 'offline',
        cardWaitMs: 30_000,
      });
      await terminal.start();
      cleanups.push(async () => {
        await terminal.close();
        journal.close();
      });
      terminals.push({ merchantId, terminal, reader, lane: new Lane(), journal });
    }

    // -------------------------------------------------------------- cards: account and load
    const loadReaders = new VirtualTransport(Array.from({ length: opts.cards }, (_, i) => `Load ${i}`));
    const deadline = performance.now() + opts.seconds * 1000;
    let coinsWithdrawn = 0;
    let coinsPaid = 0;
    let doubleSpendsExpected = 0;
    const settleEvery = 4;
    const paidAt = new Map<PaymentTerminal, number>();

    const tap = async (at: (typeof terminals)[number], card: EcashCard, amount: number): Promise<PaymentView> =>
      at.lane.run(() =>
        timings.time('payment', async () => {
          const { id } = at.terminal.startPayment({ amount, currency: CURRENCY });
          readers.insertCard(at.reader, card);
          try {
            return await at.terminal.outcome(id);
          } finally {
            readers.removeCard(at.reader);
          }
        }),
      );
    const settle = (at: (typeof terminals)[number]) =>
      at.lane.run(() => timings.time('settlement', () => settleThroughLostAnswers(at.terminal)));

    const runCard = async (n: number): Promise<void> => {
      const loaded = await newCard(n);
      const clone = n < Math.round(opts.cards * opts.doubleSpendShare);
      for (let p = 0; p < Math.min(opts.payments, loaded.coins.length) && performance.now() < deadline; p++) {
        const value = loaded.coins[p]!;
        const at = terminals[pick(terminals.length)]!;
        if (clone && p === 0 && terminals.length > 1) {
          // The clone: a copy of the image, holding the same coin secrets, spent at another shop.
          loaded.card.close();
          const clonePath = `${loaded.path}.clone`;
          copyFileSync(loaded.path, clonePath);
          loaded.card = openCard(loaded.path);
          const copy = openCard(clonePath);
          const elsewhere = terminals[(terminals.indexOf(at) + 1) % terminals.length]!;
          try {
            expectApproved(await tap(elsewhere, copy, value), 'the clone', problems);
          } finally {
            copy.close();
          }
          doubleSpendsExpected++;
          coinsPaid++;
        }
        if (expectApproved(await tap(at, loaded.card, value), `card ${n}`, problems)) coinsPaid++;
        const count = (paidAt.get(at.terminal) ?? 0) + 1;
        paidAt.set(at.terminal, count);
        if (count % settleEvery === 0)
          await settle(at).catch((e: unknown) => problems.push(`settlement at ${at.merchantId}: ${String(e)}`));
      }
      loaded.card.close();
    };

    const newCard = async (n: number): Promise<LoadedCard> => {
      const path = join(dir, `card-${n}.card`);
      await createCardImage(path, { suite, pin: PIN, puk: PUK, noPinLimit: LOAD_AMOUNT });
      const card = openCard(path);
      const reader = `Load ${n}`;
      loadReaders.insertCard(reader, card);
      const channel = await loadReaders.connect(reader, { share: 'exclusive' });
      try {
        const client = EcashCardClient.on(channel);
        await client.select();
        await client.verifyPin(PIN);
        const opening = await client.openAccount(`Holder ${n}`);
        const opened = await timings.time('account', () =>
          new BankClient({ baseUrl: server.url }).openAccount(accountOpeningJson(group, `Holder ${n}`, opening)),
        );
        await operator.credit(opened.accountId, { currency: CURRENCY, amount: LOAD_AMOUNT, reference: `load test ${n}` });
        const holder = new BankClient({ baseUrl: server.url, token: opened.credential });
        const loadJournal = new LoadJournal(join(dir, `load-${n}.db`));
        try {
          const report = await timings.time('withdrawal', async () =>
            loadCard({
              card: client,
              bank: await httpIssuer(holder, opened.accountId),
              journal: loadJournal,
              account: opened.accountId,
              currency: CURRENCY,
              amount: LOAD_AMOUNT,
            }),
          );
          coinsWithdrawn += report.coins.length;
          return { path, card, coins: shuffled(report.coins, pick) };
        } finally {
          loadJournal.close();
        }
      } finally {
        await channel.disconnect('reset');
        loadReaders.removeCard(reader);
      }
    };

    const started = performance.now();
    await Promise.all(
      Array.from({ length: opts.cards }, (_, n) => runCard(n).catch((e: unknown) => void problems.push(`card ${n}: ${String(e)}`))),
    );
    for (const at of terminals) await settle(at).catch((e: unknown) => problems.push(`final settlement at ${at.merchantId}: ${String(e)}`));
    say(
      `load: ${opts.cards} cards, ${opts.terminals} terminals, ${coinsPaid} payments in ${round((performance.now() - started) / 1000)} s`,
    );

    // -------------------------------------------------------------------------- the count
    for (const at of terminals) {
      const status = at.journal.settlementStatus();
      if (status.unsettled > 0 || status.pendingBatches > 0)
        problems.push(`${at.merchantId}: ${status.unsettled} coins and ${status.pendingBatches} batches still pending`);
      const balance = (await operator.merchant(at.merchantId)).balances.find((b) => b.currency === CURRENCY)?.balance ?? 0;
      const expected = credited.get(at.merchantId) ?? 0;
      if (balance !== expected) problems.push(`${at.merchantId}: the bank credited ${balance} but its terminal was told ${expected}`);
    }
    const valueCredited = [...credited.values()].reduce((a, b) => a + b, 0);
    const doubleSpendsRecorded = await countDoubleSpends(operator);
    if (doubleSpendsRecorded !== doubleSpendsExpected)
      problems.push(`${doubleSpendsRecorded} double spends recorded for ${doubleSpendsExpected} clones`);
    const audit = await service.audit();
    if (!audit.ok) problems.push(...audit.problems.map((p) => `audit: ${p}`));
    await server.close();
    await closeService();
    const cli = await cliAudit(db);
    if (!cli.ok) problems.push(`ecash bank audit: ${cli.output}`);

    return {
      db: storageKind(db),
      suite,
      operations: {
        account: timings.figures('account'),
        withdrawal: timings.figures('withdrawal'),
        payment: timings.figures('payment'),
        deposit_batch: timings.figures('deposit_batch'),
        settlement: timings.figures('settlement'),
      },
      coinsWithdrawn,
      coinsPaid,
      valueCredited,
      doubleSpendsExpected,
      doubleSpendsRecorded,
      interruptedSettlements,
      problems,
      auditOk: audit.ok && cli.ok,
    };
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const storageKind = (db: string): 'sqlite' | 'postgres' => (/^postgres(ql)?:\/\//.test(db) ? 'postgres' : 'sqlite');

function expectApproved(v: PaymentView, who: string, problems: string[]): boolean {
  if (v.state === 'approved') return true;
  const last = v.events[v.events.length - 1]?.detail as { code?: string; message?: string } | null;
  problems.push(`${who}: payment of ${v.amount} ended ${v.state} (${last?.code ?? 'no code'}: ${last?.message ?? ''})`);
  return false;
}

/** Counts each coin value the terminal is told was credited, per merchant, and times every deposit. */
function countingAcquirer(inner: AcquirerBank, merchantId: string, credited: Map<string, number>, timings: Timings): AcquirerBank {
  return {
    group: () => inner.group(),
    denominationKeys: () => inner.denominationKeys(),
    async deposit(batchId, transcripts) {
      const outcomes = await timings.time('deposit_batch', () => inner.deposit(batchId, transcripts));
      const values = new Map((await inner.denominationKeys()).map((k) => [toHex(k.keyId), k.value]));
      const group = await inner.group();
      outcomes.forEach((o, i) => {
        if (o.outcome !== 'credited') return;
        const keyId = transcriptJsonFromBytes(group, transcripts[i]!).keyId;
        credited.set(merchantId, (credited.get(merchantId) ?? 0) + (values.get(keyId) ?? Number.NaN));
      });
      return outcomes;
    },
  };
}

/** The bank books the terminal's first batch, and its answer is lost on the way back. */
function losingFirstAnswer(inner: AcquirerBank, lost: () => void): AcquirerBank {
  let first = true;
  return {
    group: () => inner.group(),
    denominationKeys: () => inner.denominationKeys(),
    async deposit(batchId, transcripts) {
      if (!first) return inner.deposit(batchId, transcripts);
      first = false;
      await inner.deposit(batchId, transcripts);
      lost();
      throw new EcashError('bank-unreachable', 'the load test dropped the bank answer to this batch');
    },
  };
}

/** Settles; a lost answer leaves the batch pending, and the next run resends it. */
async function settleThroughLostAnswers(terminal: PaymentTerminal): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await terminal.settle();
      return;
    } catch (e) {
      if (!(e instanceof EcashError && e.code === 'bank-unreachable') || attempt >= 2) throw e;
    }
  }
}

async function countDoubleSpends(operator: BankClient): Promise<number> {
  let count = 0;
  let after: number | undefined;
  for (;;) {
    const page = await operator.doubleSpends(after === undefined ? {} : { after });
    count += page.doubleSpends.length;
    if (page.next === undefined) return count;
    after = page.next;
  }
}

/** `ecash bank audit --db DB` as an operator runs it (the compiled CLI). */
async function cliAudit(db: string): Promise<{ ok: boolean; output: string }> {
  const bin = fileURLToPath(new URL('../bin/ecash.js', import.meta.url));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'bank', 'audit', '--db', db], { timeout: 120_000 });
    return { ok: /audit ok/.test(stdout), output: stdout.trim() };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? err.message}`.trim() };
  }
}

function printReport(r: SystemLoadReport): void {
  const rows = Object.entries(r.operations).map(
    ([op, f]) =>
      `${op.padEnd(14)} ${String(f.count).padStart(6)} ${String(f.perSecond).padStart(9)}/s  p50 ${f.p50Ms} ms  p95 ${f.p95Ms} ms  p99 ${f.p99Ms} ms`,
  );
  process.stdout.write(
    [
      `system load on ${r.db} (${r.suite})`,
      `operation       count  throughput  latency`,
      ...rows,
      `coins: ${r.coinsWithdrawn} withdrawn (${r.operations.withdrawal.count} card loads), ${r.coinsPaid} paid; ${r.valueCredited} ${CURRENCY} minor units credited; double spends ${r.doubleSpendsRecorded} recorded of ${r.doubleSpendsExpected}; ${r.interruptedSettlements} settlements lost their answer`,
      r.problems.length === 0 ? 'count check ok; audit ok' : `FAILED:\n  ${r.problems.join('\n  ')}`,
      '',
    ].join('\n'),
  );
}

async function main(argv: string[]): Promise<void> {
  const positive = (name: string) => (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new EcashError('bad-option', `${name} must be a positive whole number, got "${v}"`);
    return n;
  };
  const share = (name: string) => (v: string) => {
    const n = Number(v);
    if (!(n >= 0 && n <= 1)) throw new EcashError('bad-option', `${name} must be a number from 0 to 1, got "${v}"`);
    return n;
  };
  const program = new Command('npm run load --')
    .description('the whole system under load on loopback, ending with the count check and the audit')
    .option(
      '--db <sqlite-file|postgres-url>',
      'the bank database (default: a fresh SQLite file; a PostgreSQL URL with ?schema=NAME for a schema of its own)',
    )
    .addOption(new Option('--suite <suite>', 'group suite').choices([...SUITE_IDS]).default(DEFAULT_SUITE))
    .option('--cards <n>', 'cards (each opens an account and withdraws)', positive('--cards'), 40)
    .option('--terminals <n>', 'POS terminals (one merchant each)', positive('--terminals'), 6)
    .option('--payments <n>', 'payments per card at most', positive('--payments'), 6)
    .option('--double-spends <share>', 'share of cards cloned and spent twice', share('--double-spends'), 0.1)
    .option('--interrupted <share>', 'share of terminals whose first deposit answer is lost', share('--interrupted'), 0.34)
    .option('--seconds <n>', 'no payment starts after this many seconds', positive('--seconds'), 120)
    .option('--json', 'print the report as JSON')
    .parse(argv);
  const o = program.opts<{
    db?: string;
    suite: SuiteId;
    cards: number;
    terminals: number;
    payments: number;
    doubleSpends: number;
    interrupted: number;
    seconds: number;
    json?: boolean;
  }>();
  const report = await runSystemLoad({
    db: o.db,
    suite: o.suite,
    cards: o.cards,
    terminals: o.terminals,
    payments: o.payments,
    doubleSpendShare: o.doubleSpends,
    interruptedShare: o.interrupted,
    seconds: o.seconds,
    say: (line) => process.stderr.write(`${line}\n`),
  });
  if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printReport(report);
  process.exitCode = report.problems.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv).catch((e: unknown) => {
    process.stderr.write(`load: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
