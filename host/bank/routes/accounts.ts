/** Accounts: opening (anyone), reading and statements (the account or an operator), the list and cash-in (an operator). */
import { AMOUNT_SCHEMA } from '../../../core/index.js';
import { ACCESS } from '../access.js';
import type { AccountOpeningJson } from '../../bank-client/index.js';
import type { Routes } from './context.js';
import { ACCOUNT_ID, ACCOUNT_PARAMS, hexOf, ID_PAGE_QUERY, idPageOf, NAME, partyRecordRoutes, TEXT } from './schemas.js';

export const accountRoutes: Routes = (api, { service, accountOpeningRateLimit }) => {
  const group = service.group;
  api.get(
    '/v1/accounts',
    { config: { access: ACCESS.operator('list accounts') }, schema: { querystring: ID_PAGE_QUERY(ACCOUNT_ID) } },
    async (req) => {
      const page = idPageOf(req.query);
      return service.listAccounts(page.after, page.limit);
    },
  );
  api.post(
    '/v1/accounts',
    {
      // Its own, smaller allowance per client address (it has no credential to count by).
      config: { access: ACCESS.anyone, ...(accountOpeningRateLimit === undefined ? {} : { rateLimit: accountOpeningRateLimit }) },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['suite', 'holder', 'I', 'proof'],
          properties: {
            suite: { type: 'string', maxLength: 64 },
            holder: NAME,
            I: hexOf(group.elementLength),
            proof: {
              type: 'object',
              additionalProperties: false,
              required: ['t', 's'],
              properties: { t: hexOf(group.elementLength), s: hexOf(group.scalarLength) },
            },
          },
        },
      },
    },
    async (req, reply) => reply.code(201).send(await service.openAccountJson(req.body as AccountOpeningJson)),
  );

  const reads = { view: (id: string) => service.accountView(id), statement: service.accountStatement.bind(service) };
  partyRecordRoutes(api, '/v1/accounts/:accountId', ACCOUNT_PARAMS, ACCESS.accountOrOperator, reads);

  api.post(
    '/v1/accounts/:accountId/credit',
    {
      config: { access: ACCESS.operator('credit accounts') },
      schema: {
        params: ACCOUNT_PARAMS,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['currency', 'amount', 'reference'],
          properties: {
            currency: { type: 'string', pattern: '^[A-Z]{3}$' },
            amount: AMOUNT_SCHEMA,
            reference: TEXT(128),
          },
        },
      },
    },
    async (req) => {
      const b = req.body as { currency: string; amount: number; reference: string };
      return service.cashIn((req.params as { accountId: string }).accountId, b.currency, b.amount, b.reference);
    },
  );
};
