/**
 * How every `ecash` command talks to its user: with `--json`, stdout carries exactly one JSON
 * document (success or error) and everything else goes to stderr; without it, human text.
 * Failures exit non-zero with a message that says what happened and what to do.
 */
import { writeFileSync } from 'node:fs';
import { EcashError, isEcashError } from '../../core/index.js';

export interface OutputOptions {
  json?: boolean;
}

/** Human-readable progress and logs: always stderr, so stdout stays clean for `--json`. */
export function info(message: string): void {
  process.stderr.write(message + '\n');
}

export function printResult(opts: OutputOptions, value: unknown, human: () => string): void {
  if (opts.json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else process.stdout.write(human() + '\n');
}

export function errorToJson(e: unknown): { code: string; message: string } {
  if (isEcashError(e)) return { code: e.code, message: e.message };
  if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return { code: String((e as { code: string }).code), message: e.message };
  }
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/**
 * Wraps a command action: prints the error (JSON on stdout with --json, text on stderr otherwise)
 * and sets a non-zero exit code. Stack traces only with ECASH_DEBUG=1.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as { optsWithGlobals?: () => OutputOptions } | undefined;
    const opts = cmd?.optsWithGlobals?.() ?? {};
    try {
      await fn(...args);
    } catch (e) {
      const err = errorToJson(e);
      if (opts.json) process.stdout.write(JSON.stringify({ error: err }, null, 2) + '\n');
      process.stderr.write(`ecash: ${err.message} [${err.code}]\n`);
      if (process.env.ECASH_DEBUG === '1' && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
      process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
    }
  };
}

/** Writes a JSON document a command produced to a new file (never over an existing one). */
export function writeNewJsonFile(file: string, value: unknown, what: string): void {
  try {
    writeFileSync(file, JSON.stringify(value, null, 2) + '\n', { flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new EcashError('file-exists', `${file} already exists; choose a new file for the ${what}`);
    throw new EcashError('file-unwritable', `cannot create ${file} for the ${what} (${code ?? 'error'})`);
  }
}
