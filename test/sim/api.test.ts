/**
 * The simulator's test-helper API over real HTTP: the token, making cards (honest and special,
 * loaded through the real bank over HTTP), inserting and removing them, a removal armed for the
 * middle of a command, and every refusal with its code. A terminal in this process takes a
 * payment from a simulated reader, and a card pulled during its PAY is finished when it comes
 * back. Each reader's APDU trace of the current tap (PIN redacted), the browser session a page
 * trades the token for, and the event stream. Every answer is checked against
 * docs/openapi/sim.json, and the file's operations against the routes the app registers.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildSimApi, type CardView, type ReaderView, Simulator, type TapTrace } from '../../host/sim/index.js';
import type { PaymentTerminal } from '../../host/pos/index.js';
import { OpenApiFile, recordResponses, registeredRoutes } from '../helpers/openapi.js';
import { EventStreamReader } from '../helpers/sse.js';
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

async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  token = TOKEN,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token === '' ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
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
    expect((await call('GET', '/readers/Sim%201/trace')).body).toEqual({ reader: 'Sim 1', trace: null });
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
    const stranger = await call<CardView>('POST', '/cards', {
      kind: 'unknown-key',
      noPinLimit: 10_000,
      load: { bank: world.url, operatorToken, amount: 200 },
    });
    // Nothing was paid in at the bank: the coin is a fixture key's, and the card has no account there.
    expect([stranger.status, stranger.body.kind, stranger.body.account]).toEqual([201, 'unknown-key', null]);
    for (const [body, code] of [
      [{ kind: 'empty', load: { bank: world.url, operatorToken, amount: 5 } }, 'bad-card-spec'],
      [{ kind: 'double-spending' }, 'bad-card-spec'],
      [{ kind: 'unknown-key' }, 'bad-card-spec'],
      [{ kind: 'unknown-key', load: { bank: world.url, operatorToken, amount: 7 } }, 'bad-card-spec'],
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
      expect.arrayContaining(['blocked-pin', 'no-exact-change', 'double-spending', 'unknown-key']),
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
      // Found by test/fuzz/sim-api.test.ts: fastify's own refusals answered 414 or 500 without a code.
      ['GET', `/cards/${'a'.repeat(300)}`, undefined, 400, 'bad-request'],
      ['GET', '/readers/%ff/trace', undefined, 400, 'bad-request'],
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

describe('traces, browser sessions and the event stream', () => {
  const PIN = '86420975';

  it("traces the current tap: each command named, with lengths, status word and the chip's time; the PIN redacted", async () => {
    const made = await call<CardView>('POST', '/cards', {
      pin: PIN,
      profile: 'jcop4',
      load: { bank: world.url, operatorToken, amount: 700 },
    });
    const p = terminal.startPayment({ amount: 120, currency: 'EUR' });
    const pin = atState(terminal, 'pin-required', () => terminal.supplyPin(p.id, PIN));
    await call('POST', '/readers/Sim%200/insert', { card: made.body.id });
    await pin;
    expect((await terminal.outcome(p.id)).state).toBe('approved');
    const r = await call<{ reader: string; trace: TapTrace }>('GET', '/readers/Sim%200/trace');
    expect(r.status).toBe(200);
    const trace = r.body.trace;
    expect(trace).toMatchObject({ reader: 'Sim 0', card: made.body.id, removedAt: null, dropped: 0 });
    expect(trace.exchanges.map((e) => e.seq)).toEqual(trace.exchanges.map((_, i) => i + 1));
    const names = trace.exchanges.map((e) => e.name);
    expect(names[0]).toBe('SELECT');
    expect(names).toEqual(expect.arrayContaining(['VERIFY PIN', 'PAY']));
    const verify = trace.exchanges.find((e) => e.name === 'VERIFY PIN' && e.command.redacted)!;
    expect(verify.command).toEqual({ header: '00200080', lc: null, le: null, data: null, redacted: true });
    expect(verify.response).toMatchObject({ sw: '9000', status: 'ok' });
    // The first PAY asks for the PIN (6982); the one after VERIFY pays.
    expect(trace.exchanges.find((e) => e.name === 'PAY')!.response).toMatchObject({ sw: '6982', status: 'PIN required' });
    const pay = trace.exchanges.filter((e) => e.name === 'PAY').at(-1)!;
    expect(pay.command.lc).toBe(pay.command.data!.length / 2);
    // The coins come back in the answer, or through GET RESPONSE after a 61xx.
    expect(pay.response!.sw).toMatch(/^(9000|61[0-9a-f]{2})$/);
    // A jcop4 card: every command has its modelled time, PAY's the longest of the tap.
    expect(trace.exchanges.every((e) => e.chipMs !== null && e.chipMs > 0)).toBe(true);
    expect(pay.chipMs).toBe(Math.max(...trace.exchanges.map((e) => e.chipMs!)));
    expect(JSON.stringify(r.body)).not.toContain(PIN);
    // The trace outlives the tap until the next card goes in.
    await call('POST', '/readers/Sim%200/remove');
    const after = await call<{ trace: TapTrace }>('GET', '/readers/Sim%200/trace');
    expect(after.body.trace.removedAt).not.toBeNull();
    expect(after.body.trace.exchanges).toEqual(trace.exchanges);
    expect(codeOf(await call('GET', '/readers/Sim%209/trace'))).toBe('reader-not-found');
  });

  it('a card pulled mid-command: its last command is traced with no answer', async () => {
    const made = await call<CardView>('POST', '/cards', { noPinLimit: 10_000 });
    await call('POST', '/readers/Sim%201/insert', { card: made.body.id });
    await call('POST', '/readers/Sim%201/remove', { afterApdus: 1 });
    const channel = await sim.readers.connect('Sim 1');
    const select = Uint8Array.from(Buffer.from('00a4040007f045434153480100', 'hex'));
    try {
      await channel.transmit(select, { timeoutMs: 5_000 });
      await expect(channel.transmit(select, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'card-removed' });
    } finally {
      await channel.disconnect('leave');
    }
    const trace = (await call<{ trace: TapTrace }>('GET', '/readers/Sim%201/trace')).body.trace;
    expect(trace.exchanges.map((e) => [e.name, e.response?.sw ?? null, e.chipMs])).toEqual([
      ['SELECT', '9000', null],
      ['SELECT', null, null],
    ]);
    expect(trace.exchanges[0]!.command).toEqual({ header: '00a40400', lc: 7, le: 256, data: 'f0454341534801', redacted: false });
  });

  async function session(): Promise<string> {
    const res = await fetch(`${base}/session`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(204);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^ecash_sim_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    return cookie.split(';')[0]!;
  }

  it('opens a session only with the token, honours it from its own origin only, and ends it', async () => {
    expect(codeOf(await call('POST', '/session', undefined, ''))).toBe('unauthorized');
    const cookie = await session();
    expect(codeOf(await call('POST', '/session', undefined, '', { cookie }))).toBe('unauthorized');
    expect((await call('GET', '/readers', undefined, '', { cookie })).status).toBe(200);
    expect((await call('GET', '/cards', undefined, '', { cookie, origin: new URL(base).origin })).status).toBe(200);
    expect(codeOf(await call('POST', '/cards', {}, '', { cookie, origin: 'http://evil.example' }))).toBe('unauthorized');
    // The terminal's cookie (same host, another port) is not the simulator's.
    expect(codeOf(await call('GET', '/readers', undefined, '', { cookie: cookie.replace('ecash_sim_session', 'ecash_pos_session') }))).toBe(
      'unauthorized',
    );
    const ended = await fetch(`${base}/session`, { method: 'DELETE', headers: { cookie } });
    expect(ended.status).toBe(204);
    expect(ended.headers.get('set-cookie')).toContain('Max-Age=0');
    expect(codeOf(await call('GET', '/readers', undefined, '', { cookie }))).toBe('unauthorized');
  });

  it('streams the readers and cards, each new tap and each exchange, to a session', async () => {
    const refused = await EventStreamReader.open(`${base}/events`, {});
    expect(refused.status).toBe(401);
    const stream = await EventStreamReader.open(`${base}/events`, { cookie: await session() });
    try {
      expect([stream.status, stream.contentType]).toEqual([200, 'text/event-stream']);
      const info = await stream.until(() => true, 'first event');
      expect(info.event).toBe('simulator');
      spec.expectSchema('SimInfo', info.data);
      expect(info.data).toMatchObject({ readers: ['Sim 0', 'Sim 1'], kinds: expect.arrayContaining(['standard', 'blocked-pin']) });
      spec.expectSchema('SimState', (await stream.until((e) => e.event === 'state', 'the state')).data);
      const made = (await call<CardView>('POST', '/cards', { noPinLimit: 10_000 })).body;
      await stream.until((e) => e.event === 'state' && JSON.stringify(e.data).includes(made.id), 'the new card');
      const from = stream.events.length;
      await call('POST', '/readers/Sim%201/insert', { card: made.id });
      const tap = await stream.until((e) => e.event === 'trace' && (e.data as TapTrace).card === made.id, 'the new tap', from);
      spec.expectSchema('Trace', tap.data);
      const channel = await sim.readers.connect('Sim 1');
      try {
        await channel.transmit(Uint8Array.from(Buffer.from('00a4040007f045434153480100', 'hex')), { timeoutMs: 5_000 });
      } finally {
        await channel.disconnect('leave');
      }
      const exchange = await stream.until((e) => e.event === 'exchange', 'the SELECT', from);
      spec.expectSchema('ExchangeEvent', exchange.data);
      expect(exchange.data).toMatchObject({ reader: 'Sim 1', tap: (tap.data as TapTrace).tap, exchange: { seq: 1, name: 'SELECT' } });
      await call('POST', '/readers/Sim%201/remove');
      await stream.until(
        (e) => e.event === 'state' && (e.data as { readers: ReaderView[] }).readers[1]!.card === null,
        'the removal',
        from,
      );
    } finally {
      stream.close();
    }
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
