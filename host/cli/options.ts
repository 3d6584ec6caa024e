/**
 * Reading command-line options the same way in every `ecash` command: the global `--json` flag,
 * whole numbers and ports, each refused with `bad-option` or `bad-port` and the value given.
 */
import { type Command, Option } from 'commander';
import { EcashError } from '../../core/index.js';

/** Whether the global `--json` flag is set for this command. */
export const wantsJson = (cmd: Command): boolean => cmd.optsWithGlobals<{ json?: boolean }>().json === true;

/** A whole number option; without a value, `fallback`, or an error naming the option when there is none. */
export function wholeNumber(value: string | undefined, option: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new EcashError('bad-option', `${option} is required`);
    return fallback;
  }
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new EcashError('bad-option', `${option} takes a whole number (0, 1, 2, …), got "${value}"`);
  return Number(value);
}

/** A TCP port option, 0 (any free port) to 65535. */
export function portOption(value: string, option = '--port'): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new EcashError('bad-port', `${option} must be 0 to 65535, got "${value}"`);
  return Number(value);
}

/**
 * The one name of a bank credential file in every command: `--token-file`. Commands that receive
 * a credential read it from there; commands that issue one write it there (mode 600). The names
 * older versions used (`--operator-token-file`, `--credential-file`, `--credential-out`) still
 * work, hidden from the help.
 */
export function tokenFileOption(cmd: Command, description: string, oldNames: readonly string[] = []): Command {
  cmd.option('--token-file <file>', description);
  for (const old of oldNames) {
    const alias = new Option(`${old} <file>`).hideHelp();
    cmd.addOption(alias);
    // Stored under tokenFile, as if the new name had been given.
    cmd.on(`option:${old.slice(2)}`, (value: string) => cmd.setOptionValueWithSource('tokenFile', value, 'cli'));
  }
  return cmd;
}
