/**
 * What the customer sees on the terminal display (host/web) for each of the simulator's special
 * cards (docs/sim.md, "Special cards"), in headless Chromium: a bank over HTTP, a Simulator whose
 * cards it loads, a terminal on the simulated reader "Sim 0" with its POS API and the display. For
 * each card a payment is made through the POS API, the card inserted through the simulator, and
 * the display must say what happened and why, in its status (role status) and hint; the card is
 * then pulled. A second till on "Sim 1" waits only briefly for a card to come back, for the
 * pulled card that never does. One screenshot per outcome is kept under the OS temp dir
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
/** The reader of a till that waits only briefly for a card to come back (card-not-returned). */
const BRIEF_READER = 'Sim 1';
const SHOTS = join(tmpdir(), 'ecash-special-cards');
const TAP_MS = 30_000;
/** How long the brief till waits for a card (to come back): its card-not-returned comes after it. */
const BRIEF_WAIT_MS = 3_000;

/** A terminal on one simulated reader, with its POS API and its customer display open in a page. */
class Till {
  /** The payments started here, ended by afterEach if a failure left them open. */
  readonly started: string[] = [];

  private constructor(
    readonly reader: string,
    readonly terminal: PaymentTerminal,
    readonly origin: string,
    readonly page: Page,
    private readonly app: FastifyInstance,
  ) {}

  static async open(world: World, sim: Simulator, browser: Browser, reader: string, cardWaitMs: number): Promise<Till> {
    const terminalId = `till-${reader.replace(' ', '-')}`;
    const shop = world.operator.withToken(world.merchantTokens.get('special-shop')!);
    const terminal = await world.terminal(
      sim.readers,
      { merchantId: 'special-shop', bank: shop },
      { readerName: reader, terminalId, cardWaitMs, pinWaitMs: TAP_MS },
    );
    const app = buildPosApi(terminal, { apiKey: API_KEY });
    registerTerminalDisplay(app);
    const origin = await app.listen({ port: 0, host: '127.0.0.1' });
    const page = await browser.newPage({ viewport: { width: 420, height: 720 }, locale: 'en-US' });
    // Records each text the status line takes, so that a test can tell what was on the screen
    // between two of its own looks (a slow card's progress).
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
    return new Till(reader, terminal, origin, page, app);
  }

  status = () => this.page.getByRole('status').textContent();
  hint = () => this.page.locator('#hint').textContent();
  shoot = (outcome: string) => this.page.screenshot({ path: join(SHOTS, `${outcome}.png`) });
  /** Every text the status line showed since the last call, in order (the display's own record). */
  shown = (): Promise<string[]> => this.page.evaluate('window.statusesShown.splice(0)');

  /** A payment made at the register, through the POS API; the display asks for the card. */
  async pay(amount: number, reference: string): Promise<string> {
    const res = await fetch(`${this.origin}/v1/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount, currency: 'EUR', reference }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    this.started.push(id);
    return id;
  }

  async close(): Promise<void> {
    await this.page.close();
    await this.app.close();
  }

  /** Ends what a failed test left: its payment (abandoned: the tests' cards are theirs) and its card. */
  async clear(sim: Simulator): Promise<void> {
    for (const id of this.started.splice(0))
      if (!FINAL_STATES.includes(this.terminal.view(id).state)) this.terminal.cancel(id, { abandon: true });
    await this.terminal.idle();
    if (sim.listReaders().find((r) => r.name === this.reader)!.card !== null) sim.remove(this.reader);
  }
}

describe.runIf(chromiumAvailable())('the terminal display with each special card', () => {
  let world: World;
  let sim: Simulator;
  let operatorToken: string;
  let browser: Browser;
  let till: Till;
  let briefTill: Till;

  const status = () => till.status();
  const hint = () => till.hint();
  const shoot = (outcome: string) => till.shoot(outcome);
  const shown = () => till.shown();
  const terminal = () => till.terminal;
  const started = () => till.started;

  /** A payment at the main till; the display asks for the card. */
  const pay = async (amount: number, reference: string): Promise<string> => {
    const id = await till.pay(amount, reference);
    await expect.poll(status).toBe('Tap or insert your card');
    return id;
  };

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

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    world = new World();
    await world.startBank();
    operatorToken = (await world.service.addOperator('special-cards')).credential;
    await world.addMerchant('special-shop');
    sim = new Simulator({ readers: 2 });
    browser = await launchChromium();
    till = await Till.open(world, sim, browser, READER, TAP_MS);
    briefTill = await Till.open(world, sim, browser, BRIEF_READER, BRIEF_WAIT_MS);
  }, 120_000);

  afterEach(async () => {
    await till.clear(sim);
    await briefTill.clear(sim);
  });

  afterAll(async () => {
    await till?.close();
    await briefTill?.close();
    await browser?.close();
    await world?.close();
    await sim?.close();
  });

  /** Puts the card into the reader and waits until the display's status says `expected`. */
  const tap = async (cardId: string, expected: string) => {
    sim.insert(READER, cardId);
    await expect.poll(status, { timeout: TAP_MS }).toBe(expected);
  };

  /** The code the terminal declined payment `id` with (what the register sees; the display words it for the customer). */
  const declineCode = (t: Till, id: string) => t.terminal.view(id).events.at(-1)?.detail?.code;

  it.each([
    ['an empty card', { kind: 'empty' }, 100, 'insufficient-funds', 'Not enough money on the card. Load the card, or pay less.', 'empty'],
    [
      'a card without exact change',
      { kind: 'no-exact-change', load: 500 },
      200,
      'no-exact-change',
      'The card cannot make this exact amount (e-cash gives no change). Pay another amount, or rebalance the card at a load terminal.',
      'no-exact-change',
    ],
    // An honest card offers only the keys the terminal takes: the unknown key's coin is no money here.
    [
      'a coin of a key the terminal does not know',
      { kind: 'unknown-key', load: 200 },
      200,
      'insufficient-funds',
      'Not enough money on the card. Load the card, or pay less.',
      'unknown-key',
    ],
    ['a card of another suite', { suite: 'p256-uprove' }, 100, 'wrong-suite', 'This card is not accepted here.', 'other-suite'],
  ] as const)("%s: declined, the display saying why in the customer's words", async (_, spec, amount, code, words, outcome) => {
    const id = await card(spec);
    const payment = await pay(amount, outcome);
    await tap(id, 'Declined');
    expect(declineCode(till, payment)).toBe(code);
    expect(await hint()).toBe(words);
    await shoot(`${outcome}-declined`);
  });

  it('a blocked PIN: the display asks for the PIN, then declines saying the PIN is blocked', async () => {
    const id = await card({ kind: 'blocked-pin', noPinLimit: 0 });
    await pay(100, 'blocked-pin');
    await tap(id, 'Enter your PIN');
    await till.page.getByLabel('PIN').fill(DEFAULT_PIN);
    await till.page.getByRole('button', { name: 'Enter' }).click();
    await expect.poll(status, { timeout: TAP_MS }).toBe('Declined');
    expect(await hint()).toBe('The PIN is blocked. Unblock it with your PUK, then pay again.');
    expect(await till.page.getByLabel('PIN').isVisible()).toBe(false);
    await shoot('blocked-pin-declined');
  });

  it('a card pulled mid-tap: "removed too soon" until it is put back, then approved', async () => {
    const id = await card({ kind: 'pulled-mid-tap', load: 1_000 });
    await pay(300, 'pulled-mid-tap');
    await tap(id, 'Card removed too soon');
    // The terminal waits for the card again at once: the screen must still say which card to bring.
    await expect.poll(() => terminal().view(started().at(-1)!).state).toBe('waiting-for-card');
    expect([await status(), await hint()]).toEqual(['Card removed too soon', 'Tap the same card again']);
    expect(sim.listReaders()[0]!.card).toBeNull();
    await shoot('pulled-mid-tap-interrupted');
    await tap(id, 'Approved');
    await expect.poll(() => till.page.locator('#receipt').textContent()).toContain('3.00 EUR');
    await shoot('pulled-mid-tap-approved');
  });

  it('a slow chip (jcop4): the display shows the card being read and paid, then approved', async () => {
    const id = await card({ profile: 'jcop4', load: 500 });
    await pay(150, 'slow-chip');
    await shown();
    await tap(id, 'Approved');
    expect(await shown()).toEqual(expect.arrayContaining(['Reading card…', 'Paying…', 'Approved']));
    await expect.poll(() => till.page.locator('#receipt').textContent()).toContain('1.50 EUR');
    await shoot('slow-chip-approved');
  });

  it('a double spender: the first payment approved, the second with the same coin declined', async () => {
    const id = await card({ kind: 'double-spending', load: 100 });
    await pay(100, 'double-spend-1');
    await tap(id, 'Approved');
    await terminal().idle();
    sim.remove(READER);
    const second = await pay(100, 'double-spend-2');
    await tap(id, 'Declined');
    expect(declineCode(till, second)).toBe('coin-already-seen');
    expect(await hint()).toBe('The payment was refused. Please ask the cashier.');
    await shoot('double-spending-declined');
  });

  it('a card pulled mid-tap that never comes back: declined, the display saying it may have paid', async () => {
    const id = await card({ kind: 'pulled-mid-tap', load: 1_000 });
    // In the reader before the sale: the brief till's wait covers only the card's return.
    sim.insert(BRIEF_READER, id);
    const payment = await briefTill.pay(400, 'never-back');
    await expect.poll(() => briefTill.status(), { timeout: TAP_MS }).toBe('Declined');
    // Told to bring the card back while the till waited for it (however briefly this machine let the poll look).
    expect((await briefTill.shown()).slice(-2)).toEqual(['Card removed too soon', 'Declined']);
    expect(declineCode(briefTill, payment)).toBe('card-not-returned');
    expect(await briefTill.hint()).toBe('The card did not come back. Please ask the cashier: it may have paid already.');
    await briefTill.shoot('pulled-mid-tap-not-returned');
  });
});
