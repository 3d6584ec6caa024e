/**
 * Secrets on the command line's side: bank credentials, bridge tokens, passphrases and PINs are
 * read from a file or the environment, never from argv (other users see argv in `ps`), and written
 * to new files readable by their owner only. Values are never echoed in errors.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { EcashError } from '../../core/index.js';

/**
 * The secret in `file` (without the trailing newline `echo … > file` adds) or else in `$env`;
 * undefined when neither is given. An unreadable or empty file fails with `code`.
 */
export function readSecret(file: string | undefined, env: string, what: string, code: string): string | undefined {
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
