/**
 * What the customer sees on the terminal display (host/web) for each of the simulator's special
 * cards (docs/sim.md, "Special cards"), in headless Chromium: a bank over HTTP, a Simulator whose
 * cards it loads, a terminal on the simulated reader "Sim 0" with its POS API and the display. For
 * each card a payment is made through the POS API, the card inserted through the simulator, and
 * the display must say what happened and why, in its status (role status) and hint; the card is
 * then pulled. One screenshot per outcome is kept under the OS temp dir
 * (`<tmpdir>/ecash-special-cards/`), a test artifact, not a doc.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildPosApi } from '../../host/pos/api.js';
import { FINAL_STATES } from '../../host/pos/journal.js';
import type { PaymentTerminal } from '../../host/pos/index.js';
import { type CardSpec, DEFAULT_PIN, DEFAULT_PUK, Simulator } from '../../host/sim/index.js';
import { registerTerminalDisplay } from '../../host/web/index.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { World } from '../helpers/world.js';

const API_KEY = 'special-cards-key-0123456789';
const READER = 'Sim 0';
const SHOTS = join(tmpdir(), 'ecash-special-cards');
const TAP_MS = 30_000;

describe.runIf(chromiumAvailable())('the terminal display with each special card', () => {
  let world: World;
  let sim: Simulator;
  let terminal: PaymentTerminal;
  let app: FastifyInstance;
  let origin: string;
  let operatorToken: string;
  let browser: Browser;
  let page: Page;
  /** The payments each test started, ended by afterEach if a failure left them open. */
  const started: string[] = [];

  const status = () => page.getByRole('status').textContent();
  const hint = () => page.locator('#hint').textContent();
  const shoot = (outcome: string) => page.screenshot({ path: join(SHOTS, `${outcome}.png`) });

  /** A card made by the simulator: no PIN asked up to 100.00 EUR unless `spec` says otherwise. */
  const card = async (spec: Partial<Omit<CardSpec, 'load'>> & { load?: number }): Promise<string> => {
    const { load, ...rest } = spec;
    const made = await sim.createCard({
      kind: 'standard',
      pin: DEFAULT_PIN,
      puk: DEFAULT_PUK,
      noPinLimit: 10_000,
      ...rest,
      ...(load === undefined ? {} : { load: { bank: world.url, operatorToken, amount: load, currency: 'EUR' } }),
    });
    return made.id;
  };

  /** A payment made at the register, through the POS API; the display shows its amount. */
  const pay = async (amount: number, reference: string): Promise<string> => {
    const res = await fetch(`${origin}/v1/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount, currency: 'EUR', reference }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    started.push(id);
    await expect.poll(status).toBe('Tap or insert your card');
    return id;
  };

  /** Every text the status line showed since the last call, in order (the display's own record). */
  const shown = async (): Promise<string[]> => page.evaluate('window.statusesShown.splice(0)');

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    world = new World();
    await world.startBank();
    operatorToken = (await world.service.addOperator('special-cards')).credential;
    const shop = await world.addMerchant('special-shop');
    sim = new Simulator({ readers: 1 });
    terminal = await world.terminal(
      sim.readers,
      { merchantId: 'special-shop', bank: shop },
      { readerName: READER, terminalId: 'special-till', cardWaitMs: TAP_MS, pinWaitMs: TAP_MS },
    );
    app = buildPosApi(terminal, { apiKey: API_KEY });
    registerTerminalDisplay(app);
    origin = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 420, height: 720 }, locale: 'en-US' });
    // Records each text the status line takes, so that a test can tell what was on the screen
    // between two of its own looks (a slow card's progress, a card pulled and put back).
    await page.addInitScript(`
      window.statusesShown = [];
      document.addEventListener('DOMContentLoaded', () => {
        const line = document.getElementById('status');
        new MutationObserver(() => window.statusesShown.push(line.textContent)).observe(line, { childList: true, characterData: true, subtree: true });
      });
    `);
    await page.goto(`${origin}/display/`);
    await page.getByLabel('API key').fill(API_KEY);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /^Welcome$/ })
      .waitFor();
  }, 120_000);

  afterEach(async () => {
    // A test that failed midway leaves a payment to end (abandoned: the tests' cards are theirs)
    // and its card in the reader.
    for (const id of started.splice(0)) if (!FINAL_STATES.includes(terminal.view(id).state)) terminal.cancel(id, { abandon: true });
    await terminal.idle();
    if (sim.listReaders()[0]!.card !== null) sim.remove(READER);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await world?.close();
    await sim?.close();
  });

  /** Puts the card into the reader and waits until the display's status says `expected`. */
  const tap = async (cardId: string, expected: string) => {
    sim.insert(READER, cardId);
    await expect.poll(status, { timeout: TAP_MS }).toBe(expected);
  };

  it.each([
    ['an empty card', { kind: 'empty' }, 100, /^the card cannot pay 1\.00 EUR: it holds less than that/, 'empty'],
    [
      'a card without exact change',
      { kind: 'no-exact-change', load: 500 },
      200,
      /^the card holds enough, but no coins this terminal accepts add up to exactly 2\.00 EUR/,
      'no-exact-change',
    ],
    // An honest card offers only the keys the terminal takes: the unknown key's coin is no money here.
    [
      'a coin of a key the terminal does not know',
      { kind: 'unknown-key', load: 200 },
      200,
      /^the card cannot pay 2\.00 EUR: it holds less than that in coins this terminal accepts/,
      'unknown-key',
    ],
    [
      'a card of another suite',
      { suite: 'p256-uprove' },
      100,
      /^the card works in suite p256-uprove, this terminal's bank in/,
      'other-suite',
    ],
  ] as const)('%s: declined, the display saying why', async (_, spec, amount, why, outcome) => {
    const id = await card(spec);
    await pay(amount, outcome);
    await tap(id, 'Declined');
    expect(await hint()).toMatch(why);
    await shoot(`${outcome}-declined`);
  });

  it('a blocked PIN: the display asks for the PIN, then declines saying the PIN is blocked', async () => {
    const id = await card({ kind: 'blocked-pin', noPinLimit: 0 });
    await pay(100, 'blocked-pin');
    await tap(id, 'Enter your PIN');
    await page.getByLabel('PIN').fill(DEFAULT_PIN);
    await page.getByRole('button', { name: 'Enter' }).click();
    await expect.poll(status, { timeout: TAP_MS }).toBe('Declined');
    expect(await hint()).toMatch(/^the PIN is now blocked: unblock it with the PUK/);
    expect(await page.getByLabel('PIN').isVisible()).toBe(false);
    await shoot('blocked-pin-declined');
  });

  it('a card pulled mid-tap: "removed too soon" until it is put back, then approved', async () => {
    const id = await card({ kind: 'pulled-mid-tap', load: 1_000 });
    await pay(300, 'pulled-mid-tap');
    await tap(id, 'Card removed too soon');
    // The terminal waits for the card again at once: the screen must still say which card to bring.
    await expect.poll(() => terminal.view(started.at(-1)!).state).toBe('waiting-for-card');
    expect([await status(), await hint()]).toEqual(['Card removed too soon', 'Tap the same card again']);
    expect(sim.listReaders()[0]!.card).toBeNull();
    await shoot('pulled-mid-tap-interrupted');
    await tap(id, 'Approved');
    await expect.poll(() => page.locator('#receipt').textContent()).toContain('3.00 EUR');
    await shoot('pulled-mid-tap-approved');
  });

  it('a slow chip (jcop4): the display shows the card being read and paid, then approved', async () => {
    const id = await card({ profile: 'jcop4', load: 500 });
    await pay(150, 'slow-chip');
    await shown();
    await tap(id, 'Approved');
    expect(await shown()).toEqual(expect.arrayContaining(['Reading card…', 'Paying…', 'Approved']));
    await expect.poll(() => page.locator('#receipt').textContent()).toContain('1.50 EUR');
    await shoot('slow-chip-approved');
  });

  it('a double spender: the first payment approved, the second with the same coin declined', async () => {
    const id = await card({ kind: 'double-spending', load: 100 });
    await pay(100, 'double-spend-1');
    await tap(id, 'Approved');
    await terminal.idle();
    sim.remove(READER);
    await pay(100, 'double-spend-2');
    await tap(id, 'Declined');
    expect(await hint()).toMatch(/^the card spent a coin this terminal has already taken/);
    await shoot('double-spending-declined');
  });
});
