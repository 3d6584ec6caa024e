/**
 * `ecash pos serve` as shipped (`node bin/ecash.js`, built by `npm test`'s pretest): the process
 * reaches the real bank over HTTP and its reader through a reader bridge whose virtual reader
 * holds the card in this test; a cash register drives it over HTTP, takes a payment, settles it
 * at the bank, and stops it with SIGTERM. Without an API key it refuses to start.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentView } from '../../host/pos/terminal.js';
import { type CliProcess, endStartedProcesses, exitOf, posApiUrl, startCli, untilFinal, waitForOutput } from '../helpers/cli.js';
import { BridgedShop } from '../helpers/world.js';

const API_KEY = 'register-key-for-the-cli-0123';
const BRIDGE_TOKEN = 'bridge-token-for-the-cli-0123';

const shop = new BridgedShop(BRIDGE_TOKEN);
const { world, readers } = shop;

beforeAll(() => shop.start());

// A test that failed half-way leaves neither a server running nor a card in a reader.
afterEach(async () => {
  await endStartedProcesses();
  await shop.emptyReaders();
});

afterAll(() => shop.close());

function serve(env: Record<string, string>, extra: string[] = []): CliProcess {
  const args = [
    'pos',
    'serve',
    '--bank',
    world.url,
    '--merchant',
    'kiosk',
    '--terminal',
    'cli-1',
    '--reader',
    'Counter',
    '--bridge',
    shop.bridge.url,
  ];
  args.push('--journal', join(world.dir, 'cli-pos.db'), '--port', '0', '--settle-every', '0', ...extra);
  return startCli(args, { ECASH_BANK_TOKEN: shop.merchantToken, ECASH_BRIDGE_TOKEN: BRIDGE_TOKEN, ...env });
}

describe('ecash pos serve', () => {
  it('refuses to start without an API key, naming where to put one', async () => {
    const refused = serve({ ECASH_POS_API_KEY: '' });
    const { stderr } = refused;
    expect(await exitOf(refused)).not.toBe(0);
    expect(stderr()).toContain('api-key-missing');
    expect(stderr()).toContain('ECASH_POS_API_KEY');
  });

  it('stops cleanly on a SIGTERM sent the moment it prints its API address (it listens before it says it is ready)', async () => {
    const server = serve({ ECASH_POS_API_KEY: API_KEY });
    await waitForOutput(server, posApiUrl, 'the API address');
    server.child.kill('SIGTERM');
    expect(await exitOf(server), server.stderr()).toBe(0);
  });

  it('grants CORS to the --cors-origin origins only, and refuses one written otherwise than browsers send it', async () => {
    const malformed = serve({ ECASH_POS_API_KEY: API_KEY }, ['--cors-origin', 'https://till.example/']);
    expect(await exitOf(malformed)).not.toBe(0);
    expect(malformed.stderr()).toContain('bad-cors-origin');

    const server = serve({ ECASH_POS_API_KEY: API_KEY }, ['--cors-origin', 'https://till.example', 'http://10.0.0.7:8080']);
    const base = await waitForOutput(server, posApiUrl, 'the API address');
    const preflight = (origin: string) =>
      fetch(`${base}/payments`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    for (const origin of ['https://till.example', 'http://10.0.0.7:8080']) {
      expect((await preflight(origin)).headers.get('access-control-allow-origin')).toBe(origin);
    }
    const other = await preflight('https://elsewhere.example');
    expect({ status: other.status, allow: other.headers.get('access-control-allow-origin') }).toEqual({ status: 404, allow: null });
    server.child.kill('SIGTERM');
    expect(await exitOf(server), server.stderr()).toBe(0);
  });

  it('serves the register on loopback: a payment with a card on the bridged reader, settled at the bank, then stops on SIGTERM', async () => {
    // A card with value, loaded at the bank over HTTP.
    const card = await world.card();
    readers.insertCard('Load', card);
    const ch = await readers.connect('Load');
    const holder = await world.holder(ch, 'dora', 5_000);
    await world.load(ch, holder, 900);
    await ch.disconnect('reset');
    readers.removeCard('Load');

    const server = serve({ ECASH_POS_API_KEY: API_KEY });
    const { child, stderr } = server;
    try {
      const base = await waitForOutput(server, posApiUrl, 'the API address');
      const auth = { authorization: `Bearer ${API_KEY}` };
      expect((await fetch(`${base}/payments`)).status).toBe(401);
      const created = await fetch(`${base}/payments`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 650, currency: 'EUR', reference: 'cli-1' }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as PaymentView;
      readers.insertCard('Counter', card);
      const view = await untilFinal(
        server,
        async () => (await (await fetch(`${base}/payments/${id}`, { headers: auth })).json()) as PaymentView,
      );
      expect(view.state).toBe('approved');
      expect(view.receipt).toContain('6.50');
      const settled = await fetch(`${base}/settlement`, { method: 'POST', headers: auth });
      expect(settled.status).toBe(200);
      expect(((await settled.json()) as { outcomes: Record<string, number> }).outcomes).toEqual({ credited: view.coins.length });
      expect((await world.operator.merchant('kiosk')).balances).toEqual([{ currency: 'EUR', balance: 650 }]);
      readers.removeCard('Counter');
      // The key never shows in what the process prints.
      for (const secret of [API_KEY, shop.merchantToken, BRIDGE_TOKEN])
        expect((server.stdout() + stderr()).includes(secret), 'a secret in the output').toBe(false);
      child.kill('SIGTERM');
      expect(await exitOf(server), stderr()).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
