/**
 * CORS on the POS API (`corsOrigins`, `ecash pos serve --cors-origin`): the configured origins
 * are checked at start, a listed origin's preflight and requests get their grant with credentials
 * (errors included, so a browser register can read why), and the key still decides. The attack
 * side (unlisted and lookalike origins, the session cookie riding along) is
 * test/attacks/cross-origin-register.test.ts, in a real browser.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualTransport } from '../../reader-bridge/index.js';
import { buildPosApi } from '../../host/pos/api.js';
import { corsOrigins } from '../../host/pos/cors-origins.js';
import type { PaymentTerminal } from '../../host/pos/terminal.js';
import { World } from '../helpers/world.js';

const API_KEY = 'register-key-0123456789';
const REGISTER = 'https://till.shop.example:8443';

describe('CORS for the origins a terminal lists', () => {
  let world: World;
  let readers: VirtualTransport;
  let terminal: PaymentTerminal;
  let app: FastifyInstance;

  beforeAll(async () => {
    world = new World();
    await world.startBank();
    const shop = await world.addMerchant('corner-shop');
    readers = new VirtualTransport(['Counter']);
    terminal = await world.terminal(readers, { merchantId: 'corner-shop', bank: shop }, { readerName: 'Counter', terminalId: 'till-cors' });
    app = buildPosApi(terminal, { apiKey: API_KEY, corsOrigins: [REGISTER, 'http://192.168.1.20:8080'] });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await readers?.close();
    await world?.close();
  });

  it('takes origins only as browsers send them, refusing the rest at start with bad-cors-origin', () => {
    expect([...corsOrigins([REGISTER, 'http://localhost:5173'])]).toEqual([REGISTER, 'http://localhost:5173']);
    for (const bad of [
      '*',
      'null',
      'https://till.example/',
      'https://till.example/pos',
      'https://Till.example',
      'https://till.example:443',
      'till.example',
      'ftp://till.example',
      '',
    ]) {
      expect(() => corsOrigins([bad]), bad).toThrow(expect.objectContaining({ code: 'bad-cors-origin' }));
      expect(() => buildPosApi(terminal, { apiKey: API_KEY, corsOrigins: [bad] }), bad).toThrow(
        expect.objectContaining({ code: 'bad-cors-origin' }),
      );
    }
  });

  it("answers a listed origin's preflight for the API's methods and headers", async () => {
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/v1/payments/0123456789/cancel',
      headers: {
        origin: REGISTER,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': REGISTER,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST, DELETE',
      'access-control-allow-headers': 'Authorization, Content-Type, Idempotency-Key',
      'access-control-max-age': '600',
    });
  });

  it('grants the listed origin on answers and refusals alike; the key or a session still decides', async () => {
    const ok = await app.inject({
      method: 'GET',
      url: '/v1/settlement',
      headers: { origin: REGISTER, authorization: `Bearer ${API_KEY}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(REGISTER);
    const refused = await app.inject({ method: 'GET', url: '/v1/settlement', headers: { origin: REGISTER } });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect(refused.headers['access-control-allow-origin']).toBe(REGISTER);

    // A session opened by the listed register's page is honoured with its Origin.
    const opened = await app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { origin: REGISTER, authorization: `Bearer ${API_KEY}` },
    });
    expect(opened.statusCode).toBe(204);
    const cookie = String(opened.headers['set-cookie']).split(';')[0]!;
    const withSession = await app.inject({ method: 'GET', url: '/v1/settlement', headers: { origin: REGISTER, cookie } });
    expect(withSession.statusCode).toBe(200);
    const otherOrigin = await app.inject({
      method: 'GET',
      url: '/v1/settlement',
      headers: { origin: 'https://till.shop.example', cookie },
    });
    expect(otherOrigin.statusCode).toBe(401);
  });
});
