/**
 * The bank's HTTP API (docs/bank-api.md, docs/openapi/bank.json): JSON under /v1 over fastify.
 * This is the edge: every body, parameter and query is checked here by a JSON schema (no type
 * coercion, no extra fields), then the crypto fields by core's strict decoders, and only typed
 * values reach BankService. The routes are per resource (routes/), who may call them is access.ts's.
 * Errors are always `{ "error": { code, message } }` with one status per
 * code (STATUS below); nothing else of an exception (stack, cause, database text) leaves the process.
 */
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { EcashError, type ErrorCode, isEcashError } from '../../core/index.js';
import type { ErrorJson } from '../bank-client/index.js';
import { ACCESS, authenticateHook, authorize, partyOfRequest } from './access.js';
import { registerBankConsole } from '../web/index.js';
import { accountRoutes } from './routes/accounts.js';
import { auditRoutes } from './routes/audit.js';
import type { RouteContext } from './routes/context.js';
import { depositRoutes } from './routes/deposits.js';
import { doubleSpendRoutes } from './routes/double-spends.js';
import { merchantRoutes } from './routes/merchants.js';
import { parameterRoutes } from './routes/parameters.js';
import { withdrawalRoutes } from './routes/withdrawals.js';
import type { BankService } from './service.js';
import type { SharedBankState } from './storage/index.js';

/**
 * A deposit batch of MAX_DEPOSIT_BATCH transcripts of the largest suite (modp2048-256: 256-byte
 * elements) is 3.0 MB of compact JSON (measured: 3,009,181 bytes with a 128-character batch id;
 * 64-byte merchant and terminal ids add 0.1 MB). 4 MiB keeps over 25% margin for that and for
 * indented JSON without letting one request pin much memory; test/bank/api.test.ts checks it fits.
 */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;
/**
 * Requests per credential (or per IP without one) per window; account openings, which need no
 * credential and cost the bank a proof check and a z per key (a few ms of CPU), per IP and fewer.
 */
export const DEFAULT_RATE_LIMIT: RateLimit = { max: 600, timeWindowMs: 60_000, accountOpeningMax: 30 };

export interface RateLimit {
  max: number;
  timeWindowMs: number;
  /** Account openings per client address per window (default: max / 20, at least 1). */
  accountOpeningMax?: number;
}

export interface BankAppOptions {
  bodyLimit?: number;
  rateLimit?: RateLimit | false;
  /** Fastify's request log (method, URL, status; never bodies or the Authorization header). */
  logger?: boolean;
  /**
   * Behind a reverse proxy: trust its X-Forwarded-For (true, or the proxy's address/CIDR) so that
   * requests without a credential are rate-limited per client rather than all as the proxy.
   */
  trustProxy?: boolean | string;
}

/**
 * One status per stable code. Codes not listed: `bad-*` and the other input codes of core's
 * decoders are 400; anything else is a fault of the bank and answers 500 `internal`.
 */
const STATUS: Partial<Record<ErrorCode, number>> = {
  'bad-request': 400,
  'bad-json': 400,
  'wrong-suite': 400,
  'unknown-suite': 400,
  'unknown-key': 400,
  'identity-element': 400,
  'out-of-range': 400,
  'not-invertible': 400,
  'trailing-bytes': 400,
  truncated: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'account-not-found': 404,
  'merchant-not-found': 404,
  'session-not-found': 404,
  'batch-not-found': 404,
  'account-exists': 409,
  'merchant-exists': 409,
  'session-open': 409,
  'session-answered': 409,
  'session-cancelled': 409,
  'batch-id-reused': 409,
  'key-not-withdrawable': 409,
  // 409, not 402: the request is fine, the account's state refuses it until it is topped up
  // (402 is reserved by RFC 9110 and clients treat it unpredictably).
  'insufficient-funds': 409,
  'session-expired': 410,
  'body-too-large': 413,
  'unsupported-media-type': 415,
  'rate-limited': 429,
  internal: 500,
  'database-unavailable': 503,
  'service-stopped': 503,
};

/** Codes whose message is the bank's business, not the caller's: replaced by a generic one. */
const HIDDEN_MESSAGE: Partial<Record<ErrorCode, string>> = {
  internal: 'the bank failed to process the request; retry later, and tell the bank operator if it persists',
  'database-unavailable': "the bank's database is unavailable; retry later",
};

function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? (code.startsWith('bad-') ? 400 : 500);
}

function body(code: ErrorCode, message: string): ErrorJson {
  return { error: { code, message } };
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  validation?: unknown;
  validationContext?: string;
  message?: string;
}

/** Maps anything thrown in a request to its status and ErrorJson; logs faults without secrets. */
function sendError(req: FastifyRequest, reply: FastifyReply, e: unknown): FastifyReply {
  if (isEcashError(e)) {
    let status = statusOf(e.code);
    let code = e.code;
    if (status >= 500 && STATUS[code] === undefined) code = 'internal';
    if (status >= 500) {
      // The code and message of our own errors carry no secrets (conventions.md); the stack may
      // help the operator and stays in the log.
      req.log.error({ code: e.code, msg: e.message, stack: e.stack }, 'bank request failed');
      status = statusOf(code);
    }
    return reply.code(status).send(body(code, HIDDEN_MESSAGE[code] ?? e.message));
  }
  const fe = (typeof e === 'object' && e !== null ? e : {}) as FastifyLikeError;
  if (fe.validation !== undefined) {
    return reply.code(400).send(body('bad-request', `${fe.message ?? 'the request does not match its schema'}; see docs/bank-api.md`));
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return reply
        .code(400)
        .send(body('bad-json', 'the body is not a JSON document; send one JSON object with Content-Type: application/json'));
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply
        .code(413)
        .send(body('body-too-large', 'the request body is larger than the bank accepts; split a deposit into smaller batches'));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply.code(415).send(body('unsupported-media-type', 'send the body as JSON with Content-Type: application/json'));
    case 'FST_ERR_RATE_LIMITED':
      return reply.code(429).send(body('rate-limited', fe.message ?? 'too many requests; slow down'));
    default:
      break;
  }
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Other client errors fastify detects (bad Content-Length, aborted body, bad URL encoding).
    return reply.code(fe.statusCode).send(body('bad-request', 'the request is malformed; see docs/bank-api.md'));
  }
  req.log.error({ code: fe.code, msg: fe.message, stack: (e as Error | undefined)?.stack }, 'bank request failed');
  return reply.code(500).send(body('internal', HIDDEN_MESSAGE.internal!));
}

/**
 * @fastify/rate-limit's store over the database's shared counters. A route with its own limit (account
 * opening) gets a child that counts under the route's name, apart from the global limit.
 */
function sharedRateLimitStore(shared: SharedBankState, scope = ''): FastifyRateLimitStoreCtor {
  return class SharedRateLimitStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      shared.countRequest(`${scope}${key}`, timeWindow).then(
        (r) => callback(null, { current: r.count, ttl: r.ttlMs }),
        (e: Error) => callback(e),
      );
    }
    child(route: { method: string | string[]; path: string }): FastifyRateLimitStore {
      return new (sharedRateLimitStore(shared, `${String(route.method)} ${route.path} `))({});
    }
  };
}

export function buildBankApp(service: BankService, opts: BankAppOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Fastify's defaults coerce types and silently drop unknown fields; the API refuses both.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: false } },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    trustProxy: opts.trustProxy ?? false,
    // A URL fastify cannot decode (`%ff`) never reaches the error handler otherwise.
    frameworkErrors: (e, req, reply) => void sendError(req, reply, e),
  });
  // JSON only: a text/plain body would otherwise reach the schema as a string.
  app.removeContentTypeParser(['text/plain']);
  app.decorateRequest('party', null);
  app.setErrorHandler((e, req, reply) => sendError(req, reply, e));
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(body('not-found', 'no such endpoint; see docs/bank-api.md')));

  const rl = opts.rateLimit === false ? undefined : (opts.rateLimit ?? DEFAULT_RATE_LIMIT);
  if (rl !== undefined) {
    const shared = service.storage.shared;
    void app.register(rateLimit, {
      // Several processes on one database count in it, so the limit is the bank's, not each
      // process's (docs/operations.md); one process alone counts in memory.
      ...(shared === undefined ? {} : { store: sharedRateLimitStore(shared) }),
      max: rl.max,
      timeWindow: rl.timeWindowMs,
      // Per credential when the request carries a valid one (authenticated here, then cached by
      // the service: an invented credential id must not buy a fresh allowance), else per client
      // address (account opening, health, bad credentials).
      keyGenerator: async (req) => {
        try {
          // Kept for the route's own check (access.ts), which then has nothing left to ask.
          return `cred:${(await partyOfRequest(req, (token) => service.authenticate(token))).credentialId}`;
        } catch {
          return `ip:${req.ip}`;
        }
      },
      errorResponseBuilder: (_req, ctx) =>
        Object.assign(new Error(`too many requests; retry in ${ctx.after}`), { statusCode: 429, code: 'FST_ERR_RATE_LIMITED' }),
    });
  }

  // Authorization in one place (access.ts): every route's rule, applied by these two hooks. The
  // routes go in a plugin registered after the rate limiter, so its onRoute hook sees them all.
  void app.register(async (api) => {
    api.addHook(
      'preValidation',
      authenticateHook((token) => service.authenticate(token)),
    );
    api.addHook('preHandler', authorize);
    const ctx: RouteContext = {
      service,
      ...(rl === undefined
        ? {}
        : { accountOpeningRateLimit: { max: rl.accountOpeningMax ?? Math.max(1, Math.floor(rl.max / 20)), timeWindow: rl.timeWindowMs } }),
    };
    for (const routes of [parameterRoutes, accountRoutes, withdrawalRoutes, depositRoutes, doubleSpendRoutes, merchantRoutes, auditRoutes])
      routes(api, ctx);
    // The operator's console: public files; what it shows comes from the routes above, under the operator's credential.
    registerBankConsole(api, { access: ACCESS.anyone });
  });

  return app;
}

export interface BankServerOptions extends BankAppOptions {
  service: BankService;
  /** Default 127.0.0.1: put a TLS-terminating proxy in front before exposing the bank. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
}

export interface BankServer {
  url: string;
  app: FastifyInstance;
  /** Stops accepting requests and closes the server; the service stays open (its owner closes it). */
  close(): Promise<void>;
}

export async function startBankServer(opts: BankServerOptions): Promise<BankServer> {
  const { service, host = '127.0.0.1', port = 0, ...appOpts } = opts;
  const app = buildBankApp(service, appOpts);
  await app.listen({ host, port });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new EcashError('internal', 'the bank server has no TCP address');
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return { url: `http://${h}:${addr.port}`, app, close: () => app.close() };
}
