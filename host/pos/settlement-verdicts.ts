/**
 * What the bank's answer to a deposit batch means for the terminal's coins. Only the bank's
 * verdict on a coin itself settles it: credited, a replay of this very payment, a double spend,
 * or a coin that is malformed, does not verify or whose key is past its deposit deadline (nothing
 * the terminal can change makes the bank take those). Every other refusal is a fault on the
 * terminal's side or a passing state of the bank (its credential, its bank URL, its merchant's
 * scopes at the bank, its clock, a bank that is down, failing or busy): the coins stay pending
 * and the settlement says what to fix (docs/terminals.md, "Settlement").
 */
import { type ErrorCode, isEcashError } from '../../core/index.js';
import type { BankApiErrorCode } from '../bank-client/index.js';
import type { DepositOutcome } from './acquirer.js';

/** Stable codes of a settlement that left coins pending (docs/pos-api.md). */
export const SETTLEMENT_PROBLEM_CODES = [
  'bank-unreachable',
  'bank-credential-refused',
  'bank-rate-limited',
  'bank-failed',
  'bank-protocol',
  'bad-bank-answer',
  'wrong-bank',
  'scope-not-accepted',
  'key-not-yet-valid',
  'conflict-unresolved',
  'bank-rejected',
  'batch-refused',
] as const satisfies readonly ErrorCode[];

export type SettlementProblemCode = (typeof SETTLEMENT_PROBLEM_CODES)[number];

export interface SettlementProblem {
  code: SettlementProblemCode;
  /** What happened and what to fix. */
  message: string;
  batchId: string;
  /** How many coins it keeps pending. */
  coins: number;
}

/** What the terminal does about a problem: its code and message, and whether to stop the run. */
export interface ProblemVerdict {
  code: SettlementProblemCode;
  message: string;
  /** The whole terminal's configuration or the whole bank is at fault: other batches would fail alike. */
  stopsRun: boolean;
}

/** The terminal a settlement is for, named in the messages. */
export interface SettlingTerminal {
  merchantId: string;
}

/** Rejection codes that are the bank's verdict on the coin itself. */
const COIN_VERDICTS: ReadonlySet<string> = new Set(['bad-transcript', 'invalid-transcript', 'key-expired'] satisfies BankApiErrorCode[]);

/** Whether a per-coin answer settles the coin (anything else keeps it pending). */
export function isCoinVerdict(o: DepositOutcome): boolean {
  return o.outcome !== 'rejected' || (o.code !== undefined && COIN_VERDICTS.has(o.code));
}

const STAYS_PENDING = 'the coins stay pending and are deposited again at the next settlement';
const RESENT = 'the batches stay pending and are resent under the same ids';

/** A bank code in a case label, checked against the bank's list (`code` itself may be a newer bank's). */
const bank = (code: BankApiErrorCode): string => code;

/** Why the bank refused `coins` coins of a batch for a reason on this side (a non-verdict `rejected`). */
export function rejectionProblem(
  code: string | undefined,
  bankMessage: string | undefined,
  coins: number,
  t: SettlingTerminal,
): ProblemVerdict {
  const said = bankMessage === undefined ? '' : ` (the bank said: ${bankMessage})`;
  switch (code) {
    case bank('wrong-merchant'):
      return {
        code: 'bank-credential-refused',
        message: `the bank credits payments made to merchant "${t.merchantId}" only to that merchant's credential, and this terminal's credential belongs to another party${said}: check --token-file (or $ECASH_BANK_TOKEN) and --merchant; ${coins} coins: ${STAYS_PENDING}`,
        stopsRun: true,
      };
    case bank('unknown-key'):
      return {
        code: 'wrong-bank',
        message: `the bank does not know the key of ${coins} coins${said}: check that --bank is the bank whose keys this terminal took; ${STAYS_PENDING}`,
        stopsRun: false,
      };
    case bank('scope-not-accepted'):
      return {
        code: 'scope-not-accepted',
        message: `the bank does not let merchant "${t.merchantId}" take ${coins} coins of a scope this terminal accepted${said}: ask the bank's operator to add the scope to the merchant, or remove it from the terminal's --scope; ${STAYS_PENDING}`,
        stopsRun: false,
      };
    case bank('key-not-yet-valid'):
      return {
        code: 'key-not-yet-valid',
        message: `the bank says the key of ${coins} coins is not valid yet${said}: check the terminal's and the bank's clocks; ${STAYS_PENDING}`,
        stopsRun: false,
      };
    case bank('conflict-unresolved'):
      // The bank's fault on that one coin (a record of its earlier deposit it cannot compare
      // with): nothing was credited or recorded for it, and the coin is good until it says otherwise.
      return {
        code: 'conflict-unresolved',
        message: `the bank could not compare ${coins} coins with their earlier deposits and credited nothing for them${said}: tell the bank's operator, who must repair the coins' spent-coin records; ${STAYS_PENDING}`,
        stopsRun: false,
      };
    default:
      return {
        code: 'bank-rejected',
        message: `the bank rejected ${coins} coins with code "${String(code)}", which this terminal does not know as a verdict on a coin${said}; ${STAYS_PENDING}: update the terminal if it persists`,
        stopsRun: false,
      };
  }
}

/**
 * What a deposit that got no per-coin answer means. `rebatch` (the bank holds this batch id for
 * other transcripts) takes the coins out of the batch for a new one; anything else keeps the
 * batch pending, to be resent as it is.
 */
export function failureProblem(e: unknown, batchId: string, t: SettlingTerminal): ProblemVerdict & { rebatch: boolean } {
  const code = isEcashError(e) ? e.code : 'internal';
  const status = typeof (e as { status?: unknown }).status === 'number' ? (e as { status: number }).status : undefined;
  const said = e instanceof Error ? e.message : String(e);
  const verdict = (c: SettlementProblemCode, message: string, stopsRun: boolean) => ({ code: c, message, stopsRun, rebatch: false });
  if (code === 'batch-id-reused') {
    return {
      code: 'batch-refused',
      message: `the bank holds batch ${batchId} with other transcripts (${said}): its coins go into a new batch`,
      stopsRun: false,
      rebatch: true,
    };
  }
  if (code === 'bank-unreachable') return verdict('bank-unreachable', `${said}; ${RESENT}`, true);
  if (code === 'bank-protocol' || code === 'bad-bank-answer')
    return verdict(code, `${said}: check that --bank is this terminal's bank; ${RESENT}`, true);
  if (code === 'unauthorized' || status === 401) {
    return verdict(
      'bank-credential-refused',
      `the bank refused this terminal's credential (${said}): check that --token-file (or $ECASH_BANK_TOKEN) holds the credential the bank issued to merchant "${t.merchantId}" and that --bank is that bank; ${RESENT}`,
      true,
    );
  }
  if (code === 'forbidden' || status === 403) {
    return verdict(
      'bank-credential-refused',
      `the bank does not let this terminal's credential deposit (${said}): use merchant "${t.merchantId}"'s own credential in --token-file, not an operator's or a card holder's; ${RESENT}`,
      true,
    );
  }
  if (code === 'rate-limited' || status === 429)
    return verdict('bank-rate-limited', `the bank is limiting this terminal's requests (${said}): settle again later; ${RESENT}`, true);
  if (code === 'wrong-suite')
    return verdict(
      'wrong-bank',
      `the bank works in another suite than this terminal's coins (${said}): check that --bank is this terminal's bank; ${RESENT}`,
      true,
    );
  if (status !== undefined && status >= 400 && status < 500) {
    return verdict(
      'batch-refused',
      `the bank refused batch ${batchId} (${status} ${code}: ${said}); it stays pending and is resent as it is, the other batches go on`,
      false,
    );
  }
  return verdict(
    'bank-failed',
    `the bank failed to take batch ${batchId} (${status ?? 'no status'} ${code}: ${said}): settle again later, and tell the bank's operator if it persists; ${RESENT}`,
    true,
  );
}
