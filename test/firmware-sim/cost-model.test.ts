/**
 * The cost model: what a command counts, what a chip profile makes of the counts, and a card
 * opened with a profile answering no sooner than the modelled time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLA_ECASH, ECASH_INS } from '../../wire/index.js';
import {
  CHIP_PROFILES,
  chipProfile,
  createCardImage,
  modelledMs,
  openCard,
  pricesFor,
  zeroCost,
  type CardExchange,
  type ChipProfile,
} from '../../firmware-sim/index.js';
import { PIN, PUK, select, send } from './helpers.js';

describe('cost model', () => {
  it('prices counts with a profile: fixed cost, link bytes, operations and memory writes', () => {
    const jcop4 = chipProfile('jcop4');
    const cost = { ...zeroCost(), scalarMul: 10, scalarAdd: 10, hash: 6, nvmWrites: 20, nvmBytesWritten: 1600 };
    const p = pricesFor(jcop4, 'ristretto255-sha512');
    expect(modelledMs(cost, 1000, p)).toBeCloseTo(
      p.command + 1000 * p.ioByte + 10 * p.scalarMul + 10 * p.scalarAdd + 6 * p.hash + 20 * p.nvmWrite + 1600 * p.nvmByte,
      6,
    );
    // A multi-exponentiation is priced as one exponentiation and one multiplication per base.
    expect(modelledMs({ ...zeroCost(), multiExp: 1, multiExpBases: 2 }, 0, p)).toBeCloseTo(p.command + 2 * p.exp + 2 * p.groupMul, 6);
    expect(pricesFor(jcop4, 'modp2048-256').exp).toBeGreaterThan(p.exp);
    expect(() => chipProfile('z80')).toThrow(expect.objectContaining({ code: 'unknown-chip-profile' }));
    for (const profile of Object.values(CHIP_PROFILES)) expect(profile.ec.scalarMul).toBeGreaterThan(0);
  });

  it('delays each answer of a card opened with a profile to the modelled time, and reports it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecash-cost-'));
    try {
      const file = join(dir, 'slow.card');
      await createCardImage(file, { pin: PIN, puk: PUK });
      const slow: ChipProfile = { ...CHIP_PROFILES.jcop4!, id: 'test-slow', ec: { ...CHIP_PROFILES.jcop4!.ec, command: 40, ioByte: 0 } };
      const card = openCard(file, { profile: slow });
      const seen: CardExchange[] = [];
      card.onExchange((e) => seen.push(e));
      card.powerOn();
      const started = performance.now();
      await select(card);
      const waited = performance.now() - started;
      expect(seen[0]!.modelledMs).toBeCloseTo(40, 3);
      expect(waited).toBeGreaterThanOrEqual(39); // never answers before the chip would
      const cost = await send(card, CLA_ECASH, ECASH_INS.GET_COST);
      expect(cost.sw).toBe(0x9000);
      card.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
