/**
 * Shared benchmark plumbing. Figures are medians of several runs (the machines are shared and
 * noisy). A figure that cannot be measured here is null with a `<name>_reason` beside it.
 */
export type FigureValue = number | string | null | Figures;
export interface Figures {
  [name: string]: FigureValue;
}

export interface BenchContext {
  /** Fewer repetitions (used by smoke tests of the benchmarks themselves). */
  quick: boolean;
  /** Progress and human-readable lines (stderr under --json). */
  log(line: string): void;
}

export interface BenchModule {
  name: string;
  run(ctx: BenchContext): Promise<Figures>;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `runs` times (after `warmup` untimed runs) and returns the median time in ms. */
export async function medianMs(fn: () => unknown | Promise<unknown>, runs: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** A figure that could not be measured, with the reason. */
export function unmeasured(name: string, reason: string): Figures {
  return { [name]: null, [`${name}_reason`]: reason };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
