/**
 * Fuzzing every route of the bank's HTTP API (fastify inject, a real BankService over an SQLite
 * file): random methods, paths with valid and random parameters and query strings, credentials
 * (an operator's, a holder's, a merchant's, forged, malformed, none), content types, extra headers,
 * and bodies that are the route's valid body mutated, any JSON, or any text. Some requests succeed
 * (an account opened, a coin deposited twice, a session cancelled): the books must stay sound.
 * Properties: no 5xx; every refusal is `{ error: { code, message } }` with a kebab-case code and no
 * stack; the service keeps answering; and afterwards `bank audit` balances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { seededRandom, toHex } from '../../core/index.js';
import { openAccount } from '../core/fixtures.js';
import { type BankFixture, type Holder, newHolder, openingBody, pay, startBank, withdrawCoin } from '../bank/http-fixture.js';
import { countAccepted, fuzz, mutatedJson, TARGET_TIMEOUT_MS } from './harness.js';
import { checkHttpAnswer, fuzzRequest, type RouteSeed } from './http.js';

const FILE = import.meta.url;

describe('fuzzing the bank HTTP API', () => {
  let bank: BankFixture;
  let alice: Holder;
  const tokens: string[] = [];
  const seeds: RouteSeed[] = [];

  beforeAll(async () => {
    bank = await startBank('sqlite');
    const G = bank.group;
    alice = await newHolder(bank, 'alice', 50_000);
    const shop = await bank.operator.addMerchant({ merchantId: 'shop-1' });
    const coins = [await withdrawCoin(bank, alice), await withdrawCoin(bank, alice, bank.small)];
    const deposited = pay(bank, alice, coins[0]!, 'shop-1');
    await bank.anon.withToken(shop.credential).deposit({ suite: G.suite, batchId: 'first', transcripts: [deposited] });
    const session = await alice.client.startWithdrawal(toHex(bank.key.key.keyId));
    tokens.push((await bank.service.addOperator('ops-fuzz')).credential, alice.opened.credential, shop.credential);
    const acct = alice.opened.accountId;
    const fresh = openingBody(G, openAccount(G, 'zed', seededRandom('fuzz-zed')));
    const scalar = '00'.repeat(G.scalarLength - 1) + '07';
    const ids = { accountId: [acct, 'acct-unknown'], sessionId: [session.sessionId], batchId: ['first'], merchantId: ['shop-1', 'shop-2'] };
    const deposit = (batchId: string, ts: unknown[]) => ({ suite: G.suite, batchId, transcripts: ts });
    seeds.push(
      { method: 'GET', path: '/v1/health' },
      { method: 'GET', path: '/v1/parameters' },
      { method: 'POST', path: '/v1/accounts', bodies: [fresh] },
      { method: 'GET', path: '/v1/accounts/:accountId', params: ids },
      { method: 'GET', path: '/v1/accounts/:accountId/statement', params: ids, queries: ['', '?limit=2', '?before=5&limit=1'] },
      {
        method: 'POST',
        path: '/v1/accounts/:accountId/credit',
        params: ids,
        bodies: [{ currency: 'EUR', amount: 100, reference: 'fuzz' }],
      },
      { method: 'POST', path: '/v1/withdrawals', bodies: [{ keyId: toHex(bank.key.key.keyId) }] },
      { method: 'POST', path: '/v1/withdrawals/:sessionId/answer', params: ids, bodies: [{ c: scalar }] },
      { method: 'DELETE', path: '/v1/withdrawals/:sessionId', params: ids },
      {
        method: 'POST',
        path: '/v1/deposits',
        bodies: [
          deposit('second', [pay(bank, alice, coins[1]!, 'shop-1')]),
          deposit('first', [deposited]),
          deposit('again', [deposited, pay(bank, alice, coins[0]!, 'shop-1')]),
        ],
      },
      { method: 'GET', path: '/v1/deposits/:batchId', params: ids },
      { method: 'GET', path: '/v1/double-spends', queries: ['', '?after=1', '?limit=5'] },
      { method: 'POST', path: '/v1/merchants', bodies: [{ merchantId: 'shop-9', name: 'Shop', scopes: ['transit'], feePerCoin: 1 }] },
      { method: 'GET', path: '/v1/merchants/:merchantId', params: ids },
      { method: 'GET', path: '/v1/merchants/:merchantId/statement', params: ids, queries: ['', '?limit=3'] },
    );
  });

  afterAll(async () => {
    await bank?.dispose();
  });

  it(
    'random requests to every route: no 5xx, refusals with a stable code, and the audit balances',
    async () => {
      await fuzz(
        FILE,
        'bank HTTP routes',
        fc.asyncProperty(fc.array(fuzzRequest(seeds, tokens, mutatedJson), { minLength: 1, maxLength: 5 }), async (requests) => {
          for (const r of requests) {
            const res = await bank.server.app.inject(r);
            checkHttpAnswer(`${r.method} ${r.url}`, res.statusCode, res.body);
            if (res.statusCode < 400) countAccepted();
          }
          const audit = await bank.service.audit();
          expect(audit.problems).toEqual([]);
        }),
        60,
      );
      // Still serving: a real request over its socket.
      expect((await fetch(`${bank.url}/v1/health`)).status).toBe(200);
    },
    TARGET_TIMEOUT_MS,
  );
});
