/**
 * Reading command-line options the same way in every `ecash` command: the global `--json` flag,
 * whole numbers and ports, each refused with `bad-option` or `bad-port` and the value given.
 */
import type { Command } from 'commander';
import { EcashError } from '../../core/index.js';

/** Whether the global `--json` flag is set for this command. */
export const wantsJson = (cmd: Command): boolean => cmd.optsWithGlobals<{ json?: boolean }>().json === true;

/** A whole number option; without a value, `fallback`, or an error naming the option when there is none. */
export function wholeNumber(value: string | undefined, option: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new EcashError('bad-option', `${option} is required`);
    return fallback;
  }
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new EcashError('bad-option', `${option} takes a whole number, got "${value}"`);
  return Number(value);
}

/** A TCP port option, 0 (any free port) to 65535. */
export function portOption(value: string, option = '--port'): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new EcashError('bad-port', `${option} must be 0 to 65535, got "${value}"`);
  return Number(value);
}
