/**
 * End to end through real parts: the bank service over HTTP, the emulated card served over vpcd
 * into the machine's pcscd (`Virtual PCD 00 00`), and the load and POS terminals on the PC/SC
 * transport. Loading, offline and online payments, settlement, a double-spending card caught at
 * settlement and refused at the counter, a card pulled mid-payment, and `ecash pos pay` killed
 * after its request reached the card and finished by the next run.
 *
 * Each test has its own bank and terminals, and whatever it leaves behind, passed or failed (a
 * card in the slot, a command still running, a terminal waiting for a card), is ended after it:
 * one failing test must not fail the next ones.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ECASH_INS } from '../../wire/index.js';
import { serveOverVpcd, type SimulatedCard, type VpcdConnection } from '../../firmware-sim/index.js';
import { PcscTransport } from '../../reader-bridge/index.js';
import { Journal } from '../../host/pos/journal.js';
import type { PaymentTerminal } from '../../host/pos/terminal.js';
import type { BankClient } from '../../host/bank-client/index.js';
import { readerState } from '../reader-bridge/conformance.js';
import { cardInReader, unserveCard } from '../reader-bridge/pcscd.js';
import {
  type CliProcess,
  endStartedProcesses,
  exitOf,
  posApiUrl,
  startCli,
  stderrLine,
  untilFinal,
  waitForOutput,
} from '../helpers/cli.js';
import { pcscdAvailable, requireService } from '../helpers/env.js';
import { atState, cardValue, type Holder, merchantBalance, PIN, reasonOf, World } from '../helpers/world.js';

const READER = 'Virtual PCD 00 00';

/**
 * The options of an `ecash pos` command at `world`'s corner-shop terminal `terminal` on READER, its
 * merchant credential in the file `tokenName` (owner-only) of the world's folder.
 */
function shopTerminalArgs(world: World, terminal: string, tokenName: string): string[] {
  const tokenFile = join(world.dir, tokenName);
  writeFileSync(tokenFile, world.merchantTokens.get('corner-shop')!, { mode: 0o600 });
  return ['--reader', READER, '--bank', world.url, '--token-file', tokenFile, '--merchant', 'corner-shop', '--terminal', terminal];
}

const VPCD_PORT = 35963;

/**
 * `card` as the reader reaches it, with the first PAY command that arrives handed to `first`
 * before the card sees it: `first` decides whether the card then acts on it (`pass`) or never
 * gets it (`withhold`). Later PAY commands go straight to the card.
 */
function firstPayHeld(card: SimulatedCard, first: () => Promise<'pass' | 'withhold'>): SimulatedCard {
  let held = false;
  return {
    atr: card.atr,
    powerOn: () => card.powerOn(),
    reset: () => card.reset(),
    powerOff: () => card.powerOff(),
    async transmit(command) {
      if (!held && command[1] === ECASH_INS.PAY) {
        held = true;
        if ((await first()) === 'withhold') throw new Error('this PAY never reached the card');
      }
      return card.transmit(command);
    },
  };
}

describe.runIf(requireService(pcscdAvailable(), 'pcscd (with vsmartcard-vpcd)'))('POS and load terminals through pcscd and vpcd', () => {
  let world: World;
  let pcsc: PcscTransport;
  let shop: BankClient;
  let served: VpcdConnection | undefined;

  async function insert(card: SimulatedCard): Promise<void> {
    if (served !== undefined) throw new Error('the test put a card in the reader while another one was in it');
    // Kept before pcscd shows it: a terminal may take the card, and the test pull it out again
    // (remove()), before insert() has seen it arrive.
    served = await serveOverVpcd(card, { port: VPCD_PORT });
    await cardInReader(served, pcsc, READER, VPCD_PORT);
  }

  /** Takes the card out (if one is in) and waits until pcscd shows the slot empty. */
  async function remove(): Promise<void> {
    const s = served;
    served = undefined;
    await unserveCard(s, pcsc, READER);
  }

  async function value(card: SimulatedCard): Promise<number> {
    await insert(card);
    const ch = await pcsc.connect(READER);
    try {
      return await cardValue(ch);
    } finally {
      await ch.disconnect('reset');
      await remove();
    }
  }

  async function loaded(name: string, amount: number, card?: SimulatedCard): Promise<{ card: SimulatedCard; holder: Holder }> {
    const c = card ?? (await world.card());
    await insert(c);
    const ch = await pcsc.connect(READER);
    try {
      const holder = await world.holder(ch, name, 20_000);
      await world.load(ch, holder, amount);
      return { card: c, holder };
    } finally {
      await ch.disconnect('reset');
      await remove();
    }
  }

  async function pay(terminal: PaymentTerminal, card: SimulatedCard, amount: number) {
    const p = terminal.startPayment({ amount, currency: 'EUR' });
    await insert(card);
    const view = await terminal.outcome(p.id);
    await remove();
    return view;
  }

  beforeAll(() => {
    pcsc = new PcscTransport();
  });

  beforeEach(async () => {
    // The slot starts empty (a file run before this one may have taken its card out just now).
    await readerState(pcsc, READER, false);
    world = new World();
    await world.startBank();
    shop = await world.addMerchant('corner-shop');
  });

  afterEach(async () => {
    // Commands first (they may hold the reader), then the terminals (a payment still waiting for
    // a card ends), then the card: the slot is empty for the next test whatever this one did.
    try {
      await endStartedProcesses();
      await world.close();
    } finally {
      await remove();
    }
  });

  afterAll(async () => {
    await pcsc.close();
  });

  it('loads a card, pays offline and online, and settles', async () => {
    const { card } = await loaded('alice', 5_000);
    expect(await value(card)).toBe(5_000);
    const offline = await world.terminal(
      pcsc,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: READER, terminalId: 'pcsc-offline' },
    );
    const a = await pay(offline, card, 1_234);
    expect(a.state).toBe('approved');
    expect(a.mode).toBe('offline');
    const online = await world.terminal(
      pcsc,
      { merchantId: 'corner-shop', bank: shop },
      { readerName: READER, terminalId: 'pcsc-online', mode: 'online' },
    );
    const b = await pay(online, card, 766);
    expect(b).toMatchObject({ state: 'approved', mode: 'online' });
    expect(await merchantBalance(shop, 'corner-shop')).toBe(766);
    expect((await offline.settle()).outcomes).toEqual({ credited: a.coins.length });
    expect(await merchantBalance(shop, 'corner-shop')).toBe(2_000);
    expect(await value(card)).toBe(3_000);
    expect((await world.service.audit()).ok).toBe(true);
  }, 60_000);

  it('catches the double-spending card at settlement (offline) and at the counter (online)', async () => {
    const evil = await world.doubleSpendingCard();
    const { holder } = await loaded('mallory', 1_000, evil);
    const cafe = await world.addMerchant('cafe');
    const kiosk = await world.addMerchant('kiosk');
    const t1 = await world.terminal(pcsc, { merchantId: 'corner-shop', bank: shop }, { readerName: READER, terminalId: 'evil-1' });
    const t2 = await world.terminal(pcsc, { merchantId: 'cafe', bank: cafe }, { readerName: READER, terminalId: 'evil-2' });
    expect((await pay(t1, evil, 500)).state).toBe('approved');
    const second = await pay(t2, evil, 500);
    expect(second.state).toBe('approved');
    await t1.settle();
    const report = await t2.settle();
    expect(report.doubleSpends.length).toBeGreaterThan(0);
    const ds = (await world.operator.doubleSpends({})).doubleSpends.filter((d) => d.depositor === 'cafe');
    expect(ds[0]!.accountId).toBe(holder.accountId);

    const t3 = await world.terminal(
      pcsc,
      { merchantId: 'kiosk', bank: kiosk },
      { readerName: READER, terminalId: 'evil-3', mode: 'online' },
    );
    const refused = await pay(t3, evil, 500);
    expect(refused.state).toBe('declined');
    expect(reasonOf(refused)).toBe('double-spend');
    expect(await merchantBalance(kiosk, 'kiosk')).toBe(0);
  }, 60_000);

  it('a card pulled from the reader after the request is finished by the same request, charged once', async () => {
    const { card } = await loaded('pat', 2_000);
    const t = await world.terminal(pcsc, { merchantId: 'corner-shop', bank: shop }, { readerName: READER, terminalId: 'pull' });
    // Both listeners before the card goes in: the terminal may send the request, lose the card
    // and record the interruption before insert() has seen the card arrive.
    let pulled: Promise<void> | undefined;
    void atState(t, 'request-sent', () => (pulled = remove()));
    const interrupted = atState(t, 'interrupted').then(() => 'interrupted' as const);
    const p = t.startPayment({ amount: 750, currency: 'EUR' });
    await insert(card);
    // Either the card answered before it left (approved at once) or the terminal waits for it again.
    const outcome = await Promise.race([t.outcome(p.id), interrupted]);
    await pulled;
    if (outcome === 'interrupted') {
      await insert(card);
      const view = await t.outcome(p.id);
      await remove();
      expect(view.state).toBe('approved');
    } else {
      expect(outcome.state).toBe('approved');
    }
    expect(await value(card)).toBe(1_250);
  }, 60_000);

  // SIGKILL lands when the PAY command reaches the card (the terminal has journaled the request
  // and printed request-sent): the card then either pays, its answer lost with the terminal, or
  // never gets the command. Either way the next run finishes the payment with the same request
  // and the card is charged once.
  it.each([
    { what: 'the card pays, its answer lost', card: 'pass' as const },
    { what: 'the card never gets the command', card: 'withhold' as const },
  ])(
    '`ecash pos pay` killed after its request reached the reader ($what) is finished by the next run',
    async ({ card: fate }) => {
      const { card } = await loaded('quinn', 2_000);
      const journalFile = join(world.dir, 'cli-pos.db');
      const args = ['pos', 'pay', ...shopTerminalArgs(world, 'cli', 'shop.token'), '--journal', journalFile, '--card-wait', '20'];
      const first: CliProcess = startCli([...args, '600']);
      await insert(
        firstPayHeld(card, async () => {
          first.child.kill('SIGKILL');
          await first.exited;
          return fate;
        }),
      );
      expect(await exitOf(first), first.stderr()).toBeNull(); // killed, not ended on its own
      expect(first.stderr()).toContain('request-sent');
      await remove();

      const journal = new Journal(journalFile);
      const [interrupted] = journal.unfinishedPayments();
      journal.close();
      expect(interrupted, first.stderr()).toBeDefined();

      // The card is in the reader when the next run starts: it finishes the interrupted payment
      // first; the customer then takes the card and taps it again for the new sale (a card left in
      // the reader never pays the next sale by itself).
      await insert(card);
      const second = startCli([...args, '--json', '100']);
      await waitForOutput(second, stderrLine(`payment ${interrupted!.id}: approved`), `payment ${interrupted!.id} approved`, 30_000);
      await remove();
      await insert(card);
      const code = await exitOf(second);
      await remove();
      expect(code, second.stderr()).toBe(0);
      expect(JSON.parse(second.stdout())).toMatchObject({ state: 'approved', amount: 100 });
      // What it said while finishing the interrupted payment, from its first state on.
      expect(second.stderr()).toContain(`payment ${interrupted!.id}: waiting-for-card`);
      const after = new Journal(journalFile);
      expect(after.currentState(interrupted!.id)).toBe('approved');
      after.close();
      // 600 for the interrupted payment, once, and 100 for the new one.
      expect(await value(card)).toBe(2_000 - 600 - 100);
    },
    90_000,
  );

  it('`ecash pos serve` is driven over HTTP by a cash register: pay, follow, settle', async () => {
    const { card } = await loaded('rosa', 2_000);
    const dir = world.dir;
    const apiKey = 'register-key-0123456789';
    const server = startCli(
      [
        'pos',
        'serve',
        ...shopTerminalArgs(world, 'serve', 'serve-shop.token'),
        '--journal',
        join(dir, 'serve.db'),
        '--port',
        '0',
        '--settle-every',
        '0',
      ],
      { ECASH_POS_API_KEY: apiKey },
    );
    const base = await waitForOutput(server, posApiUrl, 'the API address');
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const before = await merchantBalance(shop, 'corner-shop');
    const created = await api('POST', '/payments', { amount: 450, currency: 'EUR', reference: 'till-7' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await insert(card);
    const { state } = await untilFinal(server, async () => (await api('GET', `/payments/${id}`)).body as { state: string });
    await remove();
    expect(state).toBe('approved');
    const settled = await api('POST', '/settlement');
    expect(settled.status).toBe(200);
    expect(await merchantBalance(shop, 'corner-shop')).toBe(before + 450);
    expect((await api('GET', `/payments/${id}`)).body.state).toBe('settled');
    server.child.kill('SIGTERM');
    await exitOf(server);
    expect(await value(card)).toBe(1_550);
  }, 90_000);

  it('`ecash account open` and `ecash load` register and load a card through pcscd', async () => {
    const card = await world.card();
    const credFile = join(world.dir, 'holder.token');
    const run = async (args: string[], pin = PIN) => {
      const p = startCli(args, { ECASH_PIN: pin, ECASH_BANK_URL: world.url });
      const code = await exitOf(p);
      return { code, stdout: p.stdout(), stderr: p.stderr() };
    };
    await insert(card);
    const opened = await run(['--json', 'account', 'open', '--holder', 'Wanda', '--reader', READER, '--token-file', credFile]);
    expect(opened.code, opened.stderr).toBe(0);
    const account = JSON.parse(opened.stdout) as { accountId: string; credential: string };
    // The credential is written to its file (mode 600), and its secret part printed nowhere.
    const token = readFileSync(credFile, 'utf8').trim();
    expect(token).toMatch(/^ecash\./);
    expect(statSync(credFile).mode & 0o777).toBe(0o600);
    expect((opened.stdout + opened.stderr).includes(token.split('.')[2]!), 'the credential in the output of account open').toBe(false);
    await world.operator.credit(account.accountId, { currency: 'EUR', amount: 3_000, reference: 'test' });

    const loaded = await run([
      '--json',
      'load',
      '1500',
      '--reader',
      READER,
      '--account',
      account.accountId,
      '--token-file',
      credFile,
      '--journal',
      join(world.dir, 'cli-load.db'),
    ]);
    expect(loaded.code, loaded.stderr).toBe(0);
    const report = JSON.parse(loaded.stdout) as { loaded: { loaded: number }; balance: { value: number; count: number }[] };
    expect(report.loaded.loaded).toBe(1_500);
    expect(report.balance.reduce((sum, b) => sum + b.value * b.count, 0)).toBe(1_500);
    // The messages (stderr; stdout is JSON full of hex, where four digits can occur by chance).
    for (const out of [opened, loaded]) expect(out.stderr.includes(PIN), 'the PIN in the messages').toBe(false);

    const tooMuch = await run([
      '--json',
      'load',
      '5000',
      '--reader',
      READER,
      '--account',
      account.accountId,
      '--token-file',
      credFile,
      '--journal',
      join(world.dir, 'cli-load.db'),
    ]);
    expect(tooMuch.code).toBe(1);
    expect(JSON.parse(tooMuch.stdout)).toMatchObject({ error: { code: 'insufficient-funds' } });

    const wrongPin = await run(
      [
        '--json',
        'load',
        '100',
        '--reader',
        READER,
        '--account',
        account.accountId,
        '--token-file',
        credFile,
        '--journal',
        join(world.dir, 'cli-load.db'),
      ],
      '9999',
    );
    expect(wrongPin.code).toBe(1);
    expect(JSON.parse(wrongPin.stdout)).toMatchObject({ error: { code: 'pin-wrong' } });
  }, 90_000);
});
