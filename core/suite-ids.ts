/** The suite ids of docs/protocol.md. A suite id is part of every hash, coin and key id. */
export const SUITE_IDS = ['ristretto255-sha512', 'p256-uprove', 'modp2048-256'] as const;
export type SuiteId = (typeof SUITE_IDS)[number];
export const DEFAULT_SUITE: SuiteId = 'ristretto255-sha512';

export function isSuiteId(s: unknown): s is SuiteId {
  return typeof s === 'string' && (SUITE_IDS as readonly string[]).includes(s);
}
