/**
 * The performance targets (issue 15) side by side, from the figures of one `npm run bench`: each
 * figure per suite on the reference arithmetic and on the installed backend, its target and
 * whether it is met, judged on what the bank runs (the backend where there is one). A figure that
 * misses says what limits it on this machine, from the run's own measurements and, for the core
 * steps, a CPU profile of the step (bench/profile.ts). docs/bank-bench.md explains the table.
 */
import { availableParallelism } from 'node:os';
import { DEFAULT_SUITE, type SuiteId } from '../core/index.js';
import type { Figures, FigureValue } from './harness.js';

interface Target {
  figure: string;
  suite: SuiteId;
  /** 'max': the figure must be at most `target` (a time, a ratio, bytes); 'min': at least. */
  bound: 'max' | 'min';
  target: number;
  /** The figure when the issue was opened. */
  before: number;
  /** The figure's value on the reference and on the backend, with the number of runs behind each median. */
  read(all: Figures, suite: Figures | undefined): { reference?: number | null; native?: number | null; runs?: number };
  /** What limits the figure on this machine, from this run's figures. */
  limit(all: Figures, suite: Figures | undefined): string;
}

const num = (v: FigureValue | undefined): number | null => (typeof v === 'number' ? v : null);
const sub = (v: FigureValue | undefined): Figures | undefined => (typeof v === 'object' && v !== null ? v : undefined);
/** A figure of the run's own backend (native) column and, when the run is on the reference, of the reference column. */
const onRunBackend = (all: Figures, name: string, runs: number | null) => {
  const backend = String(sub(all.group_backends)?.[DEFAULT_SUITE] ?? 'reference');
  const v = all[name] === undefined ? undefined : num(all[name]);
  const side = backend.startsWith('reference') ? { reference: v } : { native: v };
  return { ...side, ...(runs === null ? {} : { runs }) };
};
const bankRuns = (all: Figures): number | null => num(all.bank_runs);
/** The most a process using `cpuUs` of CPU per coin can do on this machine's cores, were they its alone. */
const ceiling = (cpuUs: FigureValue | undefined): string => {
  const cpu = num(cpuUs);
  const cores = availableParallelism();
  return cpu === null || cpu <= 0 ? '' : `: at most ${Math.round((cores * 1e6) / cpu)} coins/s on ${cores} idle cores`;
};

function profileOf(suite: Figures | undefined, step: string): string {
  const p = sub(sub(sub(suite?.steps)?.profiles)?.[step]);
  return p === undefined ? '' : ` Profile of ${step} (${p.sampled_ms} ms sampled): ${p.top}.`;
}

/** The backend's figure of a core step, and the reference's beside it. */
function stepFigures(suite: Figures | undefined, step: string) {
  const steps = sub(suite?.steps);
  if (steps === undefined) return {};
  const ref = num(sub(steps.reference)?.[step]);
  const nativeName = Object.keys(steps).find(
    (k) => k !== 'reference' && typeof steps[k] === 'object' && !k.startsWith('speedup') && k !== 'profiles',
  );
  const runs = num(steps.runs);
  return {
    reference: ref,
    ...(nativeName === undefined ? {} : { native: num(sub(steps[nativeName])?.[step]) }),
    ...(runs === null ? {} : { runs }),
  };
}

function coreRatio(suite: Figures | undefined) {
  if (suite === undefined) return {};
  const ref = sub(suite.reference);
  const runs = num(suite.runs);
  const onBackend = !String(suite.backend ?? 'reference').startsWith('reference');
  return {
    reference: num((onBackend ? ref : suite)?.exp_vs_native_ratio),
    ...(onBackend ? { native: num(suite.exp_vs_native_ratio) } : {}),
    ...(runs === null ? {} : { runs }),
  };
}

const deposit = (db: 'sqlite' | 'postgres', target: number, before: number): Target => ({
  figure: `deposit_coins_per_s_${db}`,
  suite: DEFAULT_SUITE,
  bound: 'min',
  target,
  before,
  read: (all) => onRunBackend(all, `deposit_coins_per_s_${db}`, bankRuns(all)),
  limit: (all) => {
    return (
      `CPU: the bench's process used ${all[`deposit_${db}_process_cpu_us_per_coin`]} µs per coin${ceiling(all[`deposit_${db}_process_cpu_us_per_coin`])}; ` +
      `of it a deposit check is ${all.deposit_parse_cpu_us_per_coin} µs parsing + ${all.deposit_batch_verify_cpu_us_per_coin} µs batch verification in a worker thread, ` +
      `the main thread ${all[`deposit_${db}_bank_main_thread_us_per_coin`]} µs (${all[`deposit_${db}_bank_main_thread_busy`]} busy). ` +
      `The process had ${all[`deposit_${db}_process_cores`]} cores (machine ${all[`deposit_${db}_machine_cpu_busy`]} busy); ` +
      `load average ${all.bank_bench_load_avg_1m} when the bank module began.`
    );
  },
});

const withdraw = (sfx: '' | '_postgres', target: number, before: number): Target => ({
  figure: `withdraw_coins_per_s${sfx}`,
  suite: DEFAULT_SUITE,
  bound: 'min',
  target,
  before,
  read: (all) => onRunBackend(all, `withdraw_coins_per_s${sfx}`, bankRuns(all)),
  limit: (all) => {
    return (
      `CPU: the bench's process (bank and its 32 clients) used ${all[`withdraw_process_cpu_us_per_coin${sfx}`]} µs per coin${ceiling(all[`withdraw_process_cpu_us_per_coin${sfx}`])}; ` +
      `it had ${all[`withdraw_process_cores${sfx}`]} cores ` +
      `(machine ${all[`withdraw_machine_cpu_busy${sfx}`]} busy); the bank's main thread ${all[`withdraw_bank_main_thread_us_per_coin${sfx}`]} µs ` +
      `per coin, ${all[`withdraw_bank_main_thread_busy${sfx}`]} busy; the service alone ${all[`withdraw_service_cpu_us_per_coin${sfx}`]} µs.`
    );
  },
});

const bytes = (db: 'sqlite' | 'postgres', target: number, before: number): Target => ({
  figure: `deposit_bytes_per_coin_${db}`,
  suite: DEFAULT_SUITE,
  bound: 'max',
  target,
  before,
  read: (all) => onRunBackend(all, `deposit_bytes_per_coin_${db}`, null),
  limit: (all) => `growth by table: ${JSON.stringify(all[`deposit_bytes_per_coin_${db}_by_table`] ?? null)}`,
});

const expRatio = (suite: SuiteId, target: number, before: number): Target => ({
  figure: 'exp_vs_native_ratio',
  suite,
  bound: 'max',
  target,
  before,
  read: (_, s) => coreRatio(s),
  limit: (_, s) => `one exponentiation ${s?.exp_us} µs against ${s?.native_exp} ${s?.native_exp_us} µs.${profileOf(s, 'exp_var_us')}`,
});

/** parse_transcript_us of `suite`; `cost` says what a parse is made of in that suite. */
const parse = (suite: SuiteId, target: number, before: number, cost: (s: Figures | undefined) => string): Target => ({
  figure: 'parse_transcript_us',
  suite,
  bound: 'max',
  target,
  before,
  read: (_, s) => stepFigures(s, 'parse_transcript_us'),
  limit: (_, s) => `${cost(s)}${profileOf(s, 'parse_transcript_us')}`,
});

export const TARGETS: readonly Target[] = [
  expRatio('ristretto255-sha512', 4, 26),
  expRatio('modp2048-256', 1.5, 6.5),
  parse(
    'ristretto255-sha512',
    60,
    350,
    (s) => `five strict element decodes (${JSON.stringify(decodeUs(s))} µs each) and the rest of the format.`,
  ),
  parse(
    'modp2048-256',
    1000,
    7000,
    (s) =>
      `five membership checks y^q = 1, one full exponentiation each (decode ${JSON.stringify(decodeUs(s))} µs; ` +
      `${s?.native_exp} alone takes ${s?.native_exp_us} µs, so five cost at least ${round1(5 * (num(s?.native_exp_us) ?? Number.NaN))} µs). ` +
      'A batched check is not sound in this group: p − 1 has the small factors 2, 7, 13, 2549, 142031 beside q (docs/protocol.md, section 1).',
  ),
  deposit('sqlite', 5000, 2118),
  deposit('postgres', 4000, 2129),
  withdraw('', 3000, 1061),
  withdraw('_postgres', 2000, 525),
  bytes('sqlite', 512, 478),
  bytes('postgres', 600, 548),
];

const round1 = (x: number) => Math.round(x * 10) / 10;

function decodeUs(s: Figures | undefined): Figures {
  const steps = sub(s?.steps);
  const out: Figures = {};
  for (const [name, v] of Object.entries(steps ?? {})) {
    const d = num(sub(v)?.decode_us);
    if (d !== null) out[name] = d;
  }
  return out;
}

export interface TargetRow {
  figure: string;
  suite: SuiteId;
  before: number;
  reference: number | null;
  native: number | null;
  target: string;
  /** Judged on the backend's value where there is one, else the reference's; null if not measured. */
  met: boolean | null;
  runs: number | null;
  limit?: string;
}

/** The rows as figures, for --json: keyed `figure suite`. */
export function targetFigures(rows: readonly TargetRow[]): Figures {
  const out: Figures = {};
  for (const { met, ...r } of rows) out[`${r.figure} ${r.suite}`] = { ...r, met: met === null ? 'not measured' : met ? 'met' : 'not met' };
  return out;
}

/** The table's rows from one run's figures (every module's, merged). */
export function targetRows(all: Figures): TargetRow[] {
  return TARGETS.map((t) => {
    const suite = sub(all[t.suite]);
    const v = t.read(all, suite);
    const reference = v.reference ?? null;
    const native = v.native ?? null;
    const judged = native ?? reference;
    const met = judged === null ? null : t.bound === 'max' ? judged <= t.target : judged >= t.target;
    const row: TargetRow = {
      figure: t.figure,
      suite: t.suite,
      before: t.before,
      reference,
      native,
      target: `${t.bound === 'max' ? '≤' : '≥'} ${t.target}`,
      met,
      runs: v.runs ?? null,
    };
    if (met === false) row.limit = t.limit(all, suite);
    if (met === null) row.limit = String(all[`${t.figure}_reason`] ?? 'not measured in this run (its module did not run or failed)');
    return row;
  });
}

/** The table as text lines: one row per target, before what limits each missed one. */
export function formatTargets(rows: readonly TargetRow[], backends: Figures | undefined): string[] {
  const cell = (v: number | null) => (v === null ? '—' : String(v));
  const header = ['figure', 'suite', 'before', 'reference', 'backend', 'target', 'met', 'median of'];
  const body = rows.map((r) => [
    r.figure,
    r.suite,
    String(r.before),
    cell(r.reference),
    cell(r.native),
    r.target,
    r.met === null ? 'not measured' : r.met ? 'met' : 'NOT MET',
    r.runs === null ? '—' : `${r.runs} runs`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const out = [
    `targets (backend = ${JSON.stringify(backends ?? {})}; a figure of a module this run skipped is —)`,
    line(header),
    ...body.map(line),
  ];
  for (const r of rows)
    if (r.limit !== undefined) out.push(`  ${r.figure} (${r.suite}): ${r.met === null ? 'not measured' : 'not met'}: ${r.limit}`);
  return out;
}
