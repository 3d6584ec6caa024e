import { expect } from 'vitest';
import { isEcashError } from '../../core/index.js';

/** Runs `fn` and checks it throws an EcashError with `code` (and returns its message). */
export function expectCode(fn: () => unknown, code: string): string {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isEcashError(thrown), `expected EcashError ${code}, got ${String(thrown)}`).toBe(true);
  const err = thrown as { code: string; message: string };
  expect(err.code).toBe(code);
  return err.message;
}
