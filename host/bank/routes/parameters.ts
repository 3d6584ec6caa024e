/** GET /v1/health and GET /v1/parameters: open to anyone. */
import { ACCESS } from '../access.js';
import type { Routes } from './context.js';

export const parameterRoutes: Routes = (api, { service }) => {
  const config = { access: ACCESS.anyone };
  api.get('/v1/health', { config }, () => service.health());
  api.get('/v1/parameters', { config }, async () => service.parameters());
};
