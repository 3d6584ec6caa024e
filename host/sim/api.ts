/**
 * The simulator's test-helper API (docs/sim.md, docs/openapi/sim.json), in the manner of Stripe
 * Terminal's simulated-reader helpers: make cards (special ones included), list readers and cards,
 * insert a card, take it out now or in the middle of a coming command. Loopback only unless told
 * otherwise; every request but /v1/health carries the simulator's token, or the session cookie a
 * browser page (the simulator panel) traded it for. Each reader's APDU trace is served, PINs
 * redacted, and an event stream tells a page every change. Bodies are validated here, once: no
 * coercion, no unknown fields.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { EcashError, type ErrorCode, SUITE_IDS } from '../../core/index.js';
import { CHIP_PROFILES } from '../../firmware-sim/index.js';
import { BrowserSessions, bearerMatches, EventStreams, registerSessionRoutes, sendApiError as sendError } from '../web/index.js';
import { CARD_KINDS, type CardSpec, DEFAULT_PIN, DEFAULT_PUK, type PullPlan, type Simulator } from './simulator.js';
import type { SimEvent } from './taps.js';

/** The panel's session cookie: its own name, since the terminal's API may share the host. */
export const SIM_SESSION_COOKIE = 'ecash_sim_session';

export interface SimApiOptions {
  token: string;
}

const SIM_WHERE = { doc: 'docs/sim.md', log: 'the simulator log' };

const STATUS: Partial<Record<ErrorCode, number>> = {
  'bad-request': 400,
  'bad-card-spec': 400,
  unauthorized: 401,
  'not-found': 404,
  'card-not-found': 404,
  'reader-not-found': 404,
  'card-in-reader': 409,
  'reader-occupied': 409,
  'reader-empty': 409,
  // The bank refused or could not be reached while loading the card.
  'load-failed': 502,
};

const CARD_SPEC = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kind: { type: 'string', enum: [...CARD_KINDS] },
    suite: { type: 'string', enum: [...SUITE_IDS] },
    pin: { type: 'string', pattern: '^[0-9]{4,12}$' },
    puk: { type: 'string', pattern: '^[0-9]{8,16}$' },
    noPinLimit: { type: 'integer', minimum: 0, maximum: 2_147_483_647 },
    profile: { type: 'string', enum: Object.keys(CHIP_PROFILES) },
    load: {
      type: 'object',
      additionalProperties: false,
      required: ['bank', 'operatorToken', 'amount'],
      properties: {
        bank: { type: 'string', pattern: '^https?://[^\\s/]+', maxLength: 512 },
        operatorToken: { type: 'string', minLength: 1, maxLength: 512 },
        amount: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
        currency: { type: 'string', pattern: '^[A-Z]{3}$' },
        holder: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]*$' },
      },
    },
  },
} as const;

type CardBody = Partial<Omit<CardSpec, 'load'>> & { load?: Omit<NonNullable<CardSpec['load']>, 'currency'> & { currency?: string } };

const READER_PARAMS = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export function buildSimApi(sim: Simulator, options: SimApiOptions): FastifyInstance {
  if (options.token.length < 16) throw new EcashError('weak-token', 'the simulator token must be at least 16 characters');
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
    // A URL fastify cannot decode (`%ff`) or a parameter too long never reaches the error handler otherwise.
    frameworkErrors: (e, _req, reply) => void sendError(reply, e, STATUS, SIM_WHERE),
  });

  app.setErrorHandler((e, _req, reply) => sendError(reply, e, STATUS, SIM_WHERE));
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: { code: 'not-found', message: 'no such endpoint; see docs/sim.md' } }),
  );
  const sessions = new BrowserSessions(SIM_SESSION_COOKIE);
  app.addHook('onRequest', async (req, reply) => {
    // The API is under /v1; the panel's files served beside it are public (no secrets in them).
    if (!req.url.startsWith('/v1/')) return;
    const route = req.routeOptions.url;
    if (route === '/v1/health') return;
    if (bearerMatches(req.headers.authorization, options.token)) return;
    // A page's session, except for opening one: that takes the token itself.
    const opening = route === '/v1/session' && req.method === 'POST';
    if (!opening && sessions.admits(req.headers.cookie, req.headers.origin, `${req.protocol}://${req.headers.host ?? ''}`)) return;
    await reply.code(401).send({ error: { code: 'unauthorized', message: 'send the simulator token as "Authorization: Bearer <token>"' } });
  });

  app.get('/v1/health', async () => ({ status: 'ok' }));

  app.get('/v1/readers', async () => ({ readers: sim.listReaders() }));

  app.get('/v1/readers/:name/trace', { schema: { params: READER_PARAMS } }, async (req) =>
    sim.trace((req.params as { name: string }).name),
  );

  // The panel trades the token for a session cookie, which its EventSource sends.
  registerSessionRoutes(app, sessions);
  const streams = new EventStreams(app);

  // Server-sent events: the simulator's make-up, the readers, cards and every reader's trace at
  // once, then each change as it happens. Ends when the client goes or the simulator stops.
  app.get('/v1/events', (_req, reply) => {
    const { write, onClose } = streams.start(reply);
    const state = () => write('state', { readers: sim.listReaders(), cards: sim.listCards() });
    const send = (e: SimEvent) => {
      if (e.type === 'state') state();
      else if (e.type === 'tap') write('trace', e.trace);
      else write('exchange', { reader: e.reader, tap: e.tap, exchange: e.exchange });
    };
    // What a page needs to offer every card a maker may ask for.
    write('simulator', {
      readers: sim.listReaders().map((r) => r.name),
      kinds: CARD_KINDS,
      suites: SUITE_IDS,
      profiles: Object.keys(CHIP_PROFILES),
    });
    state();
    for (const r of sim.listReaders()) {
      const trace = sim.trace(r.name).trace;
      if (trace !== null) write('trace', trace);
    }
    onClose(sim.taps.watch(send));
  });

  app.get('/v1/cards', async () => ({ cards: sim.listCards() }));

  app.post('/v1/cards', { schema: { body: { ...CARD_SPEC, type: ['object', 'null'] } } }, async (req, reply) => {
    const b = (req.body as CardBody | null) ?? {};
    const spec: CardSpec = {
      kind: b.kind ?? 'standard',
      pin: b.pin ?? DEFAULT_PIN,
      puk: b.puk ?? DEFAULT_PUK,
      noPinLimit: b.noPinLimit ?? 0,
      ...(b.suite === undefined ? {} : { suite: b.suite }),
      ...(b.profile === undefined ? {} : { profile: b.profile }),
      ...(b.load === undefined ? {} : { load: { ...b.load, currency: b.load.currency ?? 'EUR' } }),
    };
    return reply.code(201).send(await sim.createCard(spec));
  });

  app.get(
    '/v1/cards/:id',
    { schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^card-[0-9]{1,9}$' } } } } },
    async (req) => sim.cardView((req.params as { id: string }).id),
  );

  app.post(
    '/v1/readers/:name/insert',
    {
      schema: {
        params: READER_PARAMS,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['card'],
          properties: { card: { type: 'string', pattern: '^card-[0-9]{1,9}$' } },
        },
      },
    },
    async (req) => sim.insert((req.params as { name: string }).name, (req.body as { card: string }).card),
  );

  app.post(
    '/v1/readers/:name/remove',
    {
      schema: {
        params: READER_PARAMS,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { afterApdus: { type: 'integer', minimum: 0, maximum: 1000 }, during: { type: 'string', enum: ['pay'] } },
        },
      },
    },
    async (req) => {
      const b = (req.body as { afterApdus?: number; during?: 'pay' } | null) ?? {};
      if (b.afterApdus !== undefined && b.during !== undefined) throw new EcashError('bad-request', 'give afterApdus or during, not both');
      const plan: PullPlan | undefined =
        b.afterApdus !== undefined ? { afterApdus: b.afterApdus } : b.during !== undefined ? { during: b.during } : undefined;
      return sim.remove((req.params as { name: string }).name, plan);
    },
  );

  return app;
}
