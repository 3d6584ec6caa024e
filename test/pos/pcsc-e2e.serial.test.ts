/**
 * End to end through real parts: the bank service over HTTP, the emulated card served over vpcd
 * into the machine's pcscd (`Virtual PCD 00 00`), and the load and POS terminals on the PC/SC
 * transport. Loading, offline and online payments, settlement, a double-spending card caught at
 * settlement and refused at the counter, a card pulled mid-payment, and `ecash pos pay` killed
 * after its request reached the card and finished by the next run.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveOverVpcd, type SimulatedCard, type VpcdConnection } from '../../firmware-sim/index.js';
import { createDoubleSpendingCard } from '../../firmware-sim/testing/malicious.js';
import { PcscTransport } from '../../reader-bridge/index.js';
import { Journal } from '../../host/pos/journal.js';
import type { PaymentTerminal } from '../../host/pos/terminal.js';
import type { BankClient } from '../../host/bank/client.js';
import { readerState } from '../bridge/conformance.js';
import { posApiUrl, startCli, untilFinal, waitForOutput } from '../helpers/cli.js';
import { pcscdAvailable, requireService } from '../helpers/env.js';
import { cardValue, type Holder, merchantBalance, PIN, PUK, reasonOf, World } from '../helpers/world.js';

const READER = 'Virtual PCD 00 00';
const VPCD_PORT = 35963;

describe.runIf(requireService(pcscdAvailable(), 'pcscd (with vsmartcard-vpcd)'))('POS and load terminals through pcscd and vpcd', () => {
  let world: World;
  let pcsc: PcscTransport;
  let shop: BankClient;
  let served: VpcdConnection | undefined;

  async function insert(card: SimulatedCard): Promise<void> {
    served = await serveOverVpcd(card, { port: VPCD_PORT });
    await served.whenConnected();
    await readerState(pcsc, READER, true);
  }

  async function remove(): Promise<void> {
    const s = served;
    served = undefined;
    await s?.close();
    await readerState(pcsc, READER, false);
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
    const holder = await world.holder(ch, name, 20_000);
    await world.load(ch, holder, amount);
    await ch.disconnect('reset');
    await remove();
    return { card: c, holder };
  }

  async function pay(terminal: PaymentTerminal, card: SimulatedCard, amount: number) {
    const p = terminal.startPayment({ amount, currency: 'EUR' });
    await insert(card);
    const view = await terminal.outcome(p.id);
    await remove();
    return view;
  }


  beforeAll(async () => {
    world = new World();
    await world.startBank();
    shop = await world.addMerchant('corner-shop');
    pcsc = new PcscTransport();
  });

  afterAll(async () => {
    await remove();
    await pcsc.close();
    await world.close();
  });

  it('loads a card, pays offline and online, and settles', async () => {
    const { card } = await loaded('alice', 5_000);
    expect(await value(card)).toBe(5_000);
    const offline = await world.terminal(pcsc, { merchantId: 'corner-shop', bank: shop }, { readerName: READER, terminalId: 'pcsc-offline' });
    const a = await pay(offline, card, 1_234);
    expect(a.state).toBe('approved');
    expect(a.mode).toBe('offline');
    const online = await world.terminal(pcsc, { merchantId: 'corner-shop', bank: shop }, { readerName: READER, terminalId: 'pcsc-online', mode: 'online' });
    const b = await pay(online, card, 766);
    expect(b).toMatchObject({ state: 'approved', mode: 'online' });
    expect(await merchantBalance(shop, 'corner-shop')).toBe(766);
    expect((await offline.settle()).outcomes).toEqual({ credited: a.coins.length });
    expect(await merchantBalance(shop, 'corner-shop')).toBe(2_000);
    expect(await value(card)).toBe(3_000);
    expect((await world.service.audit()).ok).toBe(true);
  }, 60_000);

  it('catches the double-spending card at settlement (offline) and at the counter (online)', async () => {
    const evil = await createDoubleSpendingCard({ suite: world.suite, pin: PIN, puk: PUK, noPinLimit: 100_000, acknowledge: 'this card double-spends' });
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

    const t3 = await world.terminal(pcsc, { merchantId: 'kiosk', bank: kiosk }, { readerName: READER, terminalId: 'evil-3', mode: 'online' });
    const refused = await pay(t3, evil, 500);
    expect(refused.state).toBe('declined');
    expect(reasonOf(refused)).toBe('double-spend');
    expect(await merchantBalance(kiosk, 'kiosk')).toBe(0);
  }, 60_000);

  it('a card pulled from the reader after the request is finished by the same request, charged once', async () => {
    const { card } = await loaded('pat', 2_000);
    const t = await world.terminal(pcsc, { merchantId: 'corner-shop', bank: shop }, { readerName: READER, terminalId: 'pull' });
    let pulled: Promise<void> | undefined;
    t.on('payment-event', (_id: string, ev: { state: string }) => {
      if (ev.state === 'request-sent' && pulled === undefined) pulled = remove();
    });
    const p = t.startPayment({ amount: 750, currency: 'EUR' });
    await insert(card);
    // Either the card answered before it left (approved at once) or the terminal waits for it again.
    const outcome = await Promise.race([t.outcome(p.id), new Promise<'interrupted'>((resolve) => t.on('payment-event', (_: string, ev: { state: string }) => ev.state === 'interrupted' && resolve('interrupted')))]);
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

  it('`ecash pos pay` killed after its request reached the card is finished by the next run', async () => {
    const { card } = await loaded('quinn', 2_000);
    const tokenFile = join(world.dir, 'shop.token');
    writeFileSync(tokenFile, world.merchantTokens.get('corner-shop')!, { mode: 0o600 });
    const journalFile = join(world.dir, 'cli-pos.db');
    const args = ['bin/ecash.js', 'pos', 'pay', '--reader', READER, '--bank', world.url, '--token-file', tokenFile, '--merchant', 'corner-shop', '--terminal', 'cli', '--journal', journalFile, '--card-wait', '20'];
    const first = spawn('node', [...args, '600'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const killed = new Promise<void>((resolve) => {
      createInterface({ input: first.stderr }).on('line', (line) => {
        if (line.includes('request-sent')) {
          first.kill('SIGKILL');
          resolve();
        }
      });
    });
    await insert(card);
    await killed;
    await new Promise((r) => first.once('exit', r));
    await remove();

    const journal = new Journal(journalFile);
    const [interrupted] = journal.unfinishedPayments();
    journal.close();
    expect(interrupted).toBeDefined();

    await insert(card);
    const second = spawn('node', [...args, '--json', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    second.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    second.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // The interrupted payment is finished first; the customer then takes the card and taps it
    // again for the new sale (a card left in the reader never pays the next sale by itself).
    await new Promise<void>((resolve) => {
      createInterface({ input: second.stderr }).on('line', (line) => {
        if (line.includes(`payment ${interrupted!.id}: approved`)) resolve();
      });
    });
    await remove();
    await insert(card);
    const code = await new Promise<number | null>((r) => second.once('exit', r));
    await remove();
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ state: 'approved', amount: 100 });
    const after = new Journal(journalFile);
    expect(after.currentState(interrupted!.id)).toBe('approved');
    after.close();
    // 600 for the interrupted payment, once, and 100 for the new one.
    expect(await value(card)).toBe(2_000 - 600 - 100);
  }, 90_000);

  it('`ecash pos serve` is driven over HTTP by a cash register: pay, follow, settle', async () => {
    const { card } = await loaded('rosa', 2_000);
    const dir = world.dir;
    const tokenFile = join(dir, 'serve-shop.token');
    writeFileSync(tokenFile, world.merchantTokens.get('corner-shop')!, { mode: 0o600 });
    const apiKey = 'register-key-0123456789';
    const server = startCli(
      ['pos', 'serve', '--reader', READER, '--bank', world.url, '--token-file', tokenFile, '--merchant', 'corner-shop', '--terminal', 'serve', '--journal', join(dir, 'serve.db'), '--port', '0', '--settle-every', '0'],
      { ECASH_POS_API_KEY: apiKey },
    );
    try {
      const base = await waitForOutput(server, posApiUrl);
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
      const { state } = await untilFinal(async () => (await api('GET', `/payments/${id}`)).body as { state: string });
      await remove();
      expect(state).toBe('approved');
      const settled = await api('POST', '/settlement');
      expect(settled.status).toBe(200);
      expect(await merchantBalance(shop, 'corner-shop')).toBe(before + 450);
      expect((await api('GET', `/payments/${id}`)).body.state).toBe('settled');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    expect(await value(card)).toBe(1_550);
  }, 90_000);

  it('`ecash account open` and `ecash load` register and load a card through pcscd', async () => {
    const card = await world.card();
    const credFile = join(world.dir, 'holder.token');
    const run = async (args: string[], pin = PIN) => {
      const p = startCli(args, { ECASH_PIN: pin, ECASH_BANK_URL: world.url });
      const code = await p.exited;
      return { code, stdout: p.stdout(), stderr: p.stderr() };
    };
    await insert(card);
    try {
      const opened = await run(['--json', 'account', 'open', '--holder', 'Wanda', '--reader', READER, '--credential-out', credFile]);
      expect(opened.code, opened.stderr).toBe(0);
      const account = JSON.parse(opened.stdout) as { accountId: string; credential: string };
      // The credential is written to its file (mode 600), and its secret part printed nowhere.
      const token = readFileSync(credFile, 'utf8').trim();
      expect(token).toMatch(/^ecash\./);
      expect(statSync(credFile).mode & 0o777).toBe(0o600);
      expect((opened.stdout + opened.stderr).includes(token.split('.')[2]!), 'the credential in the output of account open').toBe(false);
      await world.operator.credit(account.accountId, { currency: 'EUR', amount: 3_000, reference: 'test' });

      const loaded = await run(['--json', 'load', '1500', '--reader', READER, '--account', account.accountId, '--token-file', credFile, '--journal', join(world.dir, 'cli-load.db')]);
      expect(loaded.code, loaded.stderr).toBe(0);
      const report = JSON.parse(loaded.stdout) as { loaded: { loaded: number }; balance: { value: number; count: number }[] };
      expect(report.loaded.loaded).toBe(1_500);
      expect(report.balance.reduce((sum, b) => sum + b.value * b.count, 0)).toBe(1_500);
      // The messages (stderr; stdout is JSON full of hex, where four digits can occur by chance).
      for (const out of [opened, loaded]) expect(out.stderr.includes(PIN), 'the PIN in the messages').toBe(false);

      const tooMuch = await run(['--json', 'load', '5000', '--reader', READER, '--account', account.accountId, '--token-file', credFile, '--journal', join(world.dir, 'cli-load.db')]);
      expect(tooMuch.code).toBe(1);
      expect(JSON.parse(tooMuch.stdout)).toMatchObject({ error: { code: 'insufficient-funds' } });

      const wrongPin = await run(['--json', 'load', '100', '--reader', READER, '--account', account.accountId, '--token-file', credFile, '--journal', join(world.dir, 'cli-load.db')], '9999');
      expect(wrongPin.code).toBe(1);
      expect(JSON.parse(wrongPin.stdout)).toMatchObject({ error: { code: 'pin-wrong' } });
    } finally {
      await remove();
    }
  }, 90_000);
});
