/**
 * The point-of-sale terminal: takes one payment at a time on its reader, verifies every coin
 * offline, and approves only after the card's answers are durable in the journal.
 *
 * This file is the payment's state machine (states in payment-states.ts, each an inserted journal
 * event): `run` drives a payment from waiting for a card to its outcome, `tap` is one exchange
 * with a card, `conclude` judges the card's answers. Around it: card presence on the reader
 * (card-presence.ts), the bank's keys (key-cache.ts) and deposits (settlement.ts).
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  batchVerifyTranscripts,
  decodeTranscript,
  EcashError,
  encodeTranscript,
  type ErrorCode,
  formatAmount,
  fromHex,
  type Group,
  isEcashError,
  MAX_AMOUNT,
  NONCE_LENGTH,
  type PaymentContext,
  toHex,
  type Transcript,
} from '../../core/index.js';
import { type PaidCoin, type PayRequest, paymentTranscripts } from '../../wire/index.js';
import { BRIDGE_ERROR, CARD_ERROR, type CommandClass, EcashCardClient, type ReaderSource } from '../../reader-bridge/index.js';
import type { AcquirerBank } from './acquirer.js';
import { coinsAtMost, offeredKeys } from './coin-selection.js';
import { type Journal, type PaymentEvent, type PaymentRecord, type PaymentState, type RiskMode, isFinal } from './journal.js';
import { CardPresence } from './card-presence.js';
import { Decline } from './decline.js';
import { type AcceptancePolicy, TerminalKeyCache } from './key-cache.js';
import { journalReceipt } from './receipt.js';
import { Settlement, type SettlementReport } from './settlement.js';

export type { SettlementReport } from './settlement.js';

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
  /**
   * The register's key for this sale: a retry with the same key (after a lost answer, or a
   * restart of either side) gets the same payment back instead of a second one.
   */
  idempotencyKey?: string;
}

/** What an Idempotency-Key may be: 1 to 255 visible ASCII characters. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

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

/**
 * The card left (or failed) mid-exchange, or its reader was unplugged: wait (within the card wait)
 * for the card to come back and try again with the same request.
 */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  BRIDGE_ERROR.CARD_REMOVED,
  BRIDGE_ERROR.CARD_RESET,
  BRIDGE_ERROR.CARD_TIMEOUT,
  BRIDGE_ERROR.TRANSPORT_FAILURE,
  BRIDGE_ERROR.CHANNEL_CLOSED,
  BRIDGE_ERROR.NO_CARD,
  BRIDGE_ERROR.NO_READER,
]);

interface ActivePayment {
  id: string;
  abort: AbortController;
  /** While the card waits for its holder's PIN: give it, or end the payment without one. */
  pin: { supply(pin: string): void; withhold(code: ErrorCode, message: string): void } | undefined;
  /**
   * The payment's request was made in the tap under way: no card has seen it but the one in the
   * field, which (waiting for a PIN) refused to pay without it. Cancelling then abandons nothing.
   */
  requestMadeThisTap: boolean;
  done: Promise<void>;
}

export class PaymentTerminal extends EventEmitter {
  private active: ActivePayment | undefined;
  private readonly keys: TerminalKeyCache;
  private readonly deposits: Settlement;
  private readonly presence: CardPresence;

  constructor(
    private readonly journal: Journal,
    private readonly readers: ReaderSource,
    private readonly bank: AcquirerBank,
    readonly config: TerminalConfig,
  ) {
    super();
    if (!(config.depositMarginMs >= MIN_DEPOSIT_MARGIN_MS)) {
      throw new EcashError(
        'bad-deposit-margin',
        `the deposit margin must be at least ${MIN_DEPOSIT_MARGIN_MS / 60_000} minutes: coins of a key about to expire must leave time to deposit them`,
      );
    }
    this.keys = new TerminalKeyCache(journal);
    this.presence = new CardPresence(readers, config.readerName);
    this.deposits = new Settlement(journal, bank, config, (id) => this.emitEvent(id));
  }

  private now(): number {
    return this.config.now?.() ?? Date.now();
  }

  /** Loads the cached keys and refreshes them from the bank when it answers (offline is fine). */
  async start(): Promise<void> {
    await this.keys.start(this.bank, this.now());
  }

  get group(): Group {
    return this.keys.currentGroup;
  }

  /** Takes the bank's current keys in place of the cached ones (key-cache.ts). */
  async refreshKeys(): Promise<void> {
    await this.keys.refresh(this.bank, this.now());
  }

  // ------------------------------------------------------------------------- payments

  /**
   * Starts a payment on the reader. One at a time: `terminal-busy` while another runs. With an
   * idempotency key already used, the payment made with it, whatever its state, if the sale is
   * the same (amount, currency, reference); `idempotency-key-reused` if it is another.
   */
  startPayment(req: NewPayment): PaymentRecord {
    const earlier = this.paymentByIdempotencyKey(req.idempotencyKey, req);
    if (earlier !== undefined) return earlier;
    if (!Number.isSafeInteger(req.amount) || req.amount <= 0 || req.amount > MAX_AMOUNT)
      throw new EcashError('bad-amount', `amount must be a whole number of minor units from 1 to ${MAX_AMOUNT}`);
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
    const mode: RiskMode =
      this.config.mode === 'floor-limit' ? (req.amount > this.config.floorLimit ? 'online' : 'offline') : this.config.mode;
    const record = this.journal.createPayment(
      {
        amount: req.amount,
        currency: req.currency,
        reference,
        merchantId: this.config.merchantId,
        terminalId: this.config.terminalId,
        mode,
      },
      Date.now(),
      req.idempotencyKey,
    );
    this.emitEvent(record.id);
    this.launch(record.id);
    return record;
  }

  /** The payment an earlier request with this idempotency key made, when it asked for the same sale. */
  private paymentByIdempotencyKey(key: string | undefined, req: NewPayment): PaymentRecord | undefined {
    if (key === undefined) return undefined;
    if (!IDEMPOTENCY_KEY.test(key)) {
      throw new EcashError('bad-idempotency-key', 'an Idempotency-Key is 1 to 255 visible ASCII characters (a UUID, say)');
    }
    const earlier = this.journal.paymentByIdempotencyKey(key);
    if (earlier === undefined) return undefined;
    if (earlier.amount !== req.amount || earlier.currency !== req.currency || earlier.reference !== (req.reference ?? null)) {
      throw new EcashError(
        'idempotency-key-reused',
        `this Idempotency-Key was used for payment ${earlier.id}, of another amount, currency or reference: a new sale needs a new key`,
      );
    }
    return earlier;
  }

  /** Resumes payments a crash or restart left unfinished (their requests may have reached a card). */
  resumeUnfinished(): string[] {
    const ids: string[] = [];
    for (const p of this.journal.unfinishedPayments()) {
      if (this.journal.latestRequest(p.id) === undefined) {
        this.record(p.id, 'cancelled', {
          code: 'terminal-restarted',
          message: 'the terminal restarted before the card was asked to pay; nothing was spent',
        });
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
    const active: ActivePayment = { id, abort, pin: undefined, requestMadeThisTap: false, done: Promise.resolve() };
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
   * Cancels a payment that has not asked the card to pay yet, or whose card refused to pay before
   * its PIN (waiting in `pin-required` on the tap that made the request). Otherwise, once the
   * request reached a card, cancelling needs `abandon`: the card may have spent its coins and only
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
    const beforePin = state === 'pin-required' && this.active?.id === id && this.active.pin !== undefined && this.active.requestMadeThisTap;
    const requested = this.journal.latestRequest(id) !== undefined && !beforePin;
    if (requested && !opts.abandon) {
      throw new EcashError(
        'payment-in-flight',
        `payment ${id} already asked a card to pay; cancelling may abandon coins the card has spent. Tap the card again to finish it, or cancel with abandon=true`,
      );
    }
    if (this.active?.id === id) this.active.abort.abort();
    this.record(id, 'cancelled', {
      code: requested ? 'abandoned' : 'cancelled',
      message: requested
        ? 'cancelled after the request reached a card'
        : beforePin
          ? 'cancelled while the card waited for its PIN: it refused to pay without one, nothing was spent'
          : 'cancelled',
    });
    return this.view(id);
  }

  /** Supplies the card holder's PIN for a payment waiting in `pin-required`. */
  supplyPin(id: string, pin: string): void {
    this.pinWaiter(id).supply(pin);
  }

  /** Declines a payment waiting in `pin-required` at once, for a PIN that will not come (nothing was spent). */
  withholdPin(id: string, code: ErrorCode, message: string): void {
    this.pinWaiter(id).withhold(code, message);
  }

  private pinWaiter(id: string): NonNullable<ActivePayment['pin']> {
    // An unknown id is payment-not-found, not a payment that happens not to want a PIN.
    this.journal.currentState(id);
    if (this.active?.id !== id || this.active.pin === undefined) {
      throw new EcashError('pin-not-expected', `payment ${id} is not waiting for a PIN`);
    }
    return this.active.pin;
  }

  view(id: string): PaymentView {
    const p = this.journal.payment(id);
    const events = this.journal.events(id);
    const state = events[events.length - 1]!.state;
    const transcripts = this.journal.transcripts(id);
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
      receipt: journalReceipt(this.journal, id, this.config.merchantName),
      settlement: this.journal.settlementResults(id).map((r) => ({ index: r.index, outcome: r.outcome, at: r.at })),
    };
  }

  listPayments(opts: { limit?: number; before?: number } = {}) {
    return this.journal.listPayments(opts);
  }

  settlementStatus() {
    return this.journal.settlementStatus();
  }

  /**
   * Deposits everything unsettled (settlement.ts); when coins stay pending for a reason on this
   * side it throws the first problem's code, its message saying what to fix.
   */
  settle(): Promise<SettlementReport> {
    return this.deposits.settle();
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

  /**
   * A payment from waiting for a card to its outcome:
   * - before its request exists: online, the bank must answer first (`bank-unreachable`
   *   otherwise); then the previous sale's card must leave the reader (`card-still-present`);
   * - `waiting-for-card` until a card is in the field (`card-wait-expired`), then one tap (`tap`);
   * - a tap cut by the card leaving or the reader failing: `interrupted` once the request exists,
   *   and back to waiting for the same card;
   * - a tap that resent the request and was refused by the card in the field: `interrupted`
   *   (`recovery-refused`), and back to waiting once that card has left;
   * - anything else ends it `declined`, as `card-not-returned` when the card asked to pay never
   *   came back (it may have paid).
   * The register's cancel aborts the run; the journal then already says `cancelled`.
   */
  private async run(id: string, active: ActivePayment): Promise<void> {
    const signal = active.abort.signal;
    try {
      if (this.journal.latestRequest(id) === undefined && !isFinal(this.journal.currentState(id))) {
        // Online, the bank must answer before a card spends anything: asked now, not with the
        // card held in the field for a round trip.
        if (this.journal.payment(id).mode === 'online') await this.requireBank();
        // A fresh sale must not read the previous customer's card, still in the reader.
        if (this.journal.currentState(id) !== 'waiting-for-card') this.record(id, 'waiting-for-card');
        await this.presence.tappedCardGone(signal, this.config.cardWaitMs);
      }
      for (;;) {
        if (signal.aborted) return;
        const state = this.journal.currentState(id);
        if (isFinal(state)) return;
        if (state !== 'waiting-for-card') this.record(id, 'waiting-for-card');
        await this.presence.cardPresent(signal, this.config.cardWaitMs);
        const recovering = this.journal.latestRequest(id) !== undefined;
        try {
          await this.tap(id, active);
          return;
        } catch (e) {
          if (signal.aborted) return;
          await this.afterFailedTap(id, e, recovering, signal);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (!isFinal(this.journal.currentState(id))) this.record(id, 'declined', this.declineReason(id, e));
    }
  }

  /** Records why a tap failed and waits for the next one, or throws when the failure ends the payment. */
  private async afterFailedTap(id: string, e: unknown, recovering: boolean, signal: AbortSignal): Promise<void> {
    if (isEcashError(e) && RETRYABLE.has(e.code)) {
      // Before the request, nothing happened on the card: just wait for a card again.
      if (this.journal.latestRequest(id) !== undefined) this.record(id, 'interrupted', { code: e.code, message: e.message });
      await this.presence.briefRemoval(signal);
      return;
    }
    if (recovering && this.refusedBeforeAnswer(id, e)) {
      // The card that was asked to pay may have paid and only its answer been lost; the card that
      // refused now may be another one. Declining would let the sale be charged again while those
      // coins are spent from the first card: wait for it (or for the register to abandon).
      const refusal = e instanceof Error ? e.message : String(e);
      this.record(id, 'interrupted', {
        code: 'recovery-refused',
        cardCode: isEcashError(e) || e instanceof Decline ? e.code : 'internal',
        message: `the card in the reader refused this payment's request (${refusal}); it may not be the card that was asked to pay, which may have paid already: tap that card, or cancel with abandon`,
      });
      // A fresh tap, not the same refusal again: the card in the field must leave first.
      await this.presence.cardAbsent(signal, this.config.cardWaitMs);
      return;
    }
    throw e;
  }

  /**
   * Whether a tap that resent a stored request failed before any card answered it: the card in
   * the field refused (another card, a PIN, a card error) rather than the terminal being unable
   * to send the request at all.
   */
  private refusedBeforeAnswer(id: string, e: unknown): boolean {
    if (e instanceof Decline && e.code === 'request-format-old') return false;
    const state = this.journal.currentState(id);
    return state !== 'responses-received' && !isFinal(state);
  }

  /** The `declined` event's detail for what ended a payment's run. */
  private declineReason(id: string, e: unknown): Record<string, unknown> {
    // Asked to pay, the card did not come back (or another stayed in its place): it may have paid.
    if (
      e instanceof Decline &&
      (e.code === 'card-wait-expired' || e.code === 'card-still-present') &&
      this.journal.latestRequest(id) !== undefined
    ) {
      return {
        code: 'card-not-returned',
        message:
          'the card left after it was asked to pay and did not come back: it may have spent coins for this payment (its payment log shows it); the request stays in the journal',
      };
    }
    if (e instanceof Decline) return { code: e.code, message: e.message, ...e.details };
    if (isEcashError(e)) return { code: e.code, message: e.message };
    return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
  }

  /** One tap: select, choose coins, ask the card to pay (or re-ask), verify, approve. */
  private async tap(id: string, active: ActivePayment): Promise<void> {
    const payment = this.journal.payment(id);
    this.presence.watchTappedCard();
    const channel = await this.readers.connect(this.config.readerName, { share: 'exclusive' });
    try {
      const card = EcashCardClient.on(channel, { timeouts: this.config.cardTimeouts });
      this.record(id, 'reading');
      const fci = await card.select();
      if (fci.suite !== this.group.suite) {
        throw new Decline('wrong-suite', `the card works in suite ${String(fci.suite)}, this terminal's bank in ${this.group.suite}`);
      }
      let request = this.journal.latestRequest(id);
      active.requestMadeThisTap = request === undefined;
      if (request === undefined) {
        // The card is offered the keys this terminal takes, from its own key list; it chooses the coins.
        const policy = this.acceptance();
        const accepted = offeredKeys(this.keys.current(policy.now), policy);
        if (accepted.length === 0) {
          throw new Decline(
            'no-acceptable-keys',
            `this terminal holds no key of ${payment.currency} it can accept now (scope, deposit deadline beyond the margin, withdrawal window): refresh its keys from the bank`,
          );
        }
        request = {
          timestamp: Date.now(),
          nonce: new Uint8Array(randomBytes(NONCE_LENGTH)),
          accepted: accepted.map((k) => toHex(k.keyId)),
        };
        // Durable before the card sees it: after a crash the same request recovers the answer.
        this.journal.recordRequest(id, request);
        this.emitEvent(id);
      }
      if (request.accepted.length === 0) {
        throw new Decline(
          'request-format-old',
          "this payment's request was made by an earlier version of the terminal and cannot be sent again; the card's payment log shows whether it paid",
        );
      }
      const context: PaymentContext = {
        merchantId: payment.merchantId,
        terminalId: payment.terminalId,
        timestamp: request.timestamp,
        nonce: request.nonce,
      };
      const offered = request.accepted.map((k) => fromHex(k, 'key id', 32));
      const known = offered.flatMap((k) => this.keys.get(toHex(k)) ?? []);
      const paid = await this.payWithPin(
        id,
        active,
        card,
        { context, amount: payment.amount, currency: payment.currency, acceptedKeys: offered },
        coinsAtMost(payment.amount, known),
      );
      await this.conclude(id, payment, context, request.accepted, paid);
    } finally {
      await channel.disconnect('reset').catch(() => undefined);
    }
  }

  private async payWithPin(
    id: string,
    active: ActivePayment,
    card: EcashCardClient,
    request: PayRequest,
    coins: number,
  ): Promise<PaidCoin[]> {
    for (;;) {
      try {
        return await card.pay(request, { coinsAtMost: coins });
      } catch (e) {
        // The card tells one bit about what it holds, nothing more (docs/card.md, privacy).
        if (isEcashError(e, CARD_ERROR.CARD_INSUFFICIENT_FUNDS)) {
          throw new Decline(
            'insufficient-funds',
            `the card cannot pay ${formatAmount(request.amount, request.currency)}: it holds less than that in coins this terminal accepts; load the card, or pay less`,
          );
        }
        if (isEcashError(e, CARD_ERROR.CARD_NO_EXACT_CHANGE)) {
          throw new Decline(
            'no-exact-change',
            `the card holds enough, but no coins this terminal accepts add up to exactly ${formatAmount(request.amount, request.currency)} (e-cash has no change); charge another amount, or the holder can rebalance the card at a load terminal (ecash load --rebalance)`,
          );
        }
        if (!isEcashError(e, CARD_ERROR.PIN_REQUIRED)) throw e;
        await this.verifiedPin(id, active, card);
        this.record(id, 'request-sent', { message: 'PIN verified, asking the card again' });
      }
    }
  }

  /**
   * Waits in `pin-required` for the holder's PIN and has the card verify it. A wrong one asks
   * again, the event saying the tries the card has left, until the card blocks the PIN
   * (`pin-blocked`), the register cancels, or no PIN comes in time (`pin-timeout`).
   */
  private async verifiedPin(id: string, active: ActivePayment, card: EcashCardClient): Promise<void> {
    let detail: Record<string, unknown> = {
      message:
        "the card asks for the holder's PIN: this payment, with what was paid without the PIN since it was last entered, is above the card's no-PIN limit",
    };
    for (;;) {
      const entered = this.pinEntry(active);
      this.record(id, 'pin-required', detail);
      const pin = await entered;
      try {
        await card.verifyPin(pin);
        return;
      } catch (err) {
        // The card's 63Cx: tries left (the last try's refusal arrives as pin-blocked).
        if (!isEcashError(err, CARD_ERROR.PIN_WRONG)) {
          if (isEcashError(err, CARD_ERROR.PIN_BLOCKED)) throw new Decline(err.code, err.message);
          throw err;
        }
        const triesLeft = Number(err.details?.triesLeft);
        detail = {
          code: CARD_ERROR.PIN_WRONG,
          triesLeft,
          message: `wrong PIN: ${triesLeft} ${triesLeft === 1 ? 'try' : 'tries'} left before the card blocks it`,
        };
      }
    }
  }

  /** The PIN the holder enters next, ready before anyone hears that it is wanted. */
  private pinEntry(active: ActivePayment): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Decline('pin-timeout', 'no PIN was entered in time')), this.config.pinWaitMs);
      const onAbort = () => reject(new EcashError('cancelled', 'cancelled'));
      active.abort.signal.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(timer);
        active.abort.signal.removeEventListener('abort', onAbort);
        active.pin = undefined;
      };
      active.pin = {
        supply(p) {
          settle();
          resolve(p);
        },
        withhold(code, message) {
          settle();
          reject(new Decline(code, message));
        },
      };
    });
  }

  private acceptance(): AcceptancePolicy {
    return { currency: this.config.currency, scopes: this.config.scopes, now: this.now(), depositMarginMs: this.config.depositMarginMs };
  }

  /**
   * Why the card's answers must be refused, if they must. Every coin is judged by this terminal's
   * own key list: its key must be one the request offered, and its value, currency, scope and
   * windows are that key's; the card's word counts for nothing.
   */
  private checkAnswers(
    payment: PaymentRecord,
    transcripts: readonly Transcript[],
    seen: readonly boolean[],
    offered: readonly string[],
  ): Decline | undefined {
    if (seen.some((s) => s)) {
      return new Decline(
        'coin-already-seen',
        'the card spent a coin this terminal has already taken: the payment is refused and the evidence goes to the bank',
        {
          coins: seen.flatMap((s, i) => (s ? [i] : [])),
        },
      );
    }
    const group = this.group;
    const repeated = transcripts.flatMap((t, i) => (transcripts.findIndex((u) => group.equals(u.coin.A, t.coin.A)) < i ? [i] : []));
    if (repeated.length > 0) return new Decline('card-answer-mismatch', 'the card answered with the same coin twice', { coins: repeated });
    const asked = new Set(offered);
    const outside = transcripts.flatMap((t, i) => (asked.has(toHex(t.coin.keyId)) ? [] : [i]));
    if (outside.length > 0) {
      return new Decline(
        'coin-not-accepted',
        `the card paid with ${outside.length} coin(s) of keys this terminal did not offer (another currency or scope, or a deposit deadline too near): a tampered card`,
        {
          coins: outside,
        },
      );
    }
    const keys = transcripts.map((t) => this.keys.get(toHex(t.coin.keyId)));
    // A key can have expired and left the cache between a request and its (resumed) answer.
    const unknown = keys.flatMap((k, i) => (k === undefined ? [i] : []));
    if (unknown.length > 0)
      return new Decline('invalid-coin', `the terminal holds no valid key for ${unknown.length} of the card's coins`, { coins: unknown });
    const items = transcripts.map((t, i) => ({ key: keys[i]!, transcript: t }));
    const bad = batchVerifyTranscripts(group, items);
    if (bad.length > 0) return new Decline('invalid-coin', `${bad.length} of the card's coins do not verify`, { coins: bad });
    const total = items.reduce((s, it) => s + it.key.value, 0);
    if (total !== payment.amount)
      return new Decline(
        'card-answer-mismatch',
        `the coins add up to ${formatAmount(total, payment.currency)}, not ${formatAmount(payment.amount, payment.currency)}`,
      );
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

    const outcomes = await this.deposits.depositNow(
      id,
      rows.map((r) => r.bytes),
    );
    if (outcomes === undefined) {
      // The card has paid and every coin verified; declining now would charge the holder
      // without a sale. Stand in offline: the batch stays pending and settlement resends it.
      this.record(id, 'approved', {
        coins: transcripts.length,
        code: 'offline-fallback',
        message: 'the bank gave no usable answer after the card paid: approved offline, deposited at settlement',
      });
      return;
    }
    const double = outcomes.flatMap((o, i) => (o.outcome === 'double-spend' ? [i] : []));
    if (double.length > 0)
      throw new Decline('double-spend', 'the bank has seen these coins spent before: the payment is refused', { coins: double });
    const notCredited = outcomes.flatMap((o, i) => (o.outcome === 'credited' || o.outcome === 'replay' ? [] : [i]));
    if (notCredited.length > 0) {
      throw new Decline('deposit-rejected', `the bank rejected ${notCredited.length} coins: ${outcomes[notCredited[0]!]!.message ?? ''}`, {
        coins: notCredited,
      });
    }
    this.record(id, 'approved', { coins: transcripts.length });
  }

  /** Online mode: before the card spends anything, make sure the bank answers (and take its current keys). */
  private async requireBank(): Promise<void> {
    try {
      await this.refreshKeys();
    } catch (e) {
      throw new Decline(
        'bank-unreachable',
        `online payment needs the bank, which did not answer (nothing was spent): ${(e as Error).message}`,
      );
    }
  }

  /** Stops taking payments: cancels one that has not reached a card, waits for the rest. */
  async close(): Promise<void> {
    const a = this.active;
    if (a !== undefined && this.journal.latestRequest(a.id) === undefined) a.abort.abort();
    await a?.done;
    this.presence.stop();
    await this.deposits.idle();
  }
}
