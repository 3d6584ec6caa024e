/**
 * What the local JSON APIs beside the screens (the POS terminal's, the simulator's) share: the
 * bearer check and the mapping of anything thrown to `{"error": {"code", "message"}}`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { type ErrorCode, isEcashError } from '../../core/index.js';

/** Whether `Authorization: Bearer <secret>` carries `expected`, compared in constant time (of digests, so lengths do not show). */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  const bearer = /^Bearer (\S+)$/.exec(header ?? '');
  if (bearer === null) return false;
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(bearer[1]!), digest(expected));
}

/**
 * The error answer for `e`: our own errors with the status `status` gives their code (500
 * otherwise), fastify's refusals of a malformed request as 400/413/415, anything else 500
 * `internal`, logged (codes and messages of our errors carry no secrets; the stack stays in the log).
 */
export function sendApiError(
  reply: FastifyReply,
  e: unknown,
  status: Partial<Record<ErrorCode, number>>,
  where: { doc: string; log: string },
): FastifyReply {
  if (isEcashError(e)) {
    const code = status[e.code] ?? 500;
    if (code >= 500) reply.log.error({ code: e.code, msg: e.message, stack: e.stack }, 'request failed');
    return reply.code(code).send({ error: { code: e.code, message: e.message } });
  }
  const fe = (typeof e === 'object' && e !== null ? e : {}) as { validation?: unknown; statusCode?: number; message?: string };
  if (fe.validation !== undefined || fe.statusCode === 400)
    return reply.code(400).send({ error: { code: 'bad-request', message: fe.message ?? 'malformed request' } });
  if (fe.statusCode === 413) return reply.code(413).send({ error: { code: 'body-too-large', message: 'request body too large' } });
  if (fe.statusCode === 415) return reply.code(415).send({ error: { code: 'unsupported-media-type', message: 'send application/json' } });
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Other client errors fastify detects (a path parameter too long, a bad Content-Length):
    // answered as every other malformed request is.
    return reply.code(400).send({ error: { code: 'bad-request', message: `the request is malformed; see ${where.doc}` } });
  }
  reply.log.error({ msg: fe.message, stack: (e as Error | undefined)?.stack }, 'request failed');
  return reply.code(500).send({ error: { code: 'internal', message: `internal error; see ${where.log}` } });
}
