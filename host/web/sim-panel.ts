/**
 * The simulator panel: the tester's screen of `ecash sim serve`, served beside its test-helper API
 * at /panel/. The page signs in with the simulator's token (traded for a session cookie), follows
 * the readers, cards and each reader's APDU trace over the API's event stream, and calls the
 * helper actions; it has no routes of its own beyond its static files.
 */
import type { FastifyInstance } from 'fastify';
import { registerScreen } from './assets.js';

export function registerSimPanel(app: FastifyInstance): void {
  registerScreen(app, '/panel/', 'sim-panel.html', ['sim-panel.js', 'money.js', 'session.js', 'screens.css']);
  app.get('/', async (_req, reply) => reply.redirect('/panel/'));
}
