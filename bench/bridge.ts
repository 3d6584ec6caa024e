/**
 * The reader bridge's round trips: one SELECT (a short command and a 21-byte answer) through the
 * bridge's own ApduClient, on the in-process virtual transport, through pcscd to the card served
 * over vpcd (`Virtual PCD 00 00`), and through the remote bridge on loopback to an in-process
 * card. Medians of many single exchanges.
 */
import { ECASH_AID, encodeCommand, CLA_ISO, ISO_INS, SELECT_BY_AID_P1 } from '../wire/index.js';
import { createVolatileCard } from '../firmware-sim/index.js';
import { ApduClient, RemoteTransport, startBridgeServer, VirtualTransport, type ReaderTransport } from '../reader-bridge/index.js';
import { medianMs, round, type BenchContext, type BenchModule, type Figures } from './harness.js';
import { throughPcscd, VPCD_READER } from './vpcd.js';

const SELECT = encodeCommand({ cla: CLA_ISO, ins: ISO_INS.SELECT, p1: SELECT_BY_AID_P1, p2: 0, data: ECASH_AID, le: 256 });

async function rtt(ctx: BenchContext, transport: ReaderTransport, reader: string): Promise<number> {
  const channel = await transport.connect(reader);
  try {
    const client = new ApduClient(channel);
    const runs = ctx.quick ? 50 : 1000;
    return await medianMs(() => client.sendBytes(SELECT), runs, Math.min(50, runs));
  } finally {
    await channel.disconnect();
  }
}

const card = () => createVolatileCard({ pin: '2468', puk: '13572468' });

async function virtualRtt(ctx: BenchContext): Promise<Figures> {
  const transport = new VirtualTransport(['bench']);
  transport.insertCard('bench', await card());
  try {
    return { apdu_rtt_virtual_ms: round(await rtt(ctx, transport, 'bench'), 4) };
  } finally {
    await transport.close();
  }
}

async function pcscRtt(ctx: BenchContext): Promise<Figures> {
  return throughPcscd('apdu_rtt_pcsc_ms', await card(), async (transport, served) => {
    const figures: Figures = { apdu_rtt_pcsc_ms: round(await rtt(ctx, transport, VPCD_READER), 4) };
    if (!served.quickAck.active)
      figures.apdu_rtt_pcsc_ms_note = `TCP_QUICKACK not in use on the card side: ${served.quickAck.reason ?? 'unknown'}`;
    return figures;
  });
}

async function remoteRtt(ctx: BenchContext): Promise<Figures> {
  const local = new VirtualTransport(['bench']);
  local.insertCard('bench', await card());
  const token = 'bench-token-0123456789abcdef';
  const server = await startBridgeServer({ source: local, token });
  const remote = new RemoteTransport({ url: server.url, token });
  try {
    return { apdu_rtt_remote_loopback_ms: round(await rtt(ctx, remote, 'bench'), 4) };
  } finally {
    await remote.close();
    await server.close();
    await local.close();
  }
}

export const bridgeBench: BenchModule = {
  name: 'bridge',
  async run(ctx) {
    const figures: Figures = {};
    for (const [what, measure] of [
      ['virtual', virtualRtt],
      ['pcsc', pcscRtt],
      ['remote', remoteRtt],
    ] as const) {
      ctx.log(`   APDU round trip: ${what}`);
      Object.assign(figures, await measure(ctx));
    }
    return figures;
  },
};
