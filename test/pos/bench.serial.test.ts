/**
 * The POS benchmark in its quick mode (serial: it serves a card into pcscd's vpcd slot), so it
 * cannot rot: both tap figures are printed under their documented names (tap_5coin_*_ms). Speed is the benchmark's
 * business, not this test's.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { pcscdAvailable, requireService } from '../helpers/env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('prints tap_5coin_virtual_ms and tap_5coin_pcsc_ms', async () => {
  // Ended (with its stderr in the error) before the test's timeout: a bench left running would keep
  // its card in pcscd's vpcd slot for the tests after this one.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'bench/main.ts', '--only', 'pos', '--quick', '--json'],
    { cwd: root, maxBuffer: 1 << 20, timeout: 110_000, killSignal: 'SIGKILL' },
  );
  const figures = JSON.parse(stdout) as Record<string, unknown>;
  expect(figures.pos_error).toBeUndefined();
  expect(figures.tap_5coin_virtual_ms).toBeGreaterThan(0);
  if (requireService(pcscdAvailable(), 'pcscd (with vsmartcard-vpcd)')) expect(figures.tap_5coin_pcsc_ms).toBeGreaterThan(0);
  else expect(figures.tap_5coin_pcsc_ms_reason).toBeTruthy();
}, 120_000);
