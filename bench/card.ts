/**
 * The card's own figures: APDU round trips straight on the card (in-process) and through pcscd
 * with a plain pcsclite client (card served over vpcd slot `Virtual PCD 00 01`), with and
 * without TCP_QUICKACK; the work of a 5-coin payment as the card counts it (GET COST); and per
 * suite the emulator's time for a payment and a withdrawal next to what the chip profiles say a
 * real card would take. Medians of several runs. Everything is also under `card` so that a
 * same-named figure from another module does not hide the card's own.
 */
import { existsSync } from 'node:fs';
import { groupExponentiations, SUITE_IDS, type SuiteId } from '../core/index.js';
import {
  CLA_ECASH,
  CLA_ISO,
  decodeCost,
  ECASH_AID,
  ECASH_INS,
  encodeCommand,
  encodePay,
  parseResponse,
  ISO_INS,
  SELECT_BY_AID_P1,
  type CommandCost,
} from '../wire/index.js';
import { CHIP_PROFILES, createVolatileCard, modelledMs, pricesFor, serveOverVpcd, type EcashCard } from '../firmware-sim/index.js';
import { PCSCD_SOCKET } from '../test/helpers/env.js';
import { expectOk, paymentContext, select, send, TestBank, verifyPin } from '../test/firmware-sim/helpers.js';
import { connectPlain, waitUntilEmpty } from '../test/firmware-sim/pcsc-plain.js';
import { median, medianMs, round, unmeasured, type BenchContext, type BenchModule, type Figures } from './harness.js';

const PIN = '2468';
const PUK = '13572468';
/** The round-trip probe: a command that needs no PIN and does no work (GET BALANCE needs the PIN). */
const GET_COST = encodeCommand({ cla: CLA_ECASH, ins: ECASH_INS.GET_COST, p1: 0, p2: 0, data: new Uint8Array(0), le: 256 });
const SELECT = encodeCommand({ cla: CLA_ISO, ins: ISO_INS.SELECT, p1: SELECT_BY_AID_P1, p2: 0, data: ECASH_AID, le: 256 });
const PCSC_READER = 'Virtual PCD 00 01';
const PCSC_PORT = 35964;

async function loadedCard(suite: SuiteId, coins: number): Promise<{ card: EcashCard; bank: TestBank }> {
  const card = await createVolatileCard({ suite, pin: PIN, puk: PUK, noPinLimit: 1_000_000 });
  card.powerOn();
  await select(card);
  await verifyPin(card, PIN);
  const bank = new TestBank(suite);
  await bank.open(card);
  for (let i = 0; i < coins; i++) await bank.withdraw(card, 10);
  return { card, bank };
}

async function virtualRtt(ctx: BenchContext): Promise<number> {
  const card = await createVolatileCard({ pin: PIN, puk: PUK });
  card.powerOn();
  await card.transmit(SELECT);
  return medianMs(() => card.transmit(GET_COST), ctx.quick ? 200 : 5000, 100);
}

async function pcscRtt(
  ctx: BenchContext,
  quickAck: 'auto' | 'off',
): Promise<{ ms: number; quickAck: boolean; reason: string | undefined }> {
  const card = await createVolatileCard({ pin: PIN, puk: PUK });
  const served = await serveOverVpcd(card, { port: PCSC_PORT, quickAck });
  try {
    await served.whenConnected();
    const link = await connectPlain(PCSC_READER, 20_000, SELECT);
    try {
      // Without QUICKACK each exchange costs ~40 ms: fewer of them say the same.
      const runs = quickAck === 'off' ? (ctx.quick ? 10 : 50) : ctx.quick ? 100 : 1000;
      const ms = await medianMs(() => link.transmit(GET_COST), runs, 10);
      return { ms, quickAck: served.quickAck.active, reason: served.quickAck.reason };
    } finally {
      await link.close();
    }
  } finally {
    await served.close();
    await waitUntilEmpty(PCSC_READER);
  }
}

/** Emulator time and counted work of a 5-coin payment (coins just loaded), median over payments. */
async function payment(ctx: BenchContext, suite: SuiteId): Promise<{ ms: number; cost: CommandCost; linkBytes: number }> {
  const runs = ctx.quick ? 3 : 9;
  const { card, bank } = await loadedCard(suite, 0);
  const keyId = bank.key(10).key.keyId;
  const times: number[] = [];
  let last: { cost: CommandCost; linkBytes: number } | undefined;
  for (let i = 0; i <= runs; i++) {
    await verifyPin(card, PIN); // the previous payment used up the verification
    for (let c = 0; c < 5; c++) await bank.withdraw(card, 10); // a modp card holds 15 coins
    const pay = encodePay({ context: paymentContext('bench-shop'), amount: 50, currency: 'EUR', acceptedKeys: [keyId] });
    const request = encodeCommand({ cla: CLA_ECASH, ins: ECASH_INS.PAY, p1: 0, p2: 0, data: pay, le: 65536 });
    // The card's time alone: the terminal's parsing and checking of the answer is not in it.
    const started = performance.now();
    const response = await card.transmit(request);
    times.push(performance.now() - started);
    if (parseResponse(response).sw !== 0x9000) throw new Error(`PAY answered ${parseResponse(response).sw.toString(16)}`);
    const cost = decodeCost(await expectOk(send(card, CLA_ECASH, ECASH_INS.GET_COST)));
    last = { cost, linkBytes: request.length + response.length };
  }
  return { ms: median(times), ...last! };
}

async function withdrawal(ctx: BenchContext, suite: SuiteId): Promise<{ ms: number; begin: CommandCost; end: CommandCost }> {
  const { card, bank } = await loadedCard(suite, 0);
  const runs = ctx.quick ? 3 : 9;
  const times: number[] = [];
  let begin: CommandCost | undefined;
  let end: CommandCost | undefined;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const { session, c } = await bank.begin(card, 10);
    begin = decodeCost(await expectOk(send(card, CLA_ECASH, ECASH_INS.GET_COST)));
    const t = performance.now();
    const r = session.answer(c);
    const bankMs = performance.now() - t;
    await expectOk(send(card, CLA_ECASH, ECASH_INS.WITHDRAW_END, bank.endCommand(r)));
    end = decodeCost(await expectOk(send(card, CLA_ECASH, ECASH_INS.GET_COST)));
    times.push(performance.now() - started - bankMs);
  }
  return { ms: median(times), begin: begin!, end: end! };
}

export const cardBench: BenchModule = {
  name: 'card',
  async run(ctx) {
    const card: Figures = {};
    ctx.log('   APDU round trip in process (GET COST)');
    card.apdu_rtt_virtual_ms = round(await virtualRtt(ctx), 4);

    ctx.log('   APDU round trip through pcscd, plain pcsclite client');
    if (!existsSync(PCSCD_SOCKET)) Object.assign(card, unmeasured('apdu_rtt_pcsc_ms', 'pcscd is not running on this machine'));
    else {
      try {
        const fast = await pcscRtt(ctx, 'auto');
        card.apdu_rtt_pcsc_ms = round(fast.ms, 4);
        if (!fast.quickAck) card.apdu_rtt_pcsc_ms_note = `TCP_QUICKACK unavailable: ${fast.reason ?? 'unknown'}`;
      } catch (e) {
        Object.assign(card, unmeasured('apdu_rtt_pcsc_ms', e instanceof Error ? e.message : String(e)));
      }
      ctx.log('   … and without TCP_QUICKACK (the delayed-ACK trap)');
      try {
        card.apdu_rtt_pcsc_noquickack_ms = round((await pcscRtt(ctx, 'off')).ms, 3);
      } catch (e) {
        Object.assign(card, unmeasured('apdu_rtt_pcsc_noquickack_ms', e instanceof Error ? e.message : String(e)));
      }
    }

    for (const suite of SUITE_IDS) {
      ctx.log(`   ${suite}: 5-coin payment and one withdrawal on the card`);
      const p = await payment(ctx, suite);
      const w = await withdrawal(ctx, suite);
      const perSuite: Figures = {
        card_pay_5coin_ms: round(p.ms, 3),
        card_pay_group_exps: groupExponentiations(p.cost),
        card_pay_scalar_muls_per_coin: p.cost.scalarMul / 5,
        card_pay_nvm_bytes: p.cost.nvmBytesWritten,
        card_withdraw_ms: round(w.ms, 3),
        card_withdraw_group_exps: groupExponentiations(w.begin) + groupExponentiations(w.end),
      };
      for (const profile of Object.values(CHIP_PROFILES)) {
        const prices = pricesFor(profile, suite);
        perSuite[`card_pay_5coin_modelled_${profile.id}_ms`] = round(modelledMs(p.cost, p.linkBytes, prices), 1);
        perSuite[`card_withdraw_modelled_${profile.id}_ms`] = round(modelledMs(w.begin, 0, prices) + modelledMs(w.end, 0, prices), 1);
      }
      card[suite] = perSuite;
      if (suite === 'ristretto255-sha512') card.card_pay_group_exps = perSuite.card_pay_group_exps!;
    }
    return {
      // The card's own round trips, without the reader bridge's client: the bridge reports
      // apdu_rtt_virtual_ms and apdu_rtt_pcsc_ms through the client every host uses.
      apdu_rtt_virtual_raw_ms: card.apdu_rtt_virtual_ms!,
      apdu_rtt_pcsc_raw_ms: card.apdu_rtt_pcsc_ms ?? null,
      ...(card.apdu_rtt_pcsc_ms_reason === undefined ? {} : { apdu_rtt_pcsc_raw_ms_reason: card.apdu_rtt_pcsc_ms_reason }),
      card_pay_group_exps: card.card_pay_group_exps!,
      card,
    };
  },
};
