/**
 * The simulator's test-helper API over real HTTP: the token, making cards (honest and special,
 * loaded through the real bank over HTTP), inserting and removing them, a removal armed for the
 * middle of a command, and every refusal with its code. A terminal in this process takes a
 * payment from a simulated reader, and a card pulled during its PAY is finished when it comes
 * back. Every answer is checked against docs/openapi/sim.json, and the file's operations against
 * the routes the app registers.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildSimApi, type CardView, type ReaderView, Simulator } from '../../host/sim/index.js';
import type { PaymentTerminal } from '../../host/pos/index.js';
import { OpenApiFile, recordResponses, registeredRoutes } from '../helpers/openapi.js';
import { atState, reasonOf, World } from '../helpers/world.js';

const TOKEN = 'sim-token-0123456789abcdef';

let world: World;
let sim: Simulator;
let app: FastifyInstance;
let base: string;
let operatorToken: string;
let terminal: PaymentTerminal;

const recorded = recordResponses((url) => world !== undefined && url.origin !== new URL(world.url).origin);
const spec = new OpenApiFile('sim');

async function call<T>(method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const codeOf = (r: { body: unknown }) => (r.body as { error?: { code?: string } }).error?.code;

beforeAll(async () => {
  world = new World();
  await world.startBank();
  operatorToken = (await world.service.addOperator('simulator')).credential;
  sim = new Simulator({ readers: 2 });
  app = buildSimApi(sim, { token: TOKEN });
  base = `${await app.listen({ port: 0, host: '127.0.0.1' })}/v1`;
  const shop = await world.addMerchant('sim-shop');
  terminal = await world.terminal(
    sim.readers,
    { merchantId: 'sim-shop', bank: shop },
    { readerName: 'Sim 0', terminalId: 'sim-api', cardWaitMs: 10_000 },
  );
});

// A test that failed half-way leaves no card in a reader.
afterEach(async () => {
  for (const r of sim.listReaders()) if (r.card !== null) sim.remove(r.name);
});

afterAll(async () => {
  await app?.close();
  await world?.close();
  await sim?.close();
});

describe('the test-helper API', () => {
  it('answers health without the token and nothing else without it', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const refused = await call('GET', '/readers', undefined, 'not-the-token-0123456789');
    expect(refused.status).toBe(401);
    expect(codeOf(refused)).toBe('unauthorized');
    expect((await fetch(`${base}/cards`)).status).toBe(401);
  });

  it('lists the simulated readers, empty at first', async () => {
    const r = await call<{ readers: ReaderView[] }>('GET', '/readers');
    expect(r.body.readers).toEqual([
      { name: 'Sim 0', card: null, pull: null },
      { name: 'Sim 1', card: null, pull: null },
    ]);
  });

  it('makes a card loaded through the bank, inserts it, and a terminal takes a payment from it', async () => {
    const made = await call<CardView>('POST', '/cards', {
      noPinLimit: 10_000,
      profile: 'jcop4',
      load: { bank: world.url, operatorToken, amount: 1_000, holder: 'Ann' },
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      kind: 'standard',
      suite: world.suite,
      profile: 'jcop4',
      reader: null,
      loaded: { amount: 1_000, currency: 'EUR' },
      pinBlocked: false,
    });
    expect((await world.operator.account(made.body.account!)).balances).toEqual([{ currency: 'EUR', balance: 0 }]);
    const p = terminal.startPayment({ amount: 250, currency: 'EUR' });
    const inserted = await call<ReaderView>('POST', `/readers/${encodeURIComponent('Sim 0')}/insert`, { card: made.body.id });
    expect(inserted.body).toEqual({ name: 'Sim 0', card: made.body.id, pull: null });
    expect((await terminal.outcome(p.id)).state).toBe('approved');
    expect((await call<CardView>('GET', `/cards/${made.body.id}`)).body.reader).toBe('Sim 0');
    const out = await call<ReaderView>('POST', `/readers/${encodeURIComponent('Sim 0')}/remove`);
    expect(out.body).toEqual({ name: 'Sim 0', card: null, pull: null });
  });

  it('a card pulled during its PAY: the terminal is interrupted, and finishes the payment when the card comes back', async () => {
    const made = await call<CardView>('POST', '/cards', {
      kind: 'pulled-mid-tap',
      noPinLimit: 10_000,
      load: { bank: world.url, operatorToken, amount: 800 },
    });
    expect(made.status).toBe(201);
    const p = terminal.startPayment({ amount: 300, currency: 'EUR' });
    const interrupted = atState(terminal, 'interrupted');
    await call('POST', '/readers/Sim%200/insert', { card: made.body.id });
    await interrupted;
    expect((await call<{ readers: ReaderView[] }>('GET', '/readers')).body.readers[0]!.card).toBeNull();
    await call('POST', '/readers/Sim%200/insert', { card: made.body.id });
    const view = await terminal.outcome(p.id);
    expect(view.state).toBe('approved');
    expect(view.events.map((e) => e.state)).toContain('interrupted');
  });

  it('arms a removal after n more commands and shows it on the reader', async () => {
    const made = await call<CardView>('POST', '/cards', { noPinLimit: 10_000 });
    await call('POST', '/readers/Sim%201/insert', { card: made.body.id });
    const armed = await call<ReaderView>('POST', '/readers/Sim%201/remove', { afterApdus: 1 });
    expect(armed.body.pull).toEqual({ afterApdus: 1 });
    const channel = await sim.readers.connect('Sim 1');
    const select = Uint8Array.from(Buffer.from('00a4040007f045434153480100', 'hex'));
    try {
      // The first command is answered; the card leaves during the second.
      expect((await channel.transmit(select, { timeoutMs: 5_000 })).slice(-2)).toEqual(Uint8Array.of(0x90, 0x00));
      await expect(channel.transmit(select, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'card-removed' });
    } finally {
      await channel.disconnect('leave');
    }
    expect((await call<CardView>('GET', `/cards/${made.body.id}`)).body.reader).toBeNull();
  });

  it('makes the special cards, refusing the ones that make no sense', async () => {
    const blocked = await call<CardView>('POST', '/cards', { kind: 'blocked-pin' });
    expect(blocked.body).toMatchObject({ kind: 'blocked-pin', pinBlocked: true, noPinLimit: 0 });
    const other = await call<CardView>('POST', '/cards', { suite: 'p256-uprove' });
    expect(other.body.suite).toBe('p256-uprove');
    const single = await call<CardView>('POST', '/cards', {
      kind: 'no-exact-change',
      noPinLimit: 10_000,
      load: { bank: world.url, operatorToken, amount: 500 },
    });
    expect(single.status).toBe(201);
    const cheat = await call<CardView>('POST', '/cards', {
      kind: 'double-spending',
      noPinLimit: 10_000,
      load: { bank: world.url, operatorToken, amount: 20 },
    });
    expect(cheat.status).toBe(201);
    for (const [body, code] of [
      [{ kind: 'empty', load: { bank: world.url, operatorToken, amount: 5 } }, 'bad-card-spec'],
      [{ kind: 'double-spending' }, 'bad-card-spec'],
      [{ kind: 'blocked-pin', noPinLimit: 5 }, 'bad-card-spec'],
      [{ kind: 'no-exact-change', load: { bank: world.url, operatorToken, amount: 7 } }, 'bad-card-spec'],
      [{ suite: 'modp2048-256', load: { bank: world.url, operatorToken, amount: 5 } }, 'bad-card-spec'],
      [{ kind: 'gold' }, 'bad-request'],
      [{ pin: 1234 }, 'bad-request'],
      [{ colour: 'red' }, 'bad-request'],
    ] as const) {
      const r = await call('POST', '/cards', body);
      expect([r.status, codeOf(r)], JSON.stringify(body)).toEqual([400, code]);
    }
    const wrongBank = await call('POST', '/cards', { load: { bank: world.url, operatorToken: 'not-an-operator', amount: 100 } });
    expect([wrongBank.status, codeOf(wrongBank)]).toEqual([502, 'load-failed']);
    expect(JSON.stringify(wrongBank.body)).not.toContain('not-an-operator');
    expect((await call<{ cards: CardView[] }>('GET', '/cards')).body.cards.map((c) => c.kind)).toEqual(
      expect.arrayContaining(['blocked-pin', 'no-exact-change', 'double-spending']),
    );
  });

  it('refuses to move cards that are not there, with stable codes', async () => {
    const a = (await call<CardView>('POST', '/cards', {})).body.id;
    const b = (await call<CardView>('POST', '/cards', {})).body.id;
    await call('POST', '/readers/Sim%201/insert', { card: a });
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/readers/Sim%200/insert', { card: a }, 409, 'card-in-reader'],
      ['POST', '/readers/Sim%201/insert', { card: b }, 409, 'reader-occupied'],
      ['POST', '/readers/Sim%200/remove', undefined, 409, 'reader-empty'],
      ['POST', '/readers/Sim%209/insert', { card: b }, 404, 'reader-not-found'],
      ['POST', '/readers/Sim%200/insert', { card: 'card-999' }, 404, 'card-not-found'],
      ['GET', '/cards/card-999', undefined, 404, 'card-not-found'],
      ['GET', '/cards/alice', undefined, 400, 'bad-request'],
      ['POST', '/readers/Sim%201/remove', { afterApdus: 2, during: 'pay' }, 400, 'bad-request'],
      ['POST', '/readers/Sim%201/remove', { afterApdus: -1 }, 400, 'bad-request'],
      ['GET', '/nothing', undefined, 404, 'not-found'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await call(method, path, body);
      expect([r.status, codeOf(r)], `${method} ${path}`).toEqual([status, code]);
    }
  });

  it('a declined payment names its reason: the empty card', async () => {
    const empty = (await call<CardView>('POST', '/cards', { kind: 'empty', noPinLimit: 10_000 })).body;
    const p = terminal.startPayment({ amount: 100, currency: 'EUR' });
    await call('POST', '/readers/Sim%200/insert', { card: empty.id });
    const view = await terminal.outcome(p.id);
    expect([view.state, reasonOf(view)]).toEqual(['declined', 'insufficient-funds']);
  });
});

describe('docs/openapi/sim.json', () => {
  it('documents exactly the routes the simulator registers, and is OpenAPI 3.1 whose refs resolve', async () => {
    const idle = new Simulator({ readers: 1 });
    const other = buildSimApi(idle, { token: TOKEN });
    try {
      expect(await registeredRoutes(other)).toEqual(spec.operations());
    } finally {
      await other.close();
      await idle.close();
    }
    spec.checkStructure();
  });

  it('describes every answer this file received', () => {
    expect(spec.validateRecorded(recorded)).toEqual(spec.operations());
  });
});
