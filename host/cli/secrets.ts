/**
 * Secrets on the command line's side: bank credentials, bridge tokens, passphrases and PINs are
 * read from a file or the environment, never from argv (other users see argv in `ps`), and written
 * to new files readable by their owner only. Values are never echoed in errors.
 */
import { readFileSync, writeFileSync } from 'node:fs';
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

/** Writes a secret for its holder: mode 600, never over an existing file. */
export function writeSecretFile(file: string, secret: string, what = 'credential'): void {
  try {
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new EcashError('file-exists', code === 'EEXIST' ? `${file} already exists; choose a new file for the ${what}` : `cannot write ${file} (${code ?? 'error'})`);
  }
}
