/**
 * What the test machine offers. Outside CI a suite that needs pcscd or PostgreSQL is skipped with
 * the reason when the service is missing; under CI (CI=true) it must run, so a missing service
 * fails the run instead of silently skipping.
 */
import { existsSync } from 'node:fs';

export const underCI = process.env.CI === 'true' || process.env.CI === '1';

export const PCSCD_SOCKET = '/run/pcscd/pcscd.comm';

export function pcscdAvailable(): boolean {
  return existsSync(PCSCD_SOCKET);
}

/** The PostgreSQL URL for tests (set by .ci/run), or undefined. */
export function postgresUrl(): string | undefined {
  return process.env.ECASH_TEST_PG_URL || undefined;
}

/**
 * Returns true if the suite may run. Under CI a missing requirement throws, which fails the suite
 * rather than skipping it.
 */
export function requireService(available: boolean, what: string): boolean {
  if (available) return true;
  if (underCI) throw new Error(`${what} is required under CI but is not available`);
  return false;
}
