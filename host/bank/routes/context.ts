/** What every route module of the bank's API is given by http.ts. */
import type { FastifyInstance } from 'fastify';
import type { BankService } from '../service.js';

export interface RouteContext {
  service: BankService;
  /** The smaller allowance per client address for account openings; undefined without rate limits. */
  accountOpeningRateLimit?: { max: number; timeWindow: number };
}

/** A resource's routes, registered on the API's plugin. */
export type Routes = (api: FastifyInstance, ctx: RouteContext) => void;
