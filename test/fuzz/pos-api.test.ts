/**
 * Fuzzing every route of the POS integration API (fastify inject) on a real terminal: a real bank
 * over HTTP on SQLite, a card loaded through a reader and left in the terminal's reader, so random
 * requests start payments the card really pays (or declines), cancel them, send PINs, follow
 * events and settle at the bank. Requests: random methods, ids, query strings, API keys (right,
 * forged, malformed, none), content types, headers and bodies (valid ones mutated, any JSON, any
 * text). Properties: no 5xx; every refusal is `{ error: { code, message } }` with a kebab-case
 * code; the terminal keeps answering; and afterwards its journal reads back and, once settled,
 * the bank's audit balances.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isEcashError } from '../../core/index.js';
import { VirtualTransport } from '../../reader-bridge/index.js';
import { buildPosApi } from '../../host/pos/api.js';
import { FINAL_STATES } from '../../host/pos/journal.js';
import type { PaymentTerminal } from '../../host/pos/terminal.js';
import { loadViaReader, PIN, World } from '../helpers/world.js';
import { countAccepted, fuzz, mutatedJson, TARGET_TIMEOUT_MS } from './harness.js';
import { checkHttpAnswer, fuzzRequest, type RouteSeed } from './http.js';

const FILE = import.meta.url;
const API_KEY = 'register-key-0123456789';
const READER = 'Counter';

describe('fuzzing the POS API', () => {
  let world: World;
  let readers: VirtualTransport;
  let terminal: PaymentTerminal;
  let app: FastifyInstance;
  const seeds: RouteSeed[] = [];

  /** No payment left running: a later request would find the terminal busy for good. */
  async function quiesce(): Promise<void> {
    for (const p of terminal.listPayments({ limit: 50 })) {
      if (FINAL_STATES.includes(p.state)) continue;
      try {
        terminal.cancel(p.id, { abandon: true });
      } catch (e) {
        if (!isEcashError(e, 'payment-in-flight') && !isEcashError(e, 'payment-final')) throw e;
      }
    }
    await terminal.idle();
  }

  beforeAll(async () => {
    world = new World();
    await world.startBank();
    const shop = await world.addMerchant('fuzz-shop');
    readers = new VirtualTransport([READER, 'Load']);
    const card = await world.card({ noPinLimit: 500 });
    await loadViaReader(world, readers, 'Load', card, 'carol', 100_000, 20_000);
    readers.insertCard(READER, card);
    terminal = await world.terminal(
      readers,
      { merchantId: 'fuzz-shop', bank: shop },
      { readerName: READER, terminalId: 'pos-fuzz', cardWaitMs: 300, pinWaitMs: 300 },
    );
    app = buildPosApi(terminal, { apiKey: API_KEY });
    const first = terminal.startPayment({ amount: 120, currency: 'EUR', reference: 'order-1' });
    await terminal.idle();
    const ids = { id: [first.id, '0000000000'] };
    seeds.push(
      { method: 'GET', path: '/v1/health' },
      {
        method: 'POST',
        path: '/v1/payments',
        bodies: [
          { amount: 120, currency: 'EUR', reference: 'order-2' },
          { amount: 700, currency: 'EUR' },
        ],
      },
      { method: 'GET', path: '/v1/payments', queries: ['', '?limit=5', '?limit=2&before=99999999999999'] },
      { method: 'GET', path: '/v1/payments/:id', params: ids },
      { method: 'POST', path: '/v1/payments/:id/cancel', params: ids, bodies: [{ abandon: true }, {}] },
      { method: 'POST', path: '/v1/payments/:id/pin', params: ids, bodies: [{ pin: PIN }] },
      { method: 'GET', path: '/v1/payments/:id/events', params: ids },
      { method: 'GET', path: '/v1/settlement' },
      { method: 'POST', path: '/v1/settlement' },
    );
  });

  afterAll(async () => {
    await app?.close();
    await readers?.close();
    await world?.close();
  });

  it(
    'random requests to every route: no 5xx, refusals with a stable code; afterwards the books balance',
    async () => {
      await fuzz(
        FILE,
        'POS API routes',
        fc.asyncProperty(fc.array(fuzzRequest(seeds, [API_KEY], mutatedJson), { minLength: 1, maxLength: 4 }), async (requests) => {
          try {
            for (const r of requests) {
              const res = await app.inject(r);
              checkHttpAnswer(`${r.method} ${r.url}`, res.statusCode, res.body);
              if (res.statusCode < 400) countAccepted();
            }
          } finally {
            await quiesce();
          }
        }),
        25,
      );
      expect((await app.inject({ method: 'GET', url: '/v1/health' })).statusCode).toBe(200);
      // Everything the terminal took is deposited, and the bank's books balance.
      const report = await terminal.settle();
      expect(report).toBeDefined();
      const status = terminal.settlementStatus();
      expect(status.unsettled).toBe(0);
      expect((await world.service.audit()).problems).toEqual([]);
    },
    TARGET_TIMEOUT_MS,
  );
});
