/**
 * The JSON-schema pieces the bank's routes share, the page query they read, and the two reads an
 * account and a merchant share. Query integers arrive as strings (no coercion anywhere, so bodies
 * stay strictly typed).
 */
import type { FastifyInstance } from 'fastify';
import { EcashError } from '../../../core/index.js';
import type { Access } from '../access.js';
import type { StatementJson } from '../../bank-client/index.js';
import { PAGE_MAX } from '../service.js';

const STATEMENT_DEFAULT_LIMIT = 50;

export const hexOf = (bytes: number) => ({ type: 'string', pattern: `^[0-9a-f]{${bytes * 2}}$` }) as const;
/** Holder names and merchant ids: the service checks the byte length and control characters. */
export const NAME = { type: 'string', minLength: 1, maxLength: 64 } as const;
/** Free text the bank stores and shows back (references, merchant names): no control characters. */
export const TEXT = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }) as const;
const HEX_ID = (n: number) => ({ type: 'string', pattern: `^[0-9a-f]{${n}}$` }) as const;
export const BATCH_ID = { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' } as const;
const QUERY_INT = { type: 'string', pattern: '^[0-9]{1,15}$' } as const;
export const PAGE_QUERY = (cursor: 'before' | 'after') =>
  ({ type: 'object', additionalProperties: false, properties: { [cursor]: QUERY_INT, limit: QUERY_INT } }) as const;
export const ACCOUNT_PARAMS = { type: 'object', required: ['accountId'], properties: { accountId: HEX_ID(24) } } as const;
export const MERCHANT_PARAMS = { type: 'object', required: ['merchantId'], properties: { merchantId: NAME } } as const;
export const SESSION_PARAMS = { type: 'object', required: ['sessionId'], properties: { sessionId: HEX_ID(32) } } as const;
export const BATCH_PARAMS = { type: 'object', required: ['batchId'], properties: { batchId: BATCH_ID } } as const;

/** A page of a list in id order: `after` an id (of the form `id` allows) and its size. */
export const ID_PAGE_QUERY = (id: object) =>
  ({ type: 'object', additionalProperties: false, properties: { after: id, limit: QUERY_INT } }) as const;
export const ACCOUNT_ID = HEX_ID(24);

/** The `after` id and the size of an ID_PAGE_QUERY page. */
export function idPageOf(query: unknown): { after: string | undefined; limit: number } {
  const { limit } = pageOf({ limit: (query as { limit?: string }).limit }, 'after');
  return { after: (query as { after?: string }).after, limit };
}

/** A page's cursor (`before` or `after`, as PAGE_QUERY named it) and its size, from a request's query. */
export function pageOf(query: unknown, cursor: 'before' | 'after'): { cursor: number | undefined; limit: number } {
  const q = query as { limit?: string } & Partial<Record<typeof cursor, string>>;
  const limit = q.limit === undefined ? STATEMENT_DEFAULT_LIMIT : Number(q.limit);
  if (limit < 1 || limit > PAGE_MAX) throw new EcashError('bad-request', `querystring/limit must be 1 to ${PAGE_MAX}`);
  const at = q[cursor];
  return { cursor: at === undefined ? undefined : Number(at), limit };
}

/**
 * GET `path` (an account's or a merchant's record) and GET `path`/statement (its ledger, a page
 * at a time, newest first), for the parties `access` lets read it; the last path parameter is the
 * party's id.
 */
export function partyRecordRoutes(
  api: FastifyInstance,
  path: string,
  params: typeof ACCOUNT_PARAMS | typeof MERCHANT_PARAMS,
  access: Access,
  reads: {
    view: (id: string) => Promise<unknown>;
    statement: (id: string, before: number | undefined, limit: number) => Promise<StatementJson>;
  },
): void {
  const config = { access };
  const idOf = (p: unknown) => (p as Record<string, string>)[params.required[0]]!;
  api.get(path, { config, schema: { params } }, async (req) => reads.view(idOf(req.params)));
  api.get(`${path}/statement`, { config, schema: { params, querystring: PAGE_QUERY('before') } }, async (req) => {
    const page = pageOf(req.query, 'before');
    return reads.statement(idOf(req.params), page.cursor, page.limit);
  });
}
