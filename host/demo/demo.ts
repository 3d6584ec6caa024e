/**
 * `ecash demo`: the whole system in one process through its real pieces — the bank service over
 * HTTP on an SQLite file with an encrypted key file, a card image file in a virtual reader, the
 * load terminal, POS terminals with their journals, settlement — and a double spend caught.
 *
 * The double spender is a cloned card: a copy of the card's image file taken before a payment,
 * so original and clone hold the same coin secrets. Both spend one coin at two offline shops; the
 * second shop's settlement is refused and the bank names the account, with a proof anyone can
 * check. Then the clone tries again at a shop in online mode and is refused at the counter.
 *
 * With `web` (`ecash demo --web`) each terminal also serves its cash-register API and customer
 * display as `ecash pos serve` does, the bank's console is already beside its API, and the story
 * pauses between its steps so that a viewer can follow it on those screens.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  DEFAULT_SUITE,
  type DoubleSpendProofJson,
  EcashError,
  formatAmount,
  getGroup,
  type KeyJson,
  keyTerms,
  proofFromJson,
  type SuiteId,
  type TranscriptJson,
  transcriptToJson,
  verifyDoubleSpendProof,
} from '../../core/index.js';
import { createCardImage, type EcashCard, openCard } from '../../firmware-sim/index.js';
import { EcashCardClient, VirtualTransport } from '../../reader-bridge/index.js';
import { accountOpeningJson, BankClient } from '../bank-client/index.js';
import { BankService, KeyFile, openStorage, startBankServer } from '../bank/index.js';
import { httpIssuer, LoadJournal, loadCard } from '../load/index.js';
import {
  buildPosApi,
  DEFAULT_TERMINAL_CONFIG,
  httpAcquirer,
  Journal,
  PaymentTerminal,
  type PaymentView,
  type RiskMode,
} from '../pos/index.js';
import { registerTerminalDisplay } from '../web/index.js';

/** The demo's one JSON document (docs/protocol.md, section 9): enough for a third party to re-check the run. */
export interface DemoReport {
  suite: SuiteId;
  generators: { g: string; g1: string; g2: string };
  denominations: { keyId: string; h: string; value: number; currency: string }[];
  payments: TranscriptJson[];
  doubleSpend: { transcripts: [TranscriptJson, TranscriptJson]; u1: string; I: string; account: string };
}

export interface DemoOptions {
  suite?: SuiteId;
  /** Story lines for a human (stderr in the CLI). */
  say?: (line: string) => void;
  /** Keep the working directory (bank database, journals, card images) instead of deleting it. */
  keepDir?: boolean;
  /** Serve the screens while the story plays (`ecash demo --web`). */
  web?: DemoWeb;
}

/** What a viewer opens and signs in with: handed once to `DemoWeb.show`, never to `say`. */
export interface DemoScreens {
  /** The bank console, and the operator credential it signs in with (a console-only operator). */
  console: { url: string; operatorCredential: string };
  /** Each terminal's customer display (one API key opens them all). */
  displays: { terminal: string; merchant: string; url: string }[];
  displayApiKey: string;
}

export interface DemoWeb {
  /** Milliseconds between the story's steps, so that a viewer can follow it on the screens. */
  paceMs: number;
  /** Called once, when every screen answers and before the story starts. */
  show: (screens: DemoScreens) => void;
  /** Awaited when the story is over, before the screens close (until Ctrl-C, or a set time). */
  hold: () => Promise<void>;
  /** Aborted when the viewer stops the demo: the story ends at its next step (`demo-stopped`). */
  signal: AbortSignal;
}

const CURRENCY = 'EUR';
const VALUES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];
const DAY = 24 * 3600 * 1000;
/** The demo card's PIN and PUK (exported so the demo's test can check the story never shows them). */
export const DEMO_PIN = '2468';
export const DEMO_PUK = '13579246';

/**
 * Runs a payment at `terminal` with `card` tapped on `reader` and returns its final view. When the
 * card asks for the PIN (its no-PIN total is reached), the holder types it on the terminal.
 */
async function tap(
  terminal: PaymentTerminal,
  readers: VirtualTransport,
  reader: string,
  card: EcashCard,
  amount: number,
  reference: string,
  say: (line: string) => void,
  pause: () => Promise<void>,
): Promise<PaymentView> {
  const { id } = terminal.startPayment({ amount, currency: CURRENCY, reference });
  const onEvent = (eventId: string, event: { state: string }) => {
    if (eventId !== id || event.state !== 'pin-required') return;
    say(`pos: the card asks for the PIN (the payments without it have reached its no-PIN limit); the holder enters it`);
    terminal.supplyPin(id, DEMO_PIN);
  };
  terminal.on('payment-event', onEvent);
  try {
    await pause(); // the display shows the amount, waiting for the card
    readers.insertCard(reader, card);
    const view = await terminal.outcome(id);
    await pause(); // and then the outcome, before the card is taken back
    readers.removeCard(reader);
    return view;
  } finally {
    terminal.off('payment-event', onEvent);
  }
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoReport> {
  const suite = opts.suite ?? DEFAULT_SUITE;
  const say = opts.say ?? (() => undefined);
  const web = opts.web;
  /** A beat of the story for the screens' viewer (none without --web). */
  const pause = async (): Promise<void> => {
    if (web === undefined) return;
    try {
      await sleep(web.paceMs, undefined, { signal: web.signal });
    } catch (e) {
      if (web.signal.aborted) throw new EcashError('demo-stopped', 'the demo was stopped', { cause: e });
      throw e;
    }
  };
  const group = getGroup(suite);
  const dir = mkdtempSync(join(tmpdir(), 'ecash-demo-'));
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    // ------------------------------------------------------------------------------ the bank
    const now = Date.now();
    const passphrase = randomBytes(24).toString('base64url');
    // A kept bank can be opened again (`ecash bank serve --passphrase-file …`): its passphrase is kept beside it.
    if (opts.keepDir) writeFileSync(join(dir, 'bank.passphrase'), passphrase + '\n', { mode: 0o600 });
    const keyFile = KeyFile.create(
      join(dir, 'bank-keys.json'),
      passphrase,
      suite,
      VALUES.map((value) => keyTerms(value, CURRENCY, { from: now - DAY, withdrawDays: 31, depositDays: 60 })),
    );
    const storage = await openStorage(join(dir, 'bank.db'));
    const service = await BankService.create({ storage, keys: keyFile, workerThreads: 1 });
    cleanups.push(async () => {
      await service.close();
      await storage.close();
    });
    const server = await startBankServer({ service, port: 0 });
    cleanups.push(() => server.close());
    say(`bank: ${suite}, ${VALUES.length} denominations of ${CURRENCY}, SQLite at ${join(dir, 'bank.db')}, serving ${server.url}`);
    const operator = new BankClient({ baseUrl: server.url, token: (await service.addOperator('demo')).credential });
    const shops = new Map<string, BankClient>();
    for (const [merchantId, name] of [
      ['corner-shop', 'Corner Shop'],
      ['cafe', 'Cafe Central'],
      ['kiosk', 'Station Kiosk'],
    ] as const) {
      const added = await operator.addMerchant({ merchantId, name });
      shops.set(merchantId, operator.withToken(added.credential));
    }
    say('bank: merchants corner-shop, cafe and kiosk registered');

    // ------------------------------------------------------------------------------ terminals
    const readers = new VirtualTransport(['Counter 1', 'Counter 2', 'Counter 3', 'Load Station']);
    const displayApiKey = randomBytes(18).toString('base64url');
    const displays: DemoScreens['displays'] = [];
    const terminal = async (merchantId: string, terminalId: string, reader: string, mode: RiskMode) => {
      const journal = new Journal(join(dir, `pos-${terminalId}.db`));
      const t = new PaymentTerminal(journal, readers, httpAcquirer(shops.get(merchantId)!), {
        ...DEFAULT_TERMINAL_CONFIG,
        merchantId,
        merchantName: merchantId,
        terminalId,
        currency: CURRENCY,
        readerName: reader,
        mode,
        cardWaitMs: 10_000,
      });
      cleanups.push(async () => {
        await t.close();
        journal.close();
      });
      await t.start();
      if (web !== undefined) {
        // The terminal's own API and display, as `ecash pos serve` serves them, on loopback.
        const app = buildPosApi(t, { apiKey: displayApiKey });
        registerTerminalDisplay(app);
        // Closing ends the display's event stream (host/web/event-streams.ts), so it never waits for the browser.
        cleanups.push(() => app.close());
        displays.push({ terminal: terminalId, merchant: merchantId, url: `${await app.listen({ host: '127.0.0.1', port: 0 })}/display/` });
      }
      return t;
    };
    const shop = await terminal('corner-shop', 'shop-t1', 'Counter 1', 'offline');
    const cafe = await terminal('cafe', 'cafe-t1', 'Counter 2', 'offline');
    // An online shop refuses the clone at the counter: it deposits before approving.
    const kiosk = await terminal('kiosk', 'kiosk-t1', 'Counter 3', 'online');
    say('pos: terminals at the corner shop and the cafe (offline) and the kiosk (online)');
    if (web !== undefined) {
      const viewer = await service.addOperator('demo console viewer');
      web.show({ console: { url: `${server.url}/console/`, operatorCredential: viewer.credential }, displays, displayApiKey });
      await pause();
    }

    // ------------------------------------------------------------------- the card and account
    const cardPath = join(dir, 'alice.card');
    // A modp2048 coin is about eight times an elliptic-curve coin: give that card room for a useful mix.
    const capacity = suite === 'modp2048-256' ? 96 * 1024 : 32 * 1024;
    await createCardImage(cardPath, { suite, pin: DEMO_PIN, puk: DEMO_PUK, noPinLimit: 2000, capacity });
    let card = openCard(cardPath);
    readers.insertCard('Load Station', card);
    const loadChannel = await readers.connect('Load Station', { share: 'exclusive' });
    const cardClient = EcashCardClient.on(loadChannel);
    await cardClient.select();
    await cardClient.verifyPin(DEMO_PIN);
    const opening = await cardClient.openAccount('Alice');
    const opened = await new BankClient({ baseUrl: server.url }).openAccount(accountOpeningJson(group, 'Alice', opening));
    say(
      `card: ${capacity / 1024} KiB image at ${cardPath}; the card made its secret u1 and proved knowledge of it; account ${opened.accountId} opened for Alice`,
    );
    await operator.credit(opened.accountId, { currency: CURRENCY, amount: 10_000, reference: 'cash at the counter' });
    say(`bank: Alice paid in ${formatAmount(10_000, CURRENCY)}`);

    // -------------------------------------------------------------------------------- loading
    const holder = new BankClient({ baseUrl: server.url, token: opened.credential });
    const loadJournal = new LoadJournal(join(dir, 'load.db'));
    cleanups.push(() => loadJournal.close());
    const loaded = await loadCard({
      card: cardClient,
      bank: await httpIssuer(holder, opened.accountId),
      journal: loadJournal,
      account: opened.accountId,
      currency: CURRENCY,
      amount: 5_000,
    });
    await loadChannel.disconnect('reset');
    readers.removeCard('Load Station');
    say(
      `load: ${formatAmount(loaded.loaded, CURRENCY)} withdrawn as ${loaded.coins.length} blind-signed coins (${loaded.coins.map((v) => formatAmount(v, CURRENCY)).join(', ')})`,
    );
    await pause();

    // ------------------------------------------------------------------------------- payments
    const payments: TranscriptJson[] = [];
    /** Tells the approved payment's story; any other outcome ends the demo. */
    const paid = (v: PaymentView, where: string): void => {
      if (v.state !== 'approved') {
        const reason = v.events[v.events.length - 1]!.detail as { code?: string; message?: string } | null;
        throw new EcashError('demo-failed', `the payment at ${where} ended ${v.state}: ${reason?.message ?? ''} [${reason?.code ?? ''}]`);
      }
      say(
        `pos ${where}: ${formatAmount(v.amount, v.currency)} approved ${v.mode}, ${v.coins.length} coin${v.coins.length === 1 ? '' : 's'} (${v.coins.map((c) => formatAmount(c.value, CURRENCY)).join(' + ')}), payment ${v.id}`,
      );
    };
    for (const [amount, ref] of [
      [1_234, 'order-1'],
      [500, 'order-2'],
    ] as const) {
      const v = await tap(shop, readers, 'Counter 1', card, amount, ref, say, pause);
      paid(v, 'corner-shop');
    }

    // The clone: a copy of the image file, holding the same coin secrets as the card now.
    card.close();
    const clonePath = join(dir, 'alice-clone.card');
    copyFileSync(cardPath, clonePath);
    card = openCard(cardPath);
    let clone = openCard(clonePath);
    cleanups.push(() => {
      card.close();
      clone.close();
    });
    say("fraud: someone copies the card's memory (a cloned card with the same coins)");
    await pause();
    const first = await tap(shop, readers, 'Counter 1', card, 700, 'order-3', say, pause);
    paid(first, 'corner-shop');
    const second = await tap(cafe, readers, 'Counter 2', clone, 700, 'latte', say, pause);
    paid(second, 'cafe (the clone, offline: the cafe cannot know)');

    // ----------------------------------------------------------------------------- settlement
    const s1 = await shop.settle();
    say(`settle corner-shop: ${s1.transcripts} coins in ${s1.batches} batch(es): ${JSON.stringify(s1.outcomes)}`);
    const s2 = await cafe.settle();
    say(`settle cafe: ${s2.transcripts} coins: ${JSON.stringify(s2.outcomes)}; double spends reported: ${s2.doubleSpends.length}`);
    if (s2.doubleSpends.length === 0) throw new EcashError('demo-failed', 'the bank did not catch the cloned card');
    const { doubleSpends } = await operator.doubleSpends({});
    const record = doubleSpends[0]!;
    const proofJson: DoubleSpendProofJson = record.proof;
    verifyDoubleSpendProof(group, proofFromJson(group, proofJson));
    say(
      `bank: double spend ${record.doubleSpendId}: the two payments reveal u1, so I = g1^u1 names account ${record.accountId} (${record.holder}); the proof verifies with public parameters only`,
    );
    if (record.accountId !== opened.accountId) throw new EcashError('demo-failed', 'the double spend named the wrong account');
    await pause();

    const honest = await tap(shop, readers, 'Counter 1', card, 100, 'order-4', say, pause);
    paid(honest, 'corner-shop');
    await shop.settle();
    clone.close();
    clone = openCard(clonePath);
    const refused = await tap(kiosk, readers, 'Counter 3', clone, 100, 'ticket', say, pause);
    const why = refused.events[refused.events.length - 1]!.detail as { code?: string } | null;
    if (refused.state !== 'declined' || why?.code !== 'double-spend') {
      throw new EcashError('demo-failed', `the online kiosk did not refuse the clone (state ${refused.state}, ${why?.code ?? 'no code'})`);
    }
    say("pos kiosk (online): the clone's coin was refused at the counter: the bank had it deposited already");

    const audit = await service.audit();
    if (!audit.ok) throw new EcashError('demo-failed', `the bank's books do not balance: ${audit.problems.join('; ')}`);
    say(`bank: audit ok: every entry balances and issued = outstanding + deposited for all ${audit.keys.length} keys`);

    for (const t of [shop, cafe]) {
      for (const p of t.listPayments().reverse()) {
        if (p.state !== 'approved' && p.state !== 'settled') continue;
        payments.push(...t.transcriptsOf(p.id).map((tr) => transcriptToJson(group, tr)));
      }
    }
    const params = await operator.parameters();
    if (web !== undefined) {
      await web.hold();
    }
    return {
      suite,
      generators: params.generators,
      denominations: params.keys.map((k: KeyJson) => ({ keyId: k.keyId, h: k.h, value: k.value, currency: k.currency })),
      payments,
      doubleSpend: { transcripts: proofJson.transcripts, u1: proofJson.u1, I: proofJson.I, account: record.accountId ?? '' },
    };
  } finally {
    for (const c of cleanups.reverse()) await c();
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    else {
      say(
        `files kept in ${dir}: the bank (bank.db, key file bank-keys.json, its passphrase in bank.passphrase), the card images and the terminals' journals`,
      );
      say(
        `  e.g. ecash bank audit --db ${join(dir, 'bank.db')}; ecash bank serve --db ${join(dir, 'bank.db')} --keys ${join(dir, 'bank-keys.json')} --passphrase-file ${join(dir, 'bank.passphrase')}`,
      );
    }
  }
}
