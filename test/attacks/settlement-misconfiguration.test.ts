/**
 * Attack (on the merchant's money, by misconfiguration or by a bank that cannot answer): a
 * settlement refused for a reason on the terminal's side must not consume the coins.
 *
 * Before the fix, `ecash pos settle` with another party's credential printed "1 rejected", exited
 * 0 and marked the payment settled with outcome `wrong-merchant`: with the right credential there
 * was then nothing left to deposit, and the shop had lost the sale's money. Likewise a pending
 * batch the bank refused for its content stopped every settlement at that batch, for ever.
 *
 * The rule (host/pos/settlement-verdicts.ts): only the bank's verdict on a coin itself (credited,
 * replay, double spend, a coin that is malformed, does not verify or whose key is past its deposit
 * deadline) settles it. Another merchant's credential, an unknown or revoked one, an operator's, a
 * bank that does not know the coins' key (the wrong bank URL), a bank that is down, failing (5xx)
 * or rate limiting (429): the coins stay pending, the settlement fails with a code and a message
 * saying what to fix, and a later settlement with the fault fixed credits them exactly once.
 *
 * Each test here failed on the code before the fix (checked by running it there).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EcashError, generateDenominationKey, systemRandom } from '../../core/index.js';
import type { EcashCard } from '../../firmware-sim/index.js';
import { VirtualTransport } from '../../reader-bridge/index.js';
import { BankClient } from '../../host/bank-client/index.js';
import { startBankServer } from '../../host/bank/http.js';
import { memoryKeyStore } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { openStorage } from '../../host/bank/storage/index.js';
import type { AcquirerBank } from '../../host/pos/acquirer.js';
import { httpAcquirer } from '../../host/pos/bank-acquirer.js';
import type { Journal } from '../../host/pos/journal.js';
import type { PaymentTerminal, PaymentView, SettlementReport } from '../../host/pos/terminal.js';
import { startCli } from '../helpers/cli.js';
import { loadViaReader, merchantBalance, payWithCard, reasonOf, World } from '../helpers/world.js';

let world: World;
let readers: VirtualTransport;
let shopA: BankClient;
let shopB: BankClient;
let card: EcashCard;

beforeEach(async () => {
  world = new World();
  await world.startBank();
  shopA = await world.addMerchant('shop-a');
  shopB = await world.addMerchant('shop-b');
  readers = new VirtualTransport(['Counter', 'Load']);
  card = await world.card();
  await loadViaReader(world, readers, 'Load', card, 'alice', 10_000, 5_000);
});

afterEach(async () => {
  await readers.close();
  await world.close();
});

/** A terminal of shop A on `journal` that reaches its bank through `bank`. */
function terminalOf(journal: Journal, bank: BankClient | AcquirerBank, extra: { mode?: 'online' } = {}): Promise<PaymentTerminal> {
  return world.terminal(readers, { merchantId: 'shop-a', bank }, { readerName: 'Counter', terminalId: 'till-1', ...extra }, journal);
}

const pay = (terminal: PaymentTerminal, amount: number): Promise<PaymentView> => payWithCard(terminal, readers, 'Counter', card, amount);

/** A sale of `amount` at shop A's till, with the bank answering; the till is closed after it. */
async function sale(amount: number): Promise<{ journal: Journal; view: PaymentView }> {
  const journal = world.journal('till-1');
  const t = await terminalOf(journal, shopA);
  const view = await pay(t, amount);
  expect(view.state).toBe('approved');
  await t.close();
  return { journal, view };
}

/** The settlement's refusal: its code and message, and the report of what it did settle. */
async function refusal(settling: Promise<SettlementReport>): Promise<{ code: string; message: string; report: SettlementReport }> {
  const e = await settling.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, 'the settlement should have failed').toBeInstanceOf(EcashError);
  const err = e as EcashError;
  return { code: err.code, message: err.message, report: (err.details as { report: SettlementReport }).report };
}

/** Nothing of payment `id` settled, its coins all waiting, nothing credited to anyone. */
async function stillPending(t: PaymentTerminal, view: PaymentView): Promise<void> {
  const now = t.view(view.id);
  expect(now.state).toBe('approved');
  expect(now.settlement).toEqual([]);
  const status = t.settlementStatus();
  expect(status.unsettled + status.pendingBatches > 0).toBe(true);
  expect(status.outcomes).toEqual({});
  expect(await merchantBalance(shopA, 'shop-a')).toBe(0);
  expect(await merchantBalance(shopB, 'shop-b')).toBe(0);
}

/** A till that reaches its bank through `bank` settles the journal: refused, the sale still pending. */
async function refusedVia(
  journal: Journal,
  bank: BankClient,
  view: PaymentView,
): Promise<{ code: string; message: string; report: SettlementReport }> {
  const t = await terminalOf(journal, bank);
  try {
    const r = await refusal(t.settle());
    await stillPending(t, view);
    return r;
  } finally {
    await t.close();
  }
}

/** With the fault fixed, settlement credits shop A the sale exactly once. */
async function settlesOnceWith(journal: Journal, bank: BankClient, view: PaymentView): Promise<void> {
  const fixed = await terminalOf(journal, bank);
  const report = await fixed.settle();
  expect(report.outcomes).toEqual({ credited: view.coins.length });
  expect(fixed.view(view.id).state).toBe('settled');
  expect(await merchantBalance(shopA, 'shop-a')).toBe(view.amount);
  expect((await fixed.settle()).transcripts).toBe(0);
  expect(await merchantBalance(shopA, 'shop-a')).toBe(view.amount);
  expect((await world.service.audit()).ok).toBe(true);
}

/** A bank whose database is gone: it answers every deposit with 500 `internal`. */
async function failingBank(): Promise<{ shopA: BankClient; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ecash-failing-bank-'));
  const now = Date.now();
  const key = generateDenominationKey(
    world.group,
    { value: 1, currency: 'EUR', withdrawFrom: now - 1000, withdrawUntil: now + 3_600_000, depositUntil: now + 7_200_000, scope: '' },
    systemRandom,
  );
  const storage = await openStorage(join(dir, 'bank.db'));
  const service = await BankService.create({ storage, keys: memoryKeyStore(world.suite, [key]), workerThreads: 0 });
  const server = await startBankServer({ service, port: 0, rateLimit: false });
  const operator = new BankClient({ baseUrl: server.url, token: (await service.addOperator('ops')).credential });
  const token = (await operator.addMerchant({ merchantId: 'shop-a' })).credential;
  await storage.close();
  return {
    shopA: operator.withToken(token),
    async close() {
      await server.close();
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("settlement refused for a reason on the terminal's side keeps the coins pending", () => {
  it("another merchant's credential: wrong-merchant is not the coins' verdict; the right credential then credits them", async () => {
    const { journal, view } = await sale(700);
    const r = await refusedVia(journal, shopB, view);
    expect(r.code).toBe('bank-credential-refused');
    expect(r.message).toContain('--token-file');
    expect(r.report.transcripts).toBe(0);
    await settlesOnceWith(journal, shopA, view);
  });

  it("an unknown token (401) and an operator's (403): the same batch is resent under its id and credited later", async () => {
    const { journal, view } = await sale(350);
    const unknown = shopA.withToken('ecash.000000000000000000000000.not-a-secret-the-bank-issued-0000000');
    const r401 = await refusedVia(journal, unknown, view);
    expect(r401.code).toBe('bank-credential-refused');
    expect(r401.message).toContain('--token-file');
    const [pending] = journal.pendingBatches();
    expect((await refusedVia(journal, world.operator, view)).code).toBe('bank-credential-refused');
    expect(journal.pendingBatches().map((b) => b.batchId)).toEqual([pending!.batchId]);
    await settlesOnceWith(journal, shopA, view);
  });

  it("a bank that does not know the coins' key (the terminal points at another bank): wrong-bank; at the right bank: credited", async () => {
    const { journal, view } = await sale(420);
    const other = new World();
    try {
      await other.startBank();
      const r = await refusedVia(journal, await other.addMerchant('shop-a'), view);
      expect(r.code).toBe('wrong-bank');
      expect(r.message).toContain('--bank');
    } finally {
      await other.close();
    }
    await settlesOnceWith(journal, shopA, view);
  });

  it('a bank that answers 500: bank-failed, the batch stays pending under its id and is credited later', async () => {
    const { journal, view } = await sale(230);
    const failing = await failingBank();
    try {
      expect((await refusedVia(journal, failing.shopA, view)).code).toBe('bank-failed');
      expect(journal.pendingBatches()).toHaveLength(1);
    } finally {
      await failing.close();
    }
    await settlesOnceWith(journal, shopA, view);
  });

  it('a bank that does not answer (connection refused): bank-unreachable naming the URL; credited later with the same batch', async () => {
    const journal = world.journal('till-1');
    const t = await terminalOf(journal, shopA);
    const view = await pay(t, 260);
    await world.bankDown();
    let r: Awaited<ReturnType<typeof refusal>>;
    try {
      r = await refusal(t.settle());
    } finally {
      await world.bankUp();
    }
    expect(r.code).toBe('bank-unreachable');
    expect(r.message).toContain(world.url);
    await stillPending(t, view);
    const [pending] = journal.pendingBatches();
    await t.close();
    await settlesOnceWith(journal, shopA, view);
    expect(journal.settlementResults(view.id).map((x) => x.batchId)).toEqual(view.coins.map(() => pending!.batchId));
  });

  it('a bank that rate-limits the terminal (429): bank-rate-limited; credited once the limit is lifted', async () => {
    const { journal, view } = await sale(130);
    // The same bank behind a server that allows one request per credential and minute, spent here.
    const strict = await startBankServer({ service: world.service, port: 0, rateLimit: { max: 1, timeWindowMs: 60_000 } });
    try {
      const strictShop = new BankClient({ baseUrl: strict.url, token: world.merchantTokens.get('shop-a')! });
      await strictShop.merchant('shop-a');
      expect((await refusedVia(journal, strictShop, view)).code).toBe('bank-rate-limited');
    } finally {
      await strict.close();
    }
    await settlesOnceWith(journal, shopA, view);
  });

  it("online with another merchant's credential: the card has paid and every coin verified, so the payment stands in offline and is credited later", async () => {
    const journal = world.journal('till-1');
    const wrong = await terminalOf(journal, shopB, { mode: 'online' });
    const view = await pay(wrong, 640);
    expect(view.state).toBe('approved');
    expect(reasonOf(view)).toBe('offline-fallback');
    await stillPending(wrong, view);
    await wrong.close();
    await settlesOnceWith(journal, shopA, view);
  });
});

describe('a batch refused for its content does not block the others', () => {
  it("the bank holds a pending batch's id with other transcripts: its coins go into a new batch, and the next batch is sent too", async () => {
    // Two online payments whose deposits got no answer: two pending batches, pay-till-1-<id>.
    let answering = false;
    const real = httpAcquirer(shopA);
    const flaky: AcquirerBank = {
      ...real,
      deposit: (batchId, transcripts) =>
        answering ? real.deposit(batchId, transcripts) : Promise.reject(new EcashError('bank-unreachable', 'connection reset')),
    };
    const journal = world.journal('till-1');
    const t = await terminalOf(journal, flaky, { mode: 'online' });
    const first = await pay(t, 300);
    const second = await pay(t, 450);
    expect([reasonOf(first), reasonOf(second)]).toEqual(['offline-fallback', 'offline-fallback']);
    const batches = journal.pendingBatches().map((b) => b.batchId);
    expect(batches).toHaveLength(2);
    // Something else of shop A's (its back office, a restored journal) used the first batch's id.
    await shopA.deposit({ suite: world.suite, batchId: batches[0]!, transcripts: [{ not: 'a transcript' }] as never });

    answering = true;
    const report = await t.settle();
    expect(report.outcomes).toEqual({ credited: first.coins.length + second.coins.length });
    expect(t.view(first.id).state).toBe('settled');
    expect(t.view(second.id).state).toBe('settled');
    expect(await merchantBalance(shopA, 'shop-a')).toBe(750);
    expect(journal.pendingBatches()).toEqual([]);
    expect((await world.service.audit()).ok).toBe(true);
  });
});

describe('ecash pos settle', () => {
  it("with another merchant's token file: exits non-zero saying to check --token-file, settles nothing; with the right one it credits", async () => {
    const { journal, view } = await sale(910);
    const tokenFile = (merchant: string) => {
      const f = join(world.dir, `${merchant}.token`);
      writeFileSync(f, world.merchantTokens.get(merchant)!, { mode: 0o600 });
      return f;
    };
    const settle = async (merchantToken: string) => {
      const args = [
        'pos',
        'settle',
        '--bank',
        world.url,
        '--merchant',
        'shop-a',
        '--terminal',
        'till-1',
        '--journal',
        join(world.dir, 'pos-till-1.db'),
      ];
      const run = startCli([...args, '--token-file', tokenFile(merchantToken)], { ECASH_BANK_TOKEN: '' });
      return { code: await run.exited, stdout: run.stdout(), stderr: run.stderr() };
    };

    const wrong = await settle('shop-b');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('bank-credential-refused');
    expect(wrong.stderr).toContain('--token-file');
    expect(journal.currentState(view.id)).toBe('approved');
    expect(journal.settlementResults(view.id)).toEqual([]);
    expect(await merchantBalance(shopA, 'shop-a')).toBe(0);

    const right = await settle('shop-a');
    expect(right.code).toBe(0);
    expect(right.stdout).toContain(`${view.coins.length} credited`);
    expect(journal.currentState(view.id)).toBe('settled');
    expect(await merchantBalance(shopA, 'shop-a')).toBe(910);
  });
});
