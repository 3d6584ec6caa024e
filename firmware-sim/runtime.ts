/**
 * The card's runtime (what a Java Card runtime does for its applets): ISO/IEC 7816-4 command
 * parsing (short and extended, all four cases), CLA checks, command chaining, SELECT by AID,
 * response chunking with 61xx + GET RESPONSE, status words, and the per-command cost meter.
 * One applet is installed: the e-cash wallet.
 */
import { bytesEqual, concatBytes, isEcashError } from '../core/index.js';
import {
  CLA_CHAINING,
  CLA_ECASH,
  ECASH_INS,
  encodeCost,
  ECASH_AID,
  encodeResponse,
  ISO_INS,
  parseCommand,
  SELECT_BY_AID_P1,
  SW,
  type CommandCost,
} from '../wire/index.js';
import { zeroCost } from './cost.js';
import { refuse, StatusWordError, SW_FILE_NOT_FOUND, SW_LAST_COMMAND_OF_CHAIN_EXPECTED } from './status.js';

export interface AppletCommand {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data: Uint8Array;
}

/** What the runtime asks of an applet. */
export interface Applet {
  /** Answers SELECT with the FCI and starts a new session. */
  select(): Uint8Array;
  /** Ends the session (another SELECT, a reset or power loss): transient state is cleared. */
  deselect(): void;
  /** Runs one command and returns its response data, or throws a StatusWordError; `cost` is its meter. */
  process(command: AppletCommand, cost: CommandCost): Uint8Array;
  /** Rolls back the open transaction after a refused or failed command. */
  abortTransaction(): void;
}

export interface ProcessedCommand {
  response: Uint8Array;
  /** The applet's work for this command (zero for GET RESPONSE and runtime-only commands). */
  cost: CommandCost;
  /** Why the card refused the command (its own trace; never sent). */
  refusal: string | undefined;
}

const CHAIN_LIMIT = 65535;

/** Prefix of the trace's reason for a 6F00 that no check of the card's meant (a bug, not a refusal). */
export const UNEXPECTED_FAILURE = 'unexpected failure';

function unexpectedFailure(e: unknown): string {
  if (isEcashError(e)) return `${e.code}: ${e.message}`;
  return `${UNEXPECTED_FAILURE}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
}
const SHORT_LE = 256;
const CLA_SUPPORTED = new Set([0x00, 0x80]);

export class CardRuntime {
  private selected = false;
  /** Response bytes still to be fetched with GET RESPONSE. */
  private remainder: Uint8Array | undefined;
  private chain: { cla: number; ins: number; p1: number; p2: number; parts: Uint8Array[]; length: number } | undefined;
  private lastCost: CommandCost = zeroCost();

  constructor(private readonly applet: Applet) {}

  /** Power-up or warm reset: no applet selected, no pending response or chain. */
  reset(): void {
    if (this.selected) this.applet.deselect();
    this.selected = false;
    this.remainder = undefined;
    this.chain = undefined;
  }

  process(bytes: Uint8Array): ProcessedCommand {
    const cost = zeroCost();
    try {
      const { data, le } = this.dispatch(bytes, cost);
      return { response: this.respond(data, le), cost, refusal: undefined };
    } catch (e) {
      if (!(e instanceof StatusWordError)) {
        if (isEcashError(e, 'card-torn')) throw e;
        this.applet.abortTransaction();
        return { response: encodeResponse({ data: new Uint8Array(0), sw: SW.UNKNOWN }), cost, refusal: unexpectedFailure(e) };
      }
      this.applet.abortTransaction();
      return { response: encodeResponse({ data: new Uint8Array(0), sw: e.sw }), cost, refusal: e.message };
    }
  }

  private dispatch(bytes: Uint8Array, cost: CommandCost): { data: Uint8Array; le: number } {
    let command: ReturnType<typeof parseCommand>;
    try {
      command = parseCommand(bytes);
    } catch (e) {
      this.remainder = undefined;
      refuse(SW.WRONG_LENGTH, e instanceof Error ? e.message : 'malformed APDU');
    }
    // ISO 7816-4: Ne absent means no response data is expected; the card then announces any
    // data with 61xx, exactly as it would for a short Le that is too small.
    const le = command.le ?? 0;
    const { cla, ins, p1, p2 } = command;
    const chained = (cla & CLA_CHAINING) !== 0;
    const baseCla = cla & ~CLA_CHAINING;
    if (!CLA_SUPPORTED.has(baseCla)) refuse(SW.CLA_NOT_SUPPORTED, `CLA ${cla.toString(16)} is not supported`);

    if (baseCla === 0x00 && ins === ISO_INS.GET_RESPONSE && !chained) return { data: this.getResponse(p1, p2), le };
    this.remainder = undefined;

    let data = command.data;
    if (chained || this.chain !== undefined) {
      const joined = this.joinChain(baseCla, ins, p1, p2, data, chained);
      if (joined === undefined) return { data: new Uint8Array(0), le };
      data = joined;
    }

    if (baseCla === 0x00 && ins === ISO_INS.SELECT) return { data: this.select(p1, p2, data), le };
    if (!this.selected) refuse(SW.CONDITIONS_NOT_SATISFIED, 'no applet is selected: SELECT the e-cash applet first');
    // GET COST reports the command before it, so the meter is the runtime's, not the applet's.
    if (baseCla === CLA_ECASH && ins === ECASH_INS.GET_COST) {
      if (p1 !== 0 || p2 !== 0) refuse(SW.WRONG_P1P2, 'GET COST takes P1-P2 00 00');
      if (data.length !== 0) refuse(SW.WRONG_LENGTH, 'GET COST takes no data');
      return { data: encodeCost(this.lastCost), le };
    }
    this.lastCost = cost;
    return { data: this.applet.process({ cla: baseCla, ins, p1, p2, data }, cost), le };
  }

  /** Collects a chained command; returns the whole data with its last part, undefined before. */
  private joinChain(cla: number, ins: number, p1: number, p2: number, data: Uint8Array, more: boolean): Uint8Array | undefined {
    const c = this.chain;
    if (c !== undefined && (c.cla !== cla || c.ins !== ins || c.p1 !== p1 || c.p2 !== p2)) {
      this.chain = undefined;
      if (more) return this.joinChain(cla, ins, p1, p2, data, more);
      refuse(SW_LAST_COMMAND_OF_CHAIN_EXPECTED, 'a chained command was interrupted by another command');
    }
    const chain = this.chain ?? { cla, ins, p1, p2, parts: [], length: 0 };
    if (chain.length + data.length > CHAIN_LIMIT) {
      this.chain = undefined;
      refuse(SW.WRONG_LENGTH, `chained command data longer than ${CHAIN_LIMIT} bytes`);
    }
    chain.parts.push(data);
    chain.length += data.length;
    if (more) {
      this.chain = chain;
      return undefined;
    }
    this.chain = undefined;
    return concatBytes(...chain.parts);
  }

  private select(p1: number, p2: number, aid: Uint8Array): Uint8Array {
    if (p1 !== SELECT_BY_AID_P1 || (p2 !== 0x00 && p2 !== 0x0c))
      refuse(SW.WRONG_P1P2, 'only SELECT by AID (P1 04, P2 00 or 0C) is supported');
    if (this.selected) this.applet.deselect();
    this.selected = false;
    if (!bytesEqual(aid, ECASH_AID)) refuse(SW_FILE_NOT_FOUND, 'no applet with this AID');
    const fci = this.applet.select();
    this.selected = true;
    return p2 === 0x0c ? new Uint8Array(0) : fci;
  }

  private getResponse(p1: number, p2: number): Uint8Array {
    if (p1 !== 0 || p2 !== 0) refuse(SW.WRONG_P1P2, 'GET RESPONSE takes P1-P2 00 00');
    const rest = this.remainder;
    if (rest === undefined) refuse(SW.CONDITIONS_NOT_SATISFIED, 'no response data is waiting');
    this.remainder = undefined;
    return rest;
  }

  /** Returns up to Ne bytes now; the rest waits for GET RESPONSE behind 61xx. */
  private respond(data: Uint8Array, ne: number): Uint8Array {
    if (data.length <= ne) return encodeResponse({ data, sw: SW.OK });
    this.remainder = data.slice(ne);
    const next = Math.min(this.remainder.length, SHORT_LE);
    return encodeResponse({ data: data.subarray(0, ne), sw: 0x6100 | (next & 0xff) });
  }
}
