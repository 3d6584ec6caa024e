/**
 * The terminal display: the customer's screen of a POS terminal, served by `ecash pos serve` beside
 * its API at /display/. The page follows the terminal over the API's own event stream and takes
 * the holder's PIN; it has no routes of its own beyond its static files.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readAssets } from './assets.js';

const FILES = ['terminal-display.html', 'terminal-display.js', 'screens.css'] as const;

/**
 * Strict content security: the page runs only its own script and style, and talks only to its
 * own origin (the terminal's API).
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

export function registerTerminalDisplay(app: FastifyInstance): void {
  const assets = readAssets(FILES);
  const serve = (name: (typeof FILES)[number]) => {
    const a = assets.get(name)!;
    return async (_req: unknown, reply: FastifyReply) =>
      reply.header('content-type', a.type).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(a.body);
  };
  app.get('/', async (_req, reply) => reply.redirect('/display/'));
  app.get('/display', async (_req, reply) => reply.redirect('/display/'));
  app.get('/display/', serve('terminal-display.html'));
  for (const name of FILES) app.get(`/display/${name}`, serve(name));
}
