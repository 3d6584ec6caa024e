/**
 * Tap to approval: a 5-coin payment in offline mode, from the cash register's request (with the
 * card already present in the reader) to the approved state — select, balance, coin choice, the
 * journalled request, PAY for 5 coins, batch verification and the journal's durable responses
 * (SQLite, synchronous=FULL). On the virtual transport (per suite) and through pcscd + vpcd.
 */
import { existsSync } from 'node:fs';
import { isEcashError, SUITE_IDS, type SuiteId } from '../core/index.js';
import { serveOverVpcd } from '../firmware-sim/index.js';
import { PcscTransport, type ReaderSource, VirtualTransport } from '../reader-bridge/index.js';
import { PCSCD_SOCKET } from '../test/helpers/env.js';
import { finalView, World } from '../test/helpers/world.js';
import { median, round, unmeasured, type BenchContext, type BenchModule, type Figures } from './harness.js';

const VPCD_READER = 'Virtual PCD 00 00';
const COIN = 100;
const COINS_PER_TAP = 5;
/** Room for the bench's coins: a modp2048 coin record is about eight times an elliptic-curve one. */
const capacityFor = (suite: SuiteId) => (suite === 'modp2048-256' ? 512 * 1024 : 128 * 1024);

/** Runs `runs` (+1 warm-up) payments of 5 coins on `reader` and returns the median ms. */
async function taps(world: World, readers: ReaderSource, reader: string, runs: number, terminalId: string): Promise<number> {
  const shop = await world.addMerchant(`shop-${terminalId}`);
  const terminal = await world.terminal(readers, { merchantId: `shop-${terminalId}`, bank: shop }, { readerName: reader, terminalId });
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const p = terminal.startPayment({ amount: COIN * COINS_PER_TAP, currency: 'EUR' });
    const view = await finalView(terminal, p.id);
    const t1 = performance.now();
    if (view.state !== 'approved' || view.coins.length !== COINS_PER_TAP) throw new Error(`bench payment ended ${view.state} with ${view.coins.length} coins`);
    if (i > 0) times.push(t1 - t0);
  }
  await terminal.close();
  return median(times);
}

/** A bank with one denomination (1.00) so every 5.00 payment takes exactly 5 coins. */
async function loadedWorld(suite: SuiteId, readers: ReaderSource, reader: string, coins: number): Promise<World> {
  const world = new World(suite);
  await world.startBank([COIN]);
  const ch = await readers.connect(reader);
  try {
    const holder = await world.holder(ch, 'bench', coins * COIN);
    await world.load(ch, holder, coins * COIN);
  } finally {
    await ch.disconnect('reset');
  }
  return world;
}

async function virtualTap(ctx: BenchContext, suite: SuiteId, runs: number): Promise<number> {
  const readers = new VirtualTransport(['bench']);
  const world = new World(suite);
  try {
    readers.insertCard('bench', await world.card({ capacity: capacityFor(suite) }));
    const loaded = await loadedWorld(suite, readers, 'bench', COINS_PER_TAP * (runs + 1));
    try {
      return await taps(loaded, readers, 'bench', runs, `virtual-${suite}`);
    } finally {
      await loaded.close();
    }
  } finally {
    await readers.close();
    await world.close();
  }
}

async function pcscTap(ctx: BenchContext, runs: number): Promise<Figures> {
  if (!existsSync(PCSCD_SOCKET)) return unmeasured('tap_5coin_pcsc_ms', 'pcscd is not running on this machine');
  const pcsc = new PcscTransport();
  const cardWorld = new World();
  const served = await serveOverVpcd(await cardWorld.card({ capacity: capacityFor('ristretto255-sha512') }));
  try {
    await served.whenConnected();
    const deadline = Date.now() + 5_000;
    while (!(await pcsc.listReaders()).some((r) => r.name === VPCD_READER && r.cardPresent)) {
      if (Date.now() > deadline) return unmeasured('tap_5coin_pcsc_ms', `pcscd does not show a card in "${VPCD_READER}" (is vsmartcard-vpcd installed?)`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const world = await loadedWorld('ristretto255-sha512', pcsc, VPCD_READER, COINS_PER_TAP * (runs + 1));
    try {
      const ms = await taps(world, pcsc, VPCD_READER, runs, 'pcsc');
      ctx.log(`tap to approval through pcscd, 5 coins offline: median ${round(ms, 1)} ms (target < 100 ms)`);
      return { tap_5coin_pcsc_ms: round(ms, 2) };
    } finally {
      await world.close();
    }
  } catch (e) {
    if (isEcashError(e, 'pcsc-unavailable')) return unmeasured('tap_5coin_pcsc_ms', e.message);
    throw e;
  } finally {
    await pcsc.close();
    await served.close();
    await cardWorld.close();
  }
}

export const posBench: BenchModule = {
  name: 'pos',
  async run(ctx) {
    const runs = ctx.quick ? 3 : 11;
    const figures: Figures = {};
    const bySuite: Figures = {};
    for (const suite of ctx.quick ? (['ristretto255-sha512'] as const) : SUITE_IDS) {
      const ms = await virtualTap(ctx, suite, runs);
      bySuite[suite] = { tap_5coin_virtual_ms: round(ms, 2) };
      if (suite === 'ristretto255-sha512') figures.tap_5coin_virtual_ms = round(ms, 2);
      ctx.log(`tap to approval on the virtual transport, 5 coins offline, ${suite}: median ${round(ms, 1)} ms`);
    }
    Object.assign(figures, await pcscTap(ctx, runs));
    return { ...bySuite, ...figures };
  },
};
