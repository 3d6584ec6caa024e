/**
 * The POS integration API driven over real HTTP as a cash register would: create a payment, follow
 * it by polling and by server-sent events while a card is tapped in the virtual reader, declines
 * with their reasons, cancelling before and after the card was asked, the PIN flow, listing,
 * settlement at the real bank, the API key and bad input. Every answer is checked against
 * docs/openapi/pos.json, and the file's operations against the routes the app registers.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isEcashError } from '../../core/index.js';
import type { EcashCard } from '../../firmware-sim/index.js';
import { VirtualTransport } from '../../reader-bridge/index.js';
import type { BankClient } from '../../host/bank-client/index.js';
import type { AcquirerBank } from '../../host/pos/acquirer.js';
import { httpAcquirer } from '../../host/pos/bank-acquirer.js';
import { FINAL_STATES } from '../../host/pos/journal.js';
import { buildPosApi } from '../../host/pos/api.js';
import type { PaymentView } from '../../host/pos/terminal.js';
import type { PaymentTerminal } from '../../host/pos/terminal.js';
import { OpenApiFile, recordResponses, registeredRoutes } from '../helpers/openapi.js';
import { atState, loadViaReader, PIN, reasonOf, valueViaReader, World } from '../helpers/world.js';

const API_KEY = 'register-key-0123456789';
const READER = 'Counter';

let world: World;
let readers: VirtualTransport;
let shop: BankClient;
let terminal: PaymentTerminal;
let app: FastifyInstance;
let base: string;
let rich: EcashCard; // 5 000 loaded, no-PIN limit above every amount here
let pinCard: EcashCard; // 2 000 loaded, PIN needed above 100

// Every POS API's answers (this file starts four apps), not the terminals' own calls to the bank.
const recorded = recordResponses((url) => world !== undefined && url.origin !== new URL(world.url).origin);
const spec = new OpenApiFile('pos');

async function loaded(name: string, amount: number, noPinLimit?: number): Promise<EcashCard> {
  const card = await world.card({ noPinLimit });
  await loadViaReader(world, readers, 'Load', card, name, 10_000, amount);
  return card;
}

const valueOf = (card: EcashCard) => valueViaReader(readers, 'Load', card);

beforeAll(async () => {
  world = new World();
  await world.startBank();
  shop = await world.addMerchant('corner-shop');
  readers = new VirtualTransport([READER, 'Load']);
  rich = await loaded('alice', 5_000);
  pinCard = await loaded('bob', 2_000, 100);
  terminal = await world.terminal(
    readers,
    { merchantId: 'corner-shop', bank: shop },
    { readerName: READER, terminalId: 'pos-api', cardWaitMs: 5_000, pinWaitMs: 5_000 },
  );
  app = buildPosApi(terminal, { apiKey: API_KEY });
  base = `${await app.listen({ port: 0, host: '127.0.0.1' })}/v1`;
});

// A test that failed half-way must not leave a payment running or a card in a reader: the next
// test would find the terminal busy (409) or its reader taken.
afterEach(async () => {
  for (const p of terminal.listPayments({ limit: 20 })) {
    if (FINAL_STATES.includes(p.state)) continue;
    try {
      terminal.cancel(p.id, { abandon: true });
    } catch (e) {
      if (!isEcashError(e, 'payment-in-flight')) throw e; // concluding: idle() below waits for it
    }
  }
  await terminal.idle();
  for (const r of await readers.listReaders()) if (r.cardPresent) readers.removeCard(r.name);
});

afterAll(async () => {
  await app?.close();
  await readers?.close();
  await world?.close();
});

interface Answer<T> {
  status: number;
  body: T;
}

type ErrorBody = { error: { code: string; message: string } };

async function call<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

async function expectError(answer: Promise<Answer<unknown>>, status: number, code: string, what?: string): Promise<ErrorBody> {
  const a = await answer;
  expect({ status: a.status, code: (a.body as ErrorBody | undefined)?.error?.code }, what).toEqual({ status, code });
  expect((a.body as ErrorBody).error.message.length).toBeGreaterThan(10);
  return a.body as ErrorBody;
}

/** Polls the payment as a register without SSE would, until `done` holds. */
async function pollUntil(id: string, done: (v: PaymentView) => boolean, timeoutMs = 10_000): Promise<PaymentView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await call<PaymentView>('GET', `/payments/${id}`);
    expect(status).toBe(200);
    if (done(body)) return body;
    if (Date.now() > until) throw new Error(`payment ${id} stayed ${body.state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const isFinal = (v: PaymentView) => FINAL_STATES.includes(v.state);

async function createPayment(amount: number, reference: string | null = 'order-1'): Promise<PaymentView> {
  const { status, body } = await call<PaymentView>('POST', '/payments', { amount, currency: 'EUR', reference });
  expect(status).toBe(201);
  return body;
}

/** Taps the card and leaves it until the payment ends, then takes it out. */
async function tapUntilFinal(id: string, card: EcashCard): Promise<PaymentView> {
  readers.insertCard(READER, card);
  try {
    return await pollUntil(id, isFinal);
  } finally {
    await terminal.idle();
    readers.removeCard(READER);
  }
}

interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: { paymentId: string; seq: number; at: number; state: string; detail: Record<string, unknown> | null };
}

/** An event stream read as it arrives (a real streaming fetch), with the raw lines kept for checks. */
class EventStream {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  status = 0;
  contentType: string | null = null;
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];
  private reading: Promise<void> = Promise.resolve();

  async open(id: string): Promise<this> {
    const res = await fetch(`${base}/payments/${id}/events`, {
      headers: { authorization: `Bearer ${API_KEY}`, accept: 'text/event-stream' },
      signal: this.abort.signal,
    });
    this.status = res.status;
    this.contentType = res.headers.get('content-type');
    this.reading = this.read(res.body!.getReader()).catch((e: unknown) => {
      if (!this.abort.signal.aborted) throw e;
    });
    return this;
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) this.comments.push(line);
          else {
            const colon = line.indexOf(':');
            fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
          }
        }
        if (fields.data !== undefined)
          this.events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) as SseEvent['data'] });
        this.wake();
      }
    }
    expect(buffer).toBe('');
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `times` events in `state` arrived (or rejects if the stream ends without them). */
  async waitFor(state: string, timeoutMs = 10_000, times = 1): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.events.filter((e) => e.data.state === state).length < times) {
      if (this.ended) throw new Error(`the stream ended without ${state}: ${this.states().join(', ')}`);
      if (Date.now() > until) throw new Error(`no ${state} within ${timeoutMs} ms: ${this.states().join(', ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async finished(): Promise<void> {
    await this.reading;
  }

  states(): string[] {
    return this.events.map((e) => e.data.state);
  }

  close(): void {
    this.abort.abort();
  }
}

describe('POS API over HTTP', () => {
  it('answers health without a key and nothing else without the right key', async () => {
    expect((await fetch(`${base}/health?probe=1`)).status).toBe(200);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', terminalId: 'pos-api' });
    await expectError(call('GET', '/payments', undefined, { authorization: '' }), 401, 'unauthorized');
    await expectError(call('GET', '/payments', undefined, { authorization: `Bearer ${API_KEY.slice(0, -1)}x` }), 401, 'unauthorized');
    await expectError(call('GET', '/payments', undefined, { authorization: `Bearer ${API_KEY}extra` }), 401, 'unauthorized');
    await expectError(call('GET', '/payments', undefined, { authorization: API_KEY }), 401, 'unauthorized');
    // Without the key nothing happens: no payment is created and no settlement runs.
    await expectError(
      call('POST', '/payments', { amount: 100, currency: 'EUR' }, { authorization: 'Bearer wrong-key-wrong-key' }),
      401,
      'unauthorized',
    );
    await expectError(call('POST', '/settlement', undefined, { authorization: '' }), 401, 'unauthorized');
    await expectError(call('GET', '/payments/0123456789/events', undefined, { authorization: '' }), 401, 'unauthorized');
    expect((await call<{ payments: unknown[] }>('GET', '/payments')).body.payments).toEqual([]);
    // A weak key is refused when the API is built.
    expect(() => buildPosApi(terminal, { apiKey: 'short' })).toThrow(expect.objectContaining({ code: 'weak-api-key' }));
  });

  it('refuses bad requests with stable codes, creating nothing', async () => {
    const bad = [
      { amount: '12', currency: 'EUR' },
      { amount: 12.5, currency: 'EUR' },
      { amount: 0, currency: 'EUR' },
      { amount: -5, currency: 'EUR' },
      { currency: 'EUR' },
      { amount: 100 },
      { amount: 100, currency: 'eur' },
      { amount: 100, currency: 'EUR', reference: 'x'.repeat(65) },
      { amount: 100, currency: 'EUR', tip: 5 },
      [],
      'null',
      '{"amount": 100,',
    ];
    for (const body of bad) await expectError(call('POST', '/payments', body), 400, 'bad-request', JSON.stringify(body));
    await expectError(call('POST', '/payments'), 400, 'bad-request', 'no body');
    await expectError(call('POST', '/payments', '', { 'content-type': 'application/json' }), 400, 'bad-request', 'empty JSON body');
    await expectError(call('POST', '/payments', { amount: 100, currency: 'USD' }), 400, 'wrong-currency');
    await expectError(
      call('POST', '/payments', 'amount=100', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported-media-type',
    );
    await expectError(call('POST', '/payments', { amount: 100, currency: 'EUR', reference: 'y'.repeat(20_000) }), 413, 'body-too-large');
    await expectError(call('GET', '/payments?limit=0'), 400, 'bad-request');
    await expectError(call('GET', '/payments?limit=ten'), 400, 'bad-request');
    await expectError(call('GET', '/payments?offset=3'), 400, 'bad-request');
    await expectError(call('GET', '/payments/NOT-AN-ID'), 400, 'bad-request');
    // Fuzz counterexamples: fastify's own refusals of a path answered 500 / a body of its own.
    await expectError(call('GET', `/payments/${'a'.repeat(300)}`), 400, 'bad-request');
    await expectError(call('GET', '/payments/%ff'), 400, 'bad-request');
    await expectError(call('GET', '/payments/0123456789'), 404, 'payment-not-found');
    await expectError(call('GET', '/payments/0123456789/events'), 404, 'payment-not-found');
    await expectError(call('POST', '/payments/0123456789/cancel'), 404, 'payment-not-found');
    await expectError(call('POST', '/payments/0123456789/pin', { pin: PIN }), 404, 'payment-not-found');
    await expectError(call('POST', '/payments/0123456789/pin', { pin: '12' }), 400, 'bad-request');
    await expectError(call('POST', '/payments/0123456789/cancel', { abandon: 'yes' }), 400, 'bad-request');
    await expectError(call('GET', '/refunds'), 404, 'not-found');
    await expectError(call('DELETE', '/payments'), 404, 'not-found');
    expect((await call<{ payments: unknown[] }>('GET', '/payments')).body.payments).toEqual([]);
  });

  it('answers a retry with the same Idempotency-Key with the same payment, and refuses the key for another sale', async () => {
    const key = { 'idempotency-key': 'order-9-b1c2d3e4' };
    const sale = { amount: 250, currency: 'EUR', reference: 'order-9' };
    const created = await call<PaymentView>('POST', '/payments', sale, key);
    expect(created.status).toBe(201);
    const again = await call<PaymentView>('POST', '/payments', sale, key);
    expect({ status: again.status, id: again.body.id }).toEqual({ status: 201, id: created.body.id });
    await expectError(call('POST', '/payments', { ...sale, amount: 260 }, key), 422, 'idempotency-key-reused', 'another amount');
    await expectError(call('POST', '/payments', { ...sale, reference: null }, key), 422, 'idempotency-key-reused', 'another reference');
    // Without the key, the same sale is another payment: refused while this one runs.
    await expectError(call('POST', '/payments', sale), 409, 'terminal-busy');
    for (const bad of ['', 'with space', 'x'.repeat(256), 'caf\u00e9']) {
      await expectError(call('POST', '/payments', sale, { 'idempotency-key': bad }), 400, 'bad-idempotency-key', JSON.stringify(bad));
    }
    expect((await call<PaymentView>('POST', `/payments/${created.body.id}/cancel`)).body.state).toBe('cancelled');
    await terminal.idle();
    expect((await call<PaymentView>('POST', '/payments', sale, key)).body).toMatchObject({ id: created.body.id, state: 'cancelled' });
    expect(terminal.listPayments({ limit: 5 }).filter((p) => p.reference === 'order-9')).toHaveLength(1);
  });

  it('takes a payment followed by polling, refuses a second one meanwhile, and settles it at the bank', async () => {
    const created = await createPayment(1_234, 'order-7');
    expect(created).toMatchObject({ amount: 1_234, currency: 'EUR', reference: 'order-7', mode: 'offline', receipt: null, coins: [] });
    expect(created.id).toMatch(/^[0-9a-z]{10}$/);
    expect(created.events.map((e) => e.state)).toEqual(['created', 'waiting-for-card']);
    expect(created.state).toBe('waiting-for-card');

    const busy = await expectError(call('POST', '/payments', { amount: 100, currency: 'EUR' }), 409, 'terminal-busy');
    expect(busy.error.message).toContain(created.id);
    await expectError(call('POST', `/payments/${created.id}/pin`, { pin: PIN }), 409, 'pin-not-expected');

    const view = await tapUntilFinal(created.id, rich);
    expect(view.state).toBe('approved');
    expect(view.events.map((e) => e.state)).toEqual([
      'created',
      'waiting-for-card',
      'reading',
      'request-sent',
      'responses-received',
      'approved',
    ]);
    expect(view.coins.reduce((s, c) => s + c.value, 0)).toBe(1_234);
    expect(view.receipt).toContain('12.34');
    expect(view.receipt).toContain('order-7');
    expect(await valueOf(rich)).toBe(5_000 - 1_234);
    await expectError(call('POST', `/payments/${created.id}/cancel`), 409, 'payment-final');

    const list = await call<{ payments: { id: string; state: string; amount: number; reference: string | null }[] }>(
      'GET',
      '/payments?limit=5',
    );
    expect(list.body.payments[0]).toMatchObject({ id: created.id, state: 'approved', amount: 1_234, reference: 'order-7' });

    const before = await call<{ unsettled: number; pendingBatches: number }>('GET', '/settlement');
    expect(before.body).toMatchObject({ unsettled: view.coins.length, pendingBatches: 0 });
    const settled = await call<{ batches: number; transcripts: number; outcomes: Record<string, number> }>('POST', '/settlement');
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({
      batches: 1,
      transcripts: view.coins.length,
      outcomes: { credited: view.coins.length },
      doubleSpends: [],
    });
    expect((await shop.merchant('corner-shop')).balances).toEqual([{ currency: 'EUR', balance: 1_234 }]);
    const after = await call<{ unsettled: number; outcomes: Record<string, number> }>('GET', '/settlement');
    expect(after.body).toMatchObject({ unsettled: 0, pendingBatches: 0, outcomes: { credited: view.coins.length }, doubleSpends: [] });
    const settledView = (await call<PaymentView>('GET', `/payments/${created.id}`)).body;
    expect(settledView.state).toBe('settled');
    expect(settledView.settlement.map((s) => s.outcome)).toEqual(view.coins.map(() => 'credited'));
    // Settling again deposits nothing more.
    expect((await call<{ transcripts: number }>('POST', '/settlement')).body.transcripts).toBe(0);
    expect((await shop.merchant('corner-shop')).balances).toEqual([{ currency: 'EUR', balance: 1_234 }]);
  });

  it('streams every state as server-sent events, in order, and ends the stream at the outcome', async () => {
    const created = await createPayment(500);
    const stream = await new EventStream().open(created.id);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    await stream.waitFor('waiting-for-card');
    readers.insertCard(READER, rich);
    await stream.waitFor('approved');
    await stream.finished();
    await terminal.idle();
    readers.removeCard(READER);
    expect(stream.ended).toBe(true);
    expect(stream.states()).toEqual(['created', 'waiting-for-card', 'reading', 'request-sent', 'responses-received', 'approved']);
    expect(stream.events.every((e) => e.event === 'status' && e.data.paymentId === created.id)).toBe(true);
    expect(stream.events.map((e) => Number(e.id))).toEqual(stream.events.map((e) => e.data.seq));
    expect(stream.events.map((e) => e.data.seq)).toEqual([...stream.events.keys()].map((i) => stream.events[0]!.data.seq + i));
    for (const e of stream.events) spec.expectSchema('StatusEvent', e.data);
    // The same events as the payment's history.
    const view = (await call<PaymentView>('GET', `/payments/${created.id}`)).body;
    expect(stream.events.map((e) => ({ seq: e.data.seq, at: e.data.at, state: e.data.state, detail: e.data.detail }))).toEqual(view.events);

    // A stream opened after the end replays the history and ends at once.
    const late = await new EventStream().open(created.id);
    await late.finished();
    expect(late.ended).toBe(true);
    expect(late.states()).toEqual(stream.states());
  });

  it('takes the next sale as soon as the register sees the outcome, and never charges the card left in the reader for it', async () => {
    const first = await createPayment(100);
    const stream = await new EventStream().open(first.id);
    // The register starts the next sale the moment it hears the outcome, while the terminal is
    // still releasing the card. Over loopback the POST lands after that; calling what the route
    // calls at the outcome event itself makes the timing certain.
    let next: string | undefined;
    const onEvent = (id: string, e: { state: string }) => {
      if (id === first.id && e.state === 'approved')
        next = terminal.startPayment({ amount: 200, currency: 'EUR', reference: 'order-8' }).id;
    };
    terminal.on('payment-event', onEvent);
    readers.insertCard(READER, rich);
    await stream.finished();
    terminal.off('payment-event', onEvent);
    expect(stream.states().at(-1)).toBe('approved');
    expect(next).toBeDefined();
    const s2 = await new EventStream().open(next!);
    await s2.waitFor('waiting-for-card');
    // The previous customer's card is still in the reader: it must leave before the next sale reads
    // a card. (A window to misbehave in, not a wait for a condition: a terminal that is right
    // passes on any machine; one that reads the card does so within it here.)
    await new Promise((r) => setTimeout(r, 300));
    expect((await call<PaymentView>('GET', `/payments/${next!}`)).body.state).toBe('waiting-for-card');
    readers.removeCard(READER);
    readers.insertCard(READER, rich);
    await s2.finished();
    await terminal.idle();
    readers.removeCard(READER);
    expect(s2.states().at(-1)).toBe('approved');
    expect(await valueOf(rich)).toBe(5_000 - 1_234 - 500 - 100 - 200);
  });

  it("declines a payment above the card's value with insufficient-funds, seen on the stream", async () => {
    const created = await createPayment(50_000);
    const stream = await new EventStream().open(created.id);
    await stream.waitFor('waiting-for-card');
    const view = await tapUntilFinal(created.id, rich);
    await stream.finished();
    expect(view.state).toBe('declined');
    expect(reasonOf(view)).toBe('insufficient-funds');
    expect(view.coins).toEqual([]);
    expect(view.receipt).toBeNull();
    // The card decides whether it can pay, after the request was made durable and sent.
    expect(stream.states()).toEqual(['created', 'waiting-for-card', 'reading', 'request-sent', 'declined']);
    expect(stream.events.at(-1)!.data.detail).toMatchObject({ code: 'insufficient-funds' });
    expect(await valueOf(rich)).toBe(5_000 - 1_234 - 500 - 300);
  });

  it('declines with card-wait-expired when no card comes', async () => {
    const quick = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: 'Load', terminalId: 'pos-quick', cardWaitMs: 200 },
    );
    const quickApp = buildPosApi(quick, { apiKey: API_KEY });
    try {
      const url = `${await quickApp.listen({ port: 0, host: '127.0.0.1' })}/v1`;
      const res = await fetch(`${url}/payments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 100, currency: 'EUR' }),
      });
      const { id } = (await res.json()) as PaymentView;
      await quick.idle();
      const view = (await (
        await fetch(`${url}/payments/${id}`, { headers: { authorization: `Bearer ${API_KEY}` } })
      ).json()) as PaymentView;
      expect(view.state).toBe('declined');
      expect(reasonOf(view)).toBe('card-wait-expired');
    } finally {
      await quickApp.close();
      await quick.close();
    }
  });

  it('cancels a payment before the card, ending its stream; a cancelled payment stays cancelled', async () => {
    const created = await createPayment(300);
    const stream = await new EventStream().open(created.id);
    await stream.waitFor('waiting-for-card');
    const cancelled = await call<PaymentView>('POST', `/payments/${created.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect(reasonOf(cancelled.body)).toBe('cancelled');
    await stream.finished();
    expect(stream.states()).toEqual(['created', 'waiting-for-card', 'cancelled']);
    await terminal.idle();
    await expectError(call('POST', `/payments/${created.id}/cancel`, { abandon: true }), 409, 'payment-final');
    // The reader is free again, and a card tapped now pays nothing (a window to misbehave in, as above).
    readers.insertCard(READER, rich);
    await new Promise((r) => setTimeout(r, 100));
    readers.removeCard(READER);
    expect((await call<PaymentView>('GET', `/payments/${created.id}`)).body.state).toBe('cancelled');
    expect(await valueOf(rich)).toBe(5_000 - 1_234 - 500 - 300);
    // A JSON body is optional: `{}` cancels too, and so does an empty body sent as JSON.
    for (const body of [{}, '']) {
      const other = await createPayment(300);
      const answer = await call<PaymentView>('POST', `/payments/${other.id}/cancel`, body, { 'content-type': 'application/json' });
      expect(answer.status).toBe(200);
      expect(answer.body.state).toBe('cancelled');
      await terminal.idle();
    }
  });

  it("asks for the PIN above the card's no-PIN limit; a wrong one asks again with the tries left; the right one finishes the payment", async () => {
    const created = await createPayment(300);
    const stream = await new EventStream().open(created.id);
    readers.insertCard(READER, pinCard);
    await stream.waitFor('pin-required');
    expect((await call<PaymentView>('GET', `/payments/${created.id}`)).body.state).toBe('pin-required');
    expect((await call('POST', `/payments/${created.id}/pin`, { pin: '0000' })).status).toBe(202);
    await stream.waitFor('pin-required', 10_000, 2);
    const retry = stream.events.at(-1)!.data;
    expect(retry).toMatchObject({ state: 'pin-required', detail: { code: 'pin-wrong', triesLeft: 2 } });
    expect(retry.detail!.message).toMatch(/2 tries left/);
    const pin = await call<{ accepted: boolean }>('POST', `/payments/${created.id}/pin`, { pin: PIN });
    expect(pin).toEqual({ status: 202, body: { accepted: true } });
    await stream.finished();
    await terminal.idle();
    readers.removeCard(READER);
    expect(stream.states()).toEqual([
      'created',
      'waiting-for-card',
      'reading',
      'request-sent',
      'pin-required',
      'pin-required',
      'request-sent',
      'responses-received',
      'approved',
    ]);
    // A PIN could only travel in an event's detail (timestamps and ids may contain its digits by chance).
    expect(JSON.stringify(stream.events.map((e) => e.data.detail))).not.toContain(PIN);
    expect(JSON.stringify(stream.events.map((e) => e.data.detail))).not.toContain('0000');
    expect(await valueOf(pinCard)).toBe(2_000 - 300);
  });

  it('cancels a payment waiting for the PIN (the card refused to pay without it) and is free for the next one', async () => {
    const created = await createPayment(200);
    const stream = await new EventStream().open(created.id);
    readers.insertCard(READER, pinCard);
    await stream.waitFor('pin-required');
    const cancelled = await call<PaymentView>('POST', `/payments/${created.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect(reasonOf(cancelled.body)).toBe('cancelled');
    await stream.finished();
    expect(stream.states().at(-1)).toBe('cancelled');
    await expectError(call('POST', `/payments/${created.id}/pin`, { pin: PIN }), 409, 'pin-not-expected');
    // Not busy: the next sale is taken at once, and paid by the next card once this one has left.
    const next = await createPayment(100);
    readers.removeCard(READER);
    expect((await tapUntilFinal(next.id, rich)).state).toBe('approved');
    expect(await valueOf(pinCard)).toBe(2_000 - 300);
  });

  it('needs abandon to cancel in pin-required once the request has been to a card before (it may have paid)', async () => {
    const created = await createPayment(200);
    const stream = await new EventStream().open(created.id);
    readers.insertCard(READER, pinCard);
    await stream.waitFor('pin-required');
    // The card leaves while its PIN is awaited: the PIN cannot reach it, the tap is interrupted.
    readers.removeCard(READER);
    expect((await call('POST', `/payments/${created.id}/pin`, { pin: PIN })).status).toBe(202);
    await stream.waitFor('interrupted');
    readers.insertCard(READER, pinCard);
    await stream.waitFor('pin-required', 10_000, 2);
    const inFlight = await expectError(call('POST', `/payments/${created.id}/cancel`), 409, 'payment-in-flight');
    expect(inFlight.error.message).toMatch(/abandon/);
    const abandoned = await call<PaymentView>('POST', `/payments/${created.id}/cancel`, { abandon: true });
    expect(abandoned.body.state).toBe('cancelled');
    expect(reasonOf(abandoned.body)).toBe('abandoned');
    await stream.finished();
    await terminal.idle();
    readers.removeCard(READER);
    expect(await valueOf(pinCard)).toBe(2_000 - 300);
  });

  it('declines pin-blocked when wrong PINs use up the tries', async () => {
    const card = await loaded('dave', 1_000, 0);
    const created = await createPayment(100);
    const stream = await new EventStream().open(created.id);
    readers.insertCard(READER, card);
    try {
      for (const tries of [2, 1]) {
        await stream.waitFor('pin-required', 10_000, 3 - tries);
        expect((await call('POST', `/payments/${created.id}/pin`, { pin: '0000' })).status).toBe(202);
        await stream.waitFor('pin-required', 10_000, 4 - tries);
        expect(stream.events.at(-1)!.data.detail).toMatchObject({ code: 'pin-wrong', triesLeft: tries });
      }
      expect((await call('POST', `/payments/${created.id}/pin`, { pin: '0000' })).status).toBe(202);
      await stream.finished();
    } finally {
      await terminal.idle();
      readers.removeCard(READER);
    }
    expect(stream.events.at(-1)!.data).toMatchObject({ state: 'declined', detail: { code: 'pin-blocked' } });
    // The card refused to pay before every PIN: it never answered with coins.
    expect(stream.states()).not.toContain('responses-received');
    expect((await call<PaymentView>('GET', `/payments/${created.id}`)).body.coins).toEqual([]);
  });

  it('refuses even abandon once the card has paid and an online terminal is depositing', async () => {
    // The bank holds the deposit until the test lets it go: the payment sits in responses-received.
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const real = httpAcquirer(shop);
    const slow: AcquirerBank = {
      ...real,
      deposit: async (batchId, transcripts) => {
        await held;
        return real.deposit(batchId, transcripts);
      },
    };
    const online = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: slow },
      { readerName: 'Load', terminalId: 'pos-online', mode: 'online' },
    );
    const onlineApp = buildPosApi(online, { apiKey: API_KEY });
    const card = await loaded('carol', 1_000);
    try {
      const url = `${await onlineApp.listen({ port: 0, host: '127.0.0.1' })}/v1`;
      const post = (path: string, body?: unknown) =>
        fetch(url + path, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify(body ?? {}),
        });
      const { id } = (await (await post('/payments', { amount: 400, currency: 'EUR' })).json()) as PaymentView;
      const answered = atState(online, 'responses-received');
      readers.insertCard('Load', card);
      await answered;
      const refused = await post(`/payments/${id}/cancel`, { abandon: true });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as ErrorBody).error.code).toBe('payment-in-flight');
      release();
      await online.idle();
      readers.removeCard('Load');
      const view = (await (
        await fetch(`${url}/payments/${id}`, { headers: { authorization: `Bearer ${API_KEY}` } })
      ).json()) as PaymentView;
      expect(view.state).toBe('approved');
      expect(view.settlement.map((r) => r.outcome)).toEqual(view.coins.map(() => 'credited'));
    } finally {
      release();
      await onlineApp.close();
      await online.close();
    }
  });

  it('lets go of a stream the register closes early', async () => {
    const baseline = terminal.listenerCount('payment-event');
    const created = await createPayment(100);
    const stream = await new EventStream().open(created.id);
    await stream.waitFor('waiting-for-card');
    expect(terminal.listenerCount('payment-event')).toBe(baseline + 1);
    // The server sees the connection close on its own time: wait for the listener to go (listened
    // to before the stream closes), not for a number of polls.
    const letGo = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the server still follows the payment 10 s after the register closed its stream')),
        10_000,
      );
      const onRemoved = (event: string | symbol) => {
        if (event !== 'payment-event' || terminal.listenerCount('payment-event') > baseline) return;
        terminal.off('removeListener', onRemoved);
        clearTimeout(timer);
        resolve();
      };
      terminal.on('removeListener', onRemoved);
    });
    stream.close();
    await stream.finished();
    await letGo;
    expect(terminal.listenerCount('payment-event')).toBe(baseline);
    expect((await call<PaymentView>('POST', `/payments/${created.id}/cancel`)).body.state).toBe('cancelled');
    await terminal.idle();
  });

  it('lists payments newest first, with limit and before', async () => {
    const all = (await call<{ payments: { id: string; createdAt: number; state: string }[] }>('GET', '/payments')).body.payments;
    expect(all.length).toBeGreaterThanOrEqual(8);
    expect(all.map((p) => p.createdAt)).toEqual([...all.map((p) => p.createdAt)].sort((a, b) => b - a));
    const two = (await call<{ payments: { id: string }[] }>('GET', '/payments?limit=2')).body.payments;
    expect(two.map((p) => p.id)).toEqual(all.slice(0, 2).map((p) => p.id));
    const older = (await call<{ payments: { createdAt: number }[] }>('GET', `/payments?before=${all[0]!.createdAt}`)).body.payments;
    expect(older.every((p) => p.createdAt < all[0]!.createdAt)).toBe(true);
  });

  it('says bank-unreachable with the bank down, and the same batch goes through later', async () => {
    const created = await createPayment(250);
    expect((await tapUntilFinal(created.id, rich)).state).toBe('approved');
    await world.bankDown();
    try {
      await expectError(call('POST', '/settlement'), 502, 'bank-unreachable');
      expect((await call('GET', '/settlement')).body).toMatchObject({ pendingBatches: 1 });
    } finally {
      await world.bankUp();
    }
    const report = await call<{ outcomes: Record<string, number> }>('POST', '/settlement');
    expect(report.body.outcomes).toMatchObject({ credited: expect.any(Number) });
    expect((await shop.merchant('corner-shop')).balances).toEqual([
      { currency: 'EUR', balance: 1_234 + 500 + 300 + 300 + 100 + 400 + 250 },
    ]);
  });

  it('answers 502 bad-bank-answer when the bank returns the wrong number of results, and keeps the batch', async () => {
    const card = await loaded('gus', 500);
    const miscounting = { ...httpAcquirer(shop), deposit: async () => [] };
    const t = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: miscounting },
      { readerName: 'Load', terminalId: 'pos-miscount' },
    );
    const p = t.startPayment({ amount: 200, currency: 'EUR' });
    readers.insertCard('Load', card);
    expect((await t.outcome(p.id)).state).toBe('approved');
    readers.removeCard('Load');
    const app = buildPosApi(t, { apiKey: API_KEY });
    try {
      const authorization = `Bearer ${API_KEY}`;
      const settled = await app.inject({ method: 'POST', url: '/v1/settlement', headers: { authorization } });
      expect(settled.statusCode).toBe(502);
      expect(settled.json()).toMatchObject({ error: { code: 'bad-bank-answer' } });
      expect((await app.inject({ method: 'GET', url: '/v1/settlement', headers: { authorization } })).json()).toMatchObject({
        pendingBatches: 1,
      });
    } finally {
      await app.close();
    }
  });
});

describe('browser sessions and the terminal-wide event stream', () => {
  const own = () => new URL(base).origin;

  async function session(): Promise<string> {
    const res = await fetch(`${base}/session`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(204);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^ecash_pos_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    return cookie.split(';')[0]!;
  }

  it('opens a session only with the key, honours it from the own origin only, and ends it', async () => {
    await expectError(call('POST', '/session', undefined, { authorization: '' }), 401, 'unauthorized', 'no key');
    const cookie = await session();
    // Only the key opens a session: a cookie cannot mint another.
    await expectError(call('POST', '/session', undefined, { authorization: '', cookie }), 401, 'unauthorized', 'cookie opening a session');
    expect((await call('GET', '/settlement', undefined, { authorization: '', cookie })).status).toBe(200);
    expect((await call('GET', '/settlement', undefined, { authorization: '', cookie, origin: own() })).status).toBe(200);
    // Another site's page that gets the browser to send the cookie along proves nothing.
    await expectError(
      call('GET', '/settlement', undefined, { authorization: '', cookie, origin: 'http://evil.example' }),
      401,
      'unauthorized',
      'foreign origin',
    );
    await expectError(
      call('GET', '/settlement', undefined, { authorization: '', cookie: 'ecash_pos_session=' + 'A'.repeat(43) }),
      401,
      'unauthorized',
      'made-up session',
    );
    const ended = await fetch(`${base}/session`, { method: 'DELETE', headers: { cookie } });
    expect(ended.status).toBe(204);
    expect(ended.headers.get('set-cookie')).toContain('Max-Age=0');
    await expectError(call('GET', '/settlement', undefined, { authorization: '', cookie }), 401, 'unauthorized', 'ended session');
    await expectError(call('DELETE', '/session', undefined, { authorization: '' }), 401, 'unauthorized', 'logout without a session');
  });

  it('streams the terminal, then each payment as it changes, to a session', async () => {
    await expectError(call('GET', '/events', undefined, { authorization: '' }), 401, 'unauthorized');
    const cookie = await session();
    const abort = new AbortController();
    const res = await fetch(`${base}/events`, { headers: { cookie, accept: 'text/event-stream' }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (found: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!found()) {
        if (Date.now() > deadline) throw new Error(`no ${what} in the stream: ${text}`);
        const { done, value } = await reader.read();
        if (done) throw new Error(`the stream ended before ${what}: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    try {
      await until(() => text.includes('event: terminal'), 'terminal event');
      expect(text).toContain('"terminalId":"pos-api"');
      const p = await createPayment(300, 'stream-1');
      await until(() => text.includes(`"id":"${p.id}"`) && text.includes('"state":"waiting-for-card"'), 'the new payment');
      await call('POST', `/payments/${p.id}/cancel`, {});
      await until(() => new RegExp(`"id":"${p.id}"[^\\n]*"state":"cancelled"`).test(text), 'the cancelled payment');
      const views = text
        .split('\n')
        .filter((l) => l.startsWith('data: ') && l.includes('"events"'))
        .map((l) => JSON.parse(l.slice(6)) as PaymentView);
      expect(views.length).toBeGreaterThanOrEqual(2);
      for (const v of views) spec.expectSchema('Payment', v);
    } finally {
      abort.abort();
      await reader.cancel().catch(() => undefined);
    }
  });
});

describe('docs/openapi/pos.json', () => {
  it('documents exactly the routes the API registers', async () => {
    const probe = buildPosApi(terminal, { apiKey: API_KEY });
    const routes = await registeredRoutes(probe);
    await probe.close();
    expect(routes).toEqual(spec.operations());
  });

  it('is OpenAPI 3.1 whose schemas compile, every answer above matches it, and the tests above reach every operation', () => {
    spec.checkStructure();
    expect(spec.validateRecorded(recorded)).toEqual(spec.operations());
  });
});
