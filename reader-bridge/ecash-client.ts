/**
 * The e-cash applet's commands as typed calls (docs/apdu.md), for hosts that would otherwise
 * build bytes: requests are encoded and responses decoded by wire/card-protocol.ts (the card uses
 * the other halves of the same module), and every status word other than 9000 becomes an
 * EcashError a terminal can act on. Each command runs under its class's time budget.
 */
import { getGroup, isEcashError, EcashError, type AccountOpening, type Group } from '../core/index.js';
import {
  APPLET_VERSION,
  CLA_ECASH,
  CLA_ISO,
  ECASH_AID,
  ECASH_INS,
  ISO_INS,
  PIN_REFERENCE,
  SELECT_BY_AID_P1,
  SW,
  decodeBalance,
  decodeCost,
  decodeFci,
  decodeLog,
  decodeOpenAccountResponse,
  decodePayResponse,
  decodeWithdrawChallenge,
  decodeWithdrawEndResponse,
  encodeChangePin,
  encodeOpenAccount,
  encodePay,
  encodePersonalise,
  encodeSetLimit,
  encodeUnblockPin,
  encodeVerify,
  encodeWithdrawBegin,
  encodeWithdrawEnd,
  MAX_COINS_PER_PAYMENT,
  pinTriesLeft,
  swHex,
  type BalanceEntry,
  type CardFci,
  type CommandCost,
  type PaidCoin,
  type PayRequest,
  type PaymentLogEntry,
  type PersonaliseRequest,
  type ResponseApdu,
  type WithdrawBeginRequest,
  type WithdrawChallenge,
  type WithdrawEndResponse,
} from '../wire/index.js';
import { ApduClient, type ApduClientOptions } from './apdu-client.js';
import { bridgeError, BRIDGE_ERROR, CARD_ERROR, type CardErrorCode } from './errors.js';
import type { CommandClass } from './timeouts.js';
import type { CardChannel } from './transport.js';

interface CommandSpec {
  name: string;
  cla: number;
  ins: number;
  p1?: number;
  p2?: number;
  commandClass: CommandClass;
  /** What 6985 (conditions of use not satisfied) means for this command. */
  refusal?: string;
  /** What 6A88 (referenced data not found) means for this command. */
  notFound?: string;
  /** Status words this command gives a meaning of its own (code and message). */
  own?: Readonly<Record<number, { code: CardErrorCode; message: string }>>;
}

const EXTENDED_LE = 65536;
const SHORT_LE = 256;

const COMMANDS = {
  select: { name: 'SELECT', cla: CLA_ISO, ins: ISO_INS.SELECT, p1: SELECT_BY_AID_P1, commandClass: 'control' },
  verify: { name: 'VERIFY', cla: CLA_ISO, ins: ISO_INS.VERIFY, p2: PIN_REFERENCE, commandClass: 'pin' },
  changePin: { name: 'CHANGE REFERENCE DATA', cla: CLA_ISO, ins: ISO_INS.CHANGE_REFERENCE_DATA, p2: PIN_REFERENCE, commandClass: 'pin' },
  unblockPin: { name: 'RESET RETRY COUNTER', cla: CLA_ISO, ins: ISO_INS.RESET_RETRY_COUNTER, p2: PIN_REFERENCE, commandClass: 'pin' },
  personalise: {
    name: 'PERSONALISE',
    cla: CLA_ECASH,
    ins: ECASH_INS.PERSONALISE,
    commandClass: 'personalisation',
    refusal: 'the card is already personalised',
  },
  openAccount: { name: 'OPEN ACCOUNT', cla: CLA_ECASH, ins: ECASH_INS.OPEN_ACCOUNT, commandClass: 'account' },
  withdrawBegin: {
    name: 'WITHDRAW BEGIN',
    cla: CLA_ECASH,
    ins: ECASH_INS.WITHDRAW_BEGIN,
    commandClass: 'withdrawal',
    refusal: 'a withdrawal is already pending: finish it with WITHDRAW END, or abort it after making sure the bank did not answer',
  },
  withdrawEnd: {
    name: 'WITHDRAW END',
    cla: CLA_ECASH,
    ins: ECASH_INS.WITHDRAW_END,
    commandClass: 'withdrawal',
    notFound: 'no withdrawal is pending on the card',
  },
  withdrawStatus: { name: 'WITHDRAW STATUS', cla: CLA_ECASH, ins: ECASH_INS.WITHDRAW_STATUS, commandClass: 'control' },
  withdrawAbort: {
    name: 'WITHDRAW ABORT',
    cla: CLA_ECASH,
    ins: ECASH_INS.WITHDRAW_ABORT,
    commandClass: 'control',
    notFound: 'no withdrawal is pending on the card',
  },
  balance: { name: 'GET BALANCE', cla: CLA_ECASH, ins: ECASH_INS.GET_BALANCE, commandClass: 'control' },
  pay: {
    name: 'PAY',
    cla: CLA_ECASH,
    ins: ECASH_INS.PAY,
    commandClass: 'payment',
    own: {
      [SW.DATA_NOT_FOUND]: {
        code: CARD_ERROR.CARD_INSUFFICIENT_FUNDS,
        message: 'the card holds less than the amount in coins this terminal accepts',
      },
      [SW.RECORD_NOT_FOUND]: {
        code: CARD_ERROR.CARD_NO_EXACT_CHANGE,
        message: 'the card holds enough, but no coins this terminal accepts add up to exactly the amount',
      },
    },
  },
  readLog: { name: 'READ LOG', cla: CLA_ECASH, ins: ECASH_INS.READ_LOG, commandClass: 'control' },
  setLimit: { name: 'SET LIMIT', cla: CLA_ECASH, ins: ECASH_INS.SET_LIMIT, commandClass: 'pin' },
  cost: { name: 'GET COST', cla: CLA_ECASH, ins: ECASH_INS.GET_COST, commandClass: 'control' },
} as const satisfies Record<string, CommandSpec>;

const PIN_BLOCKED = 'the PIN is now blocked: unblock it with the PUK and choose a new PIN (ecash card pin unblock --reader <name>)';
const PUK_BLOCKED = 'the PUK is now blocked: the card can no longer be unblocked; its coins stay safe but it must be replaced';

/** The EcashError for a status word other than 9000. */
export function cardStatusError(sw: number, command: CommandSpec): EcashError {
  const name = command.name;
  const details = { sw: swHex(sw), command: name };
  const make = (code: CardErrorCode, message: string) => new EcashError(code, message, { details: { ...details } });
  const own = command.own?.[sw];
  if (own !== undefined) return make(own.code, `${name}: ${own.message}`);
  const tries = pinTriesLeft(sw);
  const puk = command.ins === ISO_INS.RESET_RETRY_COUNTER;
  if (tries === 0) {
    // The try that was just refused was the last one: the card is blocked from now on.
    return new EcashError(CARD_ERROR.PIN_BLOCKED, `wrong ${puk ? 'PUK' : 'PIN'}: ${puk ? PUK_BLOCKED : PIN_BLOCKED}`, {
      details: { ...details, triesLeft: 0 },
    });
  }
  if (tries !== undefined) {
    return new EcashError(
      CARD_ERROR.PIN_WRONG,
      `wrong ${puk ? 'PUK' : 'PIN'}: ${tries} ${tries === 1 ? 'try' : 'tries'} left before it is blocked`,
      {
        details: { ...details, triesLeft: tries },
      },
    );
  }
  switch (sw) {
    case SW.AUTH_METHOD_BLOCKED:
      return make(CARD_ERROR.PIN_BLOCKED, puk ? PUK_BLOCKED : PIN_BLOCKED);
    case SW.SECURITY_STATUS_NOT_SATISFIED:
      return make(CARD_ERROR.PIN_REQUIRED, `${name} needs the card holder's PIN: verify it first`);
    case SW.CONDITIONS_NOT_SATISFIED:
      return make(
        CARD_ERROR.CARD_REFUSED,
        `the card refused ${name}: ${command.refusal ?? 'the card is not in a state for it (applet not selected, or not personalised)'}`,
      );
    case SW.INVALID_DATA:
      return make(
        CARD_ERROR.CARD_INVALID_DATA,
        `the card found the data of ${name} invalid (bad encoding, or a value that does not verify)`,
      );
    case SW.NOT_ENOUGH_MEMORY:
      return make(CARD_ERROR.CARD_FULL, 'the card has no free coin slot: spend or deposit coins first');
    case SW.DATA_NOT_FOUND:
      return make(CARD_ERROR.CARD_DATA_NOT_FOUND, `${name}: ${command.notFound ?? 'the card holds no such data'}`);
    case 0x6a82:
    case SW.INS_NOT_SUPPORTED:
    case SW.CLA_NOT_SUPPORTED:
      return make(
        CARD_ERROR.NOT_ECASH_CARD,
        `the card does not know ${name} (${swHex(sw)}): it is not an e-cash card, or the applet is not selected`,
      );
    case SW.WRONG_LENGTH:
    case SW.WRONG_P1P2:
    case 0x6883: // a chain was interrupted
      return make(
        CARD_ERROR.CARD_FORMAT_MISMATCH,
        `the card and this terminal disagree on the format of ${name} (${swHex(sw)}): update one of them`,
      );
    case SW.UNKNOWN:
      return make(CARD_ERROR.CARD_INTERNAL_ERROR, `the card failed internally on ${name} (6F00); it stays consistent: repeat the command`);
    default:
      return make(CARD_ERROR.CARD_ERROR, `the card answered ${name} with status ${swHex(sw)}`);
  }
}

export class EcashCardClient {
  private fci: CardFci | undefined;

  constructor(readonly apdu: ApduClient) {}

  static on(channel: CardChannel, options: ApduClientOptions = {}): EcashCardClient {
    return new EcashCardClient(new ApduClient(channel, options));
  }

  /** What SELECT told, or undefined before the first SELECT. */
  get card(): CardFci | undefined {
    return this.fci;
  }

  /** The card's group suite (from SELECT); throws if unknown yet. */
  get group(): Group {
    if (this.fci === undefined) throw new EcashError(CARD_ERROR.CARD_NOT_SELECTED, 'select the e-cash applet first');
    if (this.fci.suite === undefined)
      throw new EcashError(CARD_ERROR.CARD_NOT_PERSONALISED, 'the card is factory-fresh: personalise it first');
    return getGroup(this.fci.suite);
  }

  private async run(spec: CommandSpec, data: Uint8Array, le: number | undefined, units = 1): Promise<ResponseApdu> {
    const command = { cla: spec.cla, ins: spec.ins, p1: spec.p1 ?? 0, p2: spec.p2 ?? 0, data, le };
    const response = await this.apdu.send(command, { commandClass: spec.commandClass, units });
    if (response.sw !== SW.OK) throw cardStatusError(response.sw, spec);
    return response;
  }

  /** Decodes a card answer; a card answer that does not decode is the card's fault, not the host's. */
  private decode<T>(spec: CommandSpec, decode: () => T): T {
    try {
      return decode();
    } catch (e) {
      if (!isEcashError(e)) throw e;
      throw bridgeError(BRIDGE_ERROR.BAD_RESPONSE, `the card's answer to ${spec.name} does not decode: ${e.message}`, {
        cause: e,
        details: { command: spec.name },
      });
    }
  }

  /** SELECT by AID; resets the applet's session (PIN state). Refuses an applet of another version. */
  async select(): Promise<CardFci> {
    const r = await this.run(COMMANDS.select, ECASH_AID, SHORT_LE);
    const fci = this.decode(COMMANDS.select, () => decodeFci(r.data));
    if (fci.version !== APPLET_VERSION) {
      throw new EcashError(
        CARD_ERROR.CARD_FORMAT_MISMATCH,
        `the card's e-cash applet is version ${fci.version} and this program speaks version ${APPLET_VERSION} (PAY by amount): update the card or the program`,
        { details: { command: COMMANDS.select.name, version: fci.version } },
      );
    }
    this.fci = fci;
    return fci;
  }

  async verifyPin(pin: string): Promise<void> {
    await this.run(COMMANDS.verify, encodeVerify(pin), undefined);
  }

  /** VERIFY without data: whether the PIN is verified in this session, else the tries left. */
  async pinState(): Promise<{ verified: true } | { verified: false; triesLeft: number }> {
    try {
      await this.run(COMMANDS.verify, new Uint8Array(0), undefined);
      return { verified: true };
    } catch (e) {
      if (isEcashError(e, CARD_ERROR.PIN_WRONG)) return { verified: false, triesLeft: e.details!.triesLeft as number };
      if (isEcashError(e, CARD_ERROR.PIN_BLOCKED)) return { verified: false, triesLeft: 0 };
      throw e;
    }
  }

  async changePin(oldPin: string, newPin: string): Promise<void> {
    await this.run(COMMANDS.changePin, encodeChangePin({ oldPin, newPin }), undefined);
  }

  async unblockPin(puk: string, newPin: string): Promise<void> {
    await this.run(COMMANDS.unblockPin, encodeUnblockPin({ puk, newPin }), undefined);
  }

  /** PERSONALISE a factory-fresh card, then SELECT again to learn its suite and capacity. */
  async personalise(request: PersonaliseRequest): Promise<CardFci> {
    await this.run(COMMANDS.personalise, encodePersonalise(request), undefined);
    return this.select();
  }

  async openAccount(holderId: string): Promise<AccountOpening> {
    const group = this.group;
    const r = await this.run(COMMANDS.openAccount, encodeOpenAccount(holderId), EXTENDED_LE);
    return this.decode(COMMANDS.openAccount, () => decodeOpenAccountResponse(group, r.data));
  }

  async withdrawBegin(request: WithdrawBeginRequest): Promise<WithdrawChallenge> {
    const group = this.group;
    const r = await this.run(COMMANDS.withdrawBegin, encodeWithdrawBegin(group, request), SHORT_LE);
    return this.decode(COMMANDS.withdrawBegin, () => decodeWithdrawChallenge(group, r.data));
  }

  async withdrawEnd(signatureResponse: bigint): Promise<WithdrawEndResponse> {
    const group = this.group;
    const r = await this.run(COMMANDS.withdrawEnd, encodeWithdrawEnd(group, signatureResponse), SHORT_LE);
    return this.decode(COMMANDS.withdrawEnd, () => decodeWithdrawEndResponse(r.data));
  }

  /** The pending withdrawal, or undefined when none is pending. */
  async withdrawStatus(): Promise<WithdrawChallenge | undefined> {
    const group = this.group;
    let r: ResponseApdu;
    try {
      r = await this.run(COMMANDS.withdrawStatus, new Uint8Array(0), SHORT_LE);
    } catch (e) {
      if (isEcashError(e, CARD_ERROR.CARD_DATA_NOT_FOUND)) return undefined;
      throw e;
    }
    return this.decode(COMMANDS.withdrawStatus, () => decodeWithdrawChallenge(group, r.data));
  }

  async withdrawAbort(): Promise<void> {
    await this.run(COMMANDS.withdrawAbort, new Uint8Array(0), undefined);
  }

  /** GET BALANCE: the holder's own view of the card's coins (needs the PIN). */
  async balance(): Promise<BalanceEntry[]> {
    const r = await this.run(COMMANDS.balance, new Uint8Array(0), EXTENDED_LE);
    return this.decode(COMMANDS.balance, () => decodeBalance(r.data));
  }

  /**
   * PAY: the card chooses coins of the offered keys adding up to the amount. If the answer is lost
   * (timeout, card pulled), send the same request again: the card answers it the same way without
   * spending anything more. `coinsAtMost` sizes the time budget (per coin; default the most a
   * payment may carry): a terminal knows it from the smallest value it offers.
   */
  async pay(request: PayRequest, opts: { coinsAtMost?: number } = {}): Promise<PaidCoin[]> {
    const group = this.group;
    const coins = Math.min(MAX_COINS_PER_PAYMENT, Math.max(1, opts.coinsAtMost ?? MAX_COINS_PER_PAYMENT));
    const r = await this.run(COMMANDS.pay, encodePay(request), EXTENDED_LE, coins);
    return this.decode(COMMANDS.pay, () => decodePayResponse(group, r.data));
  }

  async readLog(): Promise<PaymentLogEntry[]> {
    const r = await this.run(COMMANDS.readLog, new Uint8Array(0), EXTENDED_LE);
    return this.decode(COMMANDS.readLog, () => decodeLog(r.data));
  }

  /** SET LIMIT: the holder's PIN goes with it (a wrong one costs a try, like VERIFY). */
  async setLimit(pin: string, limit: number): Promise<void> {
    await this.run(COMMANDS.setLimit, encodeSetLimit({ pin, limit }), undefined);
  }

  /** The work counts of the previous command. */
  async cost(): Promise<CommandCost> {
    const r = await this.run(COMMANDS.cost, new Uint8Array(0), SHORT_LE);
    return this.decode(COMMANDS.cost, () => decodeCost(r.data));
  }
}
