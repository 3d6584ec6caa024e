/**
 * The card holder's PIN commands through the machine's pcscd: an emulated card served over vpcd
 * (`Virtual PCD 00 00`) and `ecash card limit`, `card pin change` and `card pin unblock` run as
 * shipped against it, as a holder with a real reader would. The third wrong PIN blocks the card
 * and says so; the PUK unblocks it. The slot is empty again after the test, passed or failed.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVolatileCard, type VpcdConnection } from '../../firmware-sim/index.js';
import { EcashCardClient, PcscTransport } from '../../reader-bridge/index.js';
import { readerState } from '../reader-bridge/conformance.js';
import { serveCard, unserveCard } from '../reader-bridge/pcscd.js';
import { endStartedProcesses, runCli } from '../helpers/cli.js';
import { pcscdAvailable, requireService } from '../helpers/env.js';
import { digitSecretsIn } from '../helpers/secrets.js';
import { PIN, PUK } from '../helpers/world.js';

const READER = 'Virtual PCD 00 00';
const VPCD_PORT = 35963;
const NEW_PIN = '481516';

describe.runIf(requireService(pcscdAvailable(), 'pcscd (with vsmartcard-vpcd)'))('ecash card pin and limit through pcscd', () => {
  let pcsc: PcscTransport;
  let served: VpcdConnection | undefined;

  beforeAll(() => {
    pcsc = new PcscTransport();
  });

  afterEach(async () => {
    try {
      await endStartedProcesses();
    } finally {
      await unserveCard(served, pcsc, READER);
      served = undefined;
    }
  });

  const card = (args: string[], env: Record<string, string>) =>
    runCli(['--json', 'card', ...args, '--reader', READER], { ECASH_PIN: '', ECASH_NEW_PIN: '', ECASH_PUK: '', ...env });

  it('sets the limit, blocks at the third wrong PIN saying how to unblock, unblocks with the PUK', async () => {
    await readerState(pcsc, READER, false);
    served = await serveCard(
      pcsc,
      READER,
      VPCD_PORT,
      await createVolatileCard({ suite: 'ristretto255-sha512', pin: PIN, puk: PUK, noPinLimit: 0 }),
    );

    const limit = await card(['limit', '2000'], { ECASH_PIN: PIN });
    expect(limit.code, limit.stderr).toBe(0);
    expect(limit.stdout).toContain('"noPinLimit": 2000');

    const wrong = [];
    for (let i = 0; i < 3; i++) wrong.push(await card(['pin', 'change'], { ECASH_PIN: '0000', ECASH_NEW_PIN: NEW_PIN }));
    expect(wrong.map((r) => (JSON.parse(r.stdout) as { error: { code: string } }).error.code)).toEqual([
      'pin-wrong',
      'pin-wrong',
      'pin-blocked',
    ]);
    expect(wrong[2]!.stderr).toContain('the PIN is now blocked');
    expect(wrong[2]!.stderr).toContain('ecash card pin unblock');

    const unblocked = await card(['pin', 'unblock'], { ECASH_PUK: PUK, ECASH_NEW_PIN: NEW_PIN });
    expect(unblocked.code, unblocked.stderr).toBe(0);
    for (const r of [limit, ...wrong, unblocked]) expect(digitSecretsIn(r.stdout + r.stderr, [PIN, PUK, NEW_PIN])).toEqual([]);

    // The new PIN opens the card; its limit is the one set.
    const ch = await pcsc.connect(READER);
    try {
      const client = EcashCardClient.on(ch);
      await client.select();
      await client.verifyPin(NEW_PIN);
      expect(await client.pinState()).toEqual({ verified: true });
    } finally {
      await ch.disconnect('reset');
    }
  });
});
