/**
 * Attack (CSRF, by any web page the register's browser opens): the terminal lets one browser cash
 * register on another origin call its API (`corsOrigins`), and that register holds a session
 * cookie. A page on an origin the terminal did not list, open in the same browser (another port
 * of the same host is the same site, so the SameSite=Strict cookie goes along), tries to ride on
 * the session: create a payment, cancel the sale running at the counter, trigger settlement, or
 * read the terminal's payments as they happen. Lookalike origins (another scheme or port, a
 * suffix, `null`) try to pass as the listed one.
 *
 * Defence (host/pos/api.ts, cors-origins.ts, host/web/browser-sessions.ts): CORS grants (with credentials) go to the listed
 * origins exactly, compared as browsers send them; an unlisted origin's preflight is not found,
 * so the browser never sends its JSON or Idempotency-Key requests; and the session cookie is
 * honoured only with the terminal's own or a listed `Origin`, so the requests a browser sends
 * without asking (a bodiless POST in `no-cors` mode) are refused 401 and change nothing.
 *
 * Before this change no origin got a CORS grant at all: the listed register's calls below failed
 * (its test fails before the fix); the refusals held already and are pinned here, so that a CORS
 * setup that reflects every origin or grants credentials to all (the usual mistakes) fails here.
 * Real Chromium, real HTTP, three origins on 127.0.0.1.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualTransport } from '../../reader-bridge/index.js';
import { buildPosApi } from '../../host/pos/api.js';
import type { PaymentTerminal } from '../../host/pos/terminal.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { World } from '../helpers/world.js';

const API_KEY = 'register-key-0123456789';

/** A web server of its own origin that serves one empty page. */
async function site(): Promise<{ app: FastifyInstance; origin: string }> {
  const app = Fastify();
  app.get('/', async (_req, reply) => reply.type('text/html').send('<!doctype html><title>page</title>'));
  return { app, origin: await app.listen({ port: 0, host: '127.0.0.1' }) };
}

describe.runIf(chromiumAvailable())('a page on an unlisted origin and the browser register session', () => {
  let world: World;
  let readers: VirtualTransport;
  let terminal: PaymentTerminal;
  let api: FastifyInstance;
  let api2: FastifyInstance | undefined;
  let pos: string;
  const sites: { app: FastifyInstance; origin: string }[] = [];
  let browser: Browser;
  let context: BrowserContext;
  let register: Page;
  let evil: Page;

  beforeAll(async () => {
    world = new World();
    await world.startBank();
    const shop = await world.addMerchant('corner-shop');
    readers = new VirtualTransport(['Counter']);
    terminal = await world.terminal(readers, { merchantId: 'corner-shop', bank: shop }, { readerName: 'Counter', terminalId: 'till-web' });
    sites.push(await site(), await site());
    api = buildPosApi(terminal, { apiKey: API_KEY, corsOrigins: [sites[0]!.origin] });
    pos = await api.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
    context = await browser.newContext();
    register = await context.newPage();
    await register.goto(`${sites[0]!.origin}/`);
    evil = await context.newPage();
    await evil.goto(`${sites[1]!.origin}/`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await api2?.close();
    for (const s of sites) await s.app.close();
    await readers?.close();
    await world?.close();
  });

  it('lets the listed register open a session and drive payments with it', async () => {
    const answers = await register.evaluate(
      async ({ pos, key }) => {
        const session = await fetch(`${pos}/v1/session`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}` },
          credentials: 'include',
        });
        // From here on the cookie alone: the register's page does not keep the key.
        const created = await fetch(`${pos}/v1/payments`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'web-sale-1' },
          body: JSON.stringify({ amount: 100, currency: 'EUR' }),
        });
        const payment = (await created.json()) as { id: string; state: string };
        const cancelled = await fetch(`${pos}/v1/payments/${payment.id}/cancel`, { method: 'POST', credentials: 'include' });
        return { session: session.status, created: created.status, cancelled: ((await cancelled.json()) as { state: string }).state };
      },
      { pos, key: API_KEY },
    );
    expect(answers).toEqual({ session: 204, created: 201, cancelled: 'cancelled' });
    await terminal.idle();
  });

  it("refuses the other page's requests that ride on the register's cookie, and lets it read nothing", async () => {
    // A sale at the counter, started by the register with its key.
    const sale = terminal.startPayment({ amount: 500, currency: 'EUR', reference: 'counter' });
    const before = terminal.listPayments({ limit: 100 }).length;
    const outcome = await evil.evaluate(
      async ({ pos, id }) => {
        const attempt = (p: Promise<Response>) =>
          p.then(
            (r) => (r.type === 'opaque' ? 'sent-unreadable' : `read ${r.status}`),
            () => 'blocked',
          );
        const json = { 'content-type': 'application/json' };
        const body = JSON.stringify({ amount: 99_999, currency: 'EUR' });
        return {
          // Needs a preflight, which is not granted: never sent.
          create: await attempt(fetch(`${pos}/v1/payments`, { method: 'POST', credentials: 'include', headers: json, body })),
          // Sent without asking (no-cors), the cookie along: the terminal must refuse them.
          cancel: await attempt(fetch(`${pos}/v1/payments/${id}/cancel`, { method: 'POST', credentials: 'include', mode: 'no-cors' })),
          settle: await attempt(fetch(`${pos}/v1/settlement`, { method: 'POST', credentials: 'include', mode: 'no-cors' })),
          list: await attempt(fetch(`${pos}/v1/payments`, { credentials: 'include' })),
          events: await new Promise<string>((resolve) => {
            const source = new EventSource(`${pos}/v1/events`, { withCredentials: true });
            source.onopen = () => resolve('open');
            source.onerror = () => resolve('error');
            source.addEventListener('payment', () => resolve('read a payment'));
          }),
        };
      },
      { pos, id: sale.id },
    );
    expect(outcome).toEqual({ create: 'blocked', cancel: 'sent-unreadable', settle: 'sent-unreadable', list: 'blocked', events: 'error' });
    // Whatever reached the terminal changed nothing: the sale runs on, no payment was added.
    expect(terminal.view(sale.id).state).toBe('waiting-for-card');
    expect(terminal.listPayments({ limit: 100 })).toHaveLength(before);
    terminal.cancel(sale.id);
    await terminal.idle();
  });

  it('grants CORS to the listed origin exactly: never to a lookalike, a wildcard or no origin', async () => {
    const listed = sites[0]!.origin;
    const preflight = (origin: string) =>
      fetch(`${pos}/v1/payments`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,idempotency-key' },
      });
    const granted = await preflight(listed);
    expect(granted.status).toBe(204);
    expect(granted.headers.get('access-control-allow-origin')).toBe(listed);
    expect(granted.headers.get('access-control-allow-credentials')).toBe('true');
    expect(granted.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
    expect(granted.headers.get('vary')?.toLowerCase()).toContain('origin');
    const port = new URL(listed).port;
    for (const origin of [
      sites[1]!.origin,
      `https://127.0.0.1:${port}`,
      `http://127.0.0.1:${Number(port) + 1}`,
      `http://localhost:${port}`,
      `${listed}.evil.example`,
      `http://evil.example/${listed}`,
      'null',
      '*',
    ]) {
      const refused = await preflight(origin);
      expect({ origin, status: refused.status, allow: refused.headers.get('access-control-allow-origin') }).toEqual({
        origin,
        status: 404,
        allow: null,
      });
      expect(refused.headers.get('access-control-allow-credentials'), origin).toBeNull();
      // The request itself, with the key even: answered (the key is the key) but never shared with that page.
      const actual = await fetch(`${pos}/v1/settlement`, { headers: { origin, authorization: `Bearer ${API_KEY}` } });
      expect({ origin, allow: actual.headers.get('access-control-allow-origin') }).toEqual({ origin, allow: null });
    }
  });

  it('lists no origin by default', async () => {
    api2 = buildPosApi(terminal, { apiKey: API_KEY });
    const bare = await api2.listen({ port: 0, host: '127.0.0.1' });
    const answer = await fetch(`${bare}/v1/payments`, {
      method: 'OPTIONS',
      headers: { origin: sites[0]!.origin, 'access-control-request-method': 'POST' },
    });
    expect({ status: answer.status, allow: answer.headers.get('access-control-allow-origin') }).toEqual({ status: 404, allow: null });
  });
});
