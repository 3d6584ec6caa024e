/**
 * Time budgets per command class. A real card's chip can spend most of a second on one
 * exponentiation-heavy command (and tens of seconds on a slow chip or the modp suite), so budgets
 * are generous for the commands that compute and tight for the ones that only read: cutting a
 * payment off because of a one-size budget is a classic terminal bug.
 *
 * The defaults cover firmware-sim's chip profiles jcop4, jcop3 and smartcafe7 (docs/card.md) on
 * every suite, with room to spare; the figures behind them are in docs/bridge.md.
 */
import { EcashError } from '../core/index.js';

export const COMMAND_CLASSES = ['control', 'pin', 'account', 'withdrawal', 'payment', 'personalisation', 'default'] as const;

/**
 * - `control`: SELECT, GET RESPONSE, GET BALANCE, WITHDRAW STATUS/ABORT, READ LOG, GET COST
 * - `pin`: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, SET LIMIT (cards slow PIN checks on purpose)
 * - `account`: OPEN ACCOUNT (a proof of knowledge: two exponentiations)
 * - `withdrawal`: WITHDRAW BEGIN and END (the blinding and the signature check: many exponentiations)
 * - `payment`: PAY, per coin it may spend (two multiplications and the erasure of each coin's secrets)
 * - `personalisation`: PERSONALISE (key generation)
 * - `default`: anything else (raw diagnostics)
 */
export type CommandClass = (typeof COMMAND_CLASSES)[number];

export type TimeoutBudgets = Readonly<Record<CommandClass, number>>;

export const DEFAULT_TIMEOUTS: TimeoutBudgets = {
  control: 2_000,
  pin: 3_000,
  account: 15_000,
  withdrawal: 90_000,
  payment: 2_500,
  personalisation: 15_000,
  default: 10_000,
};

export function isCommandClass(s: string): s is CommandClass {
  return (COMMAND_CLASSES as readonly string[]).includes(s);
}

/** Merges overrides into the defaults, rejecting budgets that are not positive integers. */
export function resolveTimeouts(overrides: Partial<Record<CommandClass, number>> = {}): TimeoutBudgets {
  const out: Record<CommandClass, number> = { ...DEFAULT_TIMEOUTS };
  for (const [name, ms] of Object.entries(overrides)) {
    if (!isCommandClass(name)) {
      throw new EcashError('bad-timeout', `unknown command class "${name}": use one of ${COMMAND_CLASSES.join(', ')}`);
    }
    if (ms === undefined) continue;
    if (!Number.isInteger(ms) || ms <= 0) {
      throw new EcashError('bad-timeout', `the budget for "${name}" must be a positive whole number of ms, got ${ms}`);
    }
    out[name] = ms;
  }
  return out;
}

/** Parses `class=ms` pairs (`payment=8000,withdrawal=30000`), as given on the command line. */
export function parseTimeoutSpec(spec: string): Partial<Record<CommandClass, number>> {
  const out: Partial<Record<CommandClass, number>> = {};
  for (const part of spec.split(',').filter((p) => p.trim() !== '')) {
    const m = /^\s*([a-z]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m || !isCommandClass(m[1]!)) {
      throw new EcashError('bad-timeout', `"${part}" is not class=ms with a class among ${COMMAND_CLASSES.join(', ')}`);
    }
    out[m[1]] = Number(m[2]);
  }
  resolveTimeouts(out); // validates the values
  return out;
}
