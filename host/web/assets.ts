/**
 * The screens' static files (host/web/assets), read once at start: they ship in the package and
 * nothing is fetched from the network at run time. The compiled code (dist/host/web) finds them in
 * the source tree beside it, since the build compiles TypeScript only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EcashError } from '../../core/index.js';

const CANDIDATES = ['./assets/', '../../../host/web/assets/'];

function assetDir(): string {
  for (const c of CANDIDATES) {
    const dir = fileURLToPath(new URL(c, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  throw new EcashError('assets-missing', 'the web screens\' files (host/web/assets) are missing from this installation: reinstall the package');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface Asset {
  body: string;
  type: string;
}

/** The named files of the assets folder, with their content types. */
export function readAssets(names: readonly string[]): Map<string, Asset> {
  const dir = assetDir();
  return new Map(names.map((name) => [name, { body: readFileSync(dir + name, 'utf8'), type: TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream' }]));
}
