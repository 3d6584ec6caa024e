/**
 * `npm run bench [-- --json] [--only NAME,…] [--quick] [--backend reference]`: runs every
 * component's benchmark and prints its figures (medians) and ratios, then the performance targets
 * side by side (bench/targets.ts); with --json, one JSON object
 * on stdout. The group backends (core/backends/) are installed first, as `ecash` does;
 * `--backend reference` keeps every suite on its reference arithmetic instead, for comparison.
 */
import { installGroupBackends } from '../core/backends/index.js';
import type { BenchContext, BenchModule, Figures } from './harness.js';
import { modules } from './modules.js';
import { formatTargets, targetFigures, targetRows } from './targets.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const onlyIdx = args.indexOf('--only');
const only = onlyIdx >= 0 ? (args[onlyIdx + 1] ?? '').split(',') : undefined;

const ctx: BenchContext = {
  quick,
  log: (line) => (json ? process.stderr : process.stdout).write(line + '\n'),
};

function merge(into: Figures, from: Figures): void {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (typeof v === 'object' && v !== null && typeof cur === 'object' && cur !== null) merge(cur, v);
    else into[k] = v;
  }
}

const backendIdx = args.indexOf('--backend');
if (backendIdx >= 0 && args[backendIdx + 1] === 'reference') process.env.ECASH_GROUP_BACKENDS = 'reference';
const figures: Figures = { group_backends: await installGroupBackends() };
ctx.log(`group backends: ${JSON.stringify(figures.group_backends)}`);
const selected: BenchModule[] = modules.filter((m) => only === undefined || only.includes(m.name));
for (const m of selected) {
  ctx.log(`== ${m.name}`);
  try {
    merge(figures, await m.run(ctx));
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    ctx.log(`   ${m.name} failed: ${reason}`);
    figures[`${m.name}_error`] = reason;
  }
}
// The targets side by side (bench/targets.ts), from the figures of this one run.
const rows = targetRows(figures);
figures.targets = targetFigures(rows);
ctx.log('');
for (const line of formatTargets(rows, figures.group_backends as Figures)) ctx.log(line);
if (json) process.stdout.write(JSON.stringify(figures, null, 2) + '\n');
else ctx.log('\n' + JSON.stringify(figures, null, 2));
// Benchmarks may leave servers or native handles behind; the figures are out, so end here.
process.exit(0);
