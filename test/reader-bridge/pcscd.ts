/**
 * The machine's pcscd for the tests: serving a simulated card into a vpcd slot and taking it out
 * again (each waiting until pcscd has noticed), and stopping and starting pcscd for the tests that
 * need it gone or restarted, leaving it afterwards as it was found: the same command line, in the
 * background, logging where CI's script logs.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { serveOverVpcd, type SimulatedCard, type VpcdConnection } from '../../firmware-sim/index.js';
import type { ReaderTransport } from '../../reader-bridge/index.js';
import { PCSCD_SOCKET } from '../helpers/env.js';
import { readerState } from './conformance.js';

const LOG = '/tmp/pcscd.log';

function pcscdPid(): number | undefined {
  try {
    return Number(execFileSync('pgrep', ['-x', 'pcscd'], { encoding: 'utf8' }).trim().split('\n')[0]);
  } catch {
    return undefined;
  }
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops pcscd; returns how to start it again exactly as it ran. */
export async function stopPcscd(): Promise<() => Promise<void>> {
  const pid = pcscdPid();
  if (pid === undefined) throw new Error('pcscd is not running');
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a !== '');
  process.kill(pid, 'SIGTERM');
  await until(() => pcscdPid() === undefined, 'pcscd has exited');
  return async () => {
    const log = openSync(LOG, 'a');
    spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] }).unref();
    await until(() => pcscdPid() !== undefined && existsSync(PCSCD_SOCKET), 'pcscd is back');
  };
}

/** Serves `card` into the vpcd slot at `port` and waits until `transport` lists it in `reader`. */
export async function serveCard(transport: ReaderTransport, reader: string, port: number, card: SimulatedCard): Promise<VpcdConnection> {
  const served = await serveOverVpcd(card, { port });
  await cardInReader(served, transport, reader, port);
  return served;
}

/**
 * Waits until the card `served` on vpcd `port` shows in `reader`. On failure the card is taken out
 * again (a card left connected would sit in the slot for every later test) and the error says
 * what did not happen.
 */
export async function cardInReader(served: VpcdConnection, transport: ReaderTransport, reader: string, port: number): Promise<void> {
  await vpcdTookCard(served, port);
  try {
    await readerState(transport, reader, true);
  } catch (e) {
    await served.close();
    throw e;
  }
}

/** Waits (10 s at most) until vpcd at `port` has taken the card `served`; takes it out again on failure. */
export async function vpcdTookCard(served: VpcdConnection, port: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      served.whenConnected(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`vpcd did not take the card on 127.0.0.1:${port} within 10 s: is pcscd running with vsmartcard-vpcd?`)),
          10_000,
        );
      }),
    ]);
  } catch (e) {
    await served.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Takes a served card out and waits until `transport` lists `reader` empty. */
export async function unserveCard(served: VpcdConnection | undefined, transport: ReaderTransport, reader: string): Promise<void> {
  await served?.close();
  await readerState(transport, reader, false);
}
