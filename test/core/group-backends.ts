/**
 * Every implementation of every suite the tests compare: the reference (noble,
 * bigint-crypto-utils) and each faster backend (core/backends/). libsodium is an optional
 * dependency; when it is missing the list says so and CI fails rather than skips.
 */
import { loadSodium, makeSodiumRistretto255Group } from '../../core/backends/index.js';
import { opensslModpPower } from '../../core/backends/modp2048-openssl.js';
import { type Group, referenceGroup, SUITE_IDS, type SuiteId } from '../../core/index.js';
import { makeModp2048Group } from '../../core/suites/modp2048.js';

export interface BackendGroup {
  suite: SuiteId;
  backend: string;
  group: Group;
}

const sodium = await loadSodium();
if (typeof sodium === 'string') throw new Error(`the tests need the optional libsodium backend: ${sodium}`);

export const referenceGroups = Object.fromEntries(SUITE_IDS.map((s) => [s, referenceGroup(s)])) as Record<SuiteId, Group>;

/** The faster backend of each suite that has one, beside its reference. */
export const fastGroups: BackendGroup[] = [
  { suite: 'ristretto255-sha512', backend: 'libsodium', group: makeSodiumRistretto255Group(sodium) },
  { suite: 'modp2048-256', backend: 'openssl', group: makeModp2048Group(opensslModpPower()) },
];

export const allGroups: BackendGroup[] = [
  ...Object.entries(referenceGroups).map(([suite, group]) => ({ suite: suite as SuiteId, backend: 'reference', group })),
  ...fastGroups,
];
