/** The three suites of SCHEME.md, built once on first use. */
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
