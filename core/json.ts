/** Strict readers for JSON values that crossed a wire: exact keys, exact types, clear errors. */
import { EcashError } from './errors.js';

export type JsonObject = Record<string, unknown>;

function fail(what: string, why: string): never {
  throw new EcashError('bad-json', `${what} ${why}`, { details: { field: what } });
}

/** An object with exactly the `required` keys plus any of `optional`; anything else is rejected. */
export function expectObject(v: unknown, what: string, required: readonly string[], optional: readonly string[] = []): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(what, 'must be a JSON object');
  const o = v as JsonObject;
  for (const k of required) if (!(k in o)) fail(`${what}.${k}`, 'is missing');
  for (const k of Object.keys(o)) {
    if (!required.includes(k) && !optional.includes(k)) fail(`${what}.${k}`, 'is not a known field');
  }
  return o;
}

export function expectString(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(what, 'must be a string');
  return v;
}

export function expectSafeInteger(v: unknown, what: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(what, `must be an integer >= ${min}`);
  return v;
}

export function expectArray(v: unknown, what: string, length?: number): unknown[] {
  if (!Array.isArray(v)) fail(what, 'must be an array');
  if (length !== undefined && v.length !== length) fail(what, `must have exactly ${length} entries`);
  return v;
}

export function expectLiteral<T extends string | number>(v: unknown, what: string, expected: T): T {
  if (v !== expected) fail(what, `must be ${JSON.stringify(expected)}`);
  return expected;
}
