/** Merchants: added and listed by an operator; read, with their statement, by themselves or an operator. */
import { ACCESS } from '../access.js';
import type { Routes } from './context.js';
import { ID_PAGE_QUERY, idPageOf, MERCHANT_PARAMS, NAME, partyRecordRoutes, TEXT } from './schemas.js';

export const merchantRoutes: Routes = (api, { service }) => {
  api.get(
    '/v1/merchants',
    { config: { access: ACCESS.operator('list merchants') }, schema: { querystring: ID_PAGE_QUERY(NAME) } },
    async (req) => {
      const page = idPageOf(req.query);
      return service.listMerchants(page.after, page.limit);
    },
  );
  api.post(
    '/v1/merchants',
    {
      config: { access: ACCESS.operator('add merchants') },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['merchantId'],
          properties: {
            merchantId: NAME,
            name: TEXT(128),
            scopes: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 64 } },
            feePerCoin: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body as { merchantId: string; name?: string; scopes?: string[]; feePerCoin?: number };
      return reply.code(201).send(await service.addMerchant(b));
    },
  );

  const reads = { view: (id: string) => service.merchantView(id), statement: service.merchantStatement.bind(service) };
  partyRecordRoutes(api, '/v1/merchants/:merchantId', MERCHANT_PARAMS, ACCESS.merchantOrOperator, reads);
};
