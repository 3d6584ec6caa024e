/**
 * The integration API a cash register drives (docs/pos-api.md, docs/openapi/pos.json), in the
 * manner of card-terminal vendors' local APIs: create a payment, follow it by polling or
 * server-sent events, cancel it, list and fetch payments, see and trigger settlement.
 * Loopback only unless told otherwise; every request carries the terminal's API key.
 */
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AMOUNT_SCHEMA, EcashError, type ErrorCode } from '../../core/index.js';
import { BrowserSessions, bearerMatches, EventStreams, registerSessionRoutes, sendApiError as sendError } from '../web/index.js';
import { corsOrigins } from './cors-origins.js';
import { isFinal, type PaymentEvent } from './journal.js';
import { SETTLEMENT_PROBLEM_CODES } from './settlement-verdicts.js';
import type { PaymentTerminal, PaymentView } from './terminal.js';

export interface PosApiOptions {
  apiKey: string;
  /**
   * Origins (`https://till.example:8443`) whose pages may call the API from a browser: CORS with
   * credentials for exactly these, and their requests may use a session cookie. None by default.
   */
  corsOrigins?: readonly string[];
  /** Extra headers' worth of logging is off by default: request logs could carry references. */
  logger?: boolean;
}

const POS_WHERE = { doc: 'docs/pos-api.md', log: 'the terminal log' };

const STATUS: Partial<Record<ErrorCode, number>> = {
  'bad-request': 400,
  'bad-amount': 400,
  'wrong-currency': 400,
  'bad-reference': 400,
  unauthorized: 401,
  'payment-not-found': 404,
  'not-found': 404,
  'terminal-busy': 409,
  'payment-final': 409,
  'payment-in-flight': 409,
  'pin-not-expected': 409,
  'bad-idempotency-key': 400,
  'idempotency-key-reused': 422,
  // Settlement left coins pending: the bank, or this terminal's configuration for it, is at fault.
  ...Object.fromEntries(SETTLEMENT_PROBLEM_CODES.map((code) => [code, 502])),
};

const QUERY_INT = { type: 'string', pattern: '^[0-9]{1,15}$' } as const;

const paymentParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9a-z]{10}$' } },
} as const;

export function buildPosApi(terminal: PaymentTerminal, options: PosApiOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 16 * 1024,
    // Fastify's defaults coerce types ("12" became 12) and silently drop unknown fields; a
    // register sending either has a bug it should hear about, so the API refuses both.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
    // A URL fastify cannot decode (`%ff`) never reaches the error handler otherwise.
    frameworkErrors: (e, _req, reply) => void sendError(reply, e, STATUS, POS_WHERE),
  });
  if (Buffer.byteLength(options.apiKey) < 16) throw new EcashError('weak-api-key', 'the POS API key must be at least 16 characters');

  // Registers often send "Content-Type: application/json" with no body on the bodiless POSTs
  // (cancel, settlement); fastify refuses that outright. An empty body is no body: routes whose
  // schema needs one still answer bad-request.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') done(null, undefined);
    else parseJson(req, body as string, done);
  });

  app.setErrorHandler((e, _req, reply) => sendError(reply, e, STATUS, POS_WHERE));
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: { code: 'not-found', message: 'no such endpoint; see docs/pos-api.md' } }),
  );
  const sessions = new BrowserSessions('ecash_pos_session');
  const listed = corsOrigins(options.corsOrigins ?? []);
  // Registered before the key check: a preflight carries no credentials, and an answer the key
  // check refuses still tells a listed page why. An unlisted origin gets no CORS header at all
  // (its preflight: 404), so its pages can neither send the API's requests nor read its answers.
  void app.register(cors, {
    origin: (origin, done) => done(null, origin !== undefined && listed.has(origin)),
    credentials: true,
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
    maxAge: 600,
  });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    // The API is under /v1; anything else served beside it (the display page's files) is public.
    // A preflight (OPTIONS) is answered by CORS above, or not found.
    if (!req.url.startsWith('/v1/') || req.method === 'OPTIONS') return;
    const route = req.routeOptions.url; // the matched route, whatever the query
    if (route === '/v1/health') return;
    if (bearerMatches(req.headers.authorization, options.apiKey)) return;
    // A browser page's session, except for opening one: that takes the key itself.
    if (route !== '/v1/session' || req.method !== 'POST') {
      if (sessions.admits(req.headers.cookie, req.headers.origin, `${req.protocol}://${req.headers.host ?? ''}`, listed)) return;
    }
    await reply.code(401).send({ error: { code: 'unauthorized', message: 'send the terminal API key as "Authorization: Bearer <key>"' } });
  });

  app.get('/v1/health', async () => ({ status: 'ok', terminalId: terminal.config.terminalId }));

  app.post(
    '/v1/payments',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['amount', 'currency'],
          properties: {
            amount: AMOUNT_SCHEMA,
            currency: { type: 'string', pattern: '^[A-Z]{3}$' },
            reference: { type: ['string', 'null'], maxLength: 64 },
          },
        },
      },
    },
    async (req, reply) => {
      const body = req.body as { amount: number; currency: string; reference?: string | null };
      // A retry with the key the first try sent gets that payment back (docs/pos-api.md).
      const key = req.headers['idempotency-key'];
      const p = terminal.startPayment({ ...body, idempotencyKey: Array.isArray(key) ? key.join(', ') : key });
      return reply.code(201).send(terminal.view(p.id));
    },
  );

  app.get(
    '/v1/payments',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          // Query values arrive as strings (nothing is coerced); checked as numbers below.
          properties: { limit: QUERY_INT, before: QUERY_INT },
        },
      },
    },
    async (req) => {
      const q = req.query as { limit?: string; before?: string };
      const limit = q.limit === undefined ? undefined : Number(q.limit);
      if (limit !== undefined && (limit < 1 || limit > 1000)) throw new EcashError('bad-request', 'limit must be 1 to 1000');
      return { payments: terminal.listPayments({ limit, before: q.before === undefined ? undefined : Number(q.before) }) };
    },
  );

  app.get('/v1/payments/:id', { schema: { params: paymentParams } }, async (req) => terminal.view((req.params as { id: string }).id));

  app.post(
    '/v1/payments/:id/cancel',
    {
      schema: {
        params: paymentParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { abandon: { type: 'boolean' } } },
      },
    },
    async (req) => terminal.cancel((req.params as { id: string }).id, (req.body as { abandon?: boolean } | null) ?? {}),
  );

  app.post(
    '/v1/payments/:id/pin',
    {
      schema: {
        params: paymentParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['pin'],
          properties: { pin: { type: 'string', pattern: '^[0-9]{4,12}$' } },
        },
      },
    },
    async (req, reply) => {
      terminal.supplyPin((req.params as { id: string }).id, (req.body as { pin: string }).pin);
      return reply.code(202).send({ accepted: true });
    },
  );

  // Server-sent events: every state change as it happens, then the stream ends at a final state
  // (or when the API closes).
  const streams = new EventStreams(app);
  app.get('/v1/payments/:id/events', { schema: { params: paymentParams } }, (req, reply) => {
    const id = (req.params as { id: string }).id;
    const first: PaymentView = terminal.view(id);
    const stream = streams.start(reply);
    const send = (e: PaymentEvent) => stream.write('status', { paymentId: id, ...e }, e.seq);
    for (const e of first.events) send(e);
    if (isFinal(first.state)) {
      stream.end();
      return;
    }
    const onEvent = (pid: string, e: PaymentEvent) => {
      if (pid !== id) return;
      send(e);
      if (isFinal(e.state)) stream.end();
    };
    terminal.on('payment-event', onEvent);
    stream.onClose(() => terminal.off('payment-event', onEvent));
  });

  // Browser pages (the terminal display) trade the key for a session cookie that EventSource sends.
  registerSessionRoutes(app, sessions);

  // Server-sent events for the whole terminal: the latest payment first, then every payment's
  // view as it changes (what a customer display or a browser register shows). Ends when the client
  // goes or the terminal's API closes.
  app.get('/v1/events', (_req, reply) => {
    const { write, onClose } = streams.start(reply);
    const send = (view: PaymentView) => write('payment', view);
    const latest = terminal.listPayments({ limit: 1 })[0];
    write('terminal', {
      terminalId: terminal.config.terminalId,
      merchantName: terminal.config.merchantName,
      currency: terminal.config.currency,
    });
    if (latest !== undefined) send(terminal.view(latest.id));
    const onEvent = (id: string) => send(terminal.view(id));
    terminal.on('payment-event', onEvent);
    onClose(() => terminal.off('payment-event', onEvent));
  });

  app.get('/v1/settlement', async () => terminal.settlementStatus());

  app.post('/v1/settlement', async () => terminal.settle());

  return app;
}
