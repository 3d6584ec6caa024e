/**
 * Optional faster group backends, for hosts to install at their start, before any suite is used
 * (`await installGroupBackends()`). core itself stays synchronous, I/O-free and on its reference
 * arithmetic (@noble/curves, bigint-crypto-utils); this module only loads what it finds:
 * - ristretto255-sha512: libsodium-wrappers-sumo (WebAssembly; an optional dependency);
 * - modp2048-256: Node's OpenSSL through node:crypto;
 * - p256-uprove stays on noble.
 * A backend that cannot be loaded leaves its suite on the reference, and says why.
 * ECASH_GROUP_BACKENDS=reference keeps every suite on the reference (worker threads inherit it).
 */
import { installGroup } from '../suites/index.js';
import { makeModp2048Group } from '../suites/modp2048.js';
import type { SuiteId } from '../suite-ids.js';
import { makeSodiumRistretto255Group, type SodiumRistretto255 } from './ristretto255-sodium.js';

export { makeSodiumRistretto255Group, type SodiumRistretto255 } from './ristretto255-sodium.js';

/** What each suite runs on after `installGroupBackends`: a backend's name, or `reference` and why. */
export type BackendReport = Record<SuiteId, string>;

let loaded: Promise<BackendReport> | undefined;

/** libsodium's ristretto255 functions once its WebAssembly is ready; a reason string if absent. */
export async function loadSodium(): Promise<SodiumRistretto255 | string> {
  try {
    const mod = await import('libsodium-wrappers-sumo');
    const sodium = mod.default;
    await sodium.ready;
    return sodium;
  } catch (e) {
    return `libsodium-wrappers-sumo not loaded: ${e instanceof Error ? e.message : String(e)}`;
  }
}

async function install(): Promise<BackendReport> {
  const report: BackendReport = { 'ristretto255-sha512': 'reference', 'p256-uprove': 'reference', 'modp2048-256': 'reference' };
  if (process.env.ECASH_GROUP_BACKENDS === 'reference') return report;
  const sodium = await loadSodium();
  if (typeof sodium === 'string') report['ristretto255-sha512'] += ` (${sodium})`;
  else {
    installGroup(makeSodiumRistretto255Group(sodium));
    report['ristretto255-sha512'] = 'libsodium';
  }
  try {
    const { opensslModpPower } = await import('./modp2048-openssl.js');
    installGroup(makeModp2048Group(opensslModpPower()));
    report['modp2048-256'] = 'openssl';
  } catch (e) {
    report['modp2048-256'] += ` (node:crypto not usable: ${e instanceof Error ? e.message : String(e)})`;
  }
  return report;
}

/** Installs every backend this platform offers, once per thread (workers call it too). */
export function installGroupBackends(): Promise<BackendReport> {
  loaded ??= install();
  return loaded;
}
