/**
 * The targets table of `npm run bench` (bench/targets.ts) read from a run's figures: each target
 * judged on the backend's value where there is one, the reference's otherwise, on the right side
 * of its bound; a missed target says what limits it; a figure its module did not measure is
 * "not measured", never met. Figures here are made up: no speed is judged (that is the bench's job).
 */
import { describe, expect, it } from 'vitest';
import type { Figures } from '../../bench/harness.js';
import { formatTargets, TARGETS, targetFigures, targetRows } from '../../bench/targets.js';

const backends = { 'ristretto255-sha512': 'libsodium', 'p256-uprove': 'reference', 'modp2048-256': 'openssl' };

function coreSuite(ratio: number, refRatio: number, parse: number, refParse: number, backend: string): Figures {
  return {
    backend,
    runs: 5,
    exp_us: 100,
    native_exp: 'OpenSSL',
    native_exp_us: 50,
    exp_vs_native_ratio: ratio,
    reference: { exp_vs_native_ratio: refRatio },
    steps: {
      [backend]: { parse_transcript_us: parse, decode_us: 5 },
      reference: { parse_transcript_us: refParse, decode_us: 80 },
      [`speedup_${backend}_over_reference`]: { parse_transcript_us: refParse / parse },
      runs: 7,
      profiles: { parse_transcript_us: { sampled_ms: 300, top: '90.0%: computeSecret' } },
    },
  };
}

const row = (rows: ReturnType<typeof targetRows>, figure: string, suite = 'ristretto255-sha512') =>
  rows.find((r) => r.figure === figure && r.suite === suite)!;

describe('the targets table', () => {
  const all: Figures = {
    group_backends: backends,
    'ristretto255-sha512': coreSuite(1.5, 25, 40, 900, 'libsodium'),
    'modp2048-256': coreSuite(1.1, 8, 2500, 20000, 'openssl'),
    bank_runs: 3,
    deposit_coins_per_s_sqlite: 5001,
    deposit_sqlite_process_cpu_us_per_coin: 390,
    deposit_coins_per_s_postgres: 3999,
    deposit_postgres_process_cpu_us_per_coin: 500,
    withdraw_coins_per_s: 1000,
    deposit_bytes_per_coin_sqlite: 512,
    deposit_bytes_per_coin_postgres: null,
    deposit_bytes_per_coin_postgres_reason: 'no PostgreSQL',
  };
  const rows = targetRows(all);

  it('has one row per target, with the backend and the reference side by side', () => {
    expect(rows).toHaveLength(TARGETS.length);
    expect(row(rows, 'exp_vs_native_ratio')).toMatchObject({ reference: 25, native: 1.5, met: true, runs: 5 });
    expect(row(rows, 'parse_transcript_us')).toMatchObject({ reference: 900, native: 40, met: true, runs: 7 });
  });

  it('judges each bound at its edge and on the backend, not the reference', () => {
    expect(row(rows, 'deposit_coins_per_s_sqlite')).toMatchObject({ native: 5001, met: true, runs: 3 });
    expect(row(rows, 'deposit_coins_per_s_postgres')).toMatchObject({ native: 3999, met: false });
    expect(row(rows, 'deposit_bytes_per_coin_sqlite')).toMatchObject({ native: 512, met: true });
    expect(row(rows, 'exp_vs_native_ratio', 'modp2048-256').met).toBe(true); // 1.1 ≤ 1.5 though the reference's 8 is not
  });

  it('says what limits a missed target, with the profile of the step', () => {
    const parse = row(rows, 'parse_transcript_us', 'modp2048-256');
    expect(parse.met).toBe(false);
    expect(parse.limit).toContain('membership');
    expect(parse.limit).toContain('90.0%: computeSecret');
    expect(row(rows, 'deposit_coins_per_s_postgres').limit).toContain('500 µs per coin');
    expect(row(rows, 'exp_vs_native_ratio').limit).toBeUndefined();
  });

  it('calls a figure this run did not measure "not measured", with the reason where there is one', () => {
    expect(row(rows, 'withdraw_coins_per_s_postgres')).toMatchObject({ native: null, met: null });
    expect(row(rows, 'deposit_bytes_per_coin_postgres')).toMatchObject({ met: null, limit: 'no PostgreSQL' });
    expect((targetFigures(rows)['deposit_bytes_per_coin_postgres ristretto255-sha512'] as Figures).met).toBe('not measured');
  });

  it('puts a reference-only run in the reference column', () => {
    const ref = targetRows({ group_backends: { ...backends, 'ristretto255-sha512': 'reference' }, deposit_coins_per_s_sqlite: 2000 });
    expect(row(ref, 'deposit_coins_per_s_sqlite')).toMatchObject({ reference: 2000, native: null, met: false });
  });

  it('prints a header, one line per target and a line per miss', () => {
    const lines = formatTargets(rows, all.group_backends as Figures);
    expect(lines[1]).toMatch(/^figure\s+suite\s+before\s+reference\s+backend\s+target\s+met/);
    expect(lines.filter((l) => / NOT MET /.test(l))).toHaveLength(rows.filter((r) => r.met === false).length);
    expect(lines.some((l) => l.startsWith('  parse_transcript_us (modp2048-256): not met:'))).toBe(true);
  });
});
