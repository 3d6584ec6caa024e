/**
 * How the fuzz suites run: bounded (a few dozen cases per target, so `npm test` stays fast) or,
 * under `npm run fuzz` (scripts/fuzz.ts), for a time budget. The script sets FUZZ_TARGET_MS (a
 * JSON object: fuzz file name → milliseconds each of its targets may run) and FUZZ_REPORT (a file
 * where each target appends its figures); FUZZ_SEED replays a reported counterexample. A failure
 * is thrown with fast-check's report (seed, path, the shrunk counterexample) so it can be turned
 * into a fixed regression case.
 */
import { appendFileSync } from 'node:fs';
import { basename } from 'node:path';
import fc from 'fast-check';
import { isEcashError } from '../../core/index.js';

const TARGET_MS = JSON.parse(process.env.FUZZ_TARGET_MS ?? '{}') as Record<string, number>;
const REPORT = process.env.FUZZ_REPORT;
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** True under `npm run fuzz`: targets run for their time budget instead of a few cases. */
export const LONG_RUN = Object.keys(TARGET_MS).length > 0;

/** The vitest timeout for one target: its budget plus room to finish the case in flight. */
export const TARGET_TIMEOUT_MS = LONG_RUN ? Math.max(...Object.values(TARGET_MS)) + 120_000 : 60_000;

export interface TargetFigures {
  file: string;
  target: string;
  runs: number;
  /** Of those, inputs that decoded (or commands that succeeded): how deep the fuzzer got. */
  accepted: number;
  failed: boolean;
  ms: number;
}

function parameters<T>(file: string, boundedRuns: number): fc.Parameters<T> {
  const base: fc.Parameters<T> = SEED === undefined ? {} : { seed: SEED };
  const ms = TARGET_MS[basename(file)];
  if (ms === undefined) return { ...base, numRuns: boundedRuns };
  return { ...base, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: ms, markInterruptAsFailure: false };
}

/** Inputs accepted since the target started (decodesOrRefuses and `countAccepted` add to it). */
let accepted = 0;

/** Counts an input the component accepted (a decoded value, a 9000, a 2xx). */
export function countAccepted(): void {
  accepted++;
}

function record(file: string, target: string, details: fc.RunDetails<unknown>, ms: number): void {
  const figures: TargetFigures = {
    file: basename(file),
    target,
    runs: details.numRuns,
    accepted,
    failed: details.failed,
    ms: Math.round(ms),
  };
  if (REPORT !== undefined) appendFileSync(REPORT, JSON.stringify(figures) + '\n');
}

/** Checks `property`; records the number of cases run; throws fast-check's report on a failure. */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  file: string,
  target: string,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  boundedRuns: number,
): Promise<void> {
  const started = performance.now();
  accepted = 0;
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, parameters<Ts>(file, boundedRuns));
  record(file, target, details as fc.RunDetails<unknown>, performance.now() - started);
  if (details.failed) {
    const cause = details.errorInstance;
    throw new Error(`${target}: ${fc.defaultReportMessage(details)}\nFailure: ${describeThrown(cause)}`, { cause });
  }
}

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** What an input may do: decode (to something the caller checks) or be refused with a stable code. */
export function refusedCleanly(e: unknown): void {
  if (!isEcashError(e)) throw new Error(`refused with ${describeThrown(e)} instead of an EcashError`, { cause: e });
  if (!KEBAB.test(e.code)) throw new Error(`refused with the code ${JSON.stringify(e.code)}, which is not kebab-case`);
}

export function describeThrown(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Runs `decode`; it returns a value (checked by `check`) or throws an EcashError with a kebab-case code. */
export function decodesOrRefuses<T>(decode: () => T, check?: (value: T) => void): boolean {
  let value: T;
  try {
    value = decode();
  } catch (e) {
    refusedCleanly(e);
    return false;
  }
  accepted++;
  check?.(value);
  return true;
}

/** Async form of decodesOrRefuses. */
export async function decodesOrRefusesAsync<T>(decode: () => Promise<T>, check?: (value: T) => void | Promise<void>): Promise<boolean> {
  let value: T;
  try {
    value = await decode();
  } catch (e) {
    refusedCleanly(e);
    return false;
  }
  accepted++;
  await check?.(value);
  return true;
}

/**
 * Bytes that start from valid encodings and go wrong the ways wire data does: one or more bytes
 * flipped or replaced, cut short, extended, a slice duplicated or removed; plus pure random bytes.
 * Mutating valid encodings gets past the headers and length checks into the deep parsers.
 */
export function mutatedBytes(valid: readonly Uint8Array[], maxRandomLength = 600): fc.Arbitrary<Uint8Array> {
  const seed = fc.constantFrom(...valid);
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('extend' as const), tail: fc.uint8Array({ maxLength: 40 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  );
  const mutated = fc.tuple(seed, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([bytes, ms]) => {
    let b = Uint8Array.from(bytes);
    for (const m of ms) {
      const at = b.length === 0 ? 0 : (m as { at?: number }).at === undefined ? 0 : (m as { at: number }).at % b.length;
      switch (m.kind) {
        case 'flip':
          if (b.length > 0) b[at] = b[at]! ^ (1 << m.bit);
          break;
        case 'set':
          if (b.length > 0) b[at] = m.value;
          break;
        case 'truncate':
          b = b.slice(0, at);
          break;
        case 'extend':
          b = Uint8Array.from([...b, ...m.tail]);
          break;
        case 'cut':
          b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.length)]);
          break;
        case 'duplicate':
          b = Uint8Array.from([...b.subarray(0, at + m.length), ...b.subarray(at)]);
          break;
      }
    }
    return b;
  });
  return fc.oneof({ arbitrary: mutated, weight: 4 }, { arbitrary: fc.uint8Array({ maxLength: maxRandomLength }), weight: 1 });
}

/**
 * JSON values that start from valid documents and go wrong: a field removed, replaced by another
 * type or by a mutated string, an unknown field added, nested the same way; plus any JSON value.
 */
export function mutatedJson(valid: readonly unknown[]): fc.Arbitrary<unknown> {
  const anyJson = fc.jsonValue({ maxDepth: 3 });
  const mutateString = (s: string) =>
    fc.oneof(
      fc.constant(s.slice(0, -1)),
      fc.constant(s + '0'),
      fc.constant(s.toUpperCase()),
      fc
        .nat()
        .map((i) =>
          s.length === 0 ? 'x' : s.slice(0, i % s.length) + (s[i % s.length] === 'f' ? '0' : 'f') + s.slice((i % s.length) + 1),
        ),
      fc.string({ maxLength: 80 }),
    );
  const mutate = (v: unknown, depth: number): fc.Arbitrary<unknown> => {
    if (typeof v === 'string') return mutateString(v);
    if (typeof v === 'number') {
      return fc.oneof(
        fc.constant(-v),
        fc.constant(v + 1),
        fc.constant(v * 2),
        fc.constant(v + 0.5),
        fc.constant(2 ** 53),
        fc.integer(),
        fc.double(),
        fc.constant(String(v)),
      );
    }
    if (Array.isArray(v)) {
      if (v.length === 0 || depth > 3) return fc.oneof(anyJson, fc.constant([...v, v[0] ?? null]));
      return fc.oneof(
        { weight: 4, arbitrary: fc.nat(v.length - 1).chain((i) => mutate(v[i], depth + 1).map((x) => v.map((y, j) => (j === i ? x : y)))) },
        fc.constant(v.slice(1)),
        fc.constant([...v, v[0]]),
        anyJson,
      );
    }
    if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v);
      const o = v as Record<string, unknown>;
      if (keys.length === 0 || depth > 3) return anyJson;
      return fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...keys).chain((k) => mutate(o[k], depth + 1).map((x) => ({ ...o, [k]: x }))) },
        fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(o).filter(([j]) => j !== k))),
        fc.tuple(fc.constantFrom(...keys), anyJson).map(([k, x]) => ({ ...o, [k]: x })),
        fc.tuple(fc.string({ maxLength: 10 }), anyJson).map(([k, x]) => ({ ...o, [k]: x })),
        anyJson,
      );
    }
    return anyJson;
  };
  const mutated = fc
    .constantFrom(...valid)
    .chain((v) => mutate(v, 0))
    .chain((x) => fc.oneof(fc.constant(x), mutate(x, 0)));
  return fc.oneof({ arbitrary: mutated, weight: 4 }, { arbitrary: anyJson, weight: 1 });
}
