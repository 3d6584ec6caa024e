/**
 * Images of format 1 (before the cumulative no-PIN amount): `fixtures/format-1.card` was made by
 * the program of that format — 33 coins of 1, one each of 100, 20 (since paid) and 5, a no-PIN
 * limit of 300, one wrong PIN try. `ecash card info` shows it as it will be without writing it;
 * opening it upgrades the file in place, keeping every coin, secret, record and try counter, and
 * the largest transaction (a 32-coin payment) still fits the journal the upgrade shrank.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getGroup, toHex, verifyTranscript } from '../../core/index.js';
import { CLA_ECASH, decodeLog, ECASH_INS, paymentTranscripts } from '../../wire/index.js';
import { cardOnDevice, inspectCardImage, openCard, RamNvm } from '../../firmware-sim/index.js';
import { balance, expectOk, pay, paymentContext, select, send, TestBank, verifyPin } from './helpers.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'format-1.card');
const dir = mkdtempSync(join(tmpdir(), 'ecash-upgrade-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const formatOf = (file: string) => readFileSync(file).readUInt16BE(8);

/** The fixture's bank: the same seeded keys, made in the same order. */
function fixtureBank(): TestBank {
  const bank = new TestBank('ristretto255-sha512');
  for (const v of [1, 100, 20, 5]) bank.key(v);
  return bank;
}

describe('card image format 1', () => {
  it('is shown by card info as upgraded, without writing the file', () => {
    const file = join(dir, 'info.card');
    copyFileSync(FIXTURE, file);
    const before = readFileSync(file);
    const info = inspectCardImage(file);
    expect(info).toMatchObject({
      personalised: true,
      totals: { EUR: 33 + 100 + 5 },
      pinTriesLeft: 2,
      noPinLimit: 300,
      noPinSpent: 0,
      paymentsLogged: 1,
      coinSlots: 81,
    });
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('is refused by a card on the raw bytes (only openCard upgrades it)', () => {
    expect(() => cardOnDevice(new RamNvm(readFileSync(FIXTURE)))).toThrow(expect.objectContaining({ code: 'card-image-old-format' }));
  });

  it('is upgraded in place on open and keeps every coin, its log and its tries', async () => {
    const file = join(dir, 'open.card');
    copyFileSync(FIXTURE, file);
    expect(formatOf(file)).toBe(1);
    const card = openCard(file);
    expect(formatOf(file)).toBe(2);
    expect(existsSync(`${file}.upgrade`)).toBe(false);
    try {
      card.powerOn();
      await select(card);
      expect((await verifyPin(card)).sw).toBe(0x9000);
      const bank = fixtureBank();
      expect((await balance(card)).map((e) => [e.value, e.count])).toEqual([
        [1, 33],
        [100, 1],
        [5, 1],
      ]);
      // The largest transaction there is: 32 coins in one payment, with the PIN.
      const group = getGroup('ristretto255-sha512');
      const ctx = paymentContext('after-upgrade');
      const r = await pay(card, group, ctx, 32, [bank.key(1).key.keyId], { extended: true });
      expect(r.sw).toBe(0x9000);
      for (const t of paymentTranscripts(ctx, r.paid)) expect(verifyTranscript(group, bank.key(1).key, t)).toBe(true);
      expect((await verifyPin(card)).sw).toBe(0x9000);
      const log = decodeLog(await expectOk(send(card, CLA_ECASH, ECASH_INS.READ_LOG)));
      expect(log.map((e) => [e.merchantId, e.amount, e.coins])).toEqual([
        ['after-upgrade', 32, 32],
        ['before-upgrade', 20, 1],
      ]);
    } finally {
      card.close();
    }
    // Closed and opened again: already format 2, nothing to do.
    const bytes = readFileSync(file);
    openCard(file).close();
    expect(readFileSync(file).equals(bytes)).toBe(true);
    expect(inspectCardImage(file).totals).toEqual({ EUR: 1 + 100 + 5 });
    expect(toHex(readFileSync(file).subarray(0, 10))).toBe(toHex(Buffer.from('ECASHNVM\x00\x02', 'latin1')));
  });

  it('removes the copy an interrupted upgrade left beside the image', () => {
    const file = join(dir, 'interrupted.card');
    copyFileSync(FIXTURE, file);
    writeFileSync(`${file}.upgrade`, readFileSync(FIXTURE));
    openCard(file).close();
    expect(existsSync(`${file}.upgrade`)).toBe(false);
    expect(formatOf(file)).toBe(2);
  });
});
