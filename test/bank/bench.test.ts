/**
 * `npm run bench -- --only bank --quick --json` in its smallest configuration, so the bank's
 * benchmark cannot rot: every figure is measured (or null with a reason when PostgreSQL is absent
 * outside CI), every deposit was credited (the bench checks each result and the audit), and the
 * storage figure covers exactly ECASH_BENCH_DEPOSITS coins. No figure is judged for speed here.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { postgresUrl, requireService } from '../helpers/env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const DEPOSITS = 120;

it('prints the bank figures as one JSON object', { timeout: 180_000 }, async () => {
  const withPostgres = requireService(postgresUrl() !== undefined, 'PostgreSQL (ECASH_TEST_PG_URL)');
  const env: NodeJS.ProcessEnv = { ...process.env, ECASH_BENCH_DEPOSITS: String(DEPOSITS) };
  // The bench prefers ECASH_BENCH_PG_URL; here it must use the test database or none.
  delete env.ECASH_BENCH_PG_URL;
  if (!withPostgres) delete env.ECASH_TEST_PG_URL;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'bench/main.ts', '--only', 'bank', '--quick', '--json'],
    {
      cwd: root,
      env,
      maxBuffer: 1 << 20,
    },
  );
  const f = JSON.parse(stdout) as Record<string, unknown>;
  expect(f.bank_error).toBeUndefined();
  for (const name of [
    'withdraw_coins_per_s',
    'withdraw_with_card_math_coins_per_s',
    'withdraw_bank_main_thread_us_per_coin',
    'withdraw_service_cpu_us_per_coin',
    'withdraw_service_wall_us_per_coin',
    'deposit_parse_cpu_us_per_coin',
    'deposit_batch_verify_cpu_us_per_coin',
    'fsync_ms',
    'bench_mint_coins_per_s',
  ]) {
    expect(f[name], name).toBeGreaterThan(0);
  }
  for (const db of withPostgres ? ['sqlite', 'postgres'] : ['sqlite']) {
    expect(f[`deposit_coins_per_s_${db}`], db).toBeGreaterThan(0);
    expect(f[`deposit_bytes_per_coin_${db}`], db).toBeGreaterThan(0);
    expect(f[`deposit_bytes_${db}_deposits`], db).toBe(DEPOSITS);
    expect((f[`deposit_bytes_per_coin_${db}_by_table`] as Record<string, number>).spent_coins, db).toBeGreaterThan(0);
  }
  if (withPostgres) expect(f.withdraw_coins_per_s_postgres).toBeGreaterThan(0);
  if (!withPostgres) {
    for (const name of ['withdraw_coins_per_s_postgres', 'deposit_coins_per_s_postgres', 'deposit_bytes_per_coin_postgres']) {
      expect(f[name], name).toBeNull();
      expect(f[`${name}_reason`], name).toMatch(/PostgreSQL/);
    }
  }
});
