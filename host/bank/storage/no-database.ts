import { EcashError } from '../../../core/index.js';

/** The refusal of a database that is not there, naming it and the command that makes one. */
export function noDatabase(where: string): EcashError {
  return new EcashError(
    'no-database',
    `there is no bank database at ${where}: check --db, or create the bank with \`ecash bank init --db ${where} --keys <file>\``,
  );
}
