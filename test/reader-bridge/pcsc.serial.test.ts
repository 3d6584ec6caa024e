/**
 * The PC/SC transport against the machine's pcscd, with firmware-sim's card served into
 * `Virtual PCD 00 00` over vpcd (slot 01 is the card engineer's). Runs the conformance suite,
 * then what only PC/SC has: pcscd restarting under a connected client, sharing modes and a
 * reset by another application, and the `ecash` commands against a real reader.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { isEcashError } from '../../core/index.js';
import { serveOverVpcd, type SimulatedCard, type VpcdConnection } from '../../firmware-sim/index.js';
import { EcashCardClient, PcscTransport, RemoteTransport, type ReaderEvent } from '../../reader-bridge/index.js';
import { type CliProcess, endStartedProcesses, exitOf, startProcess, stdoutLines, whileRunning } from '../helpers/cli.js';
import { pcscdAvailable, requireService } from '../helpers/env.js';
import { conformanceSuite, eventually, newCard, PIN, readerState } from './conformance.js';
import { cardInReader, serveCard, stopPcscd, unserveCard } from './pcscd.js';

const READER = 'Virtual PCD 00 00';
const VPCD_PORT = 35963;
const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'host/cli/main.ts'];

/** Starts a long-running `ecash` command (from the sources), followed from the start. */
function start(args: string[], env: Record<string, string> = {}): CliProcess & { line: (what: string) => Promise<string> } {
  const p = startProcess(process.execPath, [...CLI, ...args], env);
  return { ...p, line: stdoutLines(p) };
}

const serve = (transport: PcscTransport, card: SimulatedCard) => serveCard(transport, READER, VPCD_PORT, card);

/** Takes the card out and waits until pcscd has noticed (see the fixture's `remove`). */
async function unserve(served: VpcdConnection): Promise<void> {
  const watcher = new PcscTransport();
  try {
    await unserveCard(served, watcher, READER);
  } finally {
    await watcher.close();
  }
}

describe.runIf(requireService(pcscdAvailable(), 'pcscd (with vsmartcard-vpcd)'))('PC/SC through pcscd and vpcd', () => {
  afterEach(endStartedProcesses);

  conformanceSuite(`PC/SC (${READER})`, async () => {
    const transport = new PcscTransport({ recoveryIntervalMs: 200 });
    let served: VpcdConnection | undefined;
    let restartPcscd: (() => Promise<void>) | undefined;
    return {
      transport,
      reader: READER,
      removalEvent: 'card-removed',
      insert: async (card) => {
        // Kept before pcscd shows it, so close() takes it out even if the wait fails.
        served = await serveOverVpcd(card, { port: VPCD_PORT });
        await cardInReader(served, transport, READER, VPCD_PORT);
      },
      remove: async () => {
        const s = served;
        served = undefined;
        await s?.close();
        // pcscd notices a card by polling vpcd; a card put back before it noticed would be taken
        // for the old one, still powered.
        await readerState(transport, READER, false);
      },
      unplugReader: async () => {
        // vpcd's readers are configured, not plugged: they disappear when pcscd goes.
        restartPcscd = await stopPcscd();
      },
      close: async () => {
        await restartPcscd?.();
        if (served) {
          await served.close();
          await readerState(transport, READER, false);
        }
        await transport.close();
      },
    };
  });

  it('survives pcscd restarting under a connected client', async () => {
    const transport = new PcscTransport({ recoveryIntervalMs: 200 });
    const served = await serve(transport, await newCard('ristretto255-sha512'));
    // Started again in `finally` if the test fails while it is down: every later test needs it.
    let restart: (() => Promise<void>) | undefined;
    try {
      const channel = await transport.connect(READER);
      const card = EcashCardClient.on(channel);
      await card.select();
      const events: ReaderEvent[] = [];
      const stop = transport.watch((e) => e.reader.name === READER && events.push(e));

      restart = await stopPcscd();
      await eventually(async () => (events.some((e) => e.type === 'reader-removed') ? true : undefined), 'reader-removed');
      await expect(card.select()).rejects.toSatisfy((e) => isEcashError(e, 'transport-failure'));
      const again = restart;
      restart = undefined;
      await again();
      await eventually(async () => (events.some((e) => e.type === 'reader-added') ? true : undefined), 'reader-added');

      await channel.reconnect(); // waits for the card to be back in the reader
      expect(await card.select()).toMatchObject({ suite: 'ristretto255-sha512' });
      await card.verifyPin(PIN);
      stop();
      await channel.disconnect();
    } finally {
      await restart?.();
      await transport.close();
      await unserve(served);
    }
  });

  it('keeps others off in exclusive mode, shares in shared mode, and reconnects after a reset by another application', async () => {
    const mine = new PcscTransport();
    const theirs = new PcscTransport();
    const served = await serve(mine, await newCard('ristretto255-sha512'));
    try {
      const exclusive = await mine.connect(READER);
      expect(exclusive.protocol).toBe('T=1');
      expect(Array.from(exclusive.atr)).toEqual([0x3b, 0x80, 0x80, 0x01, 0x01]);
      await expect(theirs.connect(READER, { share: 'shared' })).rejects.toSatisfy((e) => isEcashError(e, 'reader-busy'));
      await exclusive.disconnect('leave');

      const shared = await mine.connect(READER, { share: 'shared' });
      const card = EcashCardClient.on(shared);
      await card.select();
      await card.verifyPin(PIN);
      const other = await theirs.connect(READER, { share: 'shared' });
      await other.disconnect('reset');
      await expect(card.pinState()).rejects.toSatisfy((e) => isEcashError(e, 'card-reset'));
      // the channel reconnected itself; the session (selection, PIN) is gone
      await card.select();
      expect(await card.pinState()).toEqual({ verified: false, triesLeft: 3 });
      await shared.disconnect();
    } finally {
      await mine.close();
      await theirs.close();
      await unserve(served);
    }
  });

  it('`ecash readers` shows the card, `ecash apdu` talks to it with a redacted trace, and both exit on their own', async () => {
    const transport = new PcscTransport();
    const served = await serve(transport, await newCard('ristretto255-sha512'));
    await transport.close();
    try {
      const cli = (...args: string[]) => run(process.execPath, [...CLI, ...args], { timeout: 30_000 });
      const readers = JSON.parse((await cli('readers', '--json')).stdout) as unknown[];
      expect(readers).toContainEqual({ name: READER, transport: 'pcsc', cardPresent: true });
      const { stdout, stderr } = await cli(
        'apdu',
        '00a4040007f045434153480100',
        '0020008004' + '32343638',
        '--reader',
        READER,
        '--trace',
        '--json',
      );
      const result = JSON.parse(stdout) as { results: { sw: string }[] };
      expect(result.results.map((r) => r.sw)).toEqual(['9000', '9000']);
      expect(stderr).toContain('>> 00200080 [redacted]');
      expect(stderr).not.toContain('32343638');
    } finally {
      await unserve(served);
    }
  });

  it('`ecash readers --watch --json` streams events until interrupted', async () => {
    const transport = new PcscTransport();
    const watching = start(['readers', '--watch', '--json']);
    let served: VpcdConnection | undefined;
    try {
      expect(JSON.parse(await watching.line('the first reader'))).toMatchObject({ event: 'present', name: READER, cardPresent: false });
      expect(JSON.parse(await watching.line('the second reader'))).toMatchObject({ event: 'present', name: 'Virtual PCD 00 01' });
      const next = async (event: string) => {
        for (;;) {
          const e = JSON.parse(await watching.line(`${event} on ${READER}`)) as { event: string; name: string };
          if (e.event === event && e.name === READER) return e;
        }
      };
      served = await serve(transport, await newCard('ristretto255-sha512'));
      expect(await next('card-inserted')).toMatchObject({ transport: 'pcsc', cardPresent: true, atr: '3b80800101' });
      const out = served;
      served = undefined;
      await unserve(out);
      expect(await next('card-removed')).toMatchObject({ transport: 'pcsc', cardPresent: false });
      watching.child.kill('SIGINT');
      expect(await exitOf(watching), watching.stderr()).toBe(0);
    } finally {
      watching.child.kill('SIGKILL');
      await transport.close();
      if (served !== undefined) await unserve(served);
    }
  });

  it('`ecash bridge serve` shares the PC/SC readers with a token, on loopback, and stops on SIGTERM', async () => {
    const token = 'cli-bridge-token-0123456789';
    const bridge = start(['bridge', 'serve', '--port', '0', '--json'], { ECASH_BRIDGE_TOKEN: token });
    const local = new PcscTransport();
    let served: VpcdConnection | undefined;
    try {
      served = await serve(local, await newCard('ristretto255-sha512'));
      let document = '';
      while (!document.trimEnd().endsWith('}')) document += (await bridge.line("the bridge's address")) + '\n';
      const { url } = JSON.parse(document) as { url: string };
      expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1$/);
      await expect(new RemoteTransport({ url, token: 'not-the-token-0123456789' }).listReaders()).rejects.toSatisfy((e) =>
        isEcashError(e, 'bridge-unauthorized'),
      );
      const remote = new RemoteTransport({ url, token });
      expect(await remote.listReaders()).toContainEqual({ name: READER, transport: 'remote', cardPresent: true });
      const card = EcashCardClient.on(await remote.connect(READER));
      expect(await card.select()).toMatchObject({ suite: 'ristretto255-sha512' });
      await remote.close();
      bridge.child.kill('SIGTERM');
      expect(await exitOf(bridge), bridge.stderr()).toBe(0);
    } finally {
      bridge.child.kill('SIGKILL');
      await local.close();
      if (served !== undefined) await unserve(served);
    }
  });

  it('`ecash readers` shows Virtual PCD 00 00 with a card while `ecash card serve` runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecash-bridge-'));
    const image = join(dir, 'card.img');
    const watcher = new PcscTransport();
    let serving: CliProcess | undefined;
    try {
      await run(process.execPath, [...CLI, 'card', 'create', image], {
        timeout: 30_000,
        env: { ...process.env, ECASH_PIN: PIN, ECASH_PUK: '13572468' },
      });
      serving = start(['card', 'serve', image, '--vpcd', `127.0.0.1:${VPCD_PORT}`]);
      await whileRunning(serving, readerState(watcher, READER, true));
      const readers = JSON.parse((await run(process.execPath, [...CLI, 'readers', '--json'], { timeout: 30_000 })).stdout) as unknown[];
      expect(readers).toContainEqual({ name: READER, transport: 'pcsc', cardPresent: true });
      const card = EcashCardClient.on(await watcher.connect(READER));
      expect(await card.select()).toMatchObject({ suite: 'ristretto255-sha512' });
      await card.verifyPin(PIN);
      serving.child.kill('SIGTERM');
      await exitOf(serving);
      await readerState(watcher, READER, false);
    } finally {
      // A `card serve` still running (the test failed) leaves the slot empty for the next test.
      if (serving !== undefined && serving.child.exitCode === null && serving.child.signalCode === null) {
        serving.child.kill('SIGKILL');
        await serving.exited;
        await readerState(watcher, READER, false);
      }
      await watcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
