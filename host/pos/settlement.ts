/**
 * The terminal's deposits at its bank: settlement of everything unsettled in batches, and the
 * online deposit of one payment before it is approved. Every batch is journalled before it is
 * sent (its id is the bank's idempotency key) and the bank's answer is kept per coin; what an
 * answer means for the coins is settlement-verdicts.ts's to say.
 */
import { randomBytes } from 'node:crypto';
import { EcashError, isEcashError, toHex } from '../../core/index.js';
import type { AcquirerBank, DepositOutcome } from './acquirer.js';
import type { Journal, ReleasedItem, SettlementResult, TranscriptCursor } from './journal.js';
import { failureProblem, isCoinVerdict, rejectionProblem, type SettlementProblem, type SettlingTerminal } from './settlement-verdicts.js';

export interface SettlementReport {
  batches: number;
  transcripts: number;
  outcomes: Record<string, number>;
  doubleSpends: { paymentId: string; index: number }[];
}

/** The terminal a settlement is for: its ids, in batch ids and messages, and its batch size. */
export interface SettlementTerminal extends SettlingTerminal {
  terminalId: string;
  settleBatchSize: number;
}

export class Settlement {
  private settling: Promise<SettlementReport> | undefined;

  constructor(
    private readonly journal: Journal,
    private readonly bank: AcquirerBank,
    private readonly terminal: SettlementTerminal,
    /** Told of every payment whose coins got an answer (its settled event, if any, is in the journal). */
    private readonly paymentChanged: (paymentId: string) => void,
  ) {}

  /**
   * Online mode: deposit this payment's transcripts before approving. Undefined when the bank gave
   * no usable answer, or refused coins for a reason on this side (the coins stay pending and
   * settlement deposits them): the card has paid and every coin verified here. `transcripts` are
   * the bytes the journal holds for the payment's coins, in order.
   */
  async depositNow(id: string, transcripts: readonly Uint8Array[]): Promise<DepositOutcome[] | undefined> {
    const batchId = `pay-${this.terminal.terminalId}-${id}`;
    const items = transcripts.map((_, index) => ({ paymentId: id, index }));
    this.journal.recordBatch(batchId, items);
    let outcomes: DepositOutcome[];
    try {
      outcomes = await this.depositRecorded(batchId, items, transcripts);
    } catch {
      return undefined;
    }
    const refusedForTheCoin = outcomes.some((o) => o.outcome === 'double-spend' || (o.outcome === 'rejected' && isCoinVerdict(o)));
    return refusedForTheCoin || outcomes.every(isCoinVerdict) ? outcomes : undefined;
  }

  /**
   * Sends one batch and keeps the bank's answer: its verdicts per coin, and the coins it refused
   * for a reason on this side, released for a new batch (settlement-verdicts.ts). A failed
   * attempt is recorded and thrown, and so is an answer with another number of results than
   * transcripts: none of its results is kept, since none can be matched to its coin.
   */
  private async depositRecorded(
    batchId: string,
    items: readonly { paymentId: string; index: number }[],
    transcripts: readonly Uint8Array[],
  ): Promise<DepositOutcome[]> {
    let outcomes: DepositOutcome[];
    try {
      outcomes = await this.bank.deposit(batchId, transcripts);
    } catch (e) {
      this.journal.recordAttemptFailure(batchId, isEcashError(e) ? `${e.code}: ${e.message}` : String(e));
      throw e;
    }
    if (outcomes.length !== items.length) {
      const e = new EcashError('bad-bank-answer', `the bank answered ${outcomes.length} results for ${items.length} transcripts`);
      this.journal.recordAttemptFailure(batchId, e.message);
      throw e;
    }
    const verdicts: SettlementResult[] = [];
    const released: ReleasedItem[] = [];
    outcomes.forEach((o, i) => {
      if (isCoinVerdict(o))
        verdicts.push({
          ...items[i]!,
          outcome: o.outcome,
          detail: o.code === undefined ? undefined : { code: o.code, message: o.message },
        });
      else released.push({ ...items[i]!, code: o.code ?? 'rejected', message: o.message ?? '' });
    });
    this.journal.recordResults(batchId, verdicts, Date.now(), released);
    return outcomes;
  }

  /**
   * Deposits everything unsettled: batches in flight first (same ids), then new ones. Idempotent.
   * When coins stay pending for a reason on this side (credential, bank URL, scopes, a bank that
   * is down, failing or busy), the run goes on where it can and then throws the first problem's
   * code, its message saying what to fix, with `details.report` and `details.problems`.
   */
  settle(): Promise<SettlementReport> {
    this.settling ??= this.settleOnce().finally(() => {
      this.settling = undefined;
    });
    return this.settling;
  }

  private async settleOnce(): Promise<SettlementReport> {
    const report: SettlementReport = { batches: 0, transcripts: 0, outcomes: {}, doubleSpends: [] };
    const problems: SettlementProblem[] = [];
    let stopped = false;
    for (const batch of this.journal.pendingBatches()) {
      stopped = await this.sendBatch(batch.batchId, batch.items, report, problems);
      if (stopped) break;
    }
    // The cursor moves past every batch built in this run: coins a batch gives back are deposited
    // again in the next run, not over and over in this one.
    let after: TranscriptCursor | undefined;
    while (!stopped) {
      const todo = this.journal.unsettledTranscripts(this.terminal.settleBatchSize, after);
      if (todo.length === 0) break;
      after = todo[todo.length - 1]!;
      const batchId = `settle-${this.terminal.terminalId}-${Date.now().toString(36)}-${toHex(new Uint8Array(randomBytes(4)))}`;
      const items = todo.map((t) => ({ paymentId: t.paymentId, index: t.index }));
      this.journal.recordBatch(batchId, items);
      stopped = await this.sendBatch(batchId, items, report, problems);
    }
    if (problems.length === 0) return report;
    const first = problems.find((p) => p.code !== 'batch-refused') ?? problems[0]!;
    const others = problems.filter((p) => p !== first).map((p) => p.message);
    const pending = this.journal.settlementStatus();
    throw new EcashError(
      first.code,
      `${first.message}${others.length > 0 ? `; also: ${others.join('; ')}` : ''} (settled now: ${report.transcripts} coins; waiting: ${pending.unsettled} coins and ${pending.pendingBatches} batches)`,
      { details: { report, problems } },
    );
  }

  /** Sends one batch and adds its answer to the run's report and problems; true when the run must stop. */
  private async sendBatch(
    batchId: string,
    items: readonly { paymentId: string; index: number }[],
    report: SettlementReport,
    problems: SettlementProblem[],
  ): Promise<boolean> {
    // The journal's bytes go to the bank as they are: the terminal verified them when it took them.
    const transcripts = items.map((it) => this.journal.transcript(it.paymentId, it.index).bytes);
    let outcomes: DepositOutcome[];
    try {
      outcomes = await this.depositRecorded(batchId, items, transcripts);
    } catch (e) {
      const failure = failureProblem(e, batchId, this.terminal);
      if (failure.rebatch) {
        this.journal.recordResults(
          batchId,
          [],
          Date.now(),
          items.map((it) => ({ ...it, code: 'batch-id-reused', message: failure.message })),
        );
        return false;
      }
      problems.push({ code: failure.code, message: failure.message, batchId, coins: items.length });
      return failure.stopsRun;
    }
    report.batches++;
    const refused = new Map<string | undefined, DepositOutcome[]>();
    outcomes.forEach((o, i) => {
      if (!isCoinVerdict(o)) {
        refused.set(o.code, [...(refused.get(o.code) ?? []), o]);
        return;
      }
      report.transcripts++;
      report.outcomes[o.outcome] = (report.outcomes[o.outcome] ?? 0) + 1;
      if (o.outcome === 'double-spend') report.doubleSpends.push(items[i]!);
    });
    let stop = false;
    for (const [code, coins] of refused) {
      const problem = rejectionProblem(code, coins[0]!.message, coins.length, this.terminal);
      problems.push({ code: problem.code, message: problem.message, batchId, coins: coins.length });
      stop ||= problem.stopsRun;
    }
    for (const id of new Set(items.map((i) => i.paymentId))) this.paymentChanged(id);
    return stop;
  }

  /** Waits for a settlement run in progress, whatever its end. */
  async idle(): Promise<void> {
    await this.settling?.catch(() => undefined);
  }
}
