/**
 * The screens' static files (host/web/assets), read once at start: they ship in the package and
 * nothing is fetched from the network at run time. The compiled code (dist/host/web) finds them in
 * the source tree beside it, since the build compiles TypeScript only.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { fileURLToPath } from 'node:url';
import { EcashError } from '../../core/index.js';

const CANDIDATES = ['./assets/', '../../../host/web/assets/'];

function assetDir(): string {
  for (const c of CANDIDATES) {
    const dir = fileURLToPath(new URL(c, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  throw new EcashError(
    'assets-missing',
    "the web screens' files (host/web/assets) are missing from this installation: reinstall the package",
  );
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
  return new Map(
    names.map((name) => [
      name,
      { body: readFileSync(dir + name, 'utf8'), type: TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream' },
    ]),
  );
}

/**
 * Strict content security: a screen runs only its own script and style, and talks only to its
 * own origin (the API it is served beside).
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * Serves a screen at `mount` (`/display/`): its page at the mount, its files under it, the mount
 * without its slash redirected. `config` is the route config the host's app asks of every route.
 */
export function registerScreen(app: FastifyInstance, mount: string, page: string, files: readonly string[], config: object = {}): void {
  const assets = readAssets([page, ...files]);
  const serve = (name: string) => {
    const a = assets.get(name)!;
    return async (_req: unknown, reply: FastifyReply) =>
      reply
        .header('content-type', a.type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-cache')
        .send(a.body);
  };
  app.get(mount.slice(0, -1), { config }, async (_req, reply) => reply.redirect(mount));
  app.get(mount, { config }, serve(page));
  for (const name of [page, ...files]) app.get(`${mount}${name}`, { config }, serve(name));
}
