/**
 * Bad input on every endpoint of the bank's HTTP API, on both adapters: malformed JSON, wrong
 * types, missing and extra fields, bodies over the limit, bad hex, elements outside the group,
 * the identity, scalars out of range, the wrong suite, bad credentials. Each answer is a 4xx with
 * its stable code, as `{ error: { code, message } }` and nothing else (no stack), and the bank's
 * books are byte-for-byte what they were before. Plus the per-credential rate limit, and that a
 * full deposit batch of the largest suite fits the default body limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getGroup, systemRandom, toHex } from '../../core/index.js';
import { DEFAULT_BODY_LIMIT } from '../../host/bank/http.js';
import { MAX_DEPOSIT_BATCH } from '../../host/bank/service.js';
import {
  ADAPTERS,
  type BankFixture,
  type Holder,
  newHolder,
  openingBody,
  pay,
  raw,
  snapshot,
  startBank,
  withdrawCoin,
} from './http-fixture.js';
import { openAccount } from '../core/fixtures.js';
import { seededRandom } from '../../core/index.js';
import { OpenApiFile, recordResponses } from '../helpers/openapi.js';

const recorded = recordResponses();

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** 'op', 'alice', 'shop' or a literal token; none: no Authorization header. */
  as?: string;
  body?: string | object;
  contentType?: string;
  status: number;
  code: string;
}

function expectCleanError(r: { status: number; text: string; json: unknown }, status: number, code: string, name: string): void {
  expect({ name, status: r.status, code: (r.json as { error?: { code?: string } } | undefined)?.error?.code }).toEqual({
    name,
    status,
    code,
  });
  expect(r.json).toEqual({ error: { code, message: expect.any(String) } });
  expect(r.text).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+|node_modules/);
}

describe.each(ADAPTERS)('bad input to the bank HTTP API on $kind', ({ kind, available }) => {
  let bank: BankFixture;
  let alice: Holder;
  let shopToken: string;
  let sessionId: string;
  let before: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    if (!available) return;
    bank = await startBank(kind);
    alice = await newHolder(bank, 'alice', 5000);
    shopToken = (await bank.operator.addMerchant({ merchantId: 'shop-1' })).credential;
    const coin = await withdrawCoin(bank, alice);
    await bank.anon
      .withToken(shopToken)
      .deposit({ suite: bank.group.suite, batchId: 'first', transcripts: [pay(bank, alice, coin, 'shop-1')] });
    // An open session the bad answers below aim at; it must still answer properly afterwards.
    sessionId = (await alice.client.startWithdrawal(toHex(bank.key.key.keyId))).sessionId;
    const opToken = (await bank.service.addOperator('ops-2')).credential;
    tokens.op = opToken;
    tokens.alice = alice.opened.credential;
    tokens.shop = shopToken;
    before = await snapshot(bank, [alice.opened.accountId], ['shop-1']);
  });
  afterAll(async () => {
    await bank?.dispose();
  });

  describe.skipIf(!available)('', () => {
    it('answers every malformed request with a 4xx and its code, and changes nothing', async () => {
      const G = bank.group;
      const el = (hex: string) => hex;
      const goodEl = toHex(G.encode(G.g1));
      const goodScalar = '00'.repeat(G.scalarLength - 1) + '07';
      const keyId = toHex(bank.key.key.keyId);
      const fresh = openingBody(G, openAccount(G, 'zed', seededRandom(`zed-${kind}`)));
      const acct = alice.opened.accountId;
      const huge = JSON.stringify({ suite: G.suite, batchId: 'huge', transcripts: [{ pad: 'x'.repeat(DEFAULT_BODY_LIMIT) }] });
      const badToken = `ecash.${'0'.repeat(16)}.${'A'.repeat(43)}`;
      const forged = `${tokens.alice!.slice(0, 23)}${'B'.repeat(43)}`;

      const cases: Case[] = [
        // --- POST /v1/accounts
        { name: 'accounts: broken JSON', method: 'POST', path: '/v1/accounts', body: '{"suite":', status: 400, code: 'bad-json' },
        { name: 'accounts: empty JSON body', method: 'POST', path: '/v1/accounts', body: '', status: 400, code: 'bad-json' },
        {
          name: 'accounts: prototype poisoning',
          method: 'POST',
          path: '/v1/accounts',
          body: '{"__proto__":{"x":1},"suite":"s"}',
          status: 400,
          code: 'bad-json',
        },
        { name: 'accounts: array body', method: 'POST', path: '/v1/accounts', body: [], status: 400, code: 'bad-request' },
        {
          name: 'accounts: text/plain',
          method: 'POST',
          path: '/v1/accounts',
          body: JSON.stringify(fresh),
          contentType: 'text/plain',
          status: 415,
          code: 'unsupported-media-type',
        },
        {
          name: 'accounts: holder a number',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, holder: 5 },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'accounts: holder empty',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, holder: '' },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'accounts: holder control char',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, holder: 'a\u0001' },
          status: 400,
          code: 'bad-name',
        },
        {
          name: 'accounts: proof missing',
          method: 'POST',
          path: '/v1/accounts',
          body: { suite: fresh.suite, holder: 'zed', I: fresh.I },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'accounts: extra field',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, admin: true },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'accounts: extra proof field',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, proof: { ...fresh.proof, u1: '00' } },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'accounts: I uppercase hex',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, I: fresh.I.toUpperCase() },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'accounts: I short',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, I: fresh.I.slice(2) },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'accounts: I not hex',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, I: 'zz' + fresh.I.slice(2) },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'accounts: I outside the group',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, I: el('ff'.repeat(G.elementLength)) },
          status: 400,
          code: 'bad-element',
        },
        {
          name: 'accounts: I the identity',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, I: '00'.repeat(G.elementLength) },
          status: 400,
          code: 'bad-element',
        },
        {
          name: 'accounts: proof.t outside the group',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, proof: { ...fresh.proof, t: 'ff'.repeat(G.elementLength) } },
          status: 400,
          code: 'bad-element',
        },
        {
          name: 'accounts: proof.s out of range',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, proof: { ...fresh.proof, s: 'ff'.repeat(G.scalarLength) } },
          status: 400,
          code: 'bad-scalar',
        },
        {
          name: 'accounts: proof of another I',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, I: goodEl },
          status: 400,
          code: 'bad-account-opening',
        },
        {
          name: 'accounts: wrong suite',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, suite: 'modp2048-256' },
          status: 400,
          code: 'wrong-suite',
        },
        {
          name: 'accounts: unknown suite',
          method: 'POST',
          path: '/v1/accounts',
          body: { ...fresh, suite: 'rsa' },
          status: 400,
          code: 'wrong-suite',
        },
        {
          name: 'accounts: existing I',
          method: 'POST',
          path: '/v1/accounts',
          body: openingBody(G, alice.account),
          status: 409,
          code: 'account-exists',
        },
        { name: 'accounts: huge body', method: 'POST', path: '/v1/accounts', body: huge, status: 413, code: 'body-too-large' },
        // --- GET /v1/accounts/:id and its statement
        { name: 'account: no credential', method: 'GET', path: `/v1/accounts/${acct}`, status: 401, code: 'unauthorized' },
        {
          name: 'account: unknown credential',
          method: 'GET',
          path: `/v1/accounts/${acct}`,
          as: badToken,
          status: 401,
          code: 'unauthorized',
        },
        { name: 'account: forged secret', method: 'GET', path: `/v1/accounts/${acct}`, as: forged, status: 401, code: 'unauthorized' },
        { name: 'account: garbage token', method: 'GET', path: `/v1/accounts/${acct}`, as: 'hello', status: 401, code: 'unauthorized' },
        { name: 'account: bad id', method: 'GET', path: '/v1/accounts/xyz', as: 'op', status: 400, code: 'bad-request' },
        // Fuzz counterexample: a URL fastify cannot decode was answered with fastify's own body.
        { name: 'account: bad percent-encoding', method: 'GET', path: '/v1/accounts/%ff', as: 'op', status: 400, code: 'bad-request' },
        {
          name: 'statement: limit not a number',
          method: 'GET',
          path: `/v1/accounts/${acct}/statement?limit=ten`,
          as: 'alice',
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'statement: limit 0',
          method: 'GET',
          path: `/v1/accounts/${acct}/statement?limit=0`,
          as: 'alice',
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'statement: limit 101',
          method: 'GET',
          path: `/v1/accounts/${acct}/statement?limit=101`,
          as: 'alice',
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'statement: before negative',
          method: 'GET',
          path: `/v1/accounts/${acct}/statement?before=-1`,
          as: 'alice',
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'statement: unknown parameter',
          method: 'GET',
          path: `/v1/accounts/${acct}/statement?all=1`,
          as: 'alice',
          status: 400,
          code: 'bad-request',
        },
        // --- POST /v1/accounts/:id/credit
        ...(
          [
            ['amount a string', { currency: 'EUR', amount: '100', reference: 'r' }],
            ['amount fractional', { currency: 'EUR', amount: 1.5, reference: 'r' }],
            ['amount zero', { currency: 'EUR', amount: 0, reference: 'r' }],
            ['amount negative', { currency: 'EUR', amount: -100, reference: 'r' }],
            ['amount unsafe', { currency: 'EUR', amount: 2 ** 60, reference: 'r' }],
            ['currency lowercase', { currency: 'eur', amount: 1, reference: 'r' }],
            ['reference missing', { currency: 'EUR', amount: 1 }],
            ['reference with a newline', { currency: 'EUR', amount: 1, reference: 'a\nb' }],
            ['extra field', { currency: 'EUR', amount: 1, reference: 'r', to: 'me' }],
          ] as const
        ).map(
          ([n, body]): Case => ({
            name: `credit: ${n}`,
            method: 'POST',
            path: `/v1/accounts/${acct}/credit`,
            as: 'op',
            body,
            status: 400,
            code: 'bad-request',
          }),
        ),
        {
          name: 'credit: broken JSON',
          method: 'POST',
          path: `/v1/accounts/${acct}/credit`,
          as: 'op',
          body: '{"currency":"EUR",',
          status: 400,
          code: 'bad-json',
        },
        {
          name: 'credit: by the holder',
          method: 'POST',
          path: `/v1/accounts/${acct}/credit`,
          as: 'alice',
          body: { currency: 'EUR', amount: 1, reference: 'r' },
          status: 403,
          code: 'forbidden',
        },
        {
          name: 'credit: no credential',
          method: 'POST',
          path: `/v1/accounts/${acct}/credit`,
          body: { currency: 'EUR', amount: 1, reference: 'r' },
          status: 401,
          code: 'unauthorized',
        },
        // --- POST /v1/withdrawals
        {
          name: 'withdrawal: keyId short',
          method: 'POST',
          path: '/v1/withdrawals',
          as: 'alice',
          body: { keyId: keyId.slice(2) },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'withdrawal: keyId a number',
          method: 'POST',
          path: '/v1/withdrawals',
          as: 'alice',
          body: { keyId: 5 },
          status: 400,
          code: 'bad-request',
        },
        { name: 'withdrawal: no body', method: 'POST', path: '/v1/withdrawals', as: 'alice', status: 400, code: 'bad-request' },
        {
          name: 'withdrawal: extra field',
          method: 'POST',
          path: '/v1/withdrawals',
          as: 'alice',
          body: { keyId, accountId: acct },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'withdrawal: unknown key',
          method: 'POST',
          path: '/v1/withdrawals',
          as: 'alice',
          body: { keyId: '11'.repeat(32) },
          status: 400,
          code: 'unknown-key',
        },
        {
          name: 'withdrawal: session already open',
          method: 'POST',
          path: '/v1/withdrawals',
          as: 'alice',
          body: { keyId },
          status: 409,
          code: 'session-open',
        },
        {
          name: 'withdrawal: merchant',
          method: 'POST',
          path: '/v1/withdrawals',
          as: 'shop',
          body: { keyId },
          status: 403,
          code: 'forbidden',
        },
        {
          name: 'withdrawal: bad token',
          method: 'POST',
          path: '/v1/withdrawals',
          as: badToken,
          body: { keyId },
          status: 401,
          code: 'unauthorized',
        },
        // --- POST /v1/withdrawals/:id/answer and DELETE
        {
          name: 'answer: c out of range',
          method: 'POST',
          path: `/v1/withdrawals/${sessionId}/answer`,
          as: 'alice',
          body: { c: 'ff'.repeat(G.scalarLength) },
          status: 400,
          code: 'bad-scalar',
        },
        {
          name: 'answer: c short',
          method: 'POST',
          path: `/v1/withdrawals/${sessionId}/answer`,
          as: 'alice',
          body: { c: goodScalar.slice(2) },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'answer: c uppercase',
          method: 'POST',
          path: `/v1/withdrawals/${sessionId}/answer`,
          as: 'alice',
          body: { c: 'AB'.repeat(G.scalarLength) },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'answer: c an array',
          method: 'POST',
          path: `/v1/withdrawals/${sessionId}/answer`,
          as: 'alice',
          body: { c: [goodScalar] },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'answer: broken JSON',
          method: 'POST',
          path: `/v1/withdrawals/${sessionId}/answer`,
          as: 'alice',
          body: '{"c":"00',
          status: 400,
          code: 'bad-json',
        },
        {
          name: 'answer: bad session id',
          method: 'POST',
          path: '/v1/withdrawals/nope/answer',
          as: 'alice',
          body: { c: goodScalar },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'answer: unknown session',
          method: 'POST',
          path: `/v1/withdrawals/${'0'.repeat(32)}/answer`,
          as: 'alice',
          body: { c: goodScalar },
          status: 404,
          code: 'session-not-found',
        },
        {
          name: 'answer: by a merchant',
          method: 'POST',
          path: `/v1/withdrawals/${sessionId}/answer`,
          as: 'shop',
          body: { c: goodScalar },
          status: 403,
          code: 'forbidden',
        },
        {
          name: 'answer: no credential',
          method: 'POST',
          path: `/v1/withdrawals/${sessionId}/answer`,
          body: { c: goodScalar },
          status: 401,
          code: 'unauthorized',
        },
        { name: 'cancel: bad session id', method: 'DELETE', path: '/v1/withdrawals/zz', as: 'alice', status: 400, code: 'bad-request' },
        {
          name: 'cancel: unknown session',
          method: 'DELETE',
          path: `/v1/withdrawals/${'0'.repeat(32)}`,
          as: 'alice',
          status: 404,
          code: 'session-not-found',
        },
        {
          name: 'cancel: by the operator',
          method: 'DELETE',
          path: `/v1/withdrawals/${sessionId}`,
          as: 'op',
          status: 403,
          code: 'forbidden',
        },
        // --- POST /v1/deposits
        {
          name: 'deposit: broken JSON',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: '{"suite":"x","transcripts":[',
          status: 400,
          code: 'bad-json',
        },
        {
          name: 'deposit: wrong suite',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: 'p256-uprove', batchId: 'x1', transcripts: [{}] },
          status: 400,
          code: 'wrong-suite',
        },
        {
          name: 'deposit: batch id with a slash',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: G.suite, batchId: 'a/b', transcripts: [{}] },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'deposit: batch id too long',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: G.suite, batchId: 'a'.repeat(129), transcripts: [{}] },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'deposit: batch id a number',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: G.suite, batchId: 7, transcripts: [{}] },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'deposit: no transcripts',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: G.suite, batchId: 'x2', transcripts: [] },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'deposit: transcripts an object',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: G.suite, batchId: 'x3', transcripts: {} },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'deposit: a transcript a string',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: G.suite, batchId: 'x4', transcripts: ['t'] },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'deposit: too many transcripts',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: G.suite, batchId: 'x5', transcripts: Array.from({ length: MAX_DEPOSIT_BATCH + 1 }, () => ({})) },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'deposit: extra field',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: G.suite, batchId: 'x6', transcripts: [{}], credit: 100 },
          status: 400,
          code: 'bad-request',
        },
        { name: 'deposit: huge body', method: 'POST', path: '/v1/deposits', as: 'shop', body: huge, status: 413, code: 'body-too-large' },
        {
          name: 'deposit: by the operator',
          method: 'POST',
          path: '/v1/deposits',
          as: 'op',
          body: { suite: G.suite, batchId: 'x7', transcripts: [{}] },
          status: 403,
          code: 'forbidden',
        },
        {
          name: 'deposit: no credential',
          method: 'POST',
          path: '/v1/deposits',
          body: { suite: G.suite, batchId: 'x8', transcripts: [{}] },
          status: 401,
          code: 'unauthorized',
        },
        {
          name: 'deposit: same batch id, other transcripts',
          method: 'POST',
          path: '/v1/deposits',
          as: 'shop',
          body: { suite: G.suite, batchId: 'first', transcripts: [{}] },
          status: 409,
          code: 'batch-id-reused',
        },
        // --- GET /v1/deposits/:batchId
        { name: 'batch: bad id', method: 'GET', path: '/v1/deposits/a%20b', as: 'shop', status: 400, code: 'bad-request' },
        { name: 'batch: unknown', method: 'GET', path: '/v1/deposits/none', as: 'shop', status: 404, code: 'batch-not-found' },
        { name: 'batch: operator', method: 'GET', path: '/v1/deposits/first', as: 'op', status: 403, code: 'forbidden' },
        // --- GET /v1/deposits
        { name: 'batches: before not a number', method: 'GET', path: '/v1/deposits?before=x', as: 'op', status: 400, code: 'bad-request' },
        { name: 'batches: after, not before', method: 'GET', path: '/v1/deposits?after=1', as: 'shop', status: 400, code: 'bad-request' },
        { name: 'batches: limit 0', method: 'GET', path: '/v1/deposits?limit=0', as: 'op', status: 400, code: 'bad-request' },
        { name: 'batches: no credential', method: 'GET', path: '/v1/deposits', status: 401, code: 'unauthorized' },
        // --- GET /v1/double-spends
        {
          name: 'double spends: after not a number',
          method: 'GET',
          path: '/v1/double-spends?after=x',
          as: 'op',
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'double spends: limit too big',
          method: 'GET',
          path: '/v1/double-spends?limit=1000',
          as: 'op',
          status: 400,
          code: 'bad-request',
        },
        { name: 'double spends: no credential', method: 'GET', path: '/v1/double-spends', status: 401, code: 'unauthorized' },
        // --- POST /v1/merchants, GET /v1/merchants/:id(/statement)
        {
          name: 'merchant: id empty',
          method: 'POST',
          path: '/v1/merchants',
          as: 'op',
          body: { merchantId: '' },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'merchant: id too long',
          method: 'POST',
          path: '/v1/merchants',
          as: 'op',
          body: { merchantId: 'm'.repeat(65) },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'merchant: fee negative',
          method: 'POST',
          path: '/v1/merchants',
          as: 'op',
          body: { merchantId: 'm1', feePerCoin: -1 },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'merchant: fee a string',
          method: 'POST',
          path: '/v1/merchants',
          as: 'op',
          body: { merchantId: 'm1', feePerCoin: '1' },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'merchant: scopes a string',
          method: 'POST',
          path: '/v1/merchants',
          as: 'op',
          body: { merchantId: 'm1', scopes: 'transit' },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'merchant: bad scope',
          method: 'POST',
          path: '/v1/merchants',
          as: 'op',
          body: { merchantId: 'm1', scopes: ['Transit!'] },
          status: 400,
          code: 'bad-scope',
        },
        {
          name: 'merchant: reserved id',
          method: 'POST',
          path: '/v1/merchants',
          as: 'op',
          body: { merchantId: `account:${acct}` },
          status: 400,
          code: 'bad-name',
        },
        {
          name: 'merchant: extra field',
          method: 'POST',
          path: '/v1/merchants',
          as: 'op',
          body: { merchantId: 'm1', credential: 'mine' },
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'merchant: exists',
          method: 'POST',
          path: '/v1/merchants',
          as: 'op',
          body: { merchantId: 'shop-1' },
          status: 409,
          code: 'merchant-exists',
        },
        {
          name: 'merchant: by a merchant',
          method: 'POST',
          path: '/v1/merchants',
          as: 'shop',
          body: { merchantId: 'm1' },
          status: 403,
          code: 'forbidden',
        },
        {
          name: 'merchant view: id too long',
          method: 'GET',
          path: `/v1/merchants/${'m'.repeat(65)}`,
          as: 'op',
          status: 400,
          code: 'bad-request',
        },
        { name: 'merchant view: unknown', method: 'GET', path: '/v1/merchants/nobody', as: 'op', status: 404, code: 'merchant-not-found' },
        {
          name: 'merchant statement: limit x',
          method: 'GET',
          path: '/v1/merchants/shop-1/statement?limit=x',
          as: 'shop',
          status: 400,
          code: 'bad-request',
        },
        {
          name: 'merchant statement: holder',
          method: 'GET',
          path: '/v1/merchants/shop-1/statement',
          as: 'alice',
          status: 403,
          code: 'forbidden',
        },
        // --- anything else
        { name: 'unknown path', method: 'GET', path: '/v2/health', status: 404, code: 'not-found' },
        { name: 'unknown method', method: 'DELETE', path: '/v1/parameters', status: 404, code: 'not-found' },
      ];

      for (const c of cases) {
        const token = c.as === undefined ? undefined : (tokens[c.as] ?? c.as);
        const body = c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
        const r = await raw(bank, c.method, c.path, {
          ...(token === undefined ? {} : { token }),
          ...(body === undefined ? {} : { body }),
          ...(c.contentType === undefined ? {} : { contentType: c.contentType }),
        });
        expectCleanError(r, c.status, c.code, c.name);
      }

      expect(await snapshot(bank, [alice.opened.accountId], ['shop-1'])).toBe(before);
      // The session the bad answers aimed at is untouched: it still answers, once.
      const r = await alice.client.answerWithdrawal(sessionId, goodScalar);
      expect(r.r).toMatch(/^[0-9a-f]+$/);
    });

    it('takes a full deposit batch of the largest suite within the default body limit', async () => {
      // 1000 transcripts with modp2048-256's 256-byte elements and the longest ids the protocol allows.
      const M = getGroup('modp2048-256');
      const e = 'ab'.repeat(M.elementLength);
      const s = '0c'.repeat(M.scalarLength);
      const t = {
        keyId: '11'.repeat(32),
        coin: { A: e, B: e, z: e, a: e, b: e, r: s },
        merchantId: 'm'.repeat(64),
        terminalId: 't'.repeat(64),
        timestamp: 1_780_000_000_000,
        nonce: '22'.repeat(16),
        r1: s,
        r2: s,
      };
      const body = JSON.stringify({
        suite: M.suite,
        batchId: 'b'.repeat(128),
        transcripts: Array.from({ length: MAX_DEPOSIT_BATCH }, () => t),
      });
      expect(body.length).toBeLessThan(DEFAULT_BODY_LIMIT * 0.8);
      // Past the body limit and the schema, the bank refuses it only for its suite.
      const r = await raw(bank, 'POST', '/v1/deposits', { token: shopToken, body });
      expectCleanError(r, 400, 'wrong-suite', 'modp batch');
    });
  });
});

describe('bank HTTP API rate limit', () => {
  it('answers 429 rate-limited per credential, and other credentials go on', async () => {
    const bank = await startBank('sqlite', { rateLimit: { max: 3, timeWindowMs: 60_000 } });
    try {
      const shop = (await bank.service.addMerchant({ merchantId: 'shop-r' })).credential;
      for (let i = 0; i < 3; i++) expect((await raw(bank, 'GET', '/v1/merchants/shop-r', { token: shop })).status).toBe(200);
      const r = await raw(bank, 'GET', '/v1/merchants/shop-r', { token: shop });
      expectCleanError(r, 429, 'rate-limited', 'fourth request');
      // Another credential has its own budget (the operator client made one request at setup).
      expect((await raw(bank, 'GET', '/v1/merchants/shop-r', { token: (await bank.service.addOperator('o2')).credential })).status).toBe(
        200,
      );
      // No credential: limited per address, like account opening.
      for (let i = 0; i < 3; i++) expect((await raw(bank, 'GET', '/v1/health')).status).toBe(200);
      expectCleanError(await raw(bank, 'GET', '/v1/health'), 429, 'rate-limited', 'health');
    } finally {
      await bank.dispose();
    }
  });

  it('allows fewer account openings per address, on an allowance of their own', async () => {
    const bank = await startBank('sqlite', { rateLimit: { max: 40, timeWindowMs: 60_000 } });
    try {
      // 40 / 20 = 2 openings a window by default.
      for (const name of ['ann', 'ben'])
        expect(
          (
            await raw(bank, 'POST', '/v1/accounts', {
              body: JSON.stringify(openingBody(bank.group, openAccount(bank.group, name, systemRandom))),
            })
          ).status,
        ).toBe(201);
      const third = await raw(bank, 'POST', '/v1/accounts', {
        body: JSON.stringify(openingBody(bank.group, openAccount(bank.group, 'cat', systemRandom))),
      });
      expectCleanError(third, 429, 'rate-limited', 'third opening');
      // The address's general allowance is untouched.
      expect((await raw(bank, 'GET', '/v1/health')).status).toBe(200);
    } finally {
      await bank.dispose();
    }
  });
});

describe('error responses against docs/openapi/bank.json', () => {
  it('match the documented schemas', () => {
    new OpenApiFile('bank').validateRecorded(recorded);
  });
});
