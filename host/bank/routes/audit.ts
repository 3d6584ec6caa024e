/** GET /v1/audit: the books' verdict (as `ecash bank audit` gives it), for an operator. */
import { ACCESS } from '../access.js';
import type { Routes } from './context.js';

export const auditRoutes: Routes = (api, { service }) => {
  api.get('/v1/audit', { config: { access: ACCESS.operator('read the audit') } }, async () => service.audit());
};
