/**
 * The terminal display (host/web) in headless Chromium against a real terminal: `buildPosApi`
 * with the display registered, a bank over HTTP, cards in the virtual reader. The page logs in
 * with the API key, follows payments over the API's event stream, and takes a PIN when the card
 * asks for one (again after a wrong one, with the tries left). With ECASH_SCREENSHOTS=<dir> it
 * saves the screens the README shows.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EcashCard } from '../../firmware-sim/index.js';
import { VirtualTransport } from '../../reader-bridge/index.js';
import { buildPosApi } from '../../host/pos/api.js';
import type { PaymentTerminal } from '../../host/pos/terminal.js';
import { registerTerminalDisplay } from '../../host/web/index.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { loadViaReader, PIN, World } from '../helpers/world.js';

const API_KEY = 'display-key-0123456789';
const READER = 'Counter';
const shots = process.env.ECASH_SCREENSHOTS;

describe.runIf(chromiumAvailable())('the terminal display', () => {
  let world: World;
  let readers: VirtualTransport;
  let terminal: PaymentTerminal;
  let app: FastifyInstance;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let card: EcashCard;

  const shoot = async (name: string) => {
    if (shots !== undefined) await page.screenshot({ path: join(shots, `terminal-display-${name}.png`) });
  };
  const startPayment = async (amount: number, reference: string): Promise<string> => {
    const res = await fetch(`${origin}/v1/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount, currency: 'EUR', reference }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };

  beforeAll(async () => {
    world = new World();
    await world.startBank();
    const shop = await world.addMerchant('corner-shop');
    readers = new VirtualTransport([READER, 'Load']);
    // PIN above 100 (minor units): the second payment asks for it.
    card = await world.card({ noPinLimit: 100 });
    await loadViaReader(world, readers, 'Load', card, 'alice', 10_000, 3_000);
    terminal = await world.terminal(
      readers,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: READER, terminalId: 'till-1', cardWaitMs: 30_000, pinWaitMs: 30_000 },
    );
    app = buildPosApi(terminal, { apiKey: API_KEY });
    registerTerminalDisplay(app);
    origin = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 420, height: 720 }, locale: 'en-US' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await readers?.close();
    await world?.close();
  });

  it('asks for the API key and refuses a wrong one, saying so', async () => {
    await page.goto(`${origin}/display/`);
    await expect.poll(() => page.getByLabel('API key').isVisible()).toBe(true);
    await shoot('login');
    await page.getByLabel('API key').fill('not-the-key-0123456789');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/API key/);
    await page.getByLabel('API key').fill(API_KEY);
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Welcome');
    await expect.poll(() => page.locator('#merchant').textContent()).toBe('corner-shop · till-1');
  });

  it('shows the amount and asks for the card, then shows the approval and the receipt', async () => {
    const id = await startPayment(50, 'order-1');
    await expect.poll(() => page.locator('#amount').textContent()).toBe('0.50 EUR');
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Tap or insert your card');
    await shoot('tap');
    readers.insertCard(READER, card);
    try {
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toBe('Approved');
      await expect.poll(() => page.locator('#receipt').textContent()).toContain(id);
      await shoot('approved');
    } finally {
      await terminal.idle();
      readers.removeCard(READER);
    }
  });

  it('takes the PIN when the card asks for it, on the customer side only', async () => {
    await startPayment(1_234, 'order-2');
    await expect.poll(() => page.locator('#amount').textContent()).toBe('12.34 EUR');
    readers.insertCard(READER, card);
    try {
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toBe('Enter your PIN');
      // The field has the focus: the holder types and presses Enter.
      await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('pin');
      await shoot('pin');
      await page.keyboard.type(PIN);
      await page.keyboard.press('Enter');
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toBe('Approved');
      expect(await page.getByLabel('PIN').isVisible()).toBe(false);
    } finally {
      await terminal.idle();
      readers.removeCard(READER);
    }
  });

  it('says a PIN was wrong with the tries left, and takes it again', async () => {
    await startPayment(500, 'order-3');
    readers.insertCard(READER, card);
    try {
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toBe('Enter your PIN');
      await page.getByLabel('PIN').fill('0000');
      await page.getByRole('button', { name: 'Enter' }).click();
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toBe('Wrong PIN, 2 tries left');
      expect(await page.locator('#hint').textContent()).toBe('Enter your PIN again');
      // An empty field with the focus again: the holder just types.
      await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('pin');
      expect(await page.getByLabel('PIN').inputValue()).toBe('');
      await shoot('pin-wrong');
      await page.keyboard.type(PIN);
      await page.keyboard.press('Enter');
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toBe('Approved');
    } finally {
      await terminal.idle();
      readers.removeCard(READER);
    }
  });

  it('says why a payment was declined: more than the card holds', async () => {
    await startPayment(10_000, 'order-4');
    readers.insertCard(READER, card);
    try {
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toBe('Enter your PIN');
      await page.getByLabel('PIN').fill(PIN);
      await page.getByRole('button', { name: 'Enter' }).click();
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toBe('Declined');
      await expect.poll(() => page.locator('#hint').textContent()).toBe('Not enough money on the card. Load the card, or pay less.');
      await shoot('declined');
    } finally {
      await terminal.idle();
      readers.removeCard(READER);
    }
  });
});
