/**
 * The three suites of docs/protocol.md, built once on first use, on their reference arithmetic unless
 * a faster implementation of the same suite was installed first (core/backends/).
 */
import { EcashError } from '../errors.js';
import type { Group } from '../group.js';
import { isSuiteId, SUITE_IDS, type SuiteId } from '../suite-ids.js';
import { makeModp2048Group } from './modp2048.js';
import { makeP256Group } from './p256.js';
import { makeRistretto255Group } from './ristretto255.js';

const makers: Record<SuiteId, () => Group> = {
  'ristretto255-sha512': makeRistretto255Group,
  'p256-uprove': makeP256Group,
  'modp2048-256': makeModp2048Group,
};
const cache = new Map<SuiteId, Group>();

/** The group of a suite; throws EcashError `unknown-suite` for anything else. */
export function getGroup(suite: string): Group {
  if (!isSuiteId(suite)) {
    throw new EcashError('unknown-suite', `unknown suite "${String(suite)}"; known suites: ${SUITE_IDS.join(', ')}`);
  }
  let g = cache.get(suite);
  if (g === undefined) {
    g = makers[suite]();
    cache.set(suite, g);
  }
  return g;
}

/**
 * Makes `group` the suite's group for every later `getGroup`. Only before the suite is first
 * used: elements of two implementations do not mix, so replacing a group already handed out
 * throws EcashError `internal`.
 */
export function installGroup(group: Group): void {
  const current = cache.get(group.suite);
  if (current === group) return;
  if (current !== undefined) {
    throw new EcashError('internal', `the ${group.suite} group is already in use; install its backend before the first getGroup`);
  }
  cache.set(group.suite, group);
}

/**
 * A new instance of the suite's reference implementation, whatever is installed: for comparing
 * backends (tests, bench). Its elements do not mix with `getGroup`'s unless that is the reference too.
 */
export function referenceGroup(suite: SuiteId): Group {
  return makers[suite]();
}
