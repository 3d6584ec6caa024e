/**
 * `npm run fuzz`: the fuzz suites of test/fuzz/ run for a time budget instead of their bounded
 * `npm test` size. The budget is FUZZ_MINUTES (or `-- --minutes N`; default 2), shared by the fuzz
 * files in proportion to the square root of their number of targets (tests), so the 60-odd cheap
 * decoders get more than any one stateful target but do not crowd out the card and the HTTP APIs;
 * within a file each target gets an equal share. Files run one at a time. FUZZ_SEED replays one
 * reported counterexample. Prints the cases run and accepted per target and exits non-zero on any
 * failure (the failing test prints fast-check's counterexample).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TargetFigures } from '../test/fuzz/harness.js';

/** Set-up and tear-down of the fuzz files (fixtures, servers) outside the targets' budgets. */
const OVERHEAD_MS = 60_000;
const MIN_TARGET_MS = 1_000;

function minutes(): number {
  const i = process.argv.indexOf('--minutes');
  const raw = i >= 0 ? process.argv[i + 1] : process.env.FUZZ_MINUTES;
  const m = raw === undefined ? 2 : Number(raw);
  if (!Number.isFinite(m) || m <= 0) {
    console.error(`fuzz: FUZZ_MINUTES (or --minutes) must be a positive number of minutes, got ${raw}`);
    process.exit(2);
  }
  return m;
}

const vitest = join('node_modules', '.bin', 'vitest');
const FILES = ['test/fuzz/', '--project', 'unit'];

/** Fuzz targets per file (the fixed regression cases are not targets). */
function targetsPerFile(): Map<string, number> {
  const listed = spawnSync(vitest, ['list', ...FILES, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (listed.status !== 0) {
    console.error('fuzz: could not list the fuzz targets');
    process.exit(listed.status ?? 1);
  }
  const counts = new Map<string, number>();
  for (const t of JSON.parse(listed.stdout) as { file: string }[]) {
    const file = basename(t.file);
    if (file !== 'regressions.test.ts') counts.set(file, (counts.get(file) ?? 0) + 1);
  }
  return counts;
}

const budgetMs = minutes() * 60_000;
const counts = targetsPerFile();
const weights = [...counts.values()].reduce((w, n) => w + Math.sqrt(n), 0);
const perTarget: Record<string, number> = {};
for (const [file, n] of counts)
  perTarget[file] = Math.max(MIN_TARGET_MS, Math.floor(((budgetMs - OVERHEAD_MS) * Math.sqrt(n)) / weights / n));
console.log(`fuzz: ${minutes()} min over ${counts.size} files:`);
for (const [file, n] of counts) console.log(`  ${file}: ${n} target(s), ${(perTarget[file]! / 1000).toFixed(1)} s each`);

const dir = mkdtempSync(join(tmpdir(), 'ecash-fuzz-'));
const report = join(dir, 'figures.jsonl');

const run = spawnSync(vitest, ['run', ...FILES, '--no-file-parallelism'], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_TARGET_MS: JSON.stringify(perTarget), FUZZ_REPORT: report },
});

const figures: TargetFigures[] = existsSync(report)
  ? readFileSync(report, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as TargetFigures)
  : [];
rmSync(dir, { recursive: true, force: true });
const width = Math.max(...figures.map((f) => f.target.length), 6);
console.log(`\n${'target'.padEnd(width)}  ${'cases'.padStart(9)}  ${'accepted'.padStart(9)}  ${'seconds'.padStart(7)}  result`);
for (const f of figures) {
  console.log(
    `${f.target.padEnd(width)}  ${String(f.runs).padStart(9)}  ${String(f.accepted).padStart(9)}  ${(f.ms / 1000).toFixed(1).padStart(7)}  ${f.failed ? 'FAILED' : 'ok'}`,
  );
}
const total = figures.reduce((n, f) => n + f.runs, 0);
const failed = figures.filter((f) => f.failed).length;
console.log(`\n${figures.length} targets, ${total} cases, ${failed} failed; vitest exit ${run.status}`);
process.exit(run.status ?? 1);
