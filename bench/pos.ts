/**
 * Tap to approval: a 5-coin payment in offline mode, from the terminal holding the card (the
 * payment already waiting for it; state `reading`, after the reader's detection) to the approved state — select, the offered
 * keys, the journalled request, PAY (the card choosing its 5 coins), batch verification and the journal's durable responses
 * (SQLite, synchronous=FULL). On the virtual transport (per suite) and through pcscd + vpcd.
 */
import { SUITE_IDS, type SuiteId } from '../core/index.js';
import { serveOverVpcd, type VpcdConnection } from '../firmware-sim/index.js';
import { type ReaderSource, VirtualTransport } from '../reader-bridge/index.js';
import { atState, World } from '../test/helpers/world.js';
import { median, round, type BenchContext, type BenchModule, type Figures } from './harness.js';
import { throughPcscd, vpcdCardState, VPCD_READER } from './vpcd.js';
const COIN = 100;
const COINS_PER_TAP = 5;
/** Room for the bench's coins: a modp2048 coin record is about eight times an elliptic-curve one. */
const capacityFor = (suite: SuiteId) => (suite === 'modp2048-256' ? 512 * 1024 : 128 * 1024);

/** How the bench puts the card on the reader and takes it off again, as a customer would. */
interface CardHand {
  present(): Promise<void>;
  remove(): Promise<void>;
}

/**
 * Runs `runs` (+1 warm-up) payments of 5 coins on `reader`: the payment waits for a card, the card
 * is presented, and the time from the terminal holding it to the approved state is taken.
 */
async function taps(
  world: World,
  readers: ReaderSource,
  reader: string,
  runs: number,
  terminalId: string,
  hand: CardHand,
): Promise<number> {
  const shop = await world.addMerchant(`shop-${terminalId}`);
  const terminal = await world.terminal(readers, { merchantId: `shop-${terminalId}`, bank: shop }, { readerName: reader, terminalId });
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    // From the terminal holding the card (connected, state `reading`) to the approval itself: the
    // reader's own detection delay and the card's release afterwards are not part of it.
    let t0 = 0;
    let t1 = 0;
    const reading = atState(terminal, 'reading', () => (t0 = performance.now()));
    const approved = atState(terminal, 'approved', () => (t1 = performance.now()));
    const p = terminal.startPayment({ amount: COIN * COINS_PER_TAP, currency: 'EUR' });
    await hand.present();
    const view = await terminal.outcome(p.id);
    await reading;
    await approved; // rejects, saying how the payment ended, if it was not approved
    await hand.remove();
    if (view.state !== 'approved' || view.coins.length !== COINS_PER_TAP)
      throw new Error(`bench payment ended ${view.state} with ${view.coins.length} coins`);
    if (i > 0) times.push(t1 - t0);
  }
  await terminal.close();
  return median(times);
}

/**
 * Starts `world`'s bank with one denomination (1.00), so every 5.00 payment takes exactly 5 coins,
 * and loads the card in `reader` with `coins` of them.
 */
async function loadCoins(world: World, readers: ReaderSource, reader: string, coins: number): Promise<void> {
  await world.startBank([COIN]);
  const ch = await readers.connect(reader);
  try {
    const holder = await world.holder(ch, 'bench', coins * COIN);
    await world.load(ch, holder, coins * COIN);
  } finally {
    await ch.disconnect('reset');
  }
}

async function virtualTap(suite: SuiteId, runs: number): Promise<number> {
  const readers = new VirtualTransport(['bench']);
  const world = new World(suite);
  try {
    const card = await world.card({ capacity: capacityFor(suite) });
    readers.insertCard('bench', card);
    await loadCoins(world, readers, 'bench', COINS_PER_TAP * (runs + 1));
    readers.removeCard('bench');
    const hand: CardHand = {
      present: () => Promise.resolve(readers.insertCard('bench', card)),
      remove: () => Promise.resolve(readers.removeCard('bench')),
    };
    return await taps(world, readers, 'bench', runs, `virtual-${suite}`, hand);
  } finally {
    await readers.close();
    await world.close();
  }
}

async function pcscTap(ctx: BenchContext, runs: number): Promise<Figures> {
  const world = new World();
  try {
    const card = await world.card({ capacity: capacityFor(world.suite) });
    return await throughPcscd('tap_5coin_pcsc_ms', card, async (pcsc, first) => {
      await loadCoins(world, pcsc, VPCD_READER, COINS_PER_TAP * (runs + 1));
      let served: VpcdConnection | undefined = first;
      const hand: CardHand = {
        async present() {
          served = await serveOverVpcd(card);
          await served.whenConnected();
          if (!(await vpcdCardState(pcsc, true))) throw new Error('pcscd did not see the card again');
        },
        async remove() {
          await served?.close();
          served = undefined;
          if (!(await vpcdCardState(pcsc, false))) throw new Error('pcscd did not see the card leave');
        },
      };
      try {
        await hand.remove();
        const ms = await taps(world, pcsc, VPCD_READER, runs, 'pcsc', hand);
        ctx.log(`tap to approval through pcscd, 5 coins offline: median ${round(ms, 1)} ms (target < 100 ms)`);
        return { tap_5coin_pcsc_ms: round(ms, 2) };
      } finally {
        await served?.close();
      }
    });
  } finally {
    await world.close();
  }
}

export const posBench: BenchModule = {
  name: 'pos',
  async run(ctx) {
    const runs = ctx.quick ? 3 : 11;
    const figures: Figures = {};
    const bySuite: Figures = {};
    for (const suite of ctx.quick ? (['ristretto255-sha512'] as const) : SUITE_IDS) {
      const ms = await virtualTap(suite, runs);
      bySuite[suite] = { tap_5coin_virtual_ms: round(ms, 2) };
      if (suite === 'ristretto255-sha512') figures.tap_5coin_virtual_ms = round(ms, 2);
      ctx.log(`tap to approval on the virtual transport, 5 coins offline, ${suite}: median ${round(ms, 1)} ms`);
    }
    Object.assign(figures, await pcscTap(ctx, runs));
    return { ...bySuite, ...figures };
  },
};
