/**
 * Crash recovery of the real server process (`ecash bank serve`, the built command) on each
 * adapter: SIGKILL it while it processes a large deposit batch, and while it answers a withdrawal.
 * The database must hold all of a transaction or none of it, and a client that replays what it
 * sent (same batch id, same challenge) must end with exactly one credit per coin, one debit per
 * coin withdrawn, and books that balance. A withdrawal session the crash left open is not
 * answered after the restart (the card starts a new one; nothing was debited).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  blindWithdrawal,
  completeWithdrawal,
  type DenominationSecret,
  fromHex,
  getGroup,
  systemRandom,
  toHex,
  transcriptToJson,
  type TranscriptJson,
} from '../../core/index.js';
import { KeyFile } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { openStorage } from '../../host/bank/storage/index.js';
import { auditBooks } from '../../host/bank/audit.js';
import { paymentContext, spend } from '../core/fixtures.js';
import { endStartedProcesses, jsonUrl, startCli, waitForOutput } from '../helpers/cli.js';
import { postgresUrl } from '../helpers/env.js';
import { adapters, newAccount, testDb, type TestDb, withdrawCoin } from './helpers.js';

const G = getGroup('ristretto255-sha512');
const PASSPHRASE = 'crash test bank passphrase';
const COINS = 400;
const VALUE = 100;
const DAY = 86_400_000;

interface Server {
  url: string;
  child: ChildProcess;
}

async function startServer(db: string, keys: string): Promise<Server> {
  const p = startCli(['--json', 'bank', 'serve', '--db', db, '--keys', keys, '--port', '0', '--worker-threads', '2'], {
    ECASH_BANK_PASSPHRASE: PASSPHRASE,
  });
  return { url: await waitForOutput(p, jsonUrl, 'its URL'), child: p.child };
}

async function kill(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = once(server.child, 'exit');
  server.child.kill('SIGKILL');
  await exited;
}

/**
 * Waits until the server is inside the deposit's storage transaction (SQLite: another writer
 * holds the database's write lock; PostgreSQL: a transaction holds a row lock on deposit_batches,
 * taken by the batch's first insert and kept until commit), then kills it. Returns whether it saw
 * the transaction (false: it gave up after `maxMs` and killed anyway).
 */
async function killInsideDepositTransaction(server: Server, db: TestDb, maxMs: number): Promise<boolean> {
  const until = Date.now() + maxMs;
  let seen = false;
  if (db.kind === 'sqlite') {
    const probe = new Database(db.file!, { timeout: 0 });
    try {
      while (!seen && Date.now() < until && server.child.exitCode === null) {
        try {
          probe.exec('BEGIN IMMEDIATE');
          probe.exec('ROLLBACK');
        } catch (e) {
          if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
          seen = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    } finally {
      probe.close();
    }
  } else {
    const client = new pg.Client({ connectionString: postgresUrl()! });
    await client.connect();
    try {
      while (!seen && Date.now() < until && server.child.exitCode === null) {
        const r = await client.query(
          `SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relname = 'deposit_batches' AND n.nspname = $1 AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()`,
          [db.schema],
        );
        seen = (r.rowCount ?? 0) > 0;
      }
    } finally {
      await client.end();
    }
  }
  await kill(server);
  return seen;
}

async function post(url: string, token: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe.each(adapters())('bank crash recovery on $kind', ({ kind, available }) => {
  let db: TestDb;
  let dir: string;
  let keys: string;
  let secret: DenominationSecret;
  let transcripts: TranscriptJson[];
  let shopToken: string;
  let bob: Awaited<ReturnType<typeof newAccount>>;
  let server: Server | undefined;

  beforeAll(async () => {
    if (!available) return;
    db = testDb(kind);
    dir = mkdtempSync(join(tmpdir(), 'ecash-bank-crash-'));
    keys = join(dir, 'bank.keys');
    const now = Date.now();
    const file = KeyFile.create(keys, PASSPHRASE, G.suite, [
      { value: VALUE, currency: 'EUR', withdrawFrom: now - DAY, withdrawUntil: now + 365 * DAY, depositUntil: now + 730 * DAY, scope: '' },
    ]);
    secret = file.loadSecrets()[0]!;
    // The history before the crash, made in process: COINS coins withdrawn and paid to a shop.
    const storage = await openStorage(db.url);
    const svc = await BankService.create({ storage, keys: file, workerThreads: 0 });
    try {
      const alice = await newAccount(svc, G, 'alice');
      await svc.cashIn(alice.accountId, 'EUR', COINS * VALUE, 'cash');
      shopToken = (await svc.addMerchant({ merchantId: 'shop' })).credential;
      bob = await newAccount(svc, G, 'bob');
      await svc.cashIn(bob.accountId, 'EUR', 1000, 'cash');
      transcripts = [];
      for (let i = 0; i < COINS; i++) {
        const coin = await withdrawCoin(svc, G, alice.account, alice.accountId, secret);
        transcripts.push(transcriptToJson(G, spend(G, alice.account, coin, paymentContext(systemRandom, 'shop', 'till-1', Date.now()))));
      }
    } finally {
      await svc.close();
      await storage.close();
    }
  }, 300_000);

  // A server a failed test left running (the next test starts its own on the same database).
  afterEach(async () => {
    server = undefined;
    await endStartedProcesses();
  });

  afterAll(async () => {
    if (!available) return;
    await db.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function audit() {
    const storage = await openStorage(db.url);
    try {
      return await auditBooks(storage);
    } finally {
      await storage.close();
    }
  }

  it.skipIf(!available)(`killed during a ${COINS}-coin deposit batch, then replayed: one credit per coin, books balance`, async () => {
    server = await startServer(db.url, keys);
    const body = { suite: G.suite, batchId: 'crash-1', transcripts };
    const request = post(`${server.url}/v1/deposits`, shopToken, body).then(
      (r) => ({ answered: r }),
      (e: Error) => ({ failed: e }),
    );
    // The server verifies the batch in worker threads, then stores it in one transaction: the
    // kill lands inside that transaction.
    const inside = await killInsideDepositTransaction(server, db, 30_000);
    const first = await request;

    // All or nothing: either the batch (its record, every coin, one ledger entry) or no trace.
    const spent = Number((await db.raw<{ n: number | string }>('SELECT COUNT(*) AS n FROM spent_coins'))[0]!.n);
    const batches = Number(
      (await db.raw<{ n: number | string }>("SELECT COUNT(*) AS n FROM deposit_batches WHERE batch_id = 'crash-1'"))[0]!.n,
    );
    const entries = Number(
      (await db.raw<{ n: number | string }>("SELECT COUNT(*) AS n FROM ledger_entries WHERE reference = 'deposit:shop:crash-1'"))[0]!.n,
    );
    expect([spent, batches, entries]).toSatisfy(
      ([s, b, e]: number[]) => (s === 0 && b === 0 && e === 0) || (s === COINS && b === 1 && e === 1),
    );
    process.stderr.write(
      `[${kind}] killed ${inside ? 'inside the deposit transaction' : 'after 30 s without seeing the transaction'}: the batch was ${batches === 1 ? 'committed' : 'not committed'}${'answered' in first ? ' and answered' : ''}\n`,
    );
    expect(inside).toBe(true);
    expect((await audit()).problems).toEqual([]);

    server = await startServer(db.url, keys);
    const replay = await post(`${server.url}/v1/deposits`, shopToken, body);
    expect(replay.status).toBe(200);
    const results = replay.body.results as { outcome: string }[];
    expect(results).toHaveLength(COINS);
    expect(results.every((r) => r.outcome === 'credited')).toBe(true);
    // And once more: the stored result, nothing credited twice.
    const again = await post(`${server.url}/v1/deposits`, shopToken, body);
    expect(again.body.results).toEqual(results);
    await kill(server);
    server = undefined;

    expect(Number((await db.raw<{ n: number | string }>('SELECT COUNT(*) AS n FROM spent_coins'))[0]!.n)).toBe(COINS);
    expect(await db.raw("SELECT balance FROM ledger_balances WHERE account = 'merchant:shop'")).toEqual([
      { balance: kind === 'sqlite' ? COINS * VALUE : String(COINS * VALUE) },
    ]);
    const report = await audit();
    expect(report.problems).toEqual([]);
    expect(report.keys[0]).toMatchObject({ issued: COINS, deposited: COINS, outstanding: 0, outstandingBalance: 0 });
  });

  it.skipIf(!available)(
    'killed while answering a withdrawal: the session is answered and debited, or still open and never answered after the restart',
    async () => {
      server = await startServer(db.url, keys);
      const started = await post(`${server.url}/v1/withdrawals`, bob.credential, { keyId: toHex(secret.key.keyId) });
      expect(started.status).toBe(201);
      const s = started.body as { sessionId: string; z: string; a: string; b: string };
      const ctx = { key: secret.key, z: G.decode(fromHex(s.z)), I: bob.account.I };
      const pending = blindWithdrawal(G, ctx, { a: G.decode(fromHex(s.a)), b: G.decode(fromHex(s.b)) }, systemRandom);
      const c = toHex(G.scalars.encode(pending.c));
      const answering = post(`${server.url}/v1/withdrawals/${s.sessionId}/answer`, bob.credential, { c }).then(
        (r) => r,
        () => undefined,
      );
      await new Promise((r) => setTimeout(r, 5));
      await kill(server);
      const lost = await answering;

      const balance = async () =>
        Number(
          (
            await db.raw<{ balance: number | string }>('SELECT balance FROM ledger_balances WHERE account = ?', [`holder:${bob.accountId}`])
          )[0]!.balance,
        );
      const { state } = (await db.raw<{ state: string }>('SELECT state FROM withdrawal_sessions WHERE session_id = ?', [s.sessionId]))[0]!;
      const debited = state === 'answered';
      expect([state, await balance()]).toSatisfy(
        ([st, bal]: [string, number]) => (st === 'answered' && bal === 1000 - VALUE) || (st === 'open' && bal === 1000),
      );
      process.stderr.write(
        `[${kind}] kill during the answer: the session was ${state}${lost === undefined ? '' : ' and the answer arrived'}\n`,
      );

      // The card asks again with the same c after the restart. An answered session gives it the same
      // r, a valid coin, debited once. A session still open was opened before the bank restarted, and
      // the bank never answers those (a restored database could bring back a session it has already
      // answered): the card is told to start a new session, and nothing was debited.
      server = await startServer(db.url, keys);
      const again = await post(`${server.url}/v1/withdrawals/${s.sessionId}/answer`, bob.credential, { c });
      if (debited) {
        expect(again.status).toBe(200);
        const r = G.scalars.decode(fromHex(again.body.r as string), 'r');
        if (lost?.status === 200) expect(again.body.r).toBe(lost.body.r);
        expect(() => completeWithdrawal(G, ctx, pending, r)).not.toThrow();
      } else {
        expect(again).toMatchObject({ status: 410, body: { error: { code: 'session-expired' } } });
      }
      await kill(server);
      server = undefined;
      expect(await balance()).toBe(debited ? 1000 - VALUE : 1000);
      const report = await audit();
      expect(report.problems).toEqual([]);
      expect(report.keys[0]).toMatchObject({
        issued: COINS + (debited ? 1 : 0),
        deposited: COINS,
        outstanding: debited ? 1 : 0,
        outstandingBalance: debited ? VALUE : 0,
      });
    },
  );
});
