/**
 * The terminal display: the customer's screen of a POS terminal, served by `ecash pos serve` beside
 * its API at /display/. The page follows the terminal over the API's own event stream and takes
 * the holder's PIN; it has no routes of its own beyond its static files.
 */
import type { FastifyInstance } from 'fastify';
import { registerScreen } from './assets.js';

export function registerTerminalDisplay(app: FastifyInstance): void {
  registerScreen(app, '/display/', 'terminal-display.html', ['terminal-display.js', 'money.js', 'session.js', 'screens.css']);
  app.get('/', async (_req, reply) => reply.redirect('/display/'));
}
