/**
 * Secrets on the command line's side: bank credentials, bridge tokens, passphrases and PINs are
 * read from a file or the environment, never from argv (other users see argv in `ps`), and written
 * to new files readable by their owner only. Values are never echoed in errors.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { EcashError, type ErrorCode } from '../../core/index.js';
import { CARD_SECRET_CODE, type CardSecretName } from './error-codes.js';

/**
 * The secret in `file` (without the trailing newline `echo … > file` adds) or else in `$env`;
 * undefined when neither is given. An unreadable or empty file fails with `code`.
 */
export function readSecret(file: string | undefined, env: string, what: string, code: ErrorCode): string | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new EcashError(code, `cannot read the ${what} from ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const value = text.replace(/\r?\n$/, '');
    if (value === '') throw new EcashError(code, `${file} is empty; it should hold the ${what}`);
    return value;
  }
  const value = process.env[env];
  return value === undefined || value === '' ? undefined : value;
}

/** Where a command finds a card secret (PIN, PUK): `--<option> <file>`, else `$<env>`, else typed on a terminal. */
export interface CardSecretSource {
  /** What it is, in messages ("PIN", "new PIN", "PUK"); its error codes are this in kebab case plus -unreadable / -missing. */
  what: CardSecretName;
  option: string;
  file: string | undefined;
  env: string;
  /** Checked before any card sees it (a new PIN's or a PUK's format). */
  validate?: (value: string) => void;
  /** Typed twice, to catch a typo in a secret being set. */
  confirm?: boolean;
}

/**
 * Reads the secret from its file or environment variable at once (a file that cannot be read
 * fails the command before it touches a card) and returns how to get it: that value, or, on a
 * terminal, what the user types when it is asked for (never echoed). Without either, asking
 * fails with `<what>-missing` naming the ways to give it.
 */
export function cardSecret(source: CardSecretSource): () => Promise<string> {
  const code = CARD_SECRET_CODE[source.what];
  const checked = (value: string) => {
    try {
      source.validate?.(value);
    } catch (e) {
      throw new EcashError(`bad-${code}`, `the ${source.what} ${(e as Error).message.replace(/^.*? must/, 'must')}`);
    }
    return value;
  };
  const given = readSecret(source.file, source.env, source.what, `${code}-unreadable`);
  if (given !== undefined) checked(given);
  return async () => {
    if (given !== undefined) return given;
    if (!process.stdin.isTTY) {
      throw new EcashError(
        `${code}-missing`,
        `the card needs the ${source.what}: pass ${source.option} <file>, set $${source.env}, or run on a terminal to type it`,
      );
    }
    const typed = checked(await typeHidden(`${source.what}: `));
    if (source.confirm && (await typeHidden(`${source.what} again: `)) !== typed) {
      throw new EcashError(`${code}-mismatch`, `the two ${source.what}s typed differ; nothing was changed`);
    }
    return typed;
  };
}

/** A line typed on the terminal with echo off (Ctrl-C cancels); the prompt goes to stderr. */
async function typeHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows: what is typed the moment it appears must not echo.
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(prompt);
  let typed = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            resolve(typed);
          } else if (ch === '\u0003') {
            stdin.off('data', onData);
            reject(new EcashError('cancelled', 'cancelled'));
          } else if (ch === '\u007f') typed = typed.slice(0, -1);
          else typed += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

export interface SecretFile {
  write(secret: string): void;
  /** Closes the file; one that was never written is removed again. */
  close(): void;
}

/**
 * Creates the file a credential will be written to (mode 600, never over an existing file) before
 * the credential is made: a file that cannot be written then fails the command before the bank
 * records a credential nobody would ever see.
 */
export function openSecretFile(file: string, what = 'credential'): SecretFile {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new EcashError('file-exists', `${file} already exists; choose a new file for the ${what}`);
    throw new EcashError('file-unwritable', `cannot create ${file} for the ${what} (${code ?? 'error'})`);
  }
  let written = false;
  let closed = false;
  return {
    write(secret) {
      writeSync(fd, secret + '\n');
      written = true;
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
      if (!written) unlinkSync(file);
    },
  };
}

const PIN_ENV = 'ECASH_PIN';

/** `--pin-file`, for the commands that may need the card holder's PIN. */
export function addPinOption(cmd: Command): Command {
  return cmd.option('--pin-file <file>', `file holding the card's PIN (default: $${PIN_ENV}, else typed on the terminal)`);
}

/** The card holder's PIN: from --pin-file, $ECASH_PIN, or typed when it is asked for. */
export function holderPin(file: string | undefined): () => Promise<string> {
  return cardSecret({ what: 'PIN', option: '--pin-file', file, env: PIN_ENV });
}
