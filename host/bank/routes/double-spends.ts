/** GET /v1/double-spends: every credential; an operator sees all, a depositor those of its own deposits. */
import { ACCESS, callerOf } from '../access.js';
import type { Routes } from './context.js';
import { PAGE_QUERY, pageOf } from './schemas.js';

export const doubleSpendRoutes: Routes = (api, { service }) => {
  const access = ACCESS.anyParty;
  api.get('/v1/double-spends', { config: { access }, schema: { querystring: PAGE_QUERY('after') } }, async (req) => {
    const page = pageOf(req.query, 'after');
    return service.listDoubleSpends(callerOf(req, access), page.cursor, page.limit);
  });
};
