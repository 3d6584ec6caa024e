/**
 * `npm run bench -- --json` for the core module, in its quick mode: one JSON object on stdout
 * with the figure names README.md and docs/bank-bench.md use at the top level, every suite's figures under its id and the
 * targets table. No figure is
 * judged for speed here (that is the benchmark's job); the counts are exact.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { SUITE_IDS } from '../../core/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('prints the core figures as one JSON object', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'bench/main.ts', '--only', 'core', '--quick', '--json'],
    {
      cwd: root,
      maxBuffer: 1 << 20,
    },
  );
  const figures = JSON.parse(stdout) as Record<string, unknown>;
  expect(figures.core_error).toBeUndefined();
  for (const name of ['deposit_verify_coin_us', 'deposit_verify_batched_coin_us', 'native_exp_p256_ecdh_us', 'withdraw_sign_coins_per_s']) {
    expect(figures[name], name).toBeGreaterThan(0);
  }
  expect(figures.card_pay_group_exps).toBe(0);
  expect(figures.card_pay_scalar_muls).toBe(2);
  for (const suite of SUITE_IDS) {
    const f = figures[suite] as Record<string, unknown>;
    expect(f.card_pay_group_exps).toBe(0);
    expect(f.card_pay_scalar_adds).toBe(2);
    expect(f.deposit_batch_ratio).toBeGreaterThan(0);
    expect(f.deposit_verify_batched_coins_per_s_2threads).toBeGreaterThan(0);
    expect(f.exp_vs_native_ratio).toBeGreaterThan(0);
  }
  // The targets table (bench/targets.ts): the core's figures on both implementations, judged;
  // the bank's not measured by a core-only run.
  const targets = figures.targets as Record<string, Record<string, unknown>>;
  for (const suite of ['ristretto255-sha512', 'modp2048-256']) {
    for (const name of ['exp_vs_native_ratio', 'parse_transcript_us']) {
      const row = targets[`${name} ${suite}`]!;
      expect(row.reference, `${name} ${suite}`).toBeGreaterThan(0);
      expect(row.native, `${name} ${suite}`).toBeGreaterThan(0);
      expect(['met', 'not met']).toContain(row.met);
      if (row.met === 'not met') expect(row.limit).toContain('Profile of');
    }
  }
  expect(targets['deposit_coins_per_s_sqlite ristretto255-sha512']!.met).toBe('not measured');
  // A whole bench process (about 16 s of CPU): its wall time follows the load of the shared machine.
}, 180_000);
