/**
 * A small world for terminal tests: a real bank service over HTTP (SQLite in a temp dir),
 * merchants, card holders with personalised emulated cards and opened accounts, load and POS
 * terminals with their journals. Tests choose the reader transport the terminals use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DenominationTerms,
  generateDenominationKey,
  getGroup,
  keyTerms,
  type SuiteId,
  systemRandom,
  toHex,
} from '../../core/index.js';
import { createVolatileCard, type EcashCard } from '../../firmware-sim/index.js';
import { createDoubleSpendingCard } from '../../firmware-sim/testing/malicious.js';
import {
  type BridgeServer,
  type CardChannel,
  EcashCardClient,
  type ReaderSource,
  startBridgeServer,
  VirtualTransport,
} from '../../reader-bridge/index.js';
import { accountOpeningJson, BankClient } from '../../host/bank-client/index.js';
import { startBankServer } from '../../host/bank/http.js';
import { memoryKeyStore } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { openStorage } from '../../host/bank/storage/index.js';
import { httpIssuer } from '../../host/load/bank-issuer.js';
import { LoadJournal } from '../../host/load/journal.js';
import { loadCard, type LoadReport } from '../../host/load/load-terminal.js';
import type { AcquirerBank } from '../../host/pos/acquirer.js';
import { httpAcquirer } from '../../host/pos/bank-acquirer.js';
import { FINAL_STATES, Journal, type PaymentEvent, type RiskMode } from '../../host/pos/journal.js';
import { DEFAULT_TERMINAL_CONFIG, PaymentTerminal, type PaymentView, type TerminalConfig } from '../../host/pos/terminal.js';

export const PIN = '2468';
export const PUK = '13579246';
export const CURRENCY = 'EUR';
const DAY = 24 * 3600 * 1000;

export interface Holder {
  accountId: string;
  bank: BankClient;
}

export class World {
  readonly dir = mkdtempSync(join(tmpdir(), 'ecash-world-'));
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  service!: BankService;
  url!: string;
  operator!: BankClient;
  private stopServer: (() => Promise<void>) | undefined;

  constructor(readonly suite: SuiteId = 'ristretto255-sha512') {}

  get group() {
    return getGroup(this.suite);
  }

  /**
   * Starts the bank with general (unscoped) keys of `values`, and keys of any `other` terms, on an
   * SQLite file of its own unless `storage` names another database (a PostgreSQL URL); `now` is
   * the bank's clock (tests move it).
   */
  async startBank(
    values: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
    opts: { storage?: string; now?: () => number; other?: readonly DenominationTerms[] } = {},
  ): Promise<void> {
    const now = opts.now?.() ?? Date.now();
    const terms = (value: number) => keyTerms(value, CURRENCY, { from: now - DAY, withdrawDays: 31, depositDays: 60 });
    const secrets = [...values.map(terms), ...(opts.other ?? [])].map((t) => generateDenominationKey(this.group, t, systemRandom));
    const storage = await openStorage(opts.storage ?? join(this.dir, 'bank.db'));
    this.service = await BankService.create({
      storage,
      keys: memoryKeyStore(this.suite, secrets),
      workerThreads: 0,
      ...(opts.now === undefined ? {} : { now: opts.now }),
    });
    const server = await startBankServer({ service: this.service, port: 0 });
    this.url = server.url;
    this.stopServer = () => server.close();
    this.cleanups.push(async () => {
      await this.stopServer?.();
      await this.service.close();
      await storage.close();
    });
    this.operator = new BankClient({ baseUrl: this.url, token: (await this.service.addOperator('tests')).credential });
  }

  /** Stops the bank's HTTP server (the service stays): terminals see an unreachable bank. */
  async bankDown(): Promise<void> {
    await this.stopServer?.();
    this.stopServer = undefined;
  }

  /** Serves the bank again on the same address. */
  async bankUp(): Promise<void> {
    const server = await startBankServer({ service: this.service, port: Number(new URL(this.url).port) });
    this.stopServer = () => server.close();
  }

  /** Merchant credentials by merchant id, for tests that hand one to a CLI in a file. */
  readonly merchantTokens = new Map<string, string>();

  async addMerchant(merchantId: string, scopes: string[] = []): Promise<BankClient> {
    const m = await this.operator.addMerchant({ merchantId, scopes });
    this.merchantTokens.set(merchantId, m.credential);
    return this.operator.withToken(m.credential);
  }

  /** Opens an account for the card in `channel` (PIN verified here), credited with `credit`. */
  async holder(channel: CardChannel, name: string, credit: number): Promise<Holder> {
    const client = EcashCardClient.on(channel);
    await client.select();
    await client.verifyPin(PIN);
    const opening = await client.openAccount(name);
    const opened = await new BankClient({ baseUrl: this.url }).openAccount(accountOpeningJson(client.group, name, opening));
    if (credit > 0) await this.operator.credit(opened.accountId, { currency: CURRENCY, amount: credit, reference: 'test cash-in' });
    return { accountId: opened.accountId, bank: this.operator.withToken(opened.credential) };
  }

  card(opts: { noPinLimit?: number; capacity?: number } = {}): Promise<EcashCard> {
    return createVolatileCard({
      suite: this.suite,
      pin: PIN,
      puk: PUK,
      noPinLimit: opts.noPinLimit ?? 100_000,
      ...(opts.capacity === undefined ? {} : { capacity: opts.capacity }),
    });
  }

  /** A card built to pay twice with one coin (the attacker's card), with the world's PIN and PUK. */
  doubleSpendingCard(): Promise<EcashCard> {
    return createDoubleSpendingCard({
      suite: this.suite,
      pin: PIN,
      puk: PUK,
      noPinLimit: 100_000,
      acknowledge: 'this card double-spends',
    });
  }

  loadJournal(name = 'load'): LoadJournal {
    const j = new LoadJournal(join(this.dir, `${name}.db`));
    this.cleanups.push(() => j.close());
    return j;
  }

  /** Loads `amount` onto the card in `channel` (PIN verified here). */
  async load(
    channel: CardChannel,
    holder: Holder,
    amount: number,
    journal = this.loadJournal(`load-${holder.accountId}`),
  ): Promise<LoadReport> {
    const client = EcashCardClient.on(channel);
    await client.select();
    await client.verifyPin(PIN);
    return loadCard({
      card: client,
      bank: await httpIssuer(holder.bank, holder.accountId),
      journal,
      account: holder.accountId,
      currency: CURRENCY,
      amount,
    });
  }

  journal(name: string): Journal {
    const j = new Journal(join(this.dir, `pos-${name}.db`));
    this.cleanups.push(() => j.close());
    return j;
  }

  async terminal(
    readers: ReaderSource,
    merchant: { merchantId: string; bank: BankClient | AcquirerBank },
    config: Partial<TerminalConfig> & { readerName: string; terminalId: string; mode?: RiskMode },
    journal = this.journal(config.terminalId),
  ): Promise<PaymentTerminal> {
    const acquirer = merchant.bank instanceof BankClient ? httpAcquirer(merchant.bank) : merchant.bank;
    const t = new PaymentTerminal(journal, readers, acquirer, {
      ...DEFAULT_TERMINAL_CONFIG,
      merchantId: merchant.merchantId,
      merchantName: merchant.merchantId,
      currency: CURRENCY,
      cardWaitMs: 10_000,
      ...config,
    });
    this.cleanups.unshift(() => t.close());
    await t.start();
    return t;
  }

  /** The virtual readers "Counter" and "Load", closed with the world (after its terminals). */
  virtualReaders(): VirtualTransport {
    const readers = new VirtualTransport(['Counter', 'Load']);
    this.cleanups.push(() => readers.close());
    return readers;
  }

  async close(): Promise<void> {
    for (const c of this.cleanups.splice(0)) await c();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The usual shop of the terminal's tests: a started bank, merchant `corner-shop` and the virtual
 * readers "Counter" and "Load". `world.close()` closes all of it; a failed start closes what it made.
 */
export async function cornerShopWorld(): Promise<{ world: World; shop: BankClient; readers: VirtualTransport }> {
  const world = new World();
  try {
    await world.startBank();
    const shop = await world.addMerchant('corner-shop');
    return { world, shop, readers: world.virtualReaders() };
  } catch (e) {
    await world.close();
    throw e;
  }
}

/**
 * A shop as the `ecash` command's tests reach it: the bank, merchant `kiosk` and the virtual
 * readers "Counter" and "Load" behind a reader bridge (`--bridge url` with `bridgeToken`).
 */
export class BridgedShop {
  readonly world = new World();
  readonly readers = new VirtualTransport(['Counter', 'Load']);
  bridge!: BridgeServer;
  merchantToken!: string;

  constructor(readonly bridgeToken: string) {}

  async start(): Promise<void> {
    await this.world.startBank();
    this.merchantToken = (await this.world.operator.addMerchant({ merchantId: 'kiosk', scopes: [] })).credential;
    this.bridge = await startBridgeServer({ source: this.readers, token: this.bridgeToken });
  }

  /** Takes out every card a test (passed or failed) left in a reader. */
  async emptyReaders(): Promise<void> {
    for (const r of await this.readers.listReaders()) if (r.cardPresent) this.readers.removeCard(r.name);
  }

  async close(): Promise<void> {
    await this.bridge?.close();
    await this.readers.close();
    await this.world.close();
  }
}

/** A merchant's EUR balance at the bank (0 before its first credit). */
export async function merchantBalance(client: BankClient, merchantId: string): Promise<number> {
  return (await client.merchant(merchantId)).balances.find((b) => b.currency === 'EUR')?.balance ?? 0;
}

/** A payment of `amount` on `terminal`, the card put in the virtual reader `reader` and taken out at its outcome. */
export async function payWithCard(
  terminal: PaymentTerminal,
  readers: VirtualTransport,
  reader: string,
  card: EcashCard,
  amount: number,
): Promise<PaymentView> {
  const p = terminal.startPayment({ amount, currency: CURRENCY });
  readers.insertCard(reader, card);
  const view = await terminal.outcome(p.id);
  readers.removeCard(reader);
  return view;
}

/** The last event's reason code of a declined or cancelled payment. */
export function reasonOf(view: PaymentView): string | undefined {
  return (view.events[view.events.length - 1]!.detail as { code?: string } | null)?.code;
}

/** The value the card in `channel` holds (the holder's view: the PIN is verified). */
export async function cardValue(channel: CardChannel): Promise<number> {
  const client = EcashCardClient.on(channel);
  await client.select();
  await client.verifyPin(PIN);
  return (await client.balance()).reduce((s, b) => s + b.value * b.count, 0);
}

/**
 * Opens an account for `card` (credited with `credit`) and loads `amount` onto it in the virtual
 * reader `reader`, where the card is put in and taken out again.
 */
export async function loadViaReader(
  world: World,
  readers: VirtualTransport,
  reader: string,
  card: EcashCard,
  name: string,
  credit: number,
  amount: number,
): Promise<Holder> {
  readers.insertCard(reader, card);
  const ch = await readers.connect(reader);
  try {
    const holder = await world.holder(ch, name, credit);
    if (amount > 0) await world.load(ch, holder, amount);
    return holder;
  } finally {
    await ch.disconnect('reset');
    readers.removeCard(reader);
  }
}

/**
 * Withdraws one coin of each key (hex ids, any scope or currency: the operator credits the account
 * first) onto `card` in the virtual reader `reader`, as a load terminal would.
 */
export async function withdrawKeys(
  world: World,
  readers: VirtualTransport,
  reader: string,
  card: EcashCard,
  holder: Holder,
  keyIds: readonly string[],
): Promise<void> {
  const issuer = await httpIssuer(holder.bank, holder.accountId);
  readers.insertCard(reader, card);
  const ch = await readers.connect(reader);
  try {
    const client = EcashCardClient.on(ch);
    await client.select();
    await client.verifyPin(PIN);
    const keys = await issuer.denominationKeys();
    for (const keyId of keyIds) {
      const key = keys.find((k) => toHex(k.keyId) === keyId)!;
      await world.operator.credit(holder.accountId, { currency: key.currency, amount: key.value, reference: 'test cash-in' });
      const start = await issuer.startWithdrawal(key.keyId);
      const challenge = await client.withdrawBegin({ key: start.key, z: start.z, offer: start.offer });
      await client.withdrawEnd(await issuer.answerWithdrawal(start.sessionId, challenge.c));
    }
  } finally {
    await ch.disconnect('reset');
    readers.removeCard(reader);
  }
}

/** The value `card` holds, read in the virtual reader `reader` (put in and taken out again). */
export async function valueViaReader(readers: VirtualTransport, reader: string, card: EcashCard): Promise<number> {
  readers.insertCard(reader, card);
  const ch = await readers.connect(reader);
  try {
    return await cardValue(ch);
  } finally {
    await ch.disconnect('reset');
    readers.removeCard(reader);
  }
}

/**
 * Runs `action` once, at the first journal event of `state` of any payment on `terminal` (inside
 * the event: nothing else happens in between), and resolves after it. Fails, saying how the
 * payment ended, if a payment reaches its outcome without passing through `state`.
 */
export function atState(terminal: PaymentTerminal, state: string, action: () => unknown = () => undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEvent = (id: string, ev: PaymentEvent) => {
      if (ev.state !== state && !FINAL_STATES.includes(ev.state)) return;
      terminal.off('payment-event', onEvent);
      if (ev.state !== state) {
        reject(new Error(`payment ${id} ended ${ev.state} (${JSON.stringify(ev.detail)}) without passing through ${state}`));
        return;
      }
      try {
        void Promise.resolve(action()).then(() => resolve(), reject);
      } catch (e) {
        reject(e);
      }
    };
    terminal.on('payment-event', onEvent);
  });
}
