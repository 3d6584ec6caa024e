/**
 * How the card refuses a command: like Java Card's ISOException.throwIt, code anywhere in the
 * applet throws a status word and the runtime answers it (after rolling back any open
 * transaction). The reason is for the card's own trace only; it never leaves the card.
 */
import { isEcashError } from '../core/index.js';
import { SW } from '../wire/index.js';

export const SW_FILE_NOT_FOUND = 0x6a82;
export const SW_LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883;

export class StatusWordError extends Error {
  constructor(
    readonly sw: number,
    reason: string,
  ) {
    super(reason);
    this.name = 'StatusWordError';
  }
}

export function refuse(sw: number, reason: string): never {
  throw new StatusWordError(sw, reason);
}

/**
 * Parses command data with a core codec: a length that does not add up answers 6700, any other
 * decoding failure (bad field, non-member element, unreduced scalar) 6A80.
 */
export function parseData<T>(decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (isEcashError(e, 'truncated') || isEcashError(e, 'trailing-bytes')) refuse(SW.WRONG_LENGTH, e.message);
    if (isEcashError(e)) refuse(SW.INVALID_DATA, e.message);
    throw e;
  }
}
