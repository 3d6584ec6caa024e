/**
 * End to end through the machine's pcscd: a card image made by `ecash card create`, served by
 * `ecash card serve --vpcd` into reader `Virtual PCD 00 01`, loaded with coins through a plain
 * pcsclite client, then used by OpenSC's `opensc-tool` (a PC/SC client nobody here wrote) to
 * select the applet, read the balance and pay. The transcripts it got verify with core, and the
 * image file remembers the payment after the card process stops.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getGroup, toHex, verifyTranscript } from '../../core/index.js';
import { decodeBalance, decodeFci, decodePayResponse, ECASH_AID, encodePay, encodeVerify, paymentTranscripts } from '../../wire/index.js';
import { type CliProcess, endStartedProcesses, exitOf, startProcess, stderrLine, waitForOutput } from '../helpers/cli.js';
import { pcscdAvailable, requireService } from '../helpers/env.js';
import { balance, PIN, PUK, select, TestBank, verifyPin, paymentContext } from './helpers.js';
import { vpcdTookCard } from '../reader-bridge/pcscd.js';
import { connectPlain, type PlainPcscCard, waitUntilEmpty } from './pcsc-plain.js';

const run = promisify(execFile);
const READER = 'Virtual PCD 00 01';
const VPCD = '127.0.0.1:35964';
const OPENSC_TOOL = '/usr/bin/opensc-tool';
const CLI = ['--import', 'tsx', 'host/cli/main.ts'];

const available =
  requireService(pcscdAvailable(), 'pcscd (with vsmartcard-vpcd)') &&
  requireService(existsSync(OPENSC_TOOL), 'opensc-tool (Debian package opensc)');

/** The data bytes of each "Received" block that opensc-tool prints. */
function openscResponses(stdout: string): { sw: number; data: Uint8Array }[] {
  const out: { sw: number; data: Uint8Array }[] = [];
  let current: { sw: number; bytes: number[] } | undefined;
  for (const line of stdout.split('\n')) {
    const head = /^Received \(SW1=0x([0-9a-f]{2}), SW2=0x([0-9a-f]{2})\)/i.exec(line);
    if (head) {
      if (current) out.push({ sw: current.sw, data: Uint8Array.from(current.bytes) });
      current = { sw: parseInt(head[1]! + head[2]!, 16), bytes: [] };
    } else if (current && /^([0-9A-F]{2} )+/.test(line)) {
      current.bytes.push(
        ...line
          .slice(0, 48)
          .trim()
          .split(/\s+/)
          .map((h) => parseInt(h, 16)),
      );
    } else if (current && line.startsWith('Sending')) {
      out.push({ sw: current.sw, data: Uint8Array.from(current.bytes) });
      current = undefined;
    }
  }
  if (current) out.push({ sw: current.sw, data: Uint8Array.from(current.bytes) });
  return out;
}

const hex = (b: Uint8Array) => toHex(b).replace(/(..)(?!$)/g, '$1:');

describe.runIf(available)('the card through pcscd and vpcd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ecash-card-e2e-'));
  const file = join(dir, 'wallet.card');
  const bank = new TestBank('ristretto255-sha512');
  let server: CliProcess | undefined;

  beforeAll(async () => {
    const created = await run('node', [...CLI, '--json', 'card', 'create', file, '--limit', '1000'], {
      env: { ...process.env, ECASH_PIN: PIN, ECASH_PUK: PUK },
    });
    expect(JSON.parse(created.stdout)).toMatchObject({ personalised: true, suite: 'ristretto255-sha512', pinTriesLeft: 3 });
    server = startProcess('node', [...CLI, 'card', 'serve', file, '--vpcd', VPCD, '--trace']);
    await waitForOutput(server, stderrLine('card attached to vpcd'), 'that the card is attached to vpcd');
  });

  afterAll(async () => {
    try {
      if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGTERM');
        await exitOf(server);
      }
    } finally {
      await endStartedProcesses();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads coins through a plain pcsclite client', async () => {
    const card = await connectPlain(READER);
    try {
      const fci = decodeFci((await select(card)).data);
      expect(fci.suite).toBe('ristretto255-sha512');
      expect((await verifyPin(card)).sw).toBe(0x9000);
      await bank.open(card);
      for (const v of [200, 200, 50]) await bank.withdraw(card, v);
      expect((await balance(card)).map((e) => [e.value, e.count])).toEqual([
        [200, 2],
        [50, 1],
      ]);
    } finally {
      await card.close();
    }
  });

  it('opensc-tool selects the applet, reads the balance with the PIN and pays', async () => {
    const context = paymentContext('opensc-shop');
    const pay = encodePay({ context, amount: 400, currency: 'EUR', acceptedKeys: [bank.key(200).key.keyId, bank.key(50).key.keyId] });
    const verify = encodeVerify(PIN);
    const apdus = [
      `00:A4:04:00:${hex(Uint8Array.of(ECASH_AID.length))}:${hex(ECASH_AID)}:00`,
      '80:30:00:00:00', // a shop's view: no balance without the PIN
      `00:20:00:80:${hex(Uint8Array.of(verify.length))}:${hex(verify)}`,
      '80:30:00:00:00',
      // Short: the 577-byte answer comes in 256-byte parts behind 61xx, which OpenSC follows with
      // GET RESPONSE itself (it sends extended APDUs only to cards its drivers know).
      `80:40:00:00:${hex(Uint8Array.of(pay.length))}:${hex(pay)}:00`,
    ];
    const { stdout } = await run(OPENSC_TOOL, ['--reader', READER, ...apdus.flatMap((a) => ['--send-apdu', a])]);
    const [selected, refused, verified, listed, paid] = openscResponses(stdout);
    expect(selected!.sw).toBe(0x9000);
    expect(decodeFci(selected!.data)).toMatchObject({ suite: 'ristretto255-sha512', version: 2 });
    expect(refused!.sw).toBe(0x6982);
    expect(verified!.sw).toBe(0x9000);
    expect(decodeBalance(listed!.data).map((e) => e.count)).toEqual([2, 1]);
    expect(paid!.sw).toBe(0x9000);
    const group = getGroup('ristretto255-sha512');
    const transcripts = paymentTranscripts(context, decodePayResponse(group, paid!.data));
    expect(transcripts).toHaveLength(2);
    for (const t of transcripts) expect(verifyTranscript(group, bank.key(200).key, t)).toBe(true);
  });

  it('stops cleanly on SIGTERM, and the image file kept the payment', async () => {
    server!.child.kill('SIGTERM');
    expect(await exitOf(server!), server!.stderr()).toBe(0);
    const serverLog = server!.stderr();
    const { stdout } = await run('node', [...CLI, '--json', 'card', 'info', file]);
    const info = JSON.parse(stdout);
    expect(info.denominations.map((d: { value: number; count: number }) => [d.value, d.count])).toEqual([[50, 1]]);
    expect(info.totals).toEqual({ EUR: 50 });
    expect(info.paymentsLogged).toBe(1);
    // The --trace log showed the PIN command, but not the PIN.
    expect(serverLog).toContain('00200080 [redacted]');
    expect(serverLog).not.toContain(Buffer.from(PIN).toString('hex'));
    expect(serverLog).toMatch(/mulq 4/); // the payment's two multiplications per coin
  });
});

describe.runIf(available)('modp2048-256 through pcscd: 256-byte elements in short and extended APDUs', () => {
  it('withdraws and pays five coins both ways, and the answers verify', async () => {
    const { createVolatileCard, serveOverVpcd } = await import('../../firmware-sim/index.js');
    const group = getGroup('modp2048-256');
    const card = await createVolatileCard({ suite: 'modp2048-256', pin: PIN, puk: PUK, noPinLimit: 10_000 });
    await waitUntilEmpty(READER); // the CLI's card of the tests above has left the slot
    const served = await serveOverVpcd(card, { port: 35964 });
    let link: PlainPcscCard | undefined;
    try {
      await vpcdTookCard(served, 35964);
      link = await connectPlain(READER);
      await select(link);
      await verifyPin(link);
      const modpBank = new TestBank('modp2048-256');
      await modpBank.open(link); // a 256-byte I, t and s: 545 bytes, through 61xx
      for (let i = 0; i < 10; i++) await modpBank.withdraw(link, 10); // 1,091-byte WITHDRAW BEGIN: extended Lc
      const { pay } = await import('./helpers.js');
      for (const extended of [false, true]) {
        const context = paymentContext('modp-shop');
        const r = await pay(link, group, context, 50, [modpBank.key(10).key.keyId], { extended });
        expect(r.sw).toBe(0x9000);
        expect(r.paid).toHaveLength(5);
        for (const t of paymentTranscripts(context, r.paid)) expect(verifyTranscript(group, modpBank.key(10).key, t)).toBe(true);
      }
      await verifyPin(link);
      expect(await balance(link)).toEqual([]);
    } finally {
      await link?.close();
      await served.close();
      await waitUntilEmpty(READER);
    }
  });
});
