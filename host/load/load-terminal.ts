/**
 * The load terminal: withdraws coins onto a card one session at a time (the bank allows one open
 * session per account), choosing denominations so the card can pay as many amounts as its free
 * slots allow, and exchanges a card's coins for a better mix (rebalance). Every step is journalled
 * before the next one, so an interrupted load loses no money: a session the bank answered but the
 * card did not store is finished on the next run by delivering the recorded answer.
 */
import { randomBytes } from 'node:crypto';
import {
  canWithdraw,
  type DenominationKey,
  EcashError,
  fromHex,
  type Group,
  type GroupElement,
  isEcashError,
  NONCE_LENGTH,
  toHex,
  type Transcript,
  type WithdrawalOffer,
} from '../../core/index.js';
import { MAX_COINS_PER_PAYMENT, paymentTranscripts } from '../../wire/index.js';
import type { EcashCardClient } from '../../reader-bridge/index.js';
import { planDenominations, planRebalance } from './denomination-plan.js';
import type { LoadJournal, LoadSession } from './journal.js';

export interface WithdrawalStart {
  sessionId: string;
  key: DenominationKey;
  /** z = (I·g2)^x for the account and key. */
  z: GroupElement;
  offer: WithdrawalOffer;
}

/** What the load terminal needs from the bank, on behalf of one account holder. */
export interface IssuerBank {
  group(): Promise<Group>;
  denominationKeys(): Promise<DenominationKey[]>;
  startWithdrawal(keyId: Uint8Array): Promise<WithdrawalStart>;
  /**
   * The bank's answer r for the card's challenge c. The bank answers a session once; asked again
   * with the same c (a lost answer) it repeats the same r, and it refuses any other c.
   */
  answerWithdrawal(sessionId: string, c: bigint): Promise<bigint>;
  /** Rebalancing: deposits the holder's own coins back to its account. */
  depositToAccount(batchId: string, transcripts: readonly Transcript[]): Promise<{ outcome: string; message?: string }[]>;
  /** The merchant id the holder's own account deposits under (the card binds its payment to it). */
  accountMerchantId(): string;
}

export interface LoadProgress {
  done: number;
  total: number;
  loadedValue: number;
}

export interface LoadReport {
  account: string;
  currency: string;
  requested: number;
  loaded: number;
  coins: number[];
  recovered: LoadSession[];
  unresolved: LoadSession[];
}

export interface LoadOptions {
  card: EcashCardClient;
  bank: IssuerBank;
  journal: LoadJournal;
  account: string;
  currency: string;
  onProgress?: (p: LoadProgress) => void;
  now?: () => number;
}

function withdrawableKeys(keys: readonly DenominationKey[], currency: string, now: number): DenominationKey[] {
  return keys.filter((k) => k.currency === currency && k.scope === '' && canWithdraw(k, now));
}

/** The key to use for each value: the one whose deposit deadline is furthest away. */
function keyByValue(keys: readonly DenominationKey[]): Map<number, DenominationKey> {
  const m = new Map<number, DenominationKey>();
  for (const k of keys) {
    const cur = m.get(k.value);
    if (cur === undefined || k.depositUntil > cur.depositUntil) m.set(k.value, k);
  }
  return m;
}

/**
 * Finishes what an earlier, interrupted load left: a withdrawal pending on the card is completed
 * with the recorded (or re-asked) answer of its session; sessions this journal started that
 * never reached the card are closed. Returns what was recovered and what needs an operator.
 */
export async function recoverInterruptedLoads(opts: LoadOptions): Promise<{ recovered: LoadSession[]; unresolved: LoadSession[] }> {
  const { card, bank, journal } = opts;
  const group = card.group;
  const recovered: LoadSession[] = [];
  const unresolved: LoadSession[] = [];
  const pending = await card.withdrawStatus();
  if (pending !== undefined) {
    const c = toHex(group.scalars.encode(pending.c));
    const session = journal.sessionByChallenge(c);
    if (session === undefined) {
      throw new EcashError(
        'unknown-pending-withdrawal',
        'the card holds a withdrawal this load terminal did not start: finish it on the terminal that did, or abort it (ecash load --abort-pending) once the bank confirms it never answered',
      );
    }
    let r = session.r === null ? undefined : fromHex(session.r, 'r');
    if (r === undefined) {
      try {
        const answer = await bank.answerWithdrawal(session.sessionId, pending.c);
        r = group.scalars.encode(answer);
        journal.step(session.sessionId, 'answered', { r: toHex(r) });
      } catch (e) {
        if (isEcashError(e, 'session-expired')) {
          // The bank never answered and never will: nothing was debited, the card's half is dropped.
          await card.withdrawAbort();
          journal.step(session.sessionId, 'abandoned', { detail: 'session expired before the bank answered; nothing was debited' });
          return { recovered, unresolved };
        }
        throw e;
      }
    }
    await card.withdrawEnd(group.scalars.decode(r, 'r'));
    journal.step(session.sessionId, 'stored', { detail: 'recovered after an interruption' });
    recovered.push(journal.session(session.sessionId));
  }
  for (const s of journal.unfinished()) {
    if (s.account !== opts.account) continue;
    if (s.step === 'started') {
      // The card never saw this session's offer: the bank debits nothing without a challenge.
      journal.step(s.sessionId, 'abandoned', { detail: 'interrupted before the card was asked' });
    } else {
      unresolved.push(s);
    }
  }
  return { recovered, unresolved };
}

async function withdrawOne(opts: LoadOptions, key: DenominationKey): Promise<void> {
  const { card, bank, journal, account } = opts;
  const group = card.group;
  const start = await bank.startWithdrawal(key.keyId);
  journal.begin({ sessionId: start.sessionId, account, keyId: toHex(key.keyId), value: key.value, currency: key.currency });
  const challenge = await card.withdrawBegin({ key: start.key, z: start.z, offer: start.offer });
  const c = toHex(group.scalars.encode(challenge.c));
  journal.step(start.sessionId, 'challenged', { c });
  const r = await bank.answerWithdrawal(start.sessionId, challenge.c);
  journal.step(start.sessionId, 'answered', { r: toHex(group.scalars.encode(r)) });
  await card.withdrawEnd(r);
  journal.step(start.sessionId, 'stored');
}

/** Loads `amount` (minor units) onto the card. The PIN must already be verified on `card`. */
export async function loadCard(opts: LoadOptions & { amount: number }): Promise<LoadReport> {
  const now = opts.now ?? Date.now;
  const { recovered, unresolved } = await recoverInterruptedLoads(opts);
  const fci = opts.card.card ?? (await opts.card.select());
  const balance = await opts.card.balance();
  const held = balance.reduce((s, b) => s + b.count, 0);
  const keys = withdrawableKeys(await opts.bank.denominationKeys(), opts.currency, now());
  const byValue = keyByValue(keys);
  const plan = planDenominations([...byValue.keys()], opts.amount, Math.max(0, fci.capacity - held), opts.currency);
  const report: LoadReport = {
    account: opts.account,
    currency: opts.currency,
    requested: opts.amount,
    loaded: 0,
    coins: [],
    recovered,
    unresolved,
  };
  opts.onProgress?.({ done: 0, total: plan.length, loadedValue: 0 });
  for (const value of plan) {
    await withdrawOne(opts, byValue.get(value)!);
    report.loaded += value;
    report.coins.push(value);
    opts.onProgress?.({ done: report.coins.length, total: plan.length, loadedValue: report.loaded });
  }
  return report;
}

export interface RebalanceReport {
  gaveBack: number[];
  withdrew: number[];
  recovered: LoadSession[];
  unresolved: LoadSession[];
}

/**
 * Exchanges the card's coins for the mix `planRebalance` recommends: the card pays the coins to
 * give back to the holder's own account (deposited at once), then the same value is withdrawn
 * in better denominations. The PIN must already be verified on `card`. The card chooses the coins
 * of a payment itself, so the coins to give back go one value at a time (a payment of n × v
 * offering only the card's keys of value v is exactly n coins of v); and the card authorises one
 * payment per PIN entry, so `verifyPin` verifies it again before each payment and for what follows.
 */
export async function rebalanceCard(opts: LoadOptions & { verifyPin: () => Promise<void> }): Promise<RebalanceReport> {
  const now = opts.now ?? Date.now;
  const { card, bank } = opts;
  const { recovered, unresolved } = await recoverInterruptedLoads(opts);
  const fci = card.card ?? (await card.select());
  const balance = (await card.balance()).filter((b) => b.currency === opts.currency && b.scope === '');
  const keys = withdrawableKeys(await bank.denominationKeys(), opts.currency, now());
  const byValue = keyByValue(keys);
  const heldValues = balance.flatMap((b) => Array<number>(b.count).fill(b.value));
  const plan = planRebalance(heldValues, [...byValue.keys()], fci.capacity, opts.currency);
  const report: RebalanceReport = { gaveBack: [], withdrew: [], recovered, unresolved };
  if (plan.giveBack.length === 0) return report;

  const giveBack = new Map<number, number>();
  for (const v of plan.giveBack) giveBack.set(v, (giveBack.get(v) ?? 0) + 1);
  const transcripts: Transcript[] = [];
  const batchNonce = new Uint8Array(randomBytes(NONCE_LENGTH));
  for (const [value, total] of giveBack) {
    for (let left = total; left > 0; ) {
      const count = Math.min(left, MAX_COINS_PER_PAYMENT);
      const context = {
        merchantId: bank.accountMerchantId(),
        terminalId: 'load-terminal',
        timestamp: now(),
        nonce: new Uint8Array(randomBytes(NONCE_LENGTH)),
      };
      await opts.verifyPin();
      const paid = await card.pay(
        {
          context,
          amount: value * count,
          currency: opts.currency,
          acceptedKeys: balance.filter((b) => b.value === value).map((b) => b.keyId),
        },
        { coinsAtMost: count },
      );
      transcripts.push(...paymentTranscripts(context, paid));
      left -= count;
    }
  }
  await opts.verifyPin();
  const batchId = `rebalance-${opts.account}-${toHex(batchNonce)}`;
  const outcomes = await bank.depositToAccount(batchId, transcripts);
  const refused = outcomes.filter((o) => o.outcome !== 'credited' && o.outcome !== 'replay');
  if (refused.length > 0) {
    throw new EcashError(
      'rebalance-refused',
      `the bank did not take ${refused.length} of the coins given back: ${refused[0]!.message ?? refused[0]!.outcome}`,
    );
  }
  report.gaveBack = plan.giveBack;
  for (const value of plan.withdraw) {
    await withdrawOne(opts, byValue.get(value)!);
    report.withdrew.push(value);
    opts.onProgress?.({
      done: report.withdrew.length,
      total: plan.withdraw.length,
      loadedValue: report.withdrew.reduce((s, v) => s + v, 0),
    });
  }
  return report;
}
