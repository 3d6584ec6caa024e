/**
 * Deposit batches: posted and read back by their depositor (a merchant, or an account holder's
 * own); listed newest first, all of them for an operator, its own for a depositor.
 */
import { ACCESS, callerOf } from '../access.js';
import { MAX_DEPOSIT_BATCH } from '../service.js';
import type { Routes } from './context.js';
import { BATCH_ID, BATCH_PARAMS, PAGE_QUERY, pageOf } from './schemas.js';

export const depositRoutes: Routes = (api, { service }) => {
  const access = ACCESS.depositor;
  api.post(
    '/v1/deposits',
    {
      config: { access },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['suite', 'batchId', 'transcripts'],
          properties: {
            suite: { type: 'string', maxLength: 64 },
            batchId: BATCH_ID,
            // Each transcript's fields are checked by the verification workers, so one bad
            // transcript is rejected on its own and the rest of the batch still counts.
            transcripts: { type: 'array', minItems: 1, maxItems: MAX_DEPOSIT_BATCH, items: { type: 'object' } },
          },
        },
      },
    },
    async (req) => {
      const b = req.body as { suite: string; batchId: string; transcripts: unknown[] };
      service.checkSuite(b.suite);
      return service.deposit(callerOf(req, access), b.batchId, b.transcripts);
    },
  );

  api.get('/v1/deposits/:batchId', { config: { access }, schema: { params: BATCH_PARAMS } }, async (req) =>
    service.getDepositBatch(callerOf(req, access), (req.params as { batchId: string }).batchId),
  );

  const lister = ACCESS.anyParty;
  api.get('/v1/deposits', { config: { access: lister }, schema: { querystring: PAGE_QUERY('before') } }, async (req) => {
    const page = pageOf(req.query, 'before');
    return service.listDepositBatches(callerOf(req, lister), page.cursor, page.limit);
  });
};
