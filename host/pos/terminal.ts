/**
 * The point-of-sale terminal: takes one payment at a time on its reader, verifies every coin
 * offline, and approves only after the card's answers are durable in the journal.
 *
 * A payment moves through explicit states (journal.ts), each an inserted journal event:
 *   created → waiting-for-card → reading → [pin-required →] request-sent → responses-received → approved | declined
 * with `interrupted` when the card leaves after the request reached it (the terminal then waits for
 * the card again and sends the same request, which the card answers the same way without spending
 * twice), and `cancelled` from the cash register before the request is sent.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  batchVerifyTranscripts,
  decodeTranscript,
  EcashError,
  encodeTranscript,
  fromHex,
  getGroup,
  type Group,
  isEcashError,
  NONCE_LENGTH,
  type PaymentContext,
  toHex,
  type Transcript,
} from '../../core/index.js';
import { type PaidCoin, type PayRequest, paymentTranscripts } from '../../wire/index.js';
import { CARD_ERROR, type CommandClass, EcashCardClient, type ReaderSource } from '../../reader-bridge/index.js';
import type { AcquirerBank, DepositOutcome } from './acquirer.js';
import { type AcceptancePolicy, coinsAtMost, offeredKeys } from './coin-selection.js';
import {
  type Journal,
  type PaymentEvent,
  type PaymentRecord,
  type PaymentState,
  type ReleasedItem,
  type RiskMode,
  type SettlementResult,
  type TranscriptCursor,
  isFinal,
} from './journal.js';
import { TerminalKeyCache } from './key-cache.js';
import { renderReceipt } from './receipt.js';
import { failureProblem, isCoinVerdict, rejectionProblem, type SettlementProblem } from './settlement-verdicts.js';

export interface TerminalConfig {
  merchantId: string;
  merchantName: string;
  terminalId: string;
  currency: string;
  /** Scopes this merchant accepts besides general money (e.g. "transit"). */
  scopes: readonly string[];
  mode: RiskMode;
  /** In floor-limit mode, payments above this amount go online. */
  floorLimit: number;
  readerName: string;
  /** Coins whose key's deposit deadline is closer than this are refused (time to settle). */
  depositMarginMs: number;
  /** The terminal's clock for its keys' windows (Date.now unless a test moves time). */
  now?: () => number;
  /** How long to wait for a card (or for it to come back, or for a PIN) before declining. */
  cardWaitMs: number;
  pinWaitMs: number;
  settleBatchSize: number;
  cardTimeouts?: Partial<Record<CommandClass, number>>;
}

/** The least deposit margin a terminal takes: time for a few settlement attempts before a key expires. */
export const MIN_DEPOSIT_MARGIN_MS = 3600 * 1000;

export const DEFAULT_TERMINAL_CONFIG = {
  scopes: [] as string[],
  mode: 'offline' as RiskMode,
  floorLimit: 0,
  depositMarginMs: 24 * 3600 * 1000,
  cardWaitMs: 120_000,
  pinWaitMs: 60_000,
  settleBatchSize: 500,
};

export interface NewPayment {
  amount: number;
  currency: string;
  reference?: string | null;
}

export interface PaymentView {
  id: string;
  amount: number;
  currency: string;
  reference: string | null;
  mode: RiskMode;
  state: PaymentState;
  createdAt: number;
  events: PaymentEvent[];
  coins: { keyId: string; value: number; evidenceOnly: boolean }[];
  receipt: string | null;
  settlement: { index: number; outcome: string; at: number }[];
}

export interface SettlementReport {
  batches: number;
  transcripts: number;
  outcomes: Record<string, number>;
  doubleSpends: { paymentId: string; index: number }[];
}

/** Raised inside a payment run to end it with a reason the journal records. */
class Decline extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * The card left (or failed) mid-exchange, or its reader was unplugged: wait (within the card wait)
 * for the card to come back and try again with the same request.
 */
const RETRYABLE = new Set(['card-removed', 'card-reset', 'card-timeout', 'transport-failure', 'channel-closed', 'no-card', 'no-reader']);

interface ActivePayment {
  id: string;
  abort: AbortController;
  pin: ((pin: string) => void) | undefined;
  done: Promise<void>;
}

export class PaymentTerminal extends EventEmitter {
  private active: ActivePayment | undefined;
  private readonly keys: TerminalKeyCache;
  private groupCache: Group | undefined;
  private settling: Promise<SettlementReport> | undefined;
  /**
   * Resolves once the card of the last tap has left the reader. A new sale reads only a card
   * presented for it: a card left in the reader after its own payment is not charged again.
   * Watched from the start of the tap: a customer may take the card the moment the outcome shows
   * and tap it again for the next sale before the terminal has let go of it.
   */
  private cardGone: Promise<void> = Promise.resolve();
  private stopCardWatch: () => void = () => undefined;

  constructor(
    private readonly journal: Journal,
    private readonly readers: ReaderSource,
    private readonly bank: AcquirerBank,
    readonly config: TerminalConfig,
  ) {
    super();
    if (!(config.depositMarginMs >= MIN_DEPOSIT_MARGIN_MS)) {
      throw new EcashError('bad-deposit-margin', `the deposit margin must be at least ${MIN_DEPOSIT_MARGIN_MS / 60_000} minutes: coins of a key about to expire must leave time to deposit them`);
    }
    this.keys = new TerminalKeyCache(journal);
  }

  private now(): number {
    return this.config.now?.() ?? Date.now();
  }

  /** Loads the cached keys and refreshes them from the bank when it answers (offline is fine). */
  async start(): Promise<void> {
    const suite = this.journal.getMeta('suite');
    try {
      await this.refreshKeys();
    } catch (e) {
      if (suite === undefined) {
        throw new EcashError('bank-unreachable', `the terminal has never reached its bank and has no denomination keys: ${(e as Error).message}`);
      }
      this.groupCache = getGroup(suite);
      this.keys.load(this.groupCache, this.now());
    }
  }

  get group(): Group {
    if (this.groupCache === undefined) throw new EcashError('terminal-not-started', 'start the terminal first');
    return this.groupCache;
  }

  /**
   * Fetches the bank's current keys and caches them in the journal for offline use, in place of
   * the old ones: a key the bank no longer lists is no longer taken (key-cache.ts).
   */
  async refreshKeys(): Promise<void> {
    // Keys first: they fetch the parameters, and the group then comes from what they fetched.
    const fresh = await this.bank.denominationKeys();
    const group = await this.bank.group();
    const suite = this.journal.getMeta('suite');
    if (suite !== undefined && suite !== group.suite) {
      throw new EcashError('wrong-suite', `the bank works in suite ${group.suite} and this terminal's journal in ${suite}: check --bank`);
    }
    this.groupCache = group;
    this.journal.setMeta('suite', group.suite);
    this.keys.replace(group, fresh, this.now());
  }

  // ------------------------------------------------------------------------- payments

  /** Starts a payment on the reader. One at a time: `terminal-busy` while another runs. */
  startPayment(req: NewPayment): PaymentRecord {
    if (!Number.isSafeInteger(req.amount) || req.amount <= 0) throw new EcashError('bad-amount', 'amount must be a positive integer of minor units');
    if (req.currency !== this.config.currency) {
      throw new EcashError('wrong-currency', `this terminal takes ${this.config.currency}, not ${String(req.currency)}`);
    }
    const reference = req.reference ?? null;
    if (reference !== null && (typeof reference !== 'string' || reference.length > 64)) {
      throw new EcashError('bad-reference', 'reference must be a string of at most 64 characters');
    }
    // A payment that has reached its outcome only releases the card: the next one queues behind it.
    if (this.active !== undefined && !isFinal(this.journal.currentState(this.active.id))) {
      throw new EcashError('terminal-busy', `payment ${this.active.id} is still in progress: wait for it or cancel it first`);
    }
    const mode: RiskMode = this.config.mode === 'floor-limit' ? (req.amount > this.config.floorLimit ? 'online' : 'offline') : this.config.mode;
    const record = this.journal.createPayment({
      amount: req.amount,
      currency: req.currency,
      reference,
      merchantId: this.config.merchantId,
      terminalId: this.config.terminalId,
      mode,
    });
    this.emitEvent(record.id);
    this.launch(record.id);
    return record;
  }

  /** Resumes payments a crash or restart left unfinished (their requests may have reached a card). */
  resumeUnfinished(): string[] {
    const ids: string[] = [];
    for (const p of this.journal.unfinishedPayments()) {
      if (this.journal.latestRequest(p.id) === undefined) {
        this.record(p.id, 'cancelled', { code: 'terminal-restarted', message: 'the terminal restarted before the card was asked to pay; nothing was spent' });
        continue;
      }
      if (this.active === undefined) {
        this.launch(p.id);
        ids.push(p.id);
      }
    }
    return ids;
  }

  private launch(id: string): void {
    const abort = new AbortController();
    const previous = this.active?.done;
    const active: ActivePayment = { id, abort, pin: undefined, done: Promise.resolve() };
    this.active = active;
    // Started at once when idle (the register's 201 already says waiting-for-card); behind a
    // payment that has its outcome but is still releasing the card otherwise.
    const running = previous === undefined ? this.run(id, active) : previous.then(() => this.run(id, active));
    active.done = running.finally(() => {
      if (this.active === active) this.active = undefined;
    });
  }

  /** Waits until the payment in progress (if any) ends. */
  async idle(): Promise<void> {
    await this.active?.done;
  }

  /** Resolves with payment `id`'s view once it is approved, declined or cancelled and its run has ended. */
  outcome(id: string): Promise<PaymentView> {
    return new Promise((resolve) => {
      const check = () => {
        if (!isFinal(this.view(id).state)) return;
        this.off('payment-event', onEvent);
        void this.idle().then(() => resolve(this.view(id)));
      };
      const onEvent = (eventId: string) => {
        if (eventId === id) check();
      };
      this.on('payment-event', onEvent);
      check();
    });
  }

  /**
   * Cancels a payment that has not asked the card to pay yet. After the request reached a card
   * (`interrupted`), cancelling needs `abandon`: the card may have spent its coins and only
   * the same request can recover its answer.
   */
  cancel(id: string, opts: { abandon?: boolean } = {}): PaymentView {
    const state = this.journal.currentState(id);
    if (isFinal(state)) throw new EcashError('payment-final', `payment ${id} is already ${state}`);
    if (state === 'responses-received' && this.active?.id === id) {
      // The card has paid and its answers are stored; online, the deposit is under way. Abandoning
      // now would record a cancelled sale whose coins the bank credits all the same.
      throw new EcashError('payment-in-flight', `payment ${id}: the card has paid and the terminal is concluding it; wait for the outcome`);
    }
    const requested = this.journal.latestRequest(id) !== undefined;
    if (requested && !opts.abandon) {
      throw new EcashError(
        'payment-in-flight',
        `payment ${id} already asked a card to pay; cancelling may abandon coins the card has spent. Tap the card again to finish it, or cancel with abandon=true`,
      );
    }
    if (this.active?.id === id) this.active.abort.abort();
    this.record(id, 'cancelled', { code: requested ? 'abandoned' : 'cancelled', message: requested ? 'cancelled after the request reached a card' : 'cancelled' });
    return this.view(id);
  }

  /** Supplies the card holder's PIN for a payment waiting in `pin-required`. */
  supplyPin(id: string, pin: string): void {
    // An unknown id is payment-not-found, not a payment that happens not to want a PIN.
    this.journal.currentState(id);
    if (this.active?.id !== id || this.active.pin === undefined) {
      throw new EcashError('pin-not-expected', `payment ${id} is not waiting for a PIN`);
    }
    this.active.pin(pin);
  }

  view(id: string): PaymentView {
    const p = this.journal.payment(id);
    const events = this.journal.events(id);
    const state = events[events.length - 1]!.state;
    const transcripts = this.journal.transcripts(id);
    const approvedAt = events.find((e) => e.state === 'approved')?.at;
    return {
      id: p.id,
      amount: p.amount,
      currency: p.currency,
      reference: p.reference,
      mode: p.mode,
      state,
      createdAt: p.createdAt,
      events,
      coins: transcripts.map((t) => ({ keyId: toHex(t.keyId), value: t.value, evidenceOnly: t.evidenceOnly })),
      receipt:
        approvedAt === undefined
          ? null
          : renderReceipt({
              paymentId: p.id,
              merchantName: this.config.merchantName,
              merchantId: p.merchantId,
              terminalId: p.terminalId,
              amount: p.amount,
              currency: p.currency,
              reference: p.reference,
              approvedAt,
              mode: p.mode,
              coins: transcripts,
            }),
      settlement: this.journal.settlementResults(id).map((r) => ({ index: r.index, outcome: r.outcome, at: r.at })),
    };
  }

  listPayments(opts: { limit?: number; before?: number } = {}) {
    return this.journal.listPayments(opts);
  }

  settlementStatus() {
    return this.journal.settlementStatus();
  }

  /** The card's answers the journal holds for a payment (evidence-only ones included). */
  transcriptsOf(id: string): Transcript[] {
    return this.journal.transcripts(id).map((t) => decodeTranscript(this.group, t.bytes));
  }

  private record(id: string, state: PaymentState, detail: Record<string, unknown> | null = null): void {
    this.journal.appendEvent(id, state, detail);
    this.emitEvent(id);
  }

  private emitEvent(id: string): void {
    this.emitLatest(id, 1);
  }

  /** Emits the payment's last `n` journal events, oldest first. */
  private emitLatest(id: string, n: number): void {
    for (const event of this.journal.events(id).slice(-n)) this.emit('payment-event', id, event);
  }

  private async run(id: string, active: ActivePayment): Promise<void> {
    const signal = active.abort.signal;
    try {
      if (this.journal.latestRequest(id) === undefined && !isFinal(this.journal.currentState(id))) {
        // Online, the bank must answer before a card spends anything: asked now, not with the
        // card held in the field for a round trip.
        if (this.journal.payment(id).mode === 'online') await this.requireBank();
        // A fresh sale must not read the previous customer's card, still in the reader.
        if (this.journal.currentState(id) !== 'waiting-for-card') this.record(id, 'waiting-for-card');
        await this.waitForCardGone(signal, this.config.cardWaitMs);
      }
      for (;;) {
        if (signal.aborted) return;
        const state = this.journal.currentState(id);
        if (isFinal(state)) return;
        if (state !== 'waiting-for-card') this.record(id, 'waiting-for-card');
        await this.waitForCard(signal, this.config.cardWaitMs);
        const recovering = this.journal.latestRequest(id) !== undefined;
        try {
          await this.tap(id, active);
          return;
        } catch (e) {
          if (signal.aborted) return;
          if (isEcashError(e) && RETRYABLE.has(e.code)) {
            const requested = this.journal.latestRequest(id) !== undefined;
            // Before the request, nothing happened on the card: just wait for a card again.
            if (requested) this.record(id, 'interrupted', { code: e.code, message: e.message });
            await this.waitForCardRemoval(signal);
            continue;
          }
          if (recovering && this.refusedBeforeAnswer(id, e)) {
            // The card that was asked to pay may have paid and only its answer been lost; the card
            // that refused now may be another one. Declining would let the sale be charged again
            // while those coins sit on the first card: wait for it (or for the register to abandon).
            const refusal = e instanceof Error ? e.message : String(e);
            this.record(id, 'interrupted', {
              code: 'recovery-refused',
              cardCode: isEcashError(e) || e instanceof Decline ? e.code : 'internal',
              message: `the card in the reader refused this payment's request (${refusal}); it may not be the card that was asked to pay, which may have paid already: tap that card, or cancel with abandon`,
            });
            // A fresh tap, not the same refusal again: the card in the field must leave first.
            await this.waitForReader(signal, this.config.cardWaitMs, false);
            continue;
          }
          throw e;
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      // Asked to pay, the card did not come back (or another stayed in its place): it may have paid.
      const lostCard = e instanceof Decline && (e.code === 'card-timeout' || e.code === 'card-still-present') && this.journal.latestRequest(id) !== undefined;
      const reason = lostCard
        ? {
            code: 'card-not-returned',
            message:
              'the card left after it was asked to pay and did not come back: it may have spent coins for this payment (its payment log shows it); the request stays in the journal',
          }
        : e instanceof Decline
          ? { code: e.code, message: e.message, ...e.details }
          : isEcashError(e)
            ? { code: e.code, message: e.message }
            : { code: 'internal', message: e instanceof Error ? e.message : String(e) };
      const state = this.journal.currentState(id);
      if (!isFinal(state)) this.record(id, 'declined', reason);
    }
  }

  /**
   * Whether a tap that resent a stored request failed before any card answered it: the card in
   * the field refused (another card, a PIN, a card error) rather than the terminal being unable
   * to send the request at all.
   */
  private refusedBeforeAnswer(id: string, e: unknown): boolean {
    if (e instanceof Decline && e.code === 'request-format-old') return false;
    return this.journal.currentState(id) !== 'responses-received' && !isFinal(this.journal.currentState(id));
  }

  /** Starts watching for the card being tapped to leave (at every tap, whatever its outcome). */
  private watchCardLeaving(): void {
    this.stopCardWatch();
    const name = this.config.readerName;
    this.cardGone = new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        stop();
        resolve();
      };
      const stop = this.readers.watch((ev) => {
        if (ev.reader.name === name && (ev.type === 'card-removed' || ev.type === 'reader-removed')) finish();
      });
      this.stopCardWatch = finish;
      this.readers
        .listReaders()
        .then((readers) => {
          if (readers.find((r) => r.name === name)?.cardPresent !== true) finish();
        })
        // Without a list the event decides.
        .catch(() => undefined);
    });
  }

  private async waitForCardGone(signal: AbortSignal, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.cardGone,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Decline('card-still-present', "the previous sale's card stayed in the reader: ask the customer to take it, then start the payment again")),
            timeoutMs,
          );
          onAbort = () => reject(new EcashError('cancelled', 'the payment was cancelled'));
          signal.addEventListener('abort', onAbort);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }

  private async waitForCard(signal: AbortSignal, timeoutMs: number): Promise<void> {
    await this.waitForReader(signal, timeoutMs, true);
  }

  /** After an interruption the card may still sit in the field: wait briefly for a fresh tap. */
  private async waitForCardRemoval(signal: AbortSignal): Promise<void> {
    try {
      await this.waitForReader(signal, 250, false);
    } catch {
      // Still present after a short while (e.g. a reset, not a removal): go on with it.
    }
  }

  private waitForReader(signal: AbortSignal, timeoutMs: number, present: boolean): Promise<void> {
    const name = this.config.readerName;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        stop();
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => finish(new EcashError('cancelled', 'the payment was cancelled'));
      const stop = this.readers.watch((ev) => {
        if (ev.reader.name !== name) return;
        if (present && ev.type === 'card-inserted') finish();
        if (!present && ev.type === 'card-removed') finish();
      });
      const timer = setTimeout(
        () => finish(new Decline(present ? 'card-timeout' : 'card-still-present', present ? `no card was presented within ${Math.round(timeoutMs / 1000)} s` : 'the card stayed in the field')),
        timeoutMs,
      );
      signal.addEventListener('abort', onAbort);
      this.readers
        .listReaders()
        .then((readers) => {
          const r = readers.find((x) => x.name === name);
          if (present && r?.cardPresent) finish();
          if (!present && r !== undefined && !r.cardPresent) finish();
        })
        .catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    });
  }

  /** One tap: select, choose coins, ask the card to pay (or re-ask), verify, approve. */
  private async tap(id: string, active: ActivePayment): Promise<void> {
    const payment = this.journal.payment(id);
    this.watchCardLeaving();
    const channel = await this.readers.connect(this.config.readerName, { share: 'exclusive' });
    try {
      const card = EcashCardClient.on(channel, { timeouts: this.config.cardTimeouts });
      this.record(id, 'reading');
      const fci = await card.select();
      if (fci.suite !== this.group.suite) {
        throw new Decline('wrong-suite', `the card works in suite ${String(fci.suite)}, this terminal's bank in ${this.group.suite}`);
      }
      let request = this.journal.latestRequest(id);
      if (request === undefined) {
        // The card is offered the keys this terminal takes, from its own key list; it chooses the coins.
        const policy = this.acceptance();
        const accepted = offeredKeys(this.keys.current(policy.now), policy);
        if (accepted.length === 0) {
          throw new Decline('no-acceptable-keys', `this terminal holds no key of ${payment.currency} it can accept now (scope, deposit deadline beyond the margin, withdrawal window): refresh its keys from the bank`);
        }
        request = { timestamp: Date.now(), nonce: new Uint8Array(randomBytes(NONCE_LENGTH)), accepted: accepted.map((k) => toHex(k.keyId)) };
        // Durable before the card sees it: after a crash the same request recovers the answer.
        this.journal.recordRequest(id, request);
        this.emitEvent(id);
      }
      if (request.accepted.length === 0) {
        throw new Decline('request-format-old', "this payment's request was made by an earlier version of the terminal and cannot be sent again; the card's payment log shows whether it paid");
      }
      const context: PaymentContext = {
        merchantId: payment.merchantId,
        terminalId: payment.terminalId,
        timestamp: request.timestamp,
        nonce: request.nonce,
      };
      const offered = request.accepted.map((k) => fromHex(k, 'key id', 32));
      const known = offered.flatMap((k) => this.keys.get(toHex(k)) ?? []);
      const paid = await this.payWithPin(id, active, card, { context, amount: payment.amount, currency: payment.currency, acceptedKeys: offered }, coinsAtMost(payment.amount, known));
      await this.conclude(id, payment, context, request.accepted, paid);
    } finally {
      await channel.disconnect('reset').catch(() => undefined);
    }
  }

  private async payWithPin(id: string, active: ActivePayment, card: EcashCardClient, request: PayRequest, coins: number): Promise<PaidCoin[]> {
    for (;;) {
      try {
        return await card.pay(request, { coinsAtMost: coins });
      } catch (e) {
        // The card tells one bit about what it holds, nothing more (docs/card.md, privacy).
        if (isEcashError(e, CARD_ERROR.CARD_INSUFFICIENT_FUNDS)) {
          throw new Decline('insufficient-funds', `the card cannot pay ${request.amount}: it holds less than that in coins this terminal accepts; load the card, or pay less`);
        }
        if (isEcashError(e, CARD_ERROR.CARD_NO_EXACT_CHANGE)) {
          throw new Decline(
            'no-exact-change',
            `the card holds enough, but no coins this terminal accepts add up to exactly ${request.amount} (e-cash has no change); charge another amount, or the holder can rebalance the card at a load terminal (ecash load --rebalance)`,
          );
        }
        if (!isEcashError(e, 'pin-required')) throw e;
        // Ready for the PIN before anyone hears that it is wanted.
        const entered = new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Decline('pin-timeout', 'no PIN was entered in time')), this.config.pinWaitMs);
          active.abort.signal.addEventListener('abort', () => reject(new EcashError('cancelled', 'cancelled')), { once: true });
          active.pin = (p) => {
            clearTimeout(timer);
            active.pin = undefined;
            resolve(p);
          };
        });
        this.record(id, 'pin-required', {
          message: "the card asks for the holder's PIN: this payment, with what was paid without the PIN since it was last entered, is above the card's no-PIN limit",
        });
        const pin = await entered;
        try {
          await card.verifyPin(pin);
        } catch (err) {
          if (isEcashError(err, 'pin-wrong') || isEcashError(err, 'pin-blocked')) {
            throw new Decline(err.code, err.message);
          }
          throw err;
        }
        this.record(id, 'request-sent', { message: 'PIN verified, asking the card again' });
      }
    }
  }

  private acceptance(): AcceptancePolicy {
    return { currency: this.config.currency, scopes: this.config.scopes, now: this.now(), depositMarginMs: this.config.depositMarginMs };
  }

  /**
   * Why the card's answers must be refused, if they must. Every coin is judged by this terminal's
   * own key list: its key must be one the request offered, and its value, currency, scope and
   * windows are that key's; the card's word counts for nothing.
   */
  private checkAnswers(payment: PaymentRecord, transcripts: readonly Transcript[], seen: readonly boolean[], offered: readonly string[]): Decline | undefined {
    if (seen.some((s) => s)) {
      return new Decline('coin-already-seen', 'the card spent a coin this terminal has already taken: the payment is refused and the evidence goes to the bank', {
        coins: seen.flatMap((s, i) => (s ? [i] : [])),
      });
    }
    const group = this.group;
    const repeated = transcripts.flatMap((t, i) => (transcripts.findIndex((u) => group.equals(u.coin.A, t.coin.A)) < i ? [i] : []));
    if (repeated.length > 0) return new Decline('card-answer-mismatch', 'the card answered with the same coin twice', { coins: repeated });
    const asked = new Set(offered);
    const outside = transcripts.flatMap((t, i) => (asked.has(toHex(t.coin.keyId)) ? [] : [i]));
    if (outside.length > 0) {
      return new Decline('coin-not-accepted', `the card paid with ${outside.length} coin(s) of keys this terminal did not offer (another currency or scope, or a deposit deadline too near): a tampered card`, {
        coins: outside,
      });
    }
    const keys = transcripts.map((t) => this.keys.get(toHex(t.coin.keyId)));
    // A key can have expired and left the cache between a request and its (resumed) answer.
    const unknown = keys.flatMap((k, i) => (k === undefined ? [i] : []));
    if (unknown.length > 0) return new Decline('invalid-coin', `the terminal holds no valid key for ${unknown.length} of the card's coins`, { coins: unknown });
    const items = transcripts.map((t, i) => ({ key: keys[i]!, transcript: t }));
    const bad = batchVerifyTranscripts(group, items);
    if (bad.length > 0) return new Decline('invalid-coin', `${bad.length} of the card's coins do not verify`, { coins: bad });
    const total = items.reduce((s, it) => s + it.key.value, 0);
    if (total !== payment.amount) return new Decline('card-answer-mismatch', `the coins add up to ${total}, not ${payment.amount}`);
    return undefined;
  }

  /**
   * Checks the card's answers and stores them. Offline, or when the answers are refused, the
   * verdict commits with them in one transaction; online, the answers are stored first and the
   * payment approved after the bank took the deposit. A crash before the answers are stored loses
   * nothing: the request is durable and the card answers it again the same way.
   */
  private async conclude(
    id: string,
    payment: PaymentRecord,
    context: PaymentContext,
    offered: readonly string[],
    paid: PaidCoin[],
  ): Promise<void> {
    const group = this.group;
    const transcripts = paymentTranscripts(context, paid);
    const seen = transcripts.map((t) => this.journal.coinSeenElsewhere(group.encode(t.coin.A), id));
    const rows = transcripts.map((t, index) => ({
      index,
      keyId: t.coin.keyId,
      coinA: group.encode(t.coin.A),
      value: this.keys.get(toHex(t.coin.keyId))?.value ?? 0,
      bytes: encodeTranscript(group, t),
      evidenceOnly: seen[index]!,
    }));
    const refusal = this.checkAnswers(payment, transcripts, seen, offered);
    if (refusal !== undefined || payment.mode !== 'online') {
      const outcome =
        refusal === undefined
          ? { state: 'approved' as const, detail: { coins: transcripts.length } }
          : { state: 'declined' as const, detail: { code: refusal.code, message: refusal.message, ...refusal.details } };
      this.journal.recordResponses(id, rows, Date.now(), outcome);
      this.emitLatest(id, 2);
      return;
    }
    this.journal.recordResponses(id, rows);
    this.emitEvent(id);

    const outcomes = await this.depositNow(id, transcripts);
    if (outcomes === undefined) {
      // The card has paid and every coin verified; declining now would charge the holder
      // without a sale. Stand in offline: the batch stays pending and settlement resends it.
      this.record(id, 'approved', { coins: transcripts.length, code: 'offline-fallback', message: 'the bank gave no usable answer after the card paid: approved offline, deposited at settlement' });
      return;
    }
    const double = outcomes.flatMap((o, i) => (o.outcome === 'double-spend' ? [i] : []));
    if (double.length > 0) throw new Decline('double-spend', 'the bank has seen these coins spent before: the payment is refused', { coins: double });
    const notCredited = outcomes.flatMap((o, i) => (o.outcome === 'credited' || o.outcome === 'replay' ? [] : [i]));
    if (notCredited.length > 0) {
      throw new Decline('deposit-rejected', `the bank rejected ${notCredited.length} coins: ${outcomes[notCredited[0]!]!.message ?? ''}`, { coins: notCredited });
    }
    this.record(id, 'approved', { coins: transcripts.length });
  }

  /** Online mode: before the card spends anything, make sure the bank answers (and take its current keys). */
  private async requireBank(): Promise<void> {
    try {
      await this.refreshKeys();
    } catch (e) {
      throw new Decline('bank-unreachable', `online payment needs the bank, which did not answer (nothing was spent): ${(e as Error).message}`);
    }
  }

  /**
   * Online mode: deposit this payment's transcripts before approving. Undefined when the bank gave
   * no usable answer, or refused coins for a reason on this side (the coins stay pending and
   * settlement deposits them): the card has paid and every coin verified here.
   */
  private async depositNow(id: string, transcripts: readonly Transcript[]): Promise<DepositOutcome[] | undefined> {
    const batchId = `pay-${this.config.terminalId}-${id}`;
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
  private async depositRecorded(batchId: string, items: readonly { paymentId: string; index: number }[], transcripts: readonly Transcript[]): Promise<DepositOutcome[]> {
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
      if (isCoinVerdict(o)) verdicts.push({ ...items[i]!, outcome: o.outcome, detail: o.code === undefined ? undefined : { code: o.code, message: o.message } });
      else released.push({ ...items[i]!, code: o.code ?? 'rejected', message: o.message ?? '' });
    });
    this.journal.recordResults(batchId, verdicts, Date.now(), released);
    return outcomes;
  }

  // ------------------------------------------------------------------------- settlement

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
      const todo = this.journal.unsettledTranscripts(this.config.settleBatchSize, after);
      if (todo.length === 0) break;
      after = todo[todo.length - 1]!;
      const batchId = `settle-${this.config.terminalId}-${Date.now().toString(36)}-${toHex(new Uint8Array(randomBytes(4)))}`;
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
  private async sendBatch(batchId: string, items: readonly { paymentId: string; index: number }[], report: SettlementReport, problems: SettlementProblem[]): Promise<boolean> {
    const group = this.group;
    const transcripts = items.map((it) => decodeTranscript(group, this.journal.transcript(it.paymentId, it.index).bytes));
    let outcomes: DepositOutcome[];
    try {
      outcomes = await this.depositRecorded(batchId, items, transcripts);
    } catch (e) {
      const failure = failureProblem(e, batchId, this.config);
      if (failure.rebatch) {
        this.journal.recordResults(batchId, [], Date.now(), items.map((it) => ({ ...it, code: 'batch-id-reused', message: failure.message })));
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
      const problem = rejectionProblem(code, coins[0]!.message, coins.length, this.config);
      problems.push({ code: problem.code, message: problem.message, batchId, coins: coins.length });
      stop ||= problem.stopsRun;
    }
    for (const id of new Set(items.map((i) => i.paymentId))) this.emitEvent(id);
    return stop;
  }

  /** Stops taking payments: cancels one that has not reached a card, waits for the rest. */
  async close(): Promise<void> {
    const a = this.active;
    if (a !== undefined && this.journal.latestRequest(a.id) === undefined) a.abort.abort();
    await a?.done;
    this.stopCardWatch();
    await this.settling?.catch(() => undefined);
  }
}
