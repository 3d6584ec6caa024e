/**
 * Benchmarks through the machine's pcscd: serves a card into vpcd's `Virtual PCD 00 00`, waits
 * until pcscd shows it, and hands the PC/SC transport to `measure`. Where pcscd or vpcd is missing,
 * the figure is null with the reason.
 */
import { existsSync } from 'node:fs';
import { isEcashError } from '../core/index.js';
import { serveOverVpcd, type SimulatedCard, type VpcdConnection } from '../firmware-sim/index.js';
import { PcscTransport } from '../reader-bridge/index.js';
import { PCSCD_SOCKET } from '../test/helpers/env.js';
import { unmeasured, type Figures } from './harness.js';

export const VPCD_READER = 'Virtual PCD 00 00';

/** Waits until pcscd lists the vpcd reader with (or without) a card; false after 5 s. */
export async function vpcdCardState(transport: PcscTransport, present: boolean): Promise<boolean> {
  const deadline = Date.now() + 5_000;
  while ((await transport.listReaders()).some((r) => r.name === VPCD_READER && r.cardPresent) !== present) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

export async function throughPcscd(
  figure: string,
  card: SimulatedCard,
  measure: (transport: PcscTransport, served: VpcdConnection) => Promise<Figures>,
): Promise<Figures> {
  if (!existsSync(PCSCD_SOCKET)) return unmeasured(figure, 'pcscd is not running on this machine');
  const transport = new PcscTransport();
  const served = await serveOverVpcd(card);
  try {
    await served.whenConnected();
    if (!(await vpcdCardState(transport, true)))
      return unmeasured(figure, `pcscd does not show a card in "${VPCD_READER}" (is vsmartcard-vpcd installed?)`);
    return await measure(transport, served);
  } catch (e) {
    if (isEcashError(e, 'pcsc-unavailable')) return unmeasured(figure, e.message);
    throw e;
  } finally {
    await served.close();
    // Whoever serves a card next must find the slot empty: a card served before pcscd noticed this
    // one leave would be taken for it, still powered.
    await vpcdCardState(transport, false).catch(() => false);
    await transport.close();
  }
}
