/**
 * Typed command/response exchanges over a card channel, with the ISO 7816-4 plumbing done once:
 * `61xx` is followed by GET RESPONSE until the whole response is in, `6Cxx` re-issues the command
 * with the Le the card asked for, and data longer than a short APDU goes either as one extended
 * APDU or as a command chain (CLA bit 0x10 on every part but the last).
 */
import { concatBytes } from '../core/index.js';
import {
  CLA_CHAINING,
  ISO_INS,
  encodeCommand,
  isMoreData,
  isWrongLe,
  parseCommand,
  parseResponse,
  type CommandApdu,
  type ResponseApdu,
} from '../wire/index.js';
import { bridgeError, BRIDGE_ERROR } from './errors.js';
import { resolveTimeouts, type CommandClass, type TimeoutBudgets } from './timeouts.js';
import type { CardChannel } from './transport.js';

/**
 * `auto`: extended lengths unless the channel runs T=0 (which cannot carry them without
 * ENVELOPE); `extended`: always allowed; `short`: only short APDUs, with chaining and GET RESPONSE
 * (for readers that refuse extended APDUs).
 */
export type LengthMode = 'auto' | 'extended' | 'short';

export interface ApduClientOptions {
  timeouts?: Partial<Record<CommandClass, number>>;
  lengths?: LengthMode;
}

export interface SendOptions {
  /** Which budget applies (default `default`); GET RESPONSE always uses `control`. */
  commandClass?: CommandClass;
  /** How many units of work the budget is for (PAY: its coins); default 1. */
  units?: number;
}

const SHORT_DATA_MAX = 255;
const SHORT_LE_MAX = 256;
/** A response can never legitimately exceed one extended response; stop an endless 61xx loop. */
const RESPONSE_MAX = 65536;
const WRONG_LE_RETRIES = 2;

export class ApduClient {
  readonly timeouts: TimeoutBudgets;
  private readonly lengths: LengthMode;

  constructor(
    readonly channel: CardChannel,
    options: ApduClientOptions = {},
  ) {
    this.timeouts = resolveTimeouts(options.timeouts);
    this.lengths = options.lengths ?? 'auto';
  }

  /** Whether commands and responses may use extended lengths on this channel. */
  get extendedLengths(): boolean {
    return this.lengths === 'extended' || (this.lengths === 'auto' && this.channel.protocol !== 'T=0');
  }

  /** Sends raw command bytes (validated as an APDU first), e.g. for diagnostics. */
  async sendBytes(command: Uint8Array, options: SendOptions = {}): Promise<ResponseApdu> {
    const { extended: _extended, ...parsed } = parseCommand(command);
    return this.send(parsed, options);
  }

  async send(command: CommandApdu, options: SendOptions = {}): Promise<ResponseApdu> {
    const budget = this.timeouts[options.commandClass ?? 'default'] * Math.max(1, options.units ?? 1);
    const extended = this.extendedLengths;
    const le = !extended && command.le !== undefined && command.le > SHORT_LE_MAX ? SHORT_LE_MAX : command.le;
    let last: CommandApdu = { ...command, le };
    if (!extended && command.data.length > SHORT_DATA_MAX) {
      const chunks: Uint8Array[] = [];
      for (let off = 0; off < command.data.length; off += SHORT_DATA_MAX) chunks.push(command.data.subarray(off, off + SHORT_DATA_MAX));
      for (const chunk of chunks.slice(0, -1)) {
        const part = await this.exchange({ ...command, cla: command.cla | CLA_CHAINING, data: chunk, le: undefined }, budget);
        if (part.sw !== 0x9000) return part;
      }
      last = { ...command, data: chunks[chunks.length - 1]!, le };
    }
    let response = await this.exchange(last, budget);
    for (let retry = 0; isWrongLe(response.sw) && retry < WRONG_LE_RETRIES; retry++) {
      last = { ...last, le: response.sw & 0xff || SHORT_LE_MAX };
      response = await this.exchange(last, budget);
    }
    return this.collectRemainder(command.cla, response);
  }

  /** Follows 61xx with GET RESPONSE until the card gives the final status word. */
  private async collectRemainder(cla: number, first: ResponseApdu): Promise<ResponseApdu> {
    const parts = [first.data];
    let total = first.data.length;
    let response = first;
    while (isMoreData(response.sw)) {
      response = await this.exchange(
        // GET RESPONSE keeps the logical channel (low CLA bits) of the command it continues.
        { cla: cla & 0x03, ins: ISO_INS.GET_RESPONSE, p1: 0, p2: 0, data: new Uint8Array(0), le: response.sw & 0xff || SHORT_LE_MAX },
        this.timeouts.control,
      );
      total += response.data.length;
      if (total > RESPONSE_MAX) {
        throw bridgeError(
          BRIDGE_ERROR.BAD_RESPONSE,
          `the card kept announcing more data past ${RESPONSE_MAX} bytes (61xx): it is misbehaving; reset it`,
        );
      }
      parts.push(response.data);
    }
    return parts.length === 1 ? response : { data: concatBytes(...parts), sw: response.sw };
  }

  private async exchange(command: CommandApdu, timeoutMs: number): Promise<ResponseApdu> {
    const bytes = encodeCommand(command);
    return parseResponse(await this.channel.transmit(bytes, { timeoutMs }));
  }
}
