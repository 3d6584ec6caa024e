/**
 * Attack (by circumstance, on the card holder): a cash register that does not hear the terminal's
 * answer to "create a payment" (a dropped connection, a timeout, the terminal restarting) sends
 * the request again. Nothing told the terminal it was a retry: it made a second payment once the
 * first had ended (the holder taps again and pays twice for one sale), or answered
 * `terminal-busy` while the first ran and the register gave up on a sale the card then paid.
 *
 * Defence (host/pos/terminal.ts `startPayment`, the journal's `idempotency_keys`): the register
 * sends an `Idempotency-Key`; a retry with it gets the payment the first try made, whatever its
 * state, with the key committed in the same transaction as the payment, so a restart keeps it;
 * the same key for another sale is refused (`422 idempotency-key-reused`).
 *
 * Failed before the fix: the retry during the payment answered 409 terminal-busy, the retry after
 * it (and after the restart) made a second payment.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EcashCard } from '../../firmware-sim/index.js';
import { VirtualTransport } from '../../reader-bridge/index.js';
import type { BankClient } from '../../host/bank-client/index.js';
import { buildPosApi } from '../../host/pos/api.js';
import type { PaymentTerminal, PaymentView } from '../../host/pos/terminal.js';
import { loadViaReader, valueViaReader, World } from '../helpers/world.js';

const API_KEY = 'register-key-0123456789';
const READER = 'Counter';
const TERMINAL = 'till-retry';

describe('a register retrying "create a payment"', () => {
  let world: World;
  let readers: VirtualTransport;
  let shop: BankClient;
  let card: EcashCard;
  let terminal: PaymentTerminal;
  let app: FastifyInstance;
  let base: string;

  /** The terminal and its API on the journal of TERMINAL, as `ecash pos serve` starts them. */
  async function start(): Promise<void> {
    terminal = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: READER, terminalId: TERMINAL },
      world.journal(TERMINAL),
    );
    terminal.resumeUnfinished();
    app = buildPosApi(terminal, { apiKey: API_KEY });
    base = `${await app.listen({ port: 0, host: '127.0.0.1' })}/v1`;
  }

  /** The process ends: the API stops, the terminal closes (its journal stays on disk). */
  async function stop(): Promise<void> {
    await app.close();
    await terminal.close();
  }

  async function create(amount: number, key: string): Promise<{ status: number; body: PaymentView & { error?: { code: string } } }> {
    const res = await fetch(`${base}/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ amount, currency: 'EUR', reference: 'sale-17' }),
    });
    return { status: res.status, body: (await res.json()) as PaymentView & { error?: { code: string } } };
  }

  const payments = () => terminal.listPayments({ limit: 100 });

  beforeAll(async () => {
    world = new World();
    await world.startBank();
    shop = await world.addMerchant('corner-shop');
    readers = new VirtualTransport([READER, 'Load']);
    card = await world.card();
    await loadViaReader(world, readers, 'Load', card, 'erin', 10_000, 2_000);
    await start();
  });

  afterAll(async () => {
    await app?.close();
    await readers?.close();
    await world?.close();
  });

  it('gets the same payment back while it runs, after it was paid and after the terminal restarted: the card pays once', async () => {
    const first = await create(700, 'sale-17-7f3a');
    expect(first.status).toBe(201);
    // The register never saw that answer and sends the same request again, the payment running.
    const during = await create(700, 'sale-17-7f3a');
    expect({ status: during.status, id: during.body.id }).toEqual({ status: 201, id: first.body.id });

    readers.insertCard(READER, card);
    const view = await terminal.outcome(first.body.id);
    readers.removeCard(READER);
    expect(view.state).toBe('approved');
    const after = await create(700, 'sale-17-7f3a');
    expect({ status: after.status, id: after.body.id, state: after.body.state }).toEqual({
      status: 201,
      id: first.body.id,
      state: 'approved',
    });

    // The terminal restarts before the register heard anything; the key is in its journal.
    await stop();
    await start();
    const restarted = await create(700, 'sale-17-7f3a');
    expect({ status: restarted.status, id: restarted.body.id, state: restarted.body.state }).toEqual({
      status: 201,
      id: first.body.id,
      state: 'approved',
    });
    expect(payments().map((p) => p.id)).toEqual([first.body.id]);
    expect(await valueViaReader(readers, 'Load', card)).toBe(2_000 - 700);
  });

  it('returns a payment a restart cancelled rather than starting it again, and refuses the key for another sale', async () => {
    const first = await create(300, 'sale-18-01');
    expect(first.status).toBe(201);
    await stop(); // before any card: the restart cancels it, nothing was spent
    await start();
    const retried = await create(300, 'sale-18-01');
    expect({ id: retried.body.id, state: retried.body.state }).toEqual({ id: first.body.id, state: 'cancelled' });

    const other = await create(400, 'sale-18-01');
    expect({ status: other.status, code: other.body.error?.code }).toEqual({ status: 422, code: 'idempotency-key-reused' });
    expect(payments()).toHaveLength(2);
  });
});
