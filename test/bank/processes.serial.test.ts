/**
 * Several bank processes on one PostgreSQL database, as the built command runs them: two
 * `ecash bank serve` processes on their own ports (servers behind a reverse proxy), and
 * `ecash bank serve --processes 2` (one address, Node's cluster). What one process holds in memory
 * must not decide money or access: a coin deposited at both at once is credited once and its
 * double spend recorded once; a credential revoked (by the CLI, a third process) is refused by
 * both; the rate limit is the bank's, not each process's.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blindWithdrawal,
  completeWithdrawal,
  fromHex,
  getGroup,
  keyFromJson,
  systemRandom,
  toHex,
  type TranscriptJson,
} from '../../core/index.js';
import { BankClient } from '../../host/bank-client/index.js';
import { DEFAULT_RATE_LIMIT } from '../../host/bank/http.js';
import { type Account, openAccount } from '../core/fixtures.js';
import { endStartedProcesses, exitOf, jsonUrl, startCli, waitForOutput, type CliProcess } from '../helpers/cli.js';
import { postgresUrl, requireService } from '../helpers/env.js';
import { pay, testDb, type TestDb } from './helpers.js';
import { openingBody } from './http-fixture.js';

const G = getGroup('ristretto255-sha512');
const PASSPHRASE = 'a long enough bank passphrase';
const PARALLEL = 8;
/** Well under the credential cache's 10 s: a process that only forgets by time fails the wait. */
const REVOCATION_WAIT_MS = 5000;
const available = requireService(postgresUrl() !== undefined, 'PostgreSQL (ECASH_TEST_PG_URL)');

function ecash(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['bin/ecash.js', ...args], { env: { ...process.env, ECASH_BANK_PASSPHRASE: PASSPHRASE } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

interface Holder {
  account: Account;
  accountId: string;
  credential: string;
}

describe.skipIf(!available)('bank processes on one PostgreSQL database (the built command)', () => {
  let dir: string;
  let db: TestDb;
  let keys: string;
  let operatorToken: string;
  const servers: CliProcess[] = [];

  const serve = async (...extra: string[]): Promise<{ process: CliProcess; url: string }> => {
    const p = startCli(['--json', 'bank', 'serve', '--db', db.url, '--keys', keys, '--port', '0', '--worker-threads', '0', ...extra], {
      ECASH_BANK_PASSPHRASE: PASSPHRASE,
    });
    return { process: p, url: await waitForOutput(p, jsonUrl, 'its URL') };
  };
  const client = (url: string, token?: string) => {
    const c = new BankClient({ baseUrl: url, timeoutMs: 30_000 });
    return token === undefined ? c : c.withToken(token);
  };
  const newHolder = async (url: string, name: string, amount: number): Promise<Holder> => {
    const account = openAccount(G, name, systemRandom);
    const opened = await client(url).openAccount(openingBody(G, account));
    if (amount > 0) await client(url, operatorToken).credit(opened.accountId, { currency: 'EUR', amount, reference: `top-up ${name}` });
    return { account, accountId: opened.accountId, credential: opened.credential };
  };
  const withdraw = async (url: string, holder: Holder) => {
    const params = await client(url).parameters();
    const key = keyFromJson(G, params.keys[0]!);
    const s = await client(url, holder.credential).startWithdrawal(toHex(key.keyId));
    const ctx = { key, z: G.decode(fromHex(s.z)), I: holder.account.I };
    const p = blindWithdrawal(G, ctx, { a: G.decode(fromHex(s.a)), b: G.decode(fromHex(s.b)) }, systemRandom);
    const { r } = await client(url, holder.credential).answerWithdrawal(s.sessionId, toHex(G.scalars.encode(p.c)));
    return completeWithdrawal(G, ctx, p, G.scalars.decode(fromHex(r)));
  };
  const stop = async (p: CliProcess) => {
    p.child.kill('SIGTERM');
    expect(await exitOf(p), p.stderr()).toBe(0);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ecash-bank-processes-'));
    keys = join(dir, 'bank.keys');
    db = testDb('postgres');
    const init = await ecash(['--json', 'bank', 'init', '--db', db.url, '--keys', keys, '--denominations', 'EUR:500']);
    expect(init.code, init.stderr).toBe(0);
    operatorToken = (JSON.parse(init.stdout) as { operatorCredential: string }).operatorCredential;
  });

  afterAll(async () => {
    // Servers a failed test left running (the two servers live across the tests of their block).
    await endStartedProcesses();
    await db?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('two servers', () => {
    let urls: [string, string];

    beforeAll(async () => {
      const [a, b] = [await serve(), await serve()];
      servers.push(a.process, b.process);
      urls = [a.url, b.url];
    });

    afterAll(async () => {
      for (const p of servers.splice(0)) await stop(p);
    });

    it('credits a coin paid to two merchants and deposited at both at once once, and records its double spend once', async () => {
      const alice = await newHolder(urls[0], 'alice', 500);
      const coin = await withdraw(urls[1], alice);
      const shops = await Promise.all(
        ['shop-1', 'shop-2'].map(async (merchantId) => (await client(urls[0], operatorToken).addMerchant({ merchantId })).credential),
      );
      const payments: TranscriptJson[] = [pay(G, alice.account, coin, 'shop-1'), pay(G, alice.account, coin, 'shop-2')];
      const runs = Array.from({ length: PARALLEL }, (_, i) =>
        client(urls[i % 2]!, shops[Math.floor(i / 2) % 2]!).deposit({
          suite: G.suite,
          batchId: `race-${i}`,
          transcripts: [payments[Math.floor(i / 2) % 2]!],
        }),
      );
      const outcomes = (await Promise.all(runs)).map((r) => r.results[0]!.outcome);
      expect(outcomes.filter((o) => o === 'credited')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'replay')).toHaveLength(PARALLEL / 2 - 1);
      expect(outcomes.filter((o) => o === 'double-spend')).toHaveLength(PARALLEL / 2);
      expect(await db.raw('SELECT double_spend_id FROM double_spends')).toHaveLength(1);
      expect(await db.raw('SELECT coin FROM spent_coins')).toHaveLength(1);
      const ds = await client(urls[1], operatorToken).doubleSpends();
      expect(ds.doubleSpends.map((d) => d.accountId)).toEqual([alice.accountId]);
      expect(await client(urls[0], operatorToken).audit()).toMatchObject({ ok: true });
    });

    it('refuses on both servers a credential revoked by the CLI', async () => {
      const bob = await newHolder(urls[0], 'bob', 0);
      // Both servers have authenticated (and cached) it.
      for (const url of urls) expect((await client(url, bob.credential).account(bob.accountId)).accountId).toBe(bob.accountId);
      const revoked = await ecash(['--json', 'bank', 'credential', 'revoke', '--db', db.url, bob.credential.split('.')[1]!]);
      expect(revoked.code, revoked.stderr).toBe(0);
      for (const url of urls) {
        const deadline = Date.now() + REVOCATION_WAIT_MS;
        let refused = false;
        while (!refused && Date.now() < deadline) {
          refused = await client(url, bob.credential)
            .account(bob.accountId)
            .then(
              () => false,
              (e: unknown) => (e as { code?: string }).code === 'unauthorized',
            );
        }
        expect(refused, url).toBe(true);
      }
    });

    it("holds one credential to the bank's rate limit across both servers", async () => {
      const carol = await newHolder(urls[0], 'carol', 0);
      const max = DEFAULT_RATE_LIMIT.max;
      const results = await Promise.all(
        Array.from({ length: max + 20 }, (_, i) =>
          client(urls[i % 2]!, carol.credential)
            .account(carol.accountId)
            .then(
              () => 'served',
              (e: unknown) => (e as { code?: string }).code,
            ),
        ),
      );
      expect(results.filter((r) => r === 'served')).toHaveLength(max);
      expect(results.filter((r) => r === 'rate-limited')).toHaveLength(20);
    });
  });

  it('refuses --processes 2 on SQLite, and on a database without a bank with one error', async () => {
    const sqlite = await ecash(['--json', 'bank', 'serve', '--db', join(dir, 'bank.db'), '--keys', keys, '--processes', '2']);
    expect(sqlite.code).toBe(1);
    expect(JSON.parse(sqlite.stdout)).toMatchObject({ error: { code: 'bad-option' } });
    const none = await ecash([
      '--json',
      'bank',
      'serve',
      '--db',
      `${postgresUrl()!}${postgresUrl()!.includes('?') ? '&' : '?'}schema=no_bank_here`,
      '--keys',
      keys,
      '--processes',
      '2',
    ]);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toMatchObject({ error: { code: 'no-database' } });
  });

  it('serves through one address with --processes 2 and stops on SIGTERM', async () => {
    const { process: cluster, url } = await serve('--processes', '2');
    const dave = await newHolder(url, 'dave', 1000);
    const coins = [await withdraw(url, dave), await withdraw(url, dave)];
    const shop = (await client(url, operatorToken).addMerchant({ merchantId: 'shop-3' })).credential;
    const batch = await client(url, shop).deposit({
      suite: G.suite,
      batchId: 'cluster-1',
      transcripts: coins.map((c) => pay(G, dave.account, c, 'shop-3')),
    });
    expect(batch.results.every((r) => r.outcome === 'credited')).toBe(true);
    await stop(cluster);
  });
});
