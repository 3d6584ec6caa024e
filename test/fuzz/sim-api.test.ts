/**
 * Fuzzing the card simulator's test-helper API (fastify inject) on a real simulator with two
 * readers: random requests make cards, insert and remove them, arm removals, read traces and open
 * and close browser sessions, with random methods, reader names, card ids, tokens, session
 * cookies, content types and bodies (valid ones mutated, any JSON, any text). The event stream is
 * left out: it stays open by design (test/sim/api.test.ts reads it). Properties: no 5xx; every
 * refusal is `{ error: { code, message } }` with a kebab-case code; and afterwards the simulator
 * still answers and every card it lists sits where the readers say.
 */
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSimApi, type CardView, type ReaderView, Simulator } from '../../host/sim/index.js';
import { countAccepted, fuzz, mutatedJson, TARGET_TIMEOUT_MS } from './harness.js';
import { checkHttpAnswer, fuzzRequest, type RouteSeed } from './http.js';

const FILE = import.meta.url;
const TOKEN = 'sim-fuzz-token-0123456789';

describe('fuzzing the simulator API', () => {
  let sim: Simulator;
  let app: FastifyInstance;
  let cookie: string;
  const seeds: RouteSeed[] = [];

  beforeAll(async () => {
    sim = new Simulator({ readers: 2 });
    app = buildSimApi(sim, { token: TOKEN });
    const card = await sim.createCard({ kind: 'standard', pin: '1234', puk: '12345678', noPinLimit: 0 });
    const opened = await app.inject({ method: 'POST', url: '/v1/session', headers: { authorization: `Bearer ${TOKEN}` } });
    cookie = String(opened.headers['set-cookie']).split(';')[0]!;
    const readers = { name: ['Sim%200', 'Sim%201', 'Sim%209'] };
    seeds.push(
      { method: 'GET', path: '/v1/health' },
      { method: 'GET', path: '/v1/readers' },
      { method: 'GET', path: '/v1/cards' },
      { method: 'GET', path: '/v1/cards/:id', params: { id: [card.id, 'card-999'] } },
      {
        method: 'POST',
        path: '/v1/cards',
        bodies: [{}, { kind: 'empty', noPinLimit: 500, profile: 'jcop4' }, { kind: 'blocked-pin', pin: '4321' }, { suite: 'p256-uprove' }],
      },
      { method: 'POST', path: '/v1/readers/:name/insert', params: readers, bodies: [{ card: card.id }, { card: 'card-2' }] },
      { method: 'POST', path: '/v1/readers/:name/remove', params: readers, bodies: [{}, { afterApdus: 2 }, { during: 'pay' }] },
      { method: 'GET', path: '/v1/readers/:name/trace', params: readers },
      { method: 'POST', path: '/v1/session' },
      { method: 'DELETE', path: '/v1/session' },
    );
  });

  afterAll(async () => {
    await app?.close();
    await sim?.close();
  });

  it(
    'random requests to every route but the stream: no 5xx, refusals with a stable code; the simulator stays consistent',
    async () => {
      await fuzz(
        FILE,
        'simulator API routes',
        fc.asyncProperty(
          fc.array(
            fc.tuple(fuzzRequest(seeds, [TOKEN], mutatedJson), fc.boolean()).map(([r, withCookie]) =>
              // Some requests carry the panel's session instead of (or beside) a token.
              withCookie ? { ...r, headers: { ...r.headers, cookie } } : r,
            ),
            { minLength: 1, maxLength: 4 },
          ),
          async (requests) => {
            for (const r of requests) {
              const res = await app.inject(r);
              checkHttpAnswer(`${r.method} ${r.url}`, res.statusCode, res.body);
              if (res.statusCode < 400) countAccepted();
            }
          },
        ),
        25,
      );
      const auth = { authorization: `Bearer ${TOKEN}` };
      const readers = (await app.inject({ method: 'GET', url: '/v1/readers', headers: auth })).json<{ readers: ReaderView[] }>().readers;
      const cards = (await app.inject({ method: 'GET', url: '/v1/cards', headers: auth })).json<{ cards: CardView[] }>().cards;
      for (const c of cards) if (c.reader !== null) expect(readers.find((r) => r.name === c.reader)?.card).toBe(c.id);
      for (const r of readers) if (r.card !== null) expect(cards.find((c) => c.id === r.card)?.reader).toBe(r.name);
    },
    TARGET_TIMEOUT_MS,
  );
});
