/**
 * The simulator panel (host/web) in headless Chromium against a real simulator: `buildSimApi`
 * with the panel registered, a bank over HTTP that loads the cards, and a terminal in this
 * process on the simulator's reader "Sim 0". The page logs in with the simulator's token, makes
 * a card, inserts it, follows the payment's APDU trace live (the PIN redacted), arms and makes
 * removals, and works at phone width. With ECASH_SCREENSHOTS=<dir> it saves the screen the README
 * shows (docs/screens/sim-panel.png).
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentTerminal } from '../../host/pos/index.js';
import { buildSimApi, Simulator } from '../../host/sim/index.js';
import { registerSimPanel } from '../../host/web/index.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { atState, World } from '../helpers/world.js';

const TOKEN = 'sim-panel-token-0123456789';
const PIN = '86429753';
const shots = process.env.ECASH_SCREENSHOTS;

describe.runIf(chromiumAvailable())('the simulator panel', () => {
  let world: World;
  let sim: Simulator;
  let app: FastifyInstance;
  let origin: string;
  let operatorToken: string;
  let terminal: PaymentTerminal;
  let browser: Browser;
  let page: Page;
  let reader0: Locator;

  beforeAll(async () => {
    world = new World();
    await world.startBank();
    operatorToken = (await world.service.addOperator('panel')).credential;
    const shop = await world.addMerchant('panel-shop');
    sim = new Simulator({ readers: 2 });
    app = buildSimApi(sim, { token: TOKEN });
    registerSimPanel(app);
    origin = await app.listen({ port: 0, host: '127.0.0.1' });
    terminal = await world.terminal(
      sim.readers,
      { merchantId: 'panel-shop', bank: shop },
      { readerName: 'Sim 0', terminalId: 'panel-till', cardWaitMs: 30_000, pinWaitMs: 30_000 },
    );
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 1400 }, locale: 'en-GB' });
    reader0 = page.getByRole('article', { name: 'Sim 0' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await world?.close();
    await sim?.close();
  });

  it('serves the panel at /panel/ (and / leads there) with a strict content policy', async () => {
    const res = await fetch(`${origin}/`, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([302, '/panel/']);
    const panel = await fetch(`${origin}/panel/`);
    expect(panel.headers.get('content-security-policy')).toContain("connect-src 'self'");
  });

  it('asks for the token, refuses a wrong one, and connects with the right one from the keyboard', async () => {
    await page.goto(`${origin}/panel/`);
    await expect.poll(() => page.getByLabel('Simulator token').isVisible()).toBe(true);
    await page.getByLabel('Simulator token').fill('not-the-token-0123456789');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/token/);
    await page.getByLabel('Simulator token').fill(TOKEN);
    await page.keyboard.press('Enter');
    await expect.poll(() => reader0.getByRole('status').textContent()).toBe('Empty');
    await expect.poll(() => page.getByRole('heading', { name: 'Sim 1' }).isVisible()).toBe(true);
  });

  it('makes a card loaded through the bank, inserts it, and shows the tap of a payment with the PIN redacted', async () => {
    await page.getByLabel('Kind').selectOption('standard');
    await page.getByLabel('Chip profile').selectOption('jcop4');
    await page.getByLabel('PIN', { exact: true }).fill(PIN);
    await page.getByLabel('No-PIN limit (minor units)').fill('0');
    await page.getByLabel('Amount (minor units)').fill('2000');
    await page.getByLabel('Bank URL').fill(world.url);
    await page.getByLabel('Operator credential').fill(operatorToken);
    await page.getByRole('button', { name: 'Make card' }).click();
    await expect
      .poll(() => page.locator('#make-status').textContent(), { timeout: 30_000 })
      .toMatch(/^Made card-\d+ \(standard, jcop4, loaded 20\.00 EUR\)$/);
    // The page keeps no copy of the PIN it sent.
    expect(await page.getByLabel('PIN', { exact: true }).inputValue()).toBe('');
    await expect.poll(() => page.locator('#cards tbody tr').count()).toBe(1);

    const p = terminal.startPayment({ amount: 650, currency: 'EUR' });
    const pin = atState(terminal, 'pin-required', () => terminal.supplyPin(p.id, PIN));
    await reader0.getByRole('button', { name: 'Insert into Sim 0' }).click();
    await expect.poll(() => reader0.getByRole('status').textContent()).toMatch(/^Holds card-\d+ \(standard, jcop4, loaded 20\.00 EUR\)$/);
    await pin;
    expect((await terminal.outcome(p.id)).state).toBe('approved');

    const rows = reader0.locator('table.trace tbody tr');
    const names = async () => (await rows.locator('td:nth-child(2)').allTextContents()).join(' ');
    // The trace arrives over the event stream, command by command.
    await expect.poll(names, { timeout: 30_000 }).toMatch(/^SELECT .*VERIFY PIN.*PAY/);
    const verify = rows.filter({ hasText: 'VERIFY PIN' }).filter({ hasText: '[redacted]' }).first();
    const cells = await verify.locator('td').allTextContents();
    expect(cells.slice(1, 8)).toEqual(['VERIFY PIN', '00200080', '', '', '[redacted]', '9000', 'ok']);
    // The chip profile's time for the command, and the emulator's.
    expect(cells.slice(8)).toEqual([expect.stringMatching(/^\d+\.\d$/), expect.stringMatching(/^\d+\.\d\d$/)]);
    expect(await rows.filter({ hasText: 'PIN required' }).count()).toBe(1);
    const html = await page.content();
    expect(html).not.toContain(PIN);
    expect(html).not.toContain(Buffer.from(PIN, 'ascii').toString('hex'));
    if (shots !== undefined) await page.screenshot({ path: join(shots, 'sim-panel.png'), fullPage: true });

    await reader0.getByRole('button', { name: 'Remove now from Sim 0' }).click();
    await expect.poll(() => reader0.getByRole('status').textContent()).toBe('Empty');
    await expect.poll(() => reader0.locator('caption').textContent()).toMatch(/ to \d\d:\d\d:\d\d: \d+ command\(s\)$/);
  });

  it('arms removals during PAY and after n commands, and shows a refusal', async () => {
    await reader0.getByRole('button', { name: 'Insert into Sim 0' }).click();
    await expect.poll(() => reader0.getByRole('status').textContent()).toMatch(/^Holds card-/);
    await reader0.getByRole('button', { name: 'Remove during PAY from Sim 0' }).click();
    await expect.poll(() => reader0.locator('p.hint').textContent()).toBe('Leaves during its next PAY');
    await reader0.getByLabel('Commands before removal').fill('3');
    await reader0.getByRole('button', { name: 'Remove after n commands from Sim 0' }).click();
    await expect.poll(() => reader0.locator('p.hint').textContent()).toBe('Leaves after 3 more command(s)');
    // The new tap's trace starts empty.
    expect(await reader0.locator('table.trace tbody tr').count()).toBe(0);
    await reader0.getByRole('button', { name: 'Remove now from Sim 0' }).click();
    await expect.poll(() => reader0.getByRole('status').textContent()).toBe('Empty');
    await reader0.getByRole('button', { name: 'Remove now from Sim 0' }).click();
    await expect.poll(() => page.locator('#problem').textContent()).toMatch(/holds no card \[reader-empty\]$/);
  });

  it('fits a phone-width screen', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    try {
      await expect.poll(() => page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      expect(await reader0.getByRole('button', { name: 'Insert into Sim 0' }).isVisible()).toBe(true);
    } finally {
      await page.setViewportSize({ width: 1100, height: 1400 });
    }
  });
});
