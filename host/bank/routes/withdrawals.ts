/** Withdrawal sessions: start, answer and cancel, by the account holder only. */
import { fromHex, KEY_ID_LENGTH, toHex } from '../../../core/index.js';
import { ACCESS, callerOf } from '../access.js';
import { decodeScalarHex } from '../../bank-client/index.js';
import type { Routes } from './context.js';
import { hexOf, SESSION_PARAMS } from './schemas.js';

export const withdrawalRoutes: Routes = (api, { service }) => {
  const group = service.group;
  const access = ACCESS.accountHolder;
  const config = { access };

  api.post(
    '/v1/withdrawals',
    {
      config,
      schema: { body: { type: 'object', additionalProperties: false, required: ['keyId'], properties: { keyId: hexOf(KEY_ID_LENGTH) } } },
    },
    async (req, reply) => {
      const keyId = fromHex((req.body as { keyId: string }).keyId, 'keyId', KEY_ID_LENGTH);
      return reply.code(201).send(await service.startWithdrawal(callerOf(req, access).accountId, keyId));
    },
  );

  api.post(
    '/v1/withdrawals/:sessionId/answer',
    {
      config,
      schema: {
        params: SESSION_PARAMS,
        body: { type: 'object', additionalProperties: false, required: ['c'], properties: { c: hexOf(group.scalarLength) } },
      },
    },
    async (req) => {
      const { sessionId } = req.params as { sessionId: string };
      const c = decodeScalarHex(group, (req.body as { c: string }).c, 'c');
      const r = await service.answerWithdrawal(callerOf(req, access).accountId, sessionId, c);
      return { r: toHex(group.scalars.encode(r)) };
    },
  );

  api.delete('/v1/withdrawals/:sessionId', { config, schema: { params: SESSION_PARAMS } }, async (req, reply) => {
    await service.cancelWithdrawal(callerOf(req, access).accountId, (req.params as { sessionId: string }).sessionId);
    return reply.code(204).send();
  });
};
