/**
 * Test helpers for the card: a tiny terminal that speaks APDUs to a SimulatedCard (with GET
 * RESPONSE), and a bank built from core's roles that issues real coins to it.
 */
import {
  BankWithdrawalSession,
  concatBytes,
  generateDenominationKey,
  getGroup,
  seededRandom,
  type DenominationSecret,
  type Group,
  type GroupElement,
  type PaymentContext,
  type RandomSource,
  type SuiteId,
} from '../../core/index.js';
import {
  CLA_ECASH,
  CLA_ISO,
  decodeBalance,
  decodeOpenAccountResponse,
  decodePayResponse,
  decodeWithdrawChallenge,
  ECASH_AID,
  ECASH_INS,
  encodeCommand,
  encodePay,
  encodeVerify,
  encodeWithdrawBegin,
  encodeWithdrawEnd,
  ISO_INS,
  parseResponse,
  PIN_REFERENCE,
  SELECT_BY_AID_P1,
  type BalanceEntry,
  type PaidCoin,
  type ResponseApdu,
} from '../../wire/index.js';
import type { SimulatedCard } from '../../firmware-sim/index.js';

/** Anything that exchanges APDUs with a card: a SimulatedCard, or a PC/SC client. */
export type CardLink = Pick<SimulatedCard, 'transmit'>;

export const PIN = '1234';
export const PUK = '12345678';

/** Sends one command, following 61xx with GET RESPONSE like any terminal. */
export async function send(
  card: CardLink,
  cla: number,
  ins: number,
  data: Uint8Array = new Uint8Array(0),
  opts: { p1?: number; p2?: number; le?: number; extended?: boolean } = {},
): Promise<ResponseApdu> {
  const command = encodeCommand(
    { cla, ins, p1: opts.p1 ?? 0, p2: opts.p2 ?? 0, data, le: opts.le ?? 256 },
    { extended: opts.extended ?? false },
  );
  let res = parseResponse(await card.transmit(command));
  const parts = [res.data];
  while (res.sw >> 8 === 0x61) {
    res = parseResponse(
      await card.transmit(encodeCommand({ cla: 0, ins: 0xc0, p1: 0, p2: 0, data: new Uint8Array(0), le: res.sw & 0xff || 256 })),
    );
    parts.push(res.data);
  }
  return { data: concatBytes(...parts), sw: res.sw };
}

export async function expectOk(p: Promise<ResponseApdu>): Promise<Uint8Array> {
  const r = await p;
  if (r.sw !== 0x9000) throw new Error(`card answered ${r.sw.toString(16)}`);
  return r.data;
}

export const select = (card: CardLink) => send(card, CLA_ISO, ISO_INS.SELECT, ECASH_AID, { p1: SELECT_BY_AID_P1 });
export const verifyPin = (card: CardLink, pin = PIN) => send(card, CLA_ISO, ISO_INS.VERIFY, encodeVerify(pin), { p2: PIN_REFERENCE });
export const balance = async (card: CardLink): Promise<BalanceEntry[]> =>
  decodeBalance(await expectOk(send(card, CLA_ECASH, ECASH_INS.GET_BALANCE)));

/** A bank of core roles: one key per value, an account for the card. */
export class TestBank {
  readonly group: Group;
  readonly keys = new Map<number, DenominationSecret>();
  I: GroupElement | undefined;

  constructor(
    readonly suite: SuiteId,
    readonly rng: RandomSource = seededRandom(`test-bank-${suite}`),
  ) {
    this.group = getGroup(suite);
  }

  key(value: number, currency = 'EUR'): DenominationSecret {
    let k = this.keys.get(value);
    if (k === undefined) {
      k = generateDenominationKey(
        this.group,
        { value, currency, withdrawFrom: 0, withdrawUntil: 4e12, depositUntil: 5e12, scope: '' },
        this.rng,
      );
      this.keys.set(value, k);
    }
    return k;
  }

  /** OPEN ACCOUNT on the (selected, PIN-verified) card. */
  async open(card: CardLink, holder = 'holder-1'): Promise<void> {
    const data = await expectOk(
      send(card, CLA_ECASH, ECASH_INS.OPEN_ACCOUNT, new Uint8Array([holder.length, ...new TextEncoder().encode(holder)])),
    );
    this.I = decodeOpenAccountResponse(this.group, data).I;
  }

  /** WITHDRAW BEGIN for one coin; returns the bank session to answer with. */
  async begin(card: CardLink, value: number): Promise<{ session: BankWithdrawalSession; c: bigint; sw: number }> {
    const secret = this.key(value);
    const I = this.I!;
    const session = BankWithdrawalSession.offer(this.group, secret, I, this.rng);
    const z = this.group.exp(this.group.mul(I, this.group.g2), secret.x);
    const res = await send(
      card,
      CLA_ECASH,
      ECASH_INS.WITHDRAW_BEGIN,
      encodeWithdrawBegin(this.group, { key: secret.key, z, offer: session.offer }),
    );
    return { session, c: res.sw === 0x9000 ? decodeWithdrawChallenge(this.group, res.data).c : 0n, sw: res.sw };
  }

  endCommand(r: bigint): Uint8Array {
    return encodeWithdrawEnd(this.group, r);
  }

  /** A whole withdrawal of one coin of `value`. */
  async withdraw(card: CardLink, value: number): Promise<void> {
    const { session, c, sw } = await this.begin(card, value);
    if (sw !== 0x9000) throw new Error(`WITHDRAW BEGIN answered ${sw.toString(16)}`);
    await expectOk(send(card, CLA_ECASH, ECASH_INS.WITHDRAW_END, this.endCommand(session.answer(c))));
  }
}

let nonceCounter = 0;
export function paymentContext(merchantId = 'merchant-1'): PaymentContext {
  const nonce = new Uint8Array(16);
  new DataView(nonce.buffer).setUint32(12, ++nonceCounter);
  return { merchantId, terminalId: 'till-1', timestamp: 1_750_000_000_000 + nonceCounter, nonce };
}

/**
 * PAY `amount` (EUR unless said) offering `keys`: the card chooses its coins among them. Returns
 * the status word, the decoded coins on success, and the request's bytes.
 */
export async function pay(
  card: CardLink,
  group: Group,
  context: PaymentContext,
  amount: number,
  keys: Uint8Array[],
  opts: { extended?: boolean; currency?: string } = {},
): Promise<{ sw: number; paid: PaidCoin[]; request: Uint8Array }> {
  const request = encodePay({ context, amount, currency: opts.currency ?? 'EUR', acceptedKeys: keys });
  const res = await send(card, CLA_ECASH, ECASH_INS.PAY, request, opts.extended ? { le: 65536, extended: true } : {});
  return { sw: res.sw, paid: res.sw === 0x9000 ? decodePayResponse(group, res.data) : [], request };
}
